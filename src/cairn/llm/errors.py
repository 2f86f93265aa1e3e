"""Errors raised by LLM providers. Each names the provider, the model and what to check.

RunError (cairn.errors)
└── LLMError                  a model request failed
    ├── ProviderTimeout       connect/read timeout or the total deadline passed   (retryable)
    ├── RateLimited           HTTP 429; carries `retry_after` seconds              (retryable)
    ├── ProviderUnavailable   5xx, connection refused or reset                     (retryable)
    ├── BadResponse           malformed JSON, a stream cut mid-way                 (retryable)
    ├── RequestRejected       4xx other than 429: bad request, auth, unknown model
    ├── CircuitOpen           the provider failed repeatedly; calls are paused
    └── AllProvidersFailed    every model in the fallback chain failed; `failures` lists them
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
        super().__init__(message)
        self.detail = message
        self.provider = provider
        self.model = model
        self.hint = hint
        self.status = status
        self.attempts = 1
        """How many times the request was tried before this error was raised."""

    def __str__(self) -> str:
        where = f"{self.provider}:{self.model}" if self.model else self.provider
        text = f"{where}: {self.detail}" if where else self.detail
        if self.attempts > 1:
            text += f" (after {self.attempts} attempts)"
        return f"{text}; {self.hint}" if self.hint else text


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

    def __init__(self, failures: Sequence[LLMError]) -> None:
        self.failures = tuple(failures)
        lines = " | ".join(str(f) for f in self.failures) or "no model configured"
        super().__init__(
            f"every model failed: {lines}",
            hint="check CAIRN_LLM_BASE_URL, CAIRN_LLM_MODEL and CAIRN_LLM_API_KEY and that the "
            "server is up (`cairn doctor`), or raise llm.timeout_s / llm.retries",
        )


class ProviderConfigError(UserError):
    """The LLM configuration cannot work; the message says which setting to fix."""
