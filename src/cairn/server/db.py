"""`server.db`: the service's own SQLite file in the workspace (API keys, ingest jobs,
feedback); on Postgres the same tables live in the shared database
(`cairn.server.pgstate`), and the stores run the same SQL on either (`StateDB`).

A file of its own, not tables in `cairn.db`: `cairn keys create` must work while a server
or an ingest holds the corpus database, the corpus schema stays the store's business, and
key material lives apart from the documents (a `cairn.db` can be shared or copied without
handing out credentials). Keys are stored as SHA-256 hashes only.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from cairn.pg import PgDatabase
from cairn.sql import SqlConnection
from cairn.sqlite import SQLiteFile

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
    # 2: job leases: the process running a job and until when it holds it
    (
        "ALTER TABLE jobs ADD COLUMN owner TEXT",
        "ALTER TABLE jobs ADD COLUMN lease_until REAL",
        "CREATE INDEX jobs_lease ON jobs (status, lease_until)",
    ),
    # 3: a job's uploaded files, so another process can take the job over when its owner
    # dies, and how many processes have started it
    (
        """CREATE TABLE job_inputs (
            job_id TEXT NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL,
            PRIMARY KEY (job_id, name))""",
        "ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1",
    ),
    # 4: what the ingest scan found in a job's chunks (`guard.ingest`)
    (
        "ALTER TABLE jobs ADD COLUMN flagged INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0",
    ),
)


class ServerDB(SQLiteFile):
    """`server.db`: API keys (hashed), ingest jobs and feedback; shared by threads."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _MIGRATIONS, what="the server database")


StateDB = ServerDB | PgDatabase
"""Where the service's own tables live: `server.db`, or a Postgres database."""


def writing(db: StateDB, *, serial: bool = True) -> AbstractContextManager[SqlConnection]:
    """A write transaction on `db`. `serial`: serialised with every other serial writer of
    the service's tables, on any replica (SQLite serialises every writer anyway); without
    it, Postgres's row locks alone keep the statements atomic."""
    if isinstance(db, PgDatabase):
        return db.transaction(lock=serial)
    return db.transaction()
