"""The service's own tables (API keys, ingest jobs with their uploaded files, feedback) in
Postgres, shared by every replica: what `server.db` holds on SQLite, under the component
`server` of `cairn_schema` (migrations applied once, under an advisory lock, however many
replicas start at once). The stores (`SQLiteKeyStore`, `SQLiteJobStore`,
`SQLiteFeedbackStore`) run the same SQL on either database.

    db = open_server_db("postgresql://cairn@db/cairn")
    jobs = SQLiteJobStore(db)          # a SKIP LOCKED queue with leases on Postgres
"""

from __future__ import annotations

from cairn.errors import StoreError
from cairn.pg import PgDatabase

MIGRATIONS: tuple[str, ...] = (
    # 1: server.db's tables as of its third migration; uploaded files as bytea
    """
    CREATE TABLE keys (
        id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL,
        tenant TEXT NOT NULL, name TEXT, scopes TEXT NOT NULL, created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY, tenant TEXT NOT NULL, status TEXT NOT NULL,
        files TEXT NOT NULL, done BIGINT NOT NULL DEFAULT 0,
        failed BIGINT NOT NULL DEFAULT 0, chunks BIGINT NOT NULL DEFAULT 0,
        failures TEXT NOT NULL DEFAULT '[]', error TEXT, created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL, owner TEXT, lease_until DOUBLE PRECISION,
        attempts BIGINT NOT NULL DEFAULT 1
    );
    CREATE INDEX jobs_tenant ON jobs (tenant, created_at);
    CREATE INDEX jobs_lease ON jobs (status, lease_until);
    CREATE TABLE job_inputs (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (job_id, name)
    );
    CREATE TABLE feedback (
        id TEXT PRIMARY KEY, trace_id TEXT NOT NULL, tenant TEXT NOT NULL, user_id TEXT,
        rating TEXT NOT NULL, comment TEXT, created_at TEXT NOT NULL
    );
    CREATE INDEX feedback_tenant ON feedback (tenant, created_at);
    CREATE UNIQUE INDEX feedback_once ON feedback (trace_id, tenant, COALESCE(user_id, ''));
    """,
    # 2: what the ingest scan found in a job's chunks (`guard.ingest`)
    """
    ALTER TABLE jobs ADD COLUMN flagged BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN quarantined BIGINT NOT NULL DEFAULT 0;
    """,
)
"""Append new steps; never edit a released one."""

POOL_SIZE = 4
"""Connections per process at most: keys are cached (`KeyCache`), job and feedback writes are
short. With the store's, the ledger's, the traces', the agent's and the conversations' pools
a replica holds one idle connection per component and a few dozen at its busiest; behind
PgBouncer in transaction mode (no prepared statements, only transaction-scoped advisory
locks) they share the server's few."""


def open_server_db(url: str, *, max_size: int = POOL_SIZE) -> PgDatabase:
    """The service's tables in the Postgres database at `url` (migrated); `close()` it."""
    return PgDatabase(
        url,
        MIGRATIONS,
        component="server",
        what="the server's state (keys, jobs, feedback)",
        error=StoreError,
        max_size=max_size,
    )
