"""`create_app(settings)`: the FastAPI application.

Start-up (the lifespan) opens the workspace once, in a worker thread: store, model (warmed
up), vector index, ledger, trace store, `server.db`; every request shares them. Middleware,
outermost first: request metrics, CORS (when `server.cors_origins` is set), the body size
limit (413), the request timeout (504). Errors, whatever raised them, leave in one schema
(`cairn.server.errors`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from cairn.config import Settings, load_settings
from cairn.mcp.http import install_mcp
from cairn.server.errors import install_error_handlers
from cairn.server.metrics import Metrics
from cairn.server.middleware import BodyLimit, RequestMetrics, Timeout
from cairn.server.routes import (
    agent,
    ask,
    chat,
    costs,
    documents,
    evals,
    feedback,
    guard,
    health,
    traces,
    ui,
)
from cairn.server.schemas import ErrorOut
from cairn.server.state import AppState

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (400, "Bad request"),
        (401, "Missing or invalid API key"),
        (403, "The key lacks the scope"),
        (404, "Not found (or not the caller's)"),
        (413, "Body over server.max_request_mb"),
        (422, "Invalid request"),
        (429, "Rate limited (see Retry-After)"),
        (500, "Internal error"),
        (504, "No response within server.request_timeout_s"),
    )
}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API (and the web UI, when `cairn.server.routes.ui` is installed)."""
    settings = settings or load_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await anyio.to_thread.run_sync(lambda: AppState(settings, metrics=metrics))
        app.state.cairn = state
        try:
            async with mcp_running():
                yield
        finally:
            app.state.cairn = None
            await anyio.to_thread.run_sync(state.close)

    app = FastAPI(
        title="cairn",
        version=_version(),
        description="Cited answers over your own documents. See docs/api.md.",
        lifespan=lifespan,
        responses=_ERRORS,
        redoc_url=None,
    )
    install_error_handlers(app)
    for module in (health, ask, chat, documents, feedback, traces, costs, evals, agent, guard, ui):
        app.include_router(module.router)
    mcp_running = install_mcp(app, settings)  # /mcp (docs/mcp.md)

    s = settings.server
    app.add_middleware(Timeout, seconds=s.request_timeout_s)
    app.add_middleware(BodyLimit, limit=int(s.max_request_mb * 1024 * 1024))
    if s.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(s.cors_origins),
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After", "Location"],
        )
    app.add_middleware(RequestMetrics, metrics=metrics)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cairn")
    except PackageNotFoundError:
        return "0"
