"""Errors raised by LLM providers. Each names the provider, the model and what to check.

RunError (cairn.errors)
└── LLMError                  a model request failed
    ├── ProviderTimeout       connect/read timeout or the total deadline passed   (retryable)
    ├── RateLimited           HTTP 429; carries `retry_after` seconds              (retryable)
    ├── ProviderUnavailable   5xx, connection refused or reset                     (retryable)
    ├── BadResponse           malformed JSON, a stream cut mid-way                 (retryable)
    ├── RequestRejected       4xx other than 429: bad request, auth, unknown model
    ├── CircuitOpen           the provider failed repeatedly; calls are paused
    └── AllProvidersFailed    every model in the fallback chain failed; `attempts` lists them
UserError (cairn.errors)
└── ProviderConfigError       the LLM configuration cannot work (missing model, key, ...)
"""

from __future__ import annotations

from collections.abc import Sequence

from cairn.errors import RunError, UserError


class LLMError(RunError):
    """A model request failed. `retryable` says whether trying again may help."""

    retryable: bool = False
    kind: str = "error"

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        model: str = "",
        hint: str = "",
        status: int | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.hint = hint
        self.status = status
        self.detail = message
        where = f"{provider}:{model}" if model else provider
        text = f"{where}: {message}" if where else message
        super().__init__(f"{text} ({hint})" if hint else text)


class ProviderTimeout(LLMError):
    retryable = True
    kind = "timeout"


class RateLimited(LLMError):
    retryable = True
    kind = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: str) -> None:
        super().__init__(message, status=429, **kw)
        self.retry_after = retry_after


class ProviderUnavailable(LLMError):
    retryable = True
    kind = "unavailable"


class BadResponse(LLMError):
    retryable = True
    kind = "bad_response"


class RequestRejected(LLMError):
    kind = "rejected"


class CircuitOpen(LLMError):
    kind = "circuit_open"


class AllProvidersFailed(LLMError):
    """Raised by a fallback chain; the message lists each model and its last error."""

    kind = "all_failed"

    def __init__(self, attempts: Sequence[LLMError]) -> None:
        self.attempts = tuple(attempts)
        lines = "; ".join(str(a) for a in self.attempts) or "no provider configured"
        last = self.attempts[-1] if self.attempts else None
        super().__init__(
            f"every model failed: {lines}",
            provider=last.provider if last else "",
            hint="check CAIRN_LLM_BASE_URL, CAIRN_LLM_MODEL and CAIRN_LLM_API_KEY, that the "
            "server is up (`cairn doctor`), or raise llm.timeout_s / llm.retries",
        )


class ProviderConfigError(UserError):
    """The LLM configuration cannot work; the message says which setting to fix."""
