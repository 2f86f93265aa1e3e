"""The ingest runner keeps its jobs' leases alive and fails only abandoned jobs: a second
server starting on the same `server.db` leaves the first one's running job alone."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, cast

import pytest

from cairn.server.db import SERVER_FILE, ServerDB
from cairn.server.jobs import IngestJobs
from cairn.server.jobstore import SQLiteJobStore
from cairn.server.metrics import Metrics
from cairn.testing.clock import Clock
from cairn.workspace import Workspace

NO_WORKSPACE = cast(Workspace, None)  # the runner only needs it to run a job


class CountingStore(SQLiteJobStore):
    """Signals each heartbeat."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.beats = threading.Semaphore(0)

    def fail_abandoned(self) -> int:
        failed = super().fail_abandoned()
        self.beats.release()
        return failed


def test_a_second_server_starting_leaves_running_jobs_alone(tmp_path: Path) -> None:
    clock = Clock()
    first_db, second_db = ServerDB(tmp_path / SERVER_FILE), ServerDB(tmp_path / SERVER_FILE)
    first = SQLiteJobStore(first_db, owner="first", clock=clock)
    job = first.create("acme", ["a.md"])
    first.update(job["id"], status="running")
    second = IngestJobs(
        SQLiteJobStore(second_db, owner="second", clock=clock), NO_WORKSPACE, Metrics()
    )
    try:
        running = first.get(job["id"])
        assert running is not None and running["status"] == "running"
    finally:
        second.close()
        first_db.close()
        second_db.close()


def test_the_heartbeat_renews_leases_and_fails_abandoned_jobs(tmp_path: Path) -> None:
    clock = Clock()
    db = ServerDB(tmp_path / SERVER_FILE)
    other = SQLiteJobStore(db, owner="stopped-server", clock=clock, lease_s=60)
    abandoned = other.create("acme", ["a.md"])
    store = CountingStore(db, owner="this-server", clock=clock, lease_s=60)
    runner = IngestJobs(store, NO_WORKSPACE, Metrics(), heartbeat_s=0.01)
    try:
        assert store.beats.acquire(timeout=60)  # the start-up sweep
        mine = store.create("acme", ["b.md"])
        clock.advance(61)  # the stopped server's lease runs out; this one's is renewed
        deadline = time.monotonic() + 60  # beats before the advance may still be counted
        while _status(store, abandoned["id"]) != "failed" and time.monotonic() < deadline:
            store.beats.acquire(timeout=1)
        assert _status(store, abandoned["id"]) == "failed"
        live = store.get(mine["id"])
        assert live is not None and live["status"] == "queued"
    finally:
        runner.close()
        db.close()


class LockedOnceStore(CountingStore):
    """The first renewal fails, as on a file another process holds too long."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.renewals = 0

    def renew(self) -> int:
        self.renewals += 1
        if self.renewals == 1:
            raise sqlite3.OperationalError("database is locked")
        return super().renew()


def test_a_failed_beat_does_not_stop_the_heartbeat(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = ServerDB(tmp_path / SERVER_FILE)
    store = LockedOnceStore(db, owner="this-server", clock=Clock())
    runner = IngestJobs(store, NO_WORKSPACE, Metrics(), heartbeat_s=0.01)
    try:
        for _ in range(3):  # the start-up sweep, then beats after the failed one
            assert store.beats.acquire(timeout=60)
        assert store.renewals >= 2
    finally:
        runner.close()
        db.close()
    assert "renewing ingest job leases failed" in caplog.text


def _status(store: SQLiteJobStore, job_id: str) -> str:
    job = store.get(job_id)
    assert job is not None
    return str(job["status"])
