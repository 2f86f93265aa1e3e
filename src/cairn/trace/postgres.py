"""Traces in Postgres, shared by every replica: the tables of `traces.db` (component `traces`
of `cairn_schema`), read and written with the same SQL (`cairn.trace.sqlite.SQLTraceStore`).
Each trace is written in a transaction of its own without a shared lock, so requests on
different replicas never queue behind each other's traces.

    store = PostgresTraceStore("postgresql://cairn@db/cairn")
"""

from __future__ import annotations

from cairn.errors import StoreError
from cairn.pg import PgDatabase, from_sqlite
from cairn.trace.sqlite import _SCHEMA, SQLTraceStore

MIGRATIONS: tuple[str, ...] = (from_sqlite(";\n".join(_SCHEMA)),)
"""`traces.db`'s schema in Postgres types. Append new steps; never edit a released one."""


class PostgresTraceStore(SQLTraceStore):
    """`TraceStore` in a Postgres database; `close()` it (it owns a connection pool)."""

    def __init__(self, url: str, *, max_size: int = 4) -> None:
        super().__init__(
            PgDatabase(
                url,
                MIGRATIONS,
                component="traces",
                what="the trace store",
                error=StoreError,
                max_size=max_size,
            )
        )
        self.url = url
