"""`/healthz` (the process is up), `/readyz` (store and indexes ready; each dependency's
state, the model's included), `/metrics`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from cairn.server.deps import MetricsCaller, StateDep
from cairn.server.state import AppState
from cairn.server.threads import run_sync
from cairn.store.base import LexicalIndexWarmup

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=dict[str, Any])
async def healthz() -> Response:
    return JSONResponse({"status": "ok"})


@router.get("/readyz", response_model=dict[str, Any])
async def readyz(request: Request) -> Response:
    """Ready (200) when the store and the indexes are; each dependency is reported on its
    own: `store` (`ok` | `unavailable`), `lexical_index` (`memory`; while the in-memory
    index builds, the store's own ranking, `fts5` or `postgres`: same results, slower), `llm`
    (`ok` | `unavailable` | `budget_exhausted` | `not_configured`, with `llm_detail` in local
    mode). The model's state never makes the service unready: answers then fall back as
    `answer.fallback` says."""
    state = getattr(request.app.state, "cairn", None)
    if not isinstance(state, AppState) or not state.ready:
        return JSONResponse({"status": "starting"}, status_code=503)
    llm, llm_detail = await run_sync(state.llm.status)
    if state.settings.server.auth != "local":
        llm_detail = ""  # /readyz needs no key: no endpoint or budget details for anyone
    try:
        generation = await run_sync(state.store.generation)
    except Exception as exc:
        return JSONResponse(
            {
                "status": "unavailable",
                "reason": str(exc),
                "store": "unavailable",
                "llm": llm,
                "llm_detail": llm_detail,
            },
            status_code=503,
        )
    store = state.store
    if isinstance(store, LexicalIndexWarmup) and store.bm25_covers(generation):
        lexical = "memory"
    else:  # FTS5, or the store's own engine while the index builds (Postgres: BM25 in SQL)
        lexical = str(getattr(store, "lexical_index", "fts5"))
    return JSONResponse(
        {
            "status": "ready",
            "corpus_generation": generation,
            "store": "ok",
            "lexical_index": lexical,
            "llm": llm,
            "llm_detail": llm_detail,
        }
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(state: StateDep, caller: MetricsCaller) -> Response:
    """Prometheus text format (needs the `metrics` scope in keys mode)."""
    body = await run_sync(state.metrics.render)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
