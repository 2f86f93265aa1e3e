"""One error schema for every failure: `{"error": {"type", "message", "detail"?}}`.

cairn's own errors map to status codes and types in `cairn.errors.status_of` (shared with
the command line's `--json` errors); anything else is a 500 whose
message says nothing about the internals (the traceback goes to the server log).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cairn.errors import CairnError
from cairn.errors import status_of as status_of

log = logging.getLogger("cairn.server")

_HTTP_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    501: "not_implemented",
    502: "upstream_error",
    503: "unavailable",
    504: "timeout",
}


class ApiError(Exception):
    """An error response raised from a route or dependency."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        detail: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type or _HTTP_TYPES.get(status, "error")
        self.message = message
        self.detail = detail
        self.headers = dict(headers or {})


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def error_body(type: str, message: str, detail: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": type, "message": message}
    if detail is not None:
        error["detail"] = detail
    return {"error": error}


def error_response(
    status: int,
    type: str,
    message: str,
    detail: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        jsonable_encoder(error_body(type, message, detail)), status_code=status, headers=headers
    )


def error_of(exc: BaseException) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers for any exception (used by handlers and SSE streams)."""
    if isinstance(exc, ApiError):
        return exc.status, error_body(exc.type, exc.message, exc.detail), exc.headers
    if isinstance(exc, CairnError):
        status, kind, headers = status_of(exc)
        return status, error_body(kind, str(exc)), headers
    log.error("unhandled error", exc_info=exc)
    body = error_body("internal_error", "internal server error; the server log has the details")
    return 500, body, {}


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        status, body, headers = error_of(exc)
        return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        message = exc.detail if isinstance(exc.detail, str) else _HTTP_TYPES.get(exc.status_code)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path} (see /docs)"
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"{request.method} is not allowed on {request.url.path}" + (
                f"; use {allowed}" if allowed else ""
            )
        return error_response(
            exc.status_code,
            _HTTP_TYPES.get(exc.status_code, "error"),
            str(message or "error"),
            headers=exc.headers,
        )

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        where = ".".join(str(p) for p in problems[0]["loc"]) if problems else ""
        what = str(problems[0]["msg"]) if problems else "invalid request"
        return error_response(
            422, "invalid_request", f"{where}: {what}" if where else what, problems
        )

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(CairnError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, api_error)
