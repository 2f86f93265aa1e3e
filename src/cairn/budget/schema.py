"""The schema of `ledger.db`, versioned with `PRAGMA user_version` like the store's.

The ledger is its own SQLite file next to `cairn.db` rather than tables in it:
- every request writes to it twice (reserve, settle), and a write transaction locks the
  whole file, so sharing `cairn.db` would make requests wait behind an ingest that holds the
  lock for a large document (and ingest wait behind requests);
- its schema and migrations evolve apart from the store's, without sharing one version;
- `cairn costs`, backups and retention can treat the money records on their own.

Money is integer nano-dollars (`*_nanos`). `totals` holds the running spent and reserved
amounts per scope and period, updated in the same transactions as `reservations` and
`ledger`, so a reservation checks its limits in constant time; it always equals the sums
over `ledger` and `reservations` (the tests check this).
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE reservations (
        id TEXT PRIMARY KEY,
        trace_id TEXT NOT NULL,
        feature TEXT NOT NULL,
        user_id TEXT,
        tenant_id TEXT,
        model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        max_output_tokens INTEGER NOT NULL,
        reserved_nanos INTEGER NOT NULL,
        ts TEXT NOT NULL,
        day TEXT NOT NULL,
        month TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX reservations_expiry ON reservations (expires_at);
    CREATE TABLE ledger (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        trace_id TEXT NOT NULL,
        feature TEXT NOT NULL,
        user_id TEXT,
        tenant_id TEXT,
        model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        reserved_nanos INTEGER NOT NULL,
        cost_nanos INTEGER NOT NULL,
        estimated INTEGER NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('settled', 'released', 'expired', 'refused')),
        note TEXT,
        ts TEXT NOT NULL,
        closed_at TEXT NOT NULL,
        day TEXT NOT NULL,
        month TEXT NOT NULL
    );
    CREATE INDEX ledger_ts ON ledger (ts);
    CREATE TABLE totals (
        scope TEXT NOT NULL,
        period TEXT NOT NULL,
        spent_nanos INTEGER NOT NULL DEFAULT 0,
        reserved_nanos INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (scope, period)
    ) WITHOUT ROWID;
    CREATE TABLE alerts_fired (
        limit_name TEXT NOT NULL,
        scope TEXT NOT NULL,
        period TEXT NOT NULL,
        kind TEXT NOT NULL,
        threshold INTEGER NOT NULL,
        fired_at TEXT NOT NULL,
        PRIMARY KEY (limit_name, scope, period, kind, threshold)
    ) WITHOUT ROWID;
    """,
    # 2: prompt-cache tokens (part of input_tokens, billed at their own prices).
    """
    ALTER TABLE ledger ADD COLUMN cache_read_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE ledger ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
    """,
    # 3: the router's decision (extractive, cheap, strong) of the request a call served.
    """
    ALTER TABLE reservations ADD COLUMN route TEXT;
    ALTER TABLE ledger ADD COLUMN route TEXT;
    """,
)
