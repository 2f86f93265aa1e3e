"""`POST /v1/feedback` (thumbs up or down on an answer) and `GET /v1/feedback`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from cairn.server.deps import AskCaller, StateDep, TracesCaller
from cairn.server.errors import not_found
from cairn.server.schemas import FeedbackOut, FeedbackRequest
from cairn.server.threads import run_sync
from cairn.trace.redact import mask_credentials, redact

router = APIRouter(tags=["feedback"])


@router.post("/v1/feedback", status_code=201, response_model=FeedbackOut)
async def add_feedback(body: FeedbackRequest, state: StateDep, caller: AskCaller) -> Response:
    """Rate an answer by its `trace_id` (201; 200 when it updates the caller's earlier
    rating of that trace). The trace must be the caller's (when traces are kept); the
    comment is stored with credentials masked (and redacted per trace.prompts)."""
    traces = state.traces
    if traces is not None:
        found = await run_sync(
            traces.get, body.trace_id, tenant=caller.owner, all_tenants=caller.local
        )
        if found is None:
            raise not_found(f"trace {body.trace_id!r}")
    comment = body.comment
    if comment is not None:
        policy = state.settings.trace.prompts
        comment = redact(comment) if policy == "redacted" else mask_credentials(comment)
    item, created = await run_sync(
        state.feedback.add,
        trace_id=body.trace_id,
        tenant=caller.tenant,
        user=caller.user,
        rating=body.rating,
        comment=comment,
    )
    return JSONResponse(item, status_code=201 if created else 200)


@router.get("/v1/feedback", response_model=list[FeedbackOut])
async def list_feedback(
    state: StateDep,
    caller: TracesCaller,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Feedback, newest first (the caller's tenant's only)."""
    return JSONResponse(await run_sync(state.feedback.recent, tenant=caller.owner, limit=limit))
