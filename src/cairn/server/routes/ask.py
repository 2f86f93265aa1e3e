"""`POST /v1/ask` (JSON or Server-Sent Events), `POST /v1/search`, `GET /v1/chunks/{id}`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from anyio import CapacityLimiter
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response, StreamingResponse

from cairn.answer.degraded import failure_status
from cairn.answer.events import (
    AnswerDoneEvent,
    CitationEvent,
    DegradedEvent,
    PipelineEvent,
    TokenEvent,
    VerifiedEvent,
)
from cairn.context import request_context
from cairn.errors import CairnError
from cairn.payloads import (
    AnswerOut,
    SearchOut,
    answer_json,
    citation_json,
    degraded_json,
    search_json,
)
from cairn.pipeline import Pipeline
from cairn.server.auth import Caller
from cairn.server.catalog import readable
from cairn.server.deps import AskCaller, SearchCaller, StateDep, filters_for
from cairn.server.errors import ApiError, error_of, not_found
from cairn.server.schemas import AskRequest, ChunkOut, SearchRequest
from cairn.server.sse import SSE_HEADERS, sse_event
from cairn.server.threads import iterate_in_thread, run_sync
from cairn.types import Answer, Hit

router = APIRouter(tags=["answers"])

_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The answer (JSON), or with `stream: true` Server-Sent Events: "
        "`degraded` {reason, detail, retry_after_s} (the model could not serve: the "
        "extractive answer follows), `token` {text}, `citation` {n, chunk_id, ...}, "
        "`verification` {citations}, `done` (the answer JSON), or `error` (the error schema).",
        "content": {
            "text/event-stream": {
                "schema": {
                    "type": "object",
                    "description": "One event; `data` is its JSON payload.",
                    "properties": {
                        "event": {
                            "enum": [
                                "degraded",
                                "token",
                                "citation",
                                "verification",
                                "done",
                                "error",
                            ]
                        },
                        "data": {"type": "string"},
                    },
                    "required": ["event", "data"],
                }
            }
        },
    }
}


@router.post("/v1/ask", response_model=AnswerOut, responses=_STREAM_DOC)
async def ask(body: AskRequest, state: StateDep, caller: AskCaller) -> Response:
    """A cited answer: the same JSON as `cairn ask --json`."""
    pipeline = state.pipeline(body.mode)
    if body.stream:
        return StreamingResponse(
            _answer_events(pipeline, body, caller, state.streams),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
    try:
        answer = await run_sync(_ask, pipeline, body, caller, limiter=state.threads)
    except CairnError as exc:
        raise model_failure(exc) from exc
    return JSONResponse(answer_json(answer))


def model_failure(exc: CairnError) -> Exception:
    """The error answered for a model that cannot serve (with `answer.fallback = "error"`):
    the usual error shape, 503 for the provider or the budget's own status for a refusal,
    `Retry-After` where known and `detail.reason` as in degraded mode. Other errors as is."""
    status, kind, headers, reason = failure_status(exc)
    if reason is None:
        return exc
    return ApiError(status, str(exc), type=kind, detail={"reason": reason}, headers=headers)


def _ask(pipeline: Pipeline, body: AskRequest, caller: Caller) -> Answer:
    with request_context(tenant=caller.tenant, user=caller.user):
        return pipeline.ask(
            body.question,
            k=body.k,
            filters=filters_for(caller),
            user=caller.user,
            tenant=caller.tenant,
        )


def ask_stream(
    pipeline: Pipeline, question: str, k: int | None, caller: Caller, *, feature: str = "ask"
) -> Iterator[PipelineEvent]:
    """`Pipeline.ask_stream` for this caller (run it in one thread: `iterate_in_thread`)."""
    with request_context(tenant=caller.tenant, user=caller.user, feature=feature):
        yield from pipeline.ask_stream(
            question, k=k, filters=filters_for(caller), user=caller.user, tenant=caller.tenant
        )


async def _answer_events(
    pipeline: Pipeline, body: AskRequest, caller: Caller, limiter: CapacityLimiter
) -> AsyncIterator[str]:
    try:
        async for event in iterate_in_thread(
            lambda: ask_stream(pipeline, body.question, body.k, caller), limiter=limiter
        ):
            name, data = _event_json(event)
            yield sse_event(name, data)
    except Exception as exc:
        failure = model_failure(exc) if isinstance(exc, CairnError) else exc
        _, error, _ = error_of(failure)
        yield sse_event("error", error)


def _event_json(event: PipelineEvent) -> tuple[str, dict[str, Any]]:
    if isinstance(event, TokenEvent):
        return "token", {"text": event.text}
    if isinstance(event, CitationEvent):
        return "citation", citation_json(event.citation)
    if isinstance(event, DegradedEvent):
        return "degraded", degraded_json(event.degraded)
    if isinstance(event, VerifiedEvent):
        return "verification", {"citations": [citation_json(c) for c in event.citations]}
    assert isinstance(event, AnswerDoneEvent)
    return "done", answer_json(event.answer)


@router.post("/v1/search", response_model=SearchOut)
async def search(body: SearchRequest, state: StateDep, caller: SearchCaller) -> Response:
    """Ranked chunks: the same JSON as `cairn search --json`."""
    pipeline = state.pipeline(body.mode)
    hits = await run_sync(_search, pipeline, body, caller, limiter=state.threads)
    return JSONResponse(search_json(body.query, hits))


def _search(pipeline: Pipeline, body: SearchRequest, caller: Caller) -> list[Hit]:
    with request_context(tenant=caller.tenant, user=caller.user, feature="search"):
        return pipeline.search(body.query, body.k, filters_for(caller))


@router.get("/v1/chunks/{chunk_id}", response_model=ChunkOut)
async def chunk(chunk_id: str, state: StateDep, caller: SearchCaller) -> Response:
    """One chunk with its document's details, for a source viewer."""

    def load() -> dict[str, Any] | None:
        chunks = state.store.get_chunks([chunk_id])
        if not chunks:
            return None
        c = chunks[0]
        acl = state.catalog.acl(c.doc_id)
        if acl is None or not readable(acl, caller.principal):
            return None
        return {
            "chunk_id": c.id,
            "doc_id": c.doc_id,
            "source": c.source,
            "uri": c.anchored_uri,
            "title": c.title,
            "section": c.section_path,
            "text": c.text,
            "start": c.start,
            "end": c.end,
            "risk": None if c.risk is None else c.risk.to_dict(),
        }

    found = await run_sync(load, limiter=state.threads)
    if found is None:
        raise not_found(f"chunk {chunk_id!r}")
    return JSONResponse(found)
