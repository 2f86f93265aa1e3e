"""Rate limits per API key: the `RateLimiter` contract, the in-process token buckets behind
it, and `open_rate_limiter`, which picks the backend.

Token buckets hold `burst` requests at once and refill at `per_minute`. The in-memory
buckets limit one server process; `RedisRateLimiter` (`cairn.server.ratelimit_redis`,
chosen by a `redis://` URL) holds one limit across every process. Both pass the conformance
suite in `cairn.testing.ratelimit`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from cairn.errors import ConfigError

MEMORY_URL = "memory://"
"""The default backend: buckets in this process's memory."""


@runtime_checkable
class RateLimiter(Protocol):
    """Admits or delays requests per key."""

    def take(self, key: str) -> float:
        """Spend one request of `key`'s allowance: 0 when the request may go now, else the
        seconds until it may (nothing is spent then)."""
        ...


class TokenBuckets:
    """`RateLimiter` with one token bucket per key, in this process's memory."""

    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        """key -> (tokens, time of the last update)."""
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> float:
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._store(key, tokens - 1.0, now)
                return 0.0
            self._store(key, tokens, now)
            return (1.0 - tokens) / self.rate

    def _store(self, key: str, tokens: float, now: float) -> None:
        if key not in self._buckets and len(self._buckets) >= self._max_keys:
            # forget buckets that have refilled completely (they hold no information)
            full = [
                k
                for k, (t, at) in self._buckets.items()
                if t + (now - at) * self.rate >= self.burst
            ]
            for k in full:
                del self._buckets[k]
        self._buckets[key] = (tokens, now)


def open_rate_limiter(
    per_minute: int,
    burst: int,
    *,
    url: str = MEMORY_URL,
    clock: Callable[[], float] | None = None,
) -> RateLimiter:
    """The limiter for `url`: `memory://` (this process's token buckets) or `redis://...`
    (buckets shared by every process using that Redis); `per_minute=0` turns limiting off.
    Without `clock`, memory buckets use this process's monotonic clock and Redis buckets the
    Redis server's."""
    if url == MEMORY_URL:
        return TokenBuckets(per_minute, burst, clock=clock or time.monotonic)
    from cairn.redisdb import is_redis_url

    if is_redis_url(url):
        from cairn.server.ratelimit_redis import RedisRateLimiter

        return RedisRateLimiter(url, per_minute, burst, clock=clock)
    raise ConfigError(f"unknown rate limiter backend {url!r}: use {MEMORY_URL!r} or a redis:// URL")
