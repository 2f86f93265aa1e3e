"""When to try a failed request again, and how long to wait first.

Only retryable errors (timeouts, 429, 5xx, malformed or cut replies) are retried. The wait is
exponential backoff with "equal jitter" (half fixed, half random, so clients that failed
together spread out), or the server's `Retry-After` when it sent one. A `Retry-After` longer
than `max_retry_after` (or than the time left) ends the retries at once: cairn reports the
rate limit instead of sleeping past the caller's patience.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from cairn.llm.errors import LLMError, RateLimited


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    attempts: int = 3
    """Tries in all, the first included (1 disables retries)."""
    base_delay: float = 0.5
    """Seconds before the second try; doubles each time."""
    max_delay: float = 8.0
    max_retry_after: float = 30.0
    """The longest `Retry-After` cairn is willing to wait."""

    def delay(self, failures: int, error: LLMError, rng: random.Random) -> float | None:
        """Seconds to wait before the next try, or `None` to give up.

        `failures` counts the failed tries so far (1 after the first).
        """
        if not error.retryable or failures >= self.attempts:
            return None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            return error.retry_after + rng.uniform(0, min(0.1, self.base_delay))
        step = min(self.max_delay, self.base_delay * 2.0 ** (failures - 1))
        return step / 2 + rng.uniform(0, step / 2)


NO_RETRY = RetryPolicy(attempts=1)
