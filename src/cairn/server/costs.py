"""`GET /v1/costs/summary`: the ledger summary, whole (local mode) or one tenant's.

The whole-ledger summary is `cairn.budget.summarise`, as `cairn costs --json` prints it.
`summarise` has no tenant filter, so a tenant's summary runs the same aggregates with
`tenant_id = ?` added and returns the same shape. Budget status lists the limits that apply
to the caller; a tenant sees its own limits and per-request limits, never the global ones
(they would reveal what other tenants spend).
"""

from __future__ import annotations

from typing import Any

from cairn.budget.ledger import time_filter
from cairn.budget.money import from_nanos
from cairn.budget.reservations import Budget
from cairn.budget.summary import GROUPINGS, CostRow, CostSummary, Grouping, summarise

_COLUMN: dict[Grouping, str] = {
    "day": "day",
    "feature": "feature",
    "user": "user_id",
    "tenant": "tenant_id",
    "model": "model",
}
# The same sums as cairn.budget.summary, over one tenant's entries.
_AGGREGATES = (
    "SUM(status != 'refused'), SUM(status = 'refused'), SUM(input_tokens), "
    "SUM(output_tokens), SUM(cost_nanos), SUM(estimated)"
)


def cost_summary(
    budget: Budget,
    *,
    since: str | None,
    until: str | None,
    tenant: str | None,
    user: str | None = None,
) -> dict[str, Any]:
    summary = (
        summarise(budget.ledger, since=since, until=until)
        if tenant is None
        else _tenant_summary(budget, since=since, until=until, tenant=tenant)
    )
    limits = budget.usage(tenant=tenant, user=user)
    if tenant is not None:
        limits = [u for u in limits if u.scope is not None]
    status = [
        {
            "limit": u.limit,
            "setting": u.setting,
            "scope": u.scope,
            "period": u.period,
            "limit_usd": float(u.limit_usd),
            "spent_usd": float(u.spent_usd),
            "reserved_usd": float(u.reserved_usd),
            "remaining_usd": float(u.remaining_usd),
        }
        for u in limits
    ]
    request_limit = budget.limits.request_usd
    return summary.as_json() | {
        "budget": {
            "limits": status,
            "request_usd": None if request_limit is None else float(request_limit),
        }
    }


def _tenant_summary(
    budget: Budget, *, since: str | None, until: str | None, tenant: str
) -> CostSummary:
    where, params = time_filter(since, until)
    where = f"{where} AND tenant_id = ?" if where else "WHERE tenant_id = ?"
    args = [*params, tenant]
    with budget.ledger.reading() as db:
        total = _row(None, db.execute(f"SELECT {_AGGREGATES} FROM ledger {where}", args).fetchone())
        groups: dict[Grouping, list[CostRow]] = {}
        for grouping in GROUPINGS:
            column = _COLUMN[grouping]
            order = "key" if grouping == "day" else "SUM(cost_nanos) DESC, key"
            rows = db.execute(
                f"SELECT {column} AS key, {_AGGREGATES} FROM ledger {where} "
                f"GROUP BY {column} ORDER BY {order}",
                args,
            ).fetchall()
            groups[grouping] = [_row(r[0], tuple(r)[1:]) for r in rows]
        flight = db.execute(
            "SELECT COUNT(*), SUM(reserved_nanos) FROM reservations WHERE tenant_id = ?",
            (tenant,),
        ).fetchone()
    return CostSummary(
        since=since,
        until=until,
        total=total,
        groups=groups,
        in_flight=int(flight[0]),
        in_flight_usd=from_nanos(int(flight[1] or 0)),
    )


def _row(key: object, sums: Any) -> CostRow:
    values = [int(v or 0) for v in tuple(sums)]
    return CostRow(
        key=None if key is None else str(key),
        requests=values[0],
        refused=values[1],
        input_tokens=values[2],
        output_tokens=values[3],
        cost_nanos=values[4],
        estimated=values[5],
    )
