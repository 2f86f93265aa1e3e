"""`SQLiteFile`: one writer under a lock, one read connection per thread."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from cairn.errors import ConfigError, StoreError
from cairn.sqlite import SQLiteFile, sqlite_url_path
from tests import sqlite_workers

SCHEMA = ["CREATE TABLE t (x INTEGER)"]


def _open(tmp_path: Path) -> SQLiteFile:
    return SQLiteFile(tmp_path / "f.db", SCHEMA, what="the test file")


def test_each_thread_reads_on_its_own_connection(tmp_path: Path) -> None:
    file = _open(tmp_path)
    seen: dict[str, sqlite3.Connection] = {}
    all_read = threading.Barrier(4)

    def read(name: str) -> None:
        with file.reading() as db:
            seen[name] = db
            assert db.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)
        with file.reading() as again:
            assert again is seen[name]  # kept for the thread's lifetime
        all_read.wait(timeout=10)

    threads = [threading.Thread(target=read, args=(f"t{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    read("main")
    for t in threads:
        t.join()
    assert len({id(c) for c in seen.values()}) == 4
    assert all(c is not file.connection for c in seen.values())
    file.close()


def test_readers_cannot_write_and_see_committed_writes(tmp_path: Path) -> None:
    file = _open(tmp_path)
    with file.reading() as db, pytest.raises(Exception, match="readonly"):
        db.execute("INSERT INTO t VALUES (1)")
    with file.transaction() as db:
        db.execute("INSERT INTO t VALUES (1)")
        with file.reading() as inside:  # a transaction reads its own writes
            assert inside is db
            assert inside.execute("SELECT COUNT(*) FROM t").fetchone() == (1,)
    with file.reading() as db:
        assert db.execute("SELECT COUNT(*) FROM t").fetchone() == (1,)
    file.close()


def test_a_failed_transaction_leaves_reading_on_the_read_connection(tmp_path: Path) -> None:
    file = _open(tmp_path)
    with pytest.raises(RuntimeError), file.transaction() as db:
        db.execute("INSERT INTO t VALUES (1)")
        raise RuntimeError("boom")
    with file.reading() as db:
        assert db is not file.connection
        assert db.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)
    file.close()


def test_connections_of_ended_threads_are_closed(tmp_path: Path) -> None:
    file = _open(tmp_path)
    for _ in range(20):
        t = threading.Thread(target=lambda: file.reading().__enter__())
        t.start()
        t.join()
    with file.reading():
        pass
    assert len(file._readers) <= 2  # this thread's, and at most the last ended one
    file.close()
    assert file._readers == []
    with pytest.raises(StoreError, match="closed"):
        run_in_new_thread(file)


def run_in_new_thread(file: SQLiteFile) -> None:
    errors: list[BaseException] = []

    def read() -> None:
        try:
            with file.reading():
                pass
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=read)
    t.start()
    t.join()
    if errors:
        raise errors[0]


def test_a_script_step_with_a_trigger_is_split_into_whole_statements(tmp_path: Path) -> None:
    # a trigger body holds `;` of its own: splitting the script on every `;` broke it
    step = """
        CREATE TABLE a (x INTEGER);
        CREATE TABLE log (x INTEGER, note TEXT DEFAULT 'a;b');
        CREATE TRIGGER a_added AFTER INSERT ON a BEGIN
            INSERT INTO log (x) VALUES (new.x);
            INSERT INTO log (x) VALUES (new.x + 1);
        END;
    """
    file = SQLiteFile(tmp_path / "f.db", [step], what="the test file")
    with file.transaction() as db:
        db.execute("INSERT INTO a VALUES (1)")
    with file.reading() as db:
        assert db.execute("SELECT x, note FROM log ORDER BY x").fetchall() == [
            (1, "a;b"),
            (2, "a;b"),
        ]
    file.close()


def test_a_failing_step_leaves_the_file_at_the_previous_version(tmp_path: Path) -> None:
    good = ["CREATE TABLE t (x INTEGER)"]
    bad = [*good, "CREATE TABLE u (y INTEGER); CREATE TABLE t (x INTEGER)"]
    SQLiteFile(tmp_path / "f.db", good, what="the test file").close()
    with pytest.raises(StoreError, match="already exists"):
        SQLiteFile(tmp_path / "f.db", bad, what="the test file")
    file = SQLiteFile(tmp_path / "f.db", good, what="the test file")
    assert file.schema_version == 1
    with file.reading() as db:  # the failed step's first statement was rolled back too
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert names == {"t"}
    file.close()


STEPS = [
    "CREATE TABLE t (x INTEGER)",
    "ALTER TABLE t ADD COLUMN y INTEGER",
    "CREATE TABLE u (z INTEGER); INSERT INTO u VALUES (1)",
]


def test_processes_starting_at_once_migrate_each_step_exactly_once(tmp_path: Path) -> None:
    # a step applied twice would fail (duplicate column) or insert its row twice
    path = tmp_path / "f.db"
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        versions = pool.map(sqlite_workers.open_and_migrate, [(str(path), STEPS)] * 8)
    assert versions == [3] * 8
    file = SQLiteFile(path, STEPS, what="the test file")
    with file.reading() as db:
        assert db.execute("SELECT COUNT(*) FROM u").fetchone() == (1,)
    file.close()


def test_sqlite_urls_name_files_as_sqlalchemy_does() -> None:
    base = Path("/work/ws")
    assert sqlite_url_path("sqlite:///ledger.db", base) == base / "ledger.db"
    assert sqlite_url_path("sqlite:////srv/cairn/ledger.db", base) == Path("/srv/cairn/ledger.db")
    assert sqlite_url_path("postgresql://db/cairn", base) is None
    for bad in ("sqlite:///", "sqlite:/srv/x.db", "sqlite:///x.db?mode=ro", "sqlite:///./"):
        with pytest.raises(ConfigError, match="sqlite:///PATH"):
            sqlite_url_path(bad, base)


class LockedAtFirst(sqlite3.Connection):
    """A connection whose first journal-mode changes are refused as SQLite refuses them to
    processes opening a new file at once ("database is locked", no busy handler)."""

    refusals = 0

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:  # type: ignore[override]
        if sql.startswith("PRAGMA journal_mode") and LockedAtFirst.refusals > 0:
            LockedAtFirst.refusals -= 1
            raise sqlite3.OperationalError("database is locked")
        return super().execute(sql, *args)  # type: ignore[arg-type]


@pytest.fixture
def locked_at_first(monkeypatch: pytest.MonkeyPatch) -> type[LockedAtFirst]:
    connect = sqlite3.connect

    def connect_locked(*args: object, **kwargs: object) -> sqlite3.Connection:
        return connect(*args, factory=LockedAtFirst, **kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(sqlite3, "connect", connect_locked)
    return LockedAtFirst


def test_opening_waits_while_other_openers_hold_the_new_file(
    tmp_path: Path, locked_at_first: type[LockedAtFirst]
) -> None:
    locked_at_first.refusals = 3
    file = SQLiteFile(tmp_path / "a.db", ["CREATE TABLE t (x)"], what="the test file")
    try:
        assert locked_at_first.refusals == 0
        assert file.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert file.schema_version == 1
    finally:
        file.close()


def test_opening_gives_up_when_the_file_stays_locked(
    tmp_path: Path, locked_at_first: type[LockedAtFirst]
) -> None:
    locked_at_first.refusals = 1_000
    with pytest.raises(StoreError, match=r"cannot open the test file .*database is locked"):
        SQLiteFile(tmp_path / "a.db", [], what="the test file", timeout_s=0.05)
