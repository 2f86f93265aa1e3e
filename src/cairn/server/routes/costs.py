"""`GET /v1/costs/summary`: spend by day, feature, user, tenant, model and route decision,
and budgets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from cairn.budget.summary import parse_bound
from cairn.server.costs import cost_summary
from cairn.server.deps import CostsCaller, StateDep
from cairn.server.threads import run_sync

router = APIRouter(tags=["costs"])

_BOUND = (
    "A UTC day (YYYY-MM-DD; an `until` day is included whole), an ISO 8601 time, "
    "or a span back from now (7d, 12h)."
)


@router.get("/v1/costs/summary", response_model=dict[str, Any])
async def summary(
    state: StateDep,
    caller: CostsCaller,
    since: Annotated[str | None, Query(max_length=64, description=_BOUND)] = None,
    until: Annotated[str | None, Query(max_length=64, description=_BOUND)] = None,
) -> Response:
    """The cost ledger summarised (as `cairn costs --json`) plus where each budget stands.
    A tenant sees its own entries and limits only."""
    start = None if since is None else parse_bound(since, end=False)
    end = None if until is None else parse_bound(until, end=True)
    result = await run_sync(
        cost_summary,
        state.budget,
        since=start,
        until=end,
        tenant=caller.owner,
        user=None if caller.local else caller.user,
    )
    return JSONResponse(result)
