"""The ledger database (`ledger.db` in the workspace): opening, migrating, transactions,
and reading entries back.

One connection per `Ledger`, shared by threads under a lock; across processes, writers are
serialised by SQLite itself (`BEGIN IMMEDIATE` takes the write lock before anything is read,
so a check and the insert that depends on it cannot interleave with another process's).
On Postgres (`postgresql://` URL) the same SQL runs against tables shared by every replica,
and each write transaction first takes the ledger's advisory lock, so the check and the
insert are one atomic step across replicas too (`cairn.pg`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from cairn.budget.errors import LedgerError
from cairn.budget.money import from_nanos
from cairn.budget.schema import MIGRATIONS
from cairn.pg import PgDatabase, from_sqlite, is_postgres_url
from cairn.sql import SqlConnection
from cairn.sqlite import SQLiteFile

LEDGER_FILE = "ledger.db"

_ENTRY_COLUMNS = (
    "id, trace_id, feature, user_id, tenant_id, model, input_tokens, output_tokens, "
    "cache_read_tokens, cache_write_tokens, reserved_nanos, cost_nanos, estimated, status, "
    "note, ts, closed_at, day, route"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class LedgerEntry:
    """One request's record: what it was allowed to spend and what it cost."""

    id: str
    """The reservation id."""
    trace_id: str
    feature: str
    user: str | None
    tenant: str | None
    model: str
    input_tokens: int
    """Every prompt token, cached or not."""
    output_tokens: int
    reserved_usd: Decimal
    """The worst case reserved before the call."""
    cost_usd: Decimal
    estimated: bool
    """True when the tokens were estimated (the provider reported none) or, for `expired`,
    when the cost is the worst case because the process never settled."""
    status: str
    """`settled`, `released` (the call failed), `expired` (never settled) or `refused`."""
    note: str | None
    """For `refused`: the limit that refused it."""
    ts: str
    """When the request reserved (ISO 8601, UTC)."""
    closed_at: str
    day: str
    cache_read_tokens: int = 0
    """Prompt tokens read from the provider's prompt cache (part of `input_tokens`)."""
    cache_write_tokens: int = 0
    """Prompt tokens written to the provider's prompt cache (part of `input_tokens`)."""
    route: str | None = None
    """The router's decision for the request (`extractive`, `cheap`, `strong`); None when
    no router ran."""


class Ledger:
    """The ledger database: `ledger.db` (a path), or tables in Postgres (a `postgresql://`
    URL, shared by every replica). Call `close()` (or use it as a context manager)."""

    def __init__(
        self,
        path: Path | str,
        *,
        create: bool = True,
        durable: bool = False,
        busy_timeout_s: float = 30.0,
    ) -> None:
        self._file: SQLiteFile | PgDatabase
        if isinstance(path, str) and is_postgres_url(path):
            self.path: Path | None = None  # not a file: `location` names the database
            self._file = PgDatabase(
                path,
                [from_sqlite(step) for step in MIGRATIONS],
                component="ledger",
                what="the cost ledger",
                error=LedgerError,
                timeout_s=busy_timeout_s,
            )
            self.location = self._file.location
            return
        path = Path(path)
        self.path = path
        self.location = str(path)
        if not path.exists() and not create:
            raise LedgerError(f"no cost ledger at {path}: nothing has been spent yet")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = SQLiteFile(
            path,
            MIGRATIONS,
            what="the cost ledger",
            damaged_hint="move it away (spend history is lost; budgets restart from zero)",
            error=LedgerError,
            durable=durable,
            timeout_s=busy_timeout_s,
            rows=True,
        )

    def transaction(self) -> AbstractContextManager[SqlConnection]:
        """A write transaction holding the ledger's write lock from its first statement (on
        Postgres, an advisory lock every replica's writers take)."""
        return self._file.transaction()

    def reading(self) -> AbstractContextManager[SqlConnection]:
        """The connection, for reads (each statement sees a consistent snapshot)."""
        return self._file.reading()

    def entries(self, *, since: str | None = None, until: str | None = None) -> list[LedgerEntry]:
        """Entries whose `ts` is in `[since, until)` (ISO 8601 UTC strings), oldest first."""
        where, params = time_filter(since, until)
        with self.reading() as db:
            rows = db.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM ledger {where} ORDER BY ts, seq", params
            ).fetchall()
        return [_entry(r) for r in rows]

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def time_filter(since: str | None, until: str | None) -> tuple[str, list[str]]:
    clauses, params = [], []
    if since is not None:
        clauses.append("ts >= ?")
        params.append(since)
    if until is not None:
        clauses.append("ts < ?")
        params.append(until)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        id=row["id"],
        trace_id=row["trace_id"],
        feature=row["feature"],
        user=row["user_id"],
        tenant=row["tenant_id"],
        model=row["model"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        reserved_usd=from_nanos(row["reserved_nanos"]),
        cost_usd=from_nanos(row["cost_nanos"]),
        estimated=bool(row["estimated"]),
        status=row["status"],
        note=row["note"],
        ts=row["ts"],
        closed_at=row["closed_at"],
        day=row["day"],
        cache_read_tokens=row["cache_read_tokens"],
        cache_write_tokens=row["cache_write_tokens"],
        route=row["route"],
    )
