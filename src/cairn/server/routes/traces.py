"""`GET /v1/traces` and `GET /v1/traces/{id}`: the caller's tenant's traces only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from cairn.server.deps import StateDep, TracesCaller
from cairn.server.errors import not_found
from cairn.server.schemas import TraceOut, TraceSummary
from cairn.server.threads import run_sync

router = APIRouter(tags=["traces"])


@router.get("/v1/traces", response_model=list[TraceSummary])
async def list_traces(
    state: StateDep,
    caller: TracesCaller,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Response:
    """The latest traces, newest first (empty when trace.store is off)."""
    traces = state.traces
    if traces is None:
        return JSONResponse([])
    found = await run_sync(
        traces.recent, limit=limit, tenant=caller.owner, all_tenants=caller.local
    )
    return JSONResponse(found)


@router.get("/v1/traces/{trace_id}", response_model=TraceOut)
async def get_trace(trace_id: str, state: StateDep, caller: TracesCaller) -> Response:
    """One trace with its spans; `start_ms` is relative to the trace's start."""
    traces = state.traces
    found = (
        None
        if traces is None
        else await run_sync(traces.get, trace_id, tenant=caller.owner, all_tenants=caller.local)
    )
    if found is None:
        raise not_found(f"trace {trace_id!r}")
    return JSONResponse(found)
