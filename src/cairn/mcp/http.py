"""The MCP endpoint over HTTP: mounted at `/mcp` in the API (`install_mcp`) or served alone
(`mcp_app`, what `cairn mcp serve --transport http` runs).

Authentication is the API's own (`cairn.server.deps.get_caller`): the same keys, tenants,
scopes, rate limit and error schema. The endpoint is stateless, so replicas sharing a
workspace (or its Postgres/Redis state) can serve it behind any load balancer.

This module does not import the SDK: importing it and building the server (0.7-0.9 s of
imports on two busy cores) happens in a thread started with the app, overlapping the
workspace's start-up instead of coming before it.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from fastapi import FastAPI

    from cairn.config import Settings
    from cairn.mcp.server import CairnMCP
    from cairn.server.auth import Caller
    from cairn.server.state import AppState

log = logging.getLogger("cairn.server")

CALLER_KEY = "cairn.caller"
"""Where the HTTP authentication puts the `Caller` in the ASGI scope for the tools to read."""
MCP_PATH = "/mcp"

_CAIRN_MODULES = (
    "cairn.context",
    "cairn.payloads",
    "cairn.server.auth",
    "cairn.server.catalog",
    "cairn.server.keys",
    "cairn.server.schemas",
    "cairn.server.threads",
    "cairn.types",
)

Running = Callable[[], AbstractAsyncContextManager[Any]]
"""What the app's lifespan enters while it serves (the MCP session manager's task group)."""


class AuthFailure(Exception):
    """The request may not reach the MCP endpoint: status, body and headers to answer."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


Authenticate = Callable[[str | None], Awaitable["Caller"]]
"""From the `Authorization` header to a `Caller`, or `AuthFailure`."""


class KeyAuth:
    """ASGI middleware in front of the MCP endpoint: authenticates each request the way the
    API does (an `Authenticate`), puts the `Caller` in the scope, or answers the error in
    cairn's error schema (401 with `WWW-Authenticate: Bearer`, 429 with `Retry-After`)."""

    def __init__(self, app: ASGIApp, authenticate: Authenticate) -> None:
        self.app = app
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        try:
            caller = await self.authenticate(header)
        except AuthFailure as failure:
            response = JSONResponse(failure.body, failure.status, headers=failure.headers)
            await response(scope, receive, send)
            return
        await self.app({**scope, CALLER_KEY: caller}, receive, send)


class Endpoint:
    """The MCP endpoint as an ASGI app (put `KeyAuth` in front). The server is built in a
    thread from construction on; `running()` is entered for each lifetime of the app: it
    waits for the build, then runs a fresh stateless session manager, so an app can stop
    and start again."""

    def __init__(self, build: Callable[[], CairnMCP]) -> None:
        self.manager: Any = None
        self._server: CairnMCP | None = None
        self._failure: BaseException | None = None
        self._build = build
        self._loading = threading.Thread(target=self._load, name="cairn-mcp-load", daemon=True)
        self._loading.start()

    def _load(self) -> None:
        try:
            self._server = self._build()
        except BaseException as exc:
            self._failure = exc

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        import anyio.to_thread

        await anyio.to_thread.run_sync(self._loading.join)
        if self._failure is not None:
            raise self._failure
        server = self._server
        assert server is not None
        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

        manager = StreamableHTTPSessionManager(
            app=server._mcp_server,
            json_response=True,
            stateless=True,
            security_settings=server.settings.transport_security,
        )
        async with manager.run():
            self.manager = manager
            try:
                yield
            finally:
                self.manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        manager = self.manager
        if manager is None:
            body = {"error": {"type": "unavailable", "message": "the server is starting or "
                              "stopping; retry in a moment"}}  # fmt: skip
            await JSONResponse(body, 503)(scope, receive, send)
            return
        await manager.handle_request(scope, receive, send)


def api_authenticator(state: Callable[[], AppState]) -> Authenticate:
    """The API's authentication (`get_caller`) for the `Authorization` header of a request."""
    from fastapi.security import HTTPAuthorizationCredentials

    from cairn.server.deps import get_caller
    from cairn.server.errors import ApiError, error_of

    async def authenticate(header: str | None) -> Caller:
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
    if importlib.util.find_spec("mcp") is None:
        from cairn.mcp import INSTALL_HINT

        log.info("no MCP endpoint at /mcp: %s", INSTALL_HINT)
        return nullcontext
    from starlette.routing import Route

    from cairn.server.errors import ApiError
    from cairn.server.state import AppState

    def state() -> AppState:
        current = getattr(app.state, "cairn", None)
        if not isinstance(current, AppState):
            raise ApiError(503, "the server is starting or stopping; retry in a moment")
        return current

    for module in _CAIRN_MODULES:  # what the server module needs of cairn, imported here
        importlib.import_module(module)  # so the loading thread only imports the SDK
    endpoint = Endpoint(lambda: build_server(settings, state))
    # POST only: stateless, so no server-to-client stream (GET) and no session to end
    # (DELETE); the spec's answer to both is 405
    route = Route(MCP_PATH, endpoint=KeyAuth(endpoint, api_authenticator(state)), methods=["POST"])
    app.router.routes.append(route)
    return endpoint.running


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
