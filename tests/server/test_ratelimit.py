"""The in-process token buckets pass the rate-limiter conformance suite; the factory picks
backends by URL."""

from __future__ import annotations

import pytest

from cairn.errors import ConfigError, retry_after_header
from cairn.server.ratelimit import TokenBuckets, open_rate_limiter
from cairn.testing.clock import Clock
from cairn.testing.ratelimit import RateLimiterConformance


class TestTokenBuckets(RateLimiterConformance):
    def make_limiter(self, per_minute: int, burst: int, clock: Clock) -> TokenBuckets:
        return TokenBuckets(per_minute, burst, clock=clock)


class TestOpenedByURL(RateLimiterConformance):
    def make_limiter(self, per_minute: int, burst: int, clock: Clock) -> TokenBuckets:
        limiter = open_rate_limiter(per_minute, burst, url="memory://", clock=clock)
        assert isinstance(limiter, TokenBuckets)
        return limiter


def test_full_buckets_are_forgotten_when_the_key_limit_is_reached() -> None:
    clock = Clock()
    limiter = TokenBuckets(60, 1, clock=clock, max_keys=2)
    limiter.take("a")
    limiter.take("b")
    clock.advance(5)  # both refilled: they hold nothing worth keeping
    limiter.take("c")
    assert limiter.take("c") > 0  # c's own bucket is kept and spent
    assert limiter.take("a") == 0.0


def test_an_unknown_backend_names_the_ones_that_exist() -> None:
    with pytest.raises(ConfigError, match="memory://"):
        open_rate_limiter(60, 10, url="postgresql://localhost/x")


def test_retry_after_is_a_whole_number_of_seconds_and_at_least_one() -> None:
    assert retry_after_header(0.2) == "1"
    assert retry_after_header(2.1) == "3"
