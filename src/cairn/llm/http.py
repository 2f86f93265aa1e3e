"""HTTP plumbing shared by the provider adapters: one `httpx.Client`, timeouts, errors.

Why httpx rather than the official SDKs: one light dependency serves both APIs (and every
OpenAI-compatible server), timeouts and retries stay under our control instead of being
layered on the SDKs' own, and tests inject `httpx.MockTransport` or point at the fake server
instead of patching SDK internals.

Timeouts: `connect` and `read` bound each network wait; `total` is a deadline for the whole
request, checked between reads, and every wait is clipped to the time left, so a request
never outlives its deadline by more than the scheduling slack.
"""

from __future__ import annotations

import email.utils
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

import httpx

from cairn.llm.base import ModelSettings
from cairn.llm.errors import (
    BadResponse,
    LLMError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
)
from cairn.llm.sse import SSEEvent, iter_sse

_T = TypeVar("_T")


@dataclass(frozen=True, kw_only=True, slots=True)
class Timeouts:
    connect: float = 5.0
    """Seconds to open the connection."""
    read: float = 30.0
    """Seconds to wait for any byte of the response (the first token, or the next one)."""
    total: float = 60.0
    """Deadline for the whole request, streaming included."""


class Deadline:
    """A point in monotonic time; `remaining()` seconds until it passes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.at - time.monotonic()


class JSONClient:
    """POSTs JSON to one endpoint and maps every failure to an `LLMError`."""

    def __init__(
        self,
        *,
        provider: str,
        model: str,
        base_url: str,
        headers: Mapping[str, str],
        timeouts: Timeouts,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts
        self._client = httpx.Client(
            base_url=self.base_url, headers=dict(headers), transport=transport
        )

    def close(self) -> None:
        self._client.close()

    def post(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """The decoded JSON reply."""
        deadline = Deadline(timeout or self.timeouts.total)
        with self._send(path, body, deadline, headers) as response:
            raw = bytearray()
            for chunk in self._guard(response.iter_bytes, deadline):
                raw += chunk
                self._check(deadline)
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise self._error(
                BadResponse, f"malformed JSON in the reply ({exc})", hint=_SERVER_HINT
            ) from exc

    @contextmanager
    def stream(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[Iterator[SSEEvent]]:
        """The reply's server-sent events; every wait between them is bounded."""
        deadline = Deadline(timeout or self.timeouts.total)
        with self._send(path, body, deadline, headers) as response:

            def events() -> Iterator[SSEEvent]:
                for event in iter_sse(self._guard(response.iter_lines, deadline)):
                    self._check(deadline)
                    yield event

            yield events()

    @contextmanager
    def _send(
        self,
        path: str,
        body: Mapping[str, Any],
        deadline: Deadline,
        headers: Mapping[str, str] | None,
    ) -> Iterator[httpx.Response]:
        request = self._client.build_request(
            "POST", path, json=body, headers=headers, timeout=self._timeout(deadline)
        )
        try:
            response = self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._from_exception(exc, deadline) from exc
        try:
            if response.status_code >= 400:
                raise self._from_status(response, deadline)
            yield response
        finally:
            response.close()

    def _timeout(self, deadline: Deadline) -> httpx.Timeout:
        left = self._check(deadline)
        connect = min(self.timeouts.connect, left)
        read = min(self.timeouts.read, left)
        return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)

    def _check(self, deadline: Deadline) -> float:
        left = deadline.remaining()
        if left <= 0:
            raise self._error(
                ProviderTimeout,
                f"no complete reply within the {deadline.seconds:g}s deadline",
                hint="raise llm.timeout_s or check the server's load",
            )
        return left

    def _guard(self, read: Callable[[], Iterator[_T]], deadline: Deadline) -> Iterator[_T]:
        """Iterate `read()`, turning transport failures into `LLMError`s."""
        try:
            yield from read()
        except httpx.HTTPError as exc:
            raise self._from_exception(exc, deadline) from exc

    def _error(self, cls: type[LLMError], message: str, **kw: Any) -> LLMError:
        return cls(message, provider=self.provider, model=self.model, **kw)

    def _from_exception(self, exc: httpx.HTTPError, deadline: Deadline) -> LLMError:
        url = self.base_url
        if isinstance(exc, httpx.ConnectTimeout):
            return self._error(
                ProviderTimeout,
                f"could not connect to {url} within {self.timeouts.connect:g}s",
                hint="check CAIRN_LLM_BASE_URL and that the server is up",
            )
        if isinstance(exc, httpx.TimeoutException):
            if deadline.remaining() <= 0.05:
                what = f"the {deadline.seconds:g}s deadline passed"
            else:
                what = f"no data for {self.timeouts.read:g}s (read timeout)"
            return self._error(
                ProviderTimeout,
                f"{what} waiting for {url}",
                hint="the server may be overloaded; raise llm.read_timeout_s or llm.timeout_s",
            )
        if isinstance(exc, httpx.ConnectError):
            return self._error(
                ProviderUnavailable,
                f"cannot connect to {url} ({exc})",
                hint="check CAIRN_LLM_BASE_URL and that the server is running",
            )
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
            return self._error(
                BadResponse, f"connection closed mid-reply ({exc})", hint=_SERVER_HINT
            )
        return self._error(ProviderUnavailable, f"HTTP failure ({exc})", hint=_SERVER_HINT)

    def _from_status(self, response: httpx.Response, deadline: Deadline) -> LLMError:
        status = response.status_code
        try:
            raw = b"".join(self._guard(response.iter_bytes, deadline))
        except LLMError:
            raw = b""
        detail = _error_detail(raw) or response.reason_phrase
        message = f"HTTP {status}: {detail}"
        if status == 429:
            return RateLimited(
                message,
                retry_after=retry_after(response.headers),
                provider=self.provider,
                model=self.model,
                hint="slow down, or raise the provider's rate limit",
            )
        if status in (401, 403):
            return self._error(
                RequestRejected, message, status=status, hint="check CAIRN_LLM_API_KEY"
            )
        if status == 404:
            return self._error(
                RequestRejected,
                message,
                status=status,
                hint="check CAIRN_LLM_MODEL, and CAIRN_LLM_BASE_URL (OpenAI-compatible "
                "servers usually end in /v1)",
            )
        if status == 408 or status >= 500:
            cls = ProviderTimeout if status in (408, 504) else ProviderUnavailable
            return self._error(cls, message, status=status, hint=_SERVER_HINT)
        return self._error(RequestRejected, message, status=status, hint="see the message above")


_SERVER_HINT = "the server failed; check its logs, or configure llm.fallback_models"


def _error_detail(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").strip()
    try:
        payload = json.loads(text)
    except ValueError:
        return text[:300]
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or error)[:300]
    if isinstance(error, str):
        return error[:300]
    return text[:300]


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def decode_arguments(raw: str | None) -> dict[str, Any]:
    """Tool-call arguments sent as a JSON string; `{}` when empty."""
    if not raw:
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("tool arguments are not a JSON object")
    return value


class HTTPProvider:
    """What the HTTP adapters share: their name and model, default settings, one
    `JSONClient` and its lifetime (`close()` or `with`)."""

    key_env_var: ClassVar[str] = ""
    """Where the API key is read from when none is given."""

    def __init__(
        self,
        model: str,
        *,
        name: str,
        base_url: str,
        headers: Mapping[str, str],
        timeouts: Timeouts | None,
        defaults: ModelSettings | None,
        transport: httpx.BaseTransport | None,
    ) -> None:
        self._name = name
        self._model = model
        self.defaults: ModelSettings = defaults or ModelSettings()
        self._http = JSONClient(
            provider=name,
            model=model,
            base_url=base_url,
            headers=dict(headers),
            timeouts=timeouts or Timeouts(),
            transport=transport,
        )

    @classmethod
    def api_key(cls, given: str | None) -> str | None:
        return given if given is not None else os.environ.get(cls.key_env_var)

    @property
    def name(self) -> str:
        return self._name

    @property
    def model(self) -> str:
        return self._model

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
