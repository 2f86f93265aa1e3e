"""The ledger database (`ledger.db` in the workspace): opening, migrating, transactions,
and reading entries back.

One connection per `Ledger`, shared by threads under a lock; across processes, writers are
serialised by SQLite itself (`BEGIN IMMEDIATE` takes the write lock before anything is read,
so a check and the insert that depends on it cannot interleave with another process's).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from cairn.budget.errors import LedgerError
from cairn.budget.money import from_nanos
from cairn.budget.schema import MIGRATIONS

LEDGER_FILE = "ledger.db"

_ENTRY_COLUMNS = (
    "id, trace_id, feature, user_id, tenant_id, model, input_tokens, output_tokens, "
    "reserved_nanos, cost_nanos, estimated, status, note, ts, closed_at, day"
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


class Ledger:
    """The ledger database. Call `close()` (or use it as a context manager)."""

    def __init__(
        self,
        path: Path,
        *,
        create: bool = True,
        durable: bool = False,
        busy_timeout_s: float = 30.0,
    ) -> None:
        self.path = path
        if not path.exists() and not create:
            raise LedgerError(f"no cost ledger at {path}: nothing has been spent yet")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=busy_timeout_s
            )
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open the cost ledger {path}: {exc}") from exc
        try:
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._migrate()
        except sqlite3.Error as exc:
            self._db.close()
            raise LedgerError(
                f"cannot open the cost ledger {path}: {exc}. If it is damaged, move it away "
                "(spend history is lost; budgets restart from zero)"
            ) from exc

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise LedgerError(
                f"{self.path} was written by a newer cairn (ledger schema {version}); upgrade cairn"
            )
        for number in range(version, len(MIGRATIONS)):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have migrated while we waited for the lock.
                if int(self._db.execute("PRAGMA user_version").fetchone()[0]) > number:
                    self._db.execute("COMMIT")
                    continue
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number + 1}")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database's write lock from its first statement."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise LedgerError(
                    f"the cost ledger {self.path} is locked ({exc}); another process holds it "
                    "too long, check for a stuck cairn process"
                ) from exc
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, for reads (each statement sees a consistent snapshot)."""
        with self._lock:
            yield self._db

    def entries(self, *, since: str | None = None, until: str | None = None) -> list[LedgerEntry]:
        """Entries whose `ts` is in `[since, until)` (ISO 8601 UTC strings), oldest first."""
        where, params = time_filter(since, until)
        with self.reading() as db:
            rows = db.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM ledger {where} ORDER BY ts, seq", params
            ).fetchall()
        return [_entry(r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()

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


def _entry(row: sqlite3.Row) -> LedgerEntry:
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
    )
