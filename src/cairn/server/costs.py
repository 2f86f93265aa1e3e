"""`GET /v1/costs/summary`: the ledger summary, whole (local mode) or one tenant's.

The summary is `cairn.budget.summarise` (as `cairn costs --json` prints it), restricted to
the caller's tenant in keys mode. Budget status lists the limits that apply
to the caller; a tenant sees its own limits and per-request limits, never the global ones
(they would reveal what other tenants spend).
"""

from __future__ import annotations

from typing import Any

from cairn.budget.reservations import Budget
from cairn.budget.summary import summarise


def cost_summary(
    budget: Budget,
    *,
    since: str | None,
    until: str | None,
    tenant: str | None,
    user: str | None = None,
) -> dict[str, Any]:
    summary = summarise(budget.ledger, since=since, until=until, tenant=tenant)
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
