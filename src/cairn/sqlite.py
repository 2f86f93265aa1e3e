"""One SQLite file of a workspace, opened the same way everywhere.

`cairn.db` (the store), `ledger.db` (costs), `server.db` (keys, jobs, feedback) and
`traces.db` each hold one `SQLiteFile`: WAL journal, one writing connection shared by
threads under a lock, one read connection per thread (so reads run in parallel, each on its
own snapshot, and never wait for a writer), versioned migrations recorded in
`PRAGMA user_version`, each step applied whole in its own transaction (safe when several
processes open the file at once: a step is applied once, by whichever takes the lock first), write
transactions that take the write lock at their first statement, and a clear error when the
file is damaged or from a newer cairn.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote

from cairn.errors import ConfigError, StoreError

Migration = str | Sequence[str] | Callable[[sqlite3.Connection], None]
"""One schema step: an SQL script (statements separated by `;`), a list of statements, or a
function given the connection, for a step SQL cannot express (it runs in the step's
transaction, which it must not end)."""


SQLITE_URL = "sqlite:///"


def sqlite_url_path(url: str, base: Path) -> Path | None:
    """The file a `sqlite:///PATH` URL names, or None for a URL of another scheme. `PATH`
    is what follows the third slash: relative to `base` (the workspace folder) as in
    `sqlite:///ledger.db`, or absolute as in `sqlite:////srv/cairn/ledger.db`. Every
    workspace database (store, ledger, traces, server state, cache) reads its URL here."""
    if not url.startswith("sqlite:"):
        return None
    path = url.removeprefix(SQLITE_URL) if url.startswith(SQLITE_URL) else ""
    if not path or path in (".", "./") or "?" in path or "#" in path:
        raise ConfigError(
            f"{url!r} is not a SQLite URL cairn understands: write sqlite:///PATH (relative "
            "to the workspace folder) or sqlite:////ABSOLUTE/PATH, without ?options"
        )
    file = Path(unquote(path))
    return file if file.is_absolute() else base / file


def _statements(step: str | Sequence[str]) -> list[str]:
    """The step's statements. A script is split where SQLite says a statement is complete,
    so a `;` inside a string literal or a trigger body (`BEGIN ...; END`) stays in place."""
    if not isinstance(step, str):
        return [p.strip() for p in step if p.strip()]
    statements: list[str] = []
    pending = ""
    for piece in step.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\r\n;"):
                statements.append(pending.strip())
            pending = ""
    if pending.strip(" \t\r\n;"):  # a trailing comment, or an error SQLite will report
        statements.append(pending.strip().removesuffix(";"))
    return statements


class SQLiteFile:
    def __init__(
        self,
        path: Path,
        migrations: Sequence[Migration],
        *,
        what: str,
        damaged_hint: str = "move it away and start again",
        error: type[StoreError] = StoreError,
        durable: bool = False,
        timeout_s: float = 30.0,
        rows: bool = False,
        foreign_keys: bool = False,
    ) -> None:
        """Open (creating) `path` and migrate it. `what` names the file in errors
        (`the cost ledger`); `rows=True` returns `sqlite3.Row`s."""
        self.path = path
        self.what = what
        self.error = error
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._timeout_s = timeout_s
        self._rows = rows
        self._local = threading.local()
        self._readers: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._closed = False
        try:
            self._db = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=timeout_s
            )
        except sqlite3.Error as exc:
            raise error(f"cannot open {what} {path}: {exc}") from exc
        try:
            if rows:
                self._db.row_factory = sqlite3.Row
            self._enter_wal()
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            if foreign_keys:
                self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate(migrations)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise error(
                f"cannot open {what} {path}: {exc}. If it is damaged, {damaged_hint}"
            ) from exc
        except BaseException:
            self._db.close()
            raise

    def _enter_wal(self) -> None:
        """Switch the file to WAL, waiting (up to `timeout_s`) for other openers.

        Several processes opening a new file at once each hold a shared lock and need an
        exclusive one to change its journal mode; SQLite answers all but one "database is
        locked" at once, without its busy handler (it would be a deadlock), so the wait is
        here: retried with a growing pause."""
        deadline = time.monotonic() + self._timeout_s
        pause = 0.01
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    @property
    def connection(self) -> sqlite3.Connection:
        """The shared connection; hold `lock` while using it."""
        return self._db

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        version = self.schema_version
        if version > len(migrations):
            raise self.error(
                f"{self.path} was written by a newer cairn (schema {version}); upgrade cairn"
            )
        for number in range(version, len(migrations)):
            with self.transaction() as db:
                # another process may have migrated while this one waited for the lock
                if int(db.execute("PRAGMA user_version").fetchone()[0]) > number:
                    continue
                step = migrations[number]
                if callable(step):
                    step(db)
                else:
                    for statement in _statements(step):
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the file's write lock from its first statement."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise self.error(
                    f"{self.what} {self.path} is locked ({exc}); another process holds it too "
                    "long: check for a stuck cairn process"
                ) from exc
            self._local.writing = True
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                self._local.writing = False
            self._db.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """This thread's read connection (each statement sees a consistent snapshot of the
        committed data). Inside `transaction()` it is the writing connection, so a
        transaction reads its own writes."""
        if getattr(self._local, "writing", False):
            yield self._db
            return
        reader: sqlite3.Connection | None = getattr(self._local, "reader", None)
        if reader is None:
            reader = self._open_reader()
        yield reader

    def _open_reader(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise self.error(f"{self.what} {self.path} is closed")
            try:
                reader = sqlite3.connect(
                    str(self.path),
                    isolation_level=None,
                    check_same_thread=False,
                    timeout=self._timeout_s,
                )
                reader.execute("PRAGMA query_only=ON")
            except sqlite3.Error as exc:
                raise self.error(f"cannot open {self.what} {self.path}: {exc}") from exc
            if self._rows:
                reader.row_factory = sqlite3.Row
            self._close_orphans()
            self._readers.append((threading.current_thread(), reader))
        self._local.reader = reader
        return reader

    def _close_orphans(self) -> None:
        """Close the read connections of threads that have ended (hold the lock)."""
        alive = []
        for thread, reader in self._readers:
            if thread.is_alive():
                alive.append((thread, reader))
            else:
                reader.close()
        self._readers = alive

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for _, reader in self._readers:
                reader.close()
            self._readers.clear()
            self._db.close()
