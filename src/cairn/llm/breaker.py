"""A circuit breaker per provider endpoint and model.

After `threshold` consecutive retryable failures the circuit opens: calls fail at once with
`CircuitOpen` (so a fallback model answers without waiting on a dead server). After
`reset_after` seconds one trial call is let through (half-open); its success closes the
circuit, its failure opens it again. Rejected requests (4xx) are the caller's fault and do
not count.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cairn.llm.errors import CircuitOpen, LLMError


class CircuitBreaker:
    def __init__(
        self,
        *,
        threshold: int = 5,
        reset_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.reset_after = reset_after
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False
        self._last: LLMError | None = None

    @property
    def state(self) -> str:
        """`closed`, `open` or `half-open`."""
        with self._lock:
            if self._opened_at is None:
                return "closed"
            waited = self._clock() - self._opened_at
            return "half-open" if waited >= self.reset_after else "open"

    def before_call(self, provider: str, model: str) -> None:
        """Raise `CircuitOpen` unless a call may go through now."""
        with self._lock:
            if self._opened_at is None:
                return
            waited = self._clock() - self._opened_at
            if waited >= self.reset_after and not self._trial:
                self._trial = True  # half-open: let this one call through
                return
            left = max(0.0, self.reset_after - waited)
            raise CircuitOpen(
                f"paused after {self._failures} consecutive failures (last: "
                f"{self._last.detail if self._last else 'unknown'}); next try in {left:.0f}s",
                provider=provider,
                model=model,
                hint="check the server, or configure llm.fallback_models",
            )

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial = False

    def record_failure(self, error: LLMError) -> None:
        if not error.retryable:
            with self._lock:
                self._trial = False
            return
        with self._lock:
            self._failures += 1
            self._last = error
            if self._trial or self._failures >= self.threshold:
                self._opened_at = self._clock()
            self._trial = False


class BreakerRegistry:
    """One breaker per key, shared by every provider object built for that key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, key: str, *, threshold: int = 5, reset_after: float = 30.0) -> CircuitBreaker:
        with self._lock:
            breaker = self._breakers.get(key)
            if breaker is None:
                breaker = CircuitBreaker(threshold=threshold, reset_after=reset_after)
                self._breakers[key] = breaker
            return breaker


BREAKERS = BreakerRegistry()
"""The process-wide registry `cairn.llm.routing.build_provider` uses."""
