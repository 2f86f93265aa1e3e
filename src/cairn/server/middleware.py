"""Plain ASGI middleware: request metrics, the body size limit (413) and the per-request
timeout (504). Plain ASGI rather than `BaseHTTPMiddleware` so streamed responses pass
through untouched and cancellation reaches the route."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cairn.server.errors import error_body
from cairn.server.metrics import Metrics


async def send_error(send: Send, status: int, type: str, message: str) -> None:
    body = json.dumps(error_body(type, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestMetrics:
    """Counts requests by route template and status, and times them."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, tracked)
        finally:
            self.metrics.in_flight.dec()
            route = scope.get("route")
            path = getattr(route, "path", None) or "<unmatched>"
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(method=method, route=path, status=str(status)).inc()
            self.metrics.latency.labels(method=method, route=path).observe(
                time.perf_counter() - started
            )


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuses bodies over `limit` bytes with 413, by Content-Length or while reading."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"request body over the server.max_request_mb limit ({self.limit} bytes)"
        length = _header(scope, b"content-length")
        if length is not None:
            if not length.isdigit():
                await send_error(send, 400, "bad_request", "invalid Content-Length header")
                return
            if int(length) > self.limit:
                await send_error(send, 413, "payload_too_large", message)
                return
        received = 0
        exceeded = False
        replaced = False

        async def limited() -> Message:
            nonlocal received, exceeded
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    raise _TooLarge
            return msg

        async def guarded(msg: Message) -> None:
            nonlocal replaced
            if exceeded:  # whatever the app answers, the answer is 413
                if not replaced:
                    replaced = True
                    await send_error(send, 413, "payload_too_large", message)
                return
            await send(msg)

        try:
            await self.app(scope, limited, guarded)
        except _TooLarge:
            if not replaced:
                await send_error(send, 413, "payload_too_large", message)
        except Exception:
            if not exceeded:
                raise
            if not replaced:
                await send_error(send, 413, "payload_too_large", message)


class Timeout:
    """504 when no response has started within `seconds`; streams, once started, run on."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        with anyio.CancelScope() as cancel:
            cancel.deadline = anyio.current_time() + self.seconds

            async def guarded(message: Message) -> None:
                nonlocal started
                if message["type"] == "http.response.start":
                    started = True
                    cancel.deadline = math.inf
                await send(message)

            await self.app(scope, receive, guarded)
        if cancel.cancelled_caught and not started:
            await send_error(
                send,
                504,
                "timeout",
                f"no response within server.request_timeout_s ({self.seconds:g} s); "
                "try again, or ask a narrower question",
            )


def _header(scope: Scope, name: bytes) -> str | None:
    headers: Any = scope.get("headers") or []
    for key, value in headers:
        if key.lower() == name:
            return bytes(value).decode("latin-1").strip()
    return None
