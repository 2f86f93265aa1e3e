"""The cost ledger's tables on Postgres: the same tables and columns as `ledger.db`
(`cairn.budget.schema`), in Postgres types, so the budget's SQL runs unchanged."""

from __future__ import annotations

PG_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE reservations (
        id TEXT PRIMARY KEY,
        trace_id TEXT NOT NULL,
        feature TEXT NOT NULL,
        user_id TEXT,
        tenant_id TEXT,
        model TEXT NOT NULL,
        input_tokens BIGINT NOT NULL,
        max_output_tokens BIGINT NOT NULL,
        reserved_nanos BIGINT NOT NULL,
        ts TEXT NOT NULL,
        day TEXT NOT NULL,
        month TEXT NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX reservations_expiry ON reservations (expires_at);
    CREATE TABLE ledger (
        seq BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        trace_id TEXT NOT NULL,
        feature TEXT NOT NULL,
        user_id TEXT,
        tenant_id TEXT,
        model TEXT NOT NULL,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cache_read_tokens BIGINT NOT NULL DEFAULT 0,
        cache_write_tokens BIGINT NOT NULL DEFAULT 0,
        reserved_nanos BIGINT NOT NULL,
        cost_nanos BIGINT NOT NULL,
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
        spent_nanos BIGINT NOT NULL DEFAULT 0,
        reserved_nanos BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (scope, period)
    );
    CREATE TABLE alerts_fired (
        limit_name TEXT NOT NULL,
        scope TEXT NOT NULL,
        period TEXT NOT NULL,
        kind TEXT NOT NULL,
        threshold INTEGER NOT NULL,
        fired_at TEXT NOT NULL,
        PRIMARY KEY (limit_name, scope, period, kind, threshold)
    );
    """,
)
