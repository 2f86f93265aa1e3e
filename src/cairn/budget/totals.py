"""The rows one request writes in `ledger.db`: the running `totals` per scope and period it
counts towards, and its `ledger` entry. Called inside the ledger's write transactions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cairn.budget.limits import Limits, PeriodicLimit, Periods, scope_key
from cairn.budget.reservation import Reservation
from cairn.sql import SqlConnection
from cairn.types import Usage

TotalKey = tuple[str, str]
"""(scope, period) of a row of `totals`."""


def applicable(
    limits: Limits, user: str | None, tenant: str | None, periods: Periods
) -> list[tuple[PeriodicLimit, str, str]]:
    """The periodic limits that apply to this caller, each with its totals scope and period."""
    out = []
    for pl in limits.periodic():
        key = scope_key(pl.spec.scope, user, tenant)
        if key is not None:
            out.append((pl, key, periods.of(pl.spec.period)))
    return out


def total_keys(user: str | None, tenant: str | None, periods: Periods) -> list[TotalKey]:
    """Every `totals` row one request counts towards, limited or not (limits may change)."""
    keys = [("global", periods.day), ("global", periods.month)]
    if user is not None:
        keys += [(f"user:{user}", periods.day), (f"user:{user}", periods.month)]
    if tenant is not None:
        keys += [(f"tenant:{tenant}", periods.day), (f"tenant:{tenant}", periods.month)]
    return keys


def read_totals(db: SqlConnection, keys: Sequence[TotalKey]) -> dict[TotalKey, tuple[int, int]]:
    if not keys:
        return {}
    values = ", ".join("(?, ?)" for _ in keys)
    rows = db.execute(
        f"SELECT scope, period, spent_nanos, reserved_nanos FROM totals "
        f"WHERE (scope, period) IN (VALUES {values})",
        [part for key in keys for part in key],
    ).fetchall()
    return {(r[0], r[1]): (int(r[2]), int(r[3])) for r in rows}


def add_to_totals(
    db: SqlConnection, keys: Sequence[TotalKey], *, spent: int, reserved: int
) -> None:
    db.executemany(
        "INSERT INTO totals (scope, period, spent_nanos, reserved_nanos) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (scope, period) DO UPDATE SET "
        "spent_nanos = totals.spent_nanos + excluded.spent_nanos, "
        "reserved_nanos = totals.reserved_nanos + excluded.reserved_nanos",
        [(scope, period, spent, reserved) for scope, period in keys],
    )


def insert_entry(
    db: SqlConnection,
    r: Reservation,
    *,
    status: str,
    reserved: int,
    cost: int,
    usage: Usage,
    closed: float,
    note: str | None = None,
) -> None:
    db.execute(
        "INSERT INTO ledger (id, trace_id, feature, user_id, tenant_id, model, input_tokens, "
        "output_tokens, cache_read_tokens, cache_write_tokens, reserved_nanos, cost_nanos, "
        "estimated, status, note, ts, closed_at, day, month, route) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            r.id,
            r.trace_id,
            r.feature,
            r.user,
            r.tenant,
            r.model,
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
            reserved,
            cost,
            int(usage.estimated),
            status,
            note,
            iso(r.created_at),
            iso(closed),
            r.periods.day,
            r.periods.month,
            r.route,
        ),
    )


def who(key: str) -> str | None:
    """`user:alice` -> `alice`; `global` -> None."""
    return None if key == "global" else key.split(":", 1)[1]


def iso(timestamp: float) -> str:
    """Fixed-width ISO 8601 UTC, so the text sorts like the time."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
