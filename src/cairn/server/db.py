"""`server.db`: the service's own SQLite file in the workspace (API keys, ingest jobs,
feedback).

A file of its own, not tables in `cairn.db`: `cairn keys create` must work while a server
or an ingest holds the corpus database, the corpus schema stays the store's business, and
key material lives apart from the documents (a `cairn.db` can be shared or copied without
handing out credentials). Keys are stored as SHA-256 hashes only.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cairn.errors import StoreError

SERVER_FILE = "server.db"

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE keys (
            id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL,
            tenant TEXT NOT NULL, name TEXT, scopes TEXT NOT NULL, created_at TEXT NOT NULL,
            revoked_at TEXT)""",
        """CREATE TABLE jobs (
            id TEXT PRIMARY KEY, tenant TEXT NOT NULL, status TEXT NOT NULL,
            files TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0, chunks INTEGER NOT NULL DEFAULT 0,
            failures TEXT NOT NULL DEFAULT '[]', error TEXT, created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
        "CREATE INDEX jobs_tenant ON jobs (tenant, created_at)",
        """CREATE TABLE feedback (
            id TEXT PRIMARY KEY, trace_id TEXT NOT NULL, tenant TEXT NOT NULL, user_id TEXT,
            rating TEXT NOT NULL, comment TEXT, created_at TEXT NOT NULL)""",
        "CREATE INDEX feedback_tenant ON feedback (tenant, created_at)",
        "CREATE UNIQUE INDEX feedback_once ON feedback (trace_id, tenant, IFNULL(user_id, ''))",
    ),
)


class ServerDB:
    """One connection to `server.db`, shared by threads under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open {path}: {exc}") from exc

    def _migrate(self) -> None:
        with self.transaction() as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > len(_MIGRATIONS):
                raise StoreError(f"{self.path} was written by a newer cairn; upgrade cairn")
            for number in range(version, len(_MIGRATIONS)):
                for statement in _MIGRATIONS[number]:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    def close(self) -> None:
        with self._lock:
            self._db.close()
