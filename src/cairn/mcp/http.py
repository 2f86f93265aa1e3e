"""The MCP endpoint over HTTP: mounted at `/mcp` in the API (`install_mcp`) or served alone
(`mcp_app`, what `cairn mcp serve --transport http` runs).

Authentication is the API's own (`cairn.server.deps.get_caller`): the same keys, tenants,
scopes, rate limit and error schema. The endpoint is stateless, so replicas sharing a
workspace (or its Postgres/Redis state) can serve it behind any load balancer.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from cairn.config import Settings
    from cairn.mcp.server import Authenticate, CairnMCP
    from cairn.server.state import AppState

log = logging.getLogger("cairn.server")

Running = Callable[[], AbstractAsyncContextManager[Any]]
"""What the app's lifespan enters while it serves (the MCP session manager's task group)."""


def api_authenticator(state: Callable[[], AppState]) -> Authenticate:
    """The API's authentication (`get_caller`) for the `Authorization` header of a request."""
    from fastapi.security import HTTPAuthorizationCredentials

    from cairn.mcp.server import AuthFailure
    from cairn.server.deps import get_caller
    from cairn.server.errors import ApiError, error_of

    async def authenticate(header: str | None) -> Any:
        credentials = None
        if header is not None:
            scheme, _, secret = header.partition(" ")
            if scheme.lower() == "bearer" and secret.strip():
                credentials = HTTPAuthorizationCredentials(
                    scheme="Bearer", credentials=secret.strip()
                )
        try:
            return await get_caller(state(), credentials)
        except ApiError as exc:
            status, body, headers = error_of(exc)
            raise AuthFailure(status, body, headers) from None

    return authenticate


def build_server(settings: Settings, state: Callable[[], AppState]) -> CairnMCP:
    from cairn.mcp.server import CairnMCP, DocsSource
    from cairn.server.auth import LOCAL_CALLER

    def source() -> DocsSource:
        s = state()
        return DocsSource(pipeline=s.pipeline, store=s.store, limiter=s.threads)

    return CairnMCP(source, caller=LOCAL_CALLER, loopback_only=settings.server.auth == "local")


def install_mcp(app: FastAPI, settings: Settings) -> Running:
    """Serve MCP at `/mcp` in `app` (when `mcp.mount` and the SDK is installed); returns what
    the lifespan must enter."""
    if not settings.mcp.mount:
        return nullcontext
    try:
        from starlette.routing import Route

        from cairn.mcp.server import MCP_PATH, Endpoint, KeyAuth
    except ImportError:
        from cairn.mcp import INSTALL_HINT

        log.info("no MCP endpoint at /mcp: %s", INSTALL_HINT)
        return nullcontext
    from cairn.server.errors import ApiError
    from cairn.server.state import AppState

    def state() -> AppState:
        current = getattr(app.state, "cairn", None)
        if not isinstance(current, AppState):
            raise ApiError(503, "the server is starting or stopping; retry in a moment")
        return current

    mcp = Endpoint(build_server(settings, state))
    asgi = KeyAuth(mcp, api_authenticator(state))
    # POST only: stateless, so no server-to-client stream (GET) and no session to end
    # (DELETE); the spec's answer to both is 405
    app.router.routes.append(Route(MCP_PATH, endpoint=asgi, methods=["POST"]))
    return mcp.running


def mcp_app(settings: Settings) -> FastAPI:
    """The MCP endpoint alone (`/mcp`), with the API's health probes and authentication."""
    import anyio.to_thread
    from fastapi import FastAPI

    from cairn.server.errors import install_error_handlers
    from cairn.server.routes import health
    from cairn.server.state import AppState

    running: list[Running] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await anyio.to_thread.run_sync(lambda: AppState(settings))
        app.state.cairn = state
        try:
            async with running[0]():
                yield
        finally:
            app.state.cairn = None
            await anyio.to_thread.run_sync(state.close)

    app = FastAPI(title="cairn MCP", lifespan=lifespan, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    app.include_router(health.router)
    forced = settings.model_copy(update={"mcp": settings.mcp.model_copy(update={"mount": True})})
    running.append(install_mcp(app, forced))
    return app
