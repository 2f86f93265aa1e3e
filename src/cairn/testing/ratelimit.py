"""The behaviour every `RateLimiter` backend must have.

A backend's test module subclasses `RateLimiterConformance` and implements `make_limiter`::

    class TestRedisLimiter(RateLimiterConformance):
        def make_limiter(self, per_minute, burst, clock):
            return RedisRateLimiter(URL, per_minute, burst, clock=clock)

The limiter must read time only from `clock`, so the tests wind it by hand.
"""

from __future__ import annotations

import threading

import pytest

from cairn.server.ratelimit import RateLimiter
from cairn.testing.clock import Clock


class RateLimiterConformance:
    """Token-bucket semantics: `burst` at once, refilled at `per_minute`, per key."""

    def make_limiter(self, per_minute: int, burst: int, clock: Clock) -> RateLimiter:
        raise NotImplementedError("subclass RateLimiterConformance and implement make_limiter")

    def test_is_a_rate_limiter(self) -> None:
        assert isinstance(self.make_limiter(60, 2, Clock()), RateLimiter)

    def test_a_burst_goes_then_the_next_request_waits(self) -> None:
        limiter = self.make_limiter(60, 3, Clock())
        assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
        wait = limiter.take("k")
        assert wait == pytest.approx(1.0)  # 60 a minute: one a second

    def test_refills_at_the_rate_and_never_beyond_the_burst(self) -> None:
        clock = Clock()
        limiter = self.make_limiter(120, 2, clock)
        limiter.take("k")
        limiter.take("k")
        assert limiter.take("k") == pytest.approx(0.5)
        clock.advance(0.5)
        assert limiter.take("k") == 0.0
        assert limiter.take("k") > 0
        clock.advance(3600)  # an hour idle refills to the burst, not to 7,200
        assert [limiter.take("k") for _ in range(2)] == [0.0, 0.0]
        assert limiter.take("k") > 0

    def test_a_refused_request_spends_nothing(self) -> None:
        clock = Clock()
        limiter = self.make_limiter(60, 1, clock)
        limiter.take("k")
        for _ in range(5):
            assert limiter.take("k") > 0
        clock.advance(1.0)
        assert limiter.take("k") == 0.0

    def test_keys_have_separate_allowances(self) -> None:
        limiter = self.make_limiter(60, 1, Clock())
        assert limiter.take("alice") == 0.0
        assert limiter.take("alice") > 0
        assert limiter.take("bob") == 0.0

    def test_zero_per_minute_turns_limiting_off(self) -> None:
        limiter = self.make_limiter(0, 1, Clock())
        assert all(limiter.take("k") == 0.0 for _ in range(100))

    def test_concurrent_takers_never_exceed_the_burst(self) -> None:
        limiter = self.make_limiter(60, 20, Clock())
        admitted: list[bool] = []
        lock = threading.Lock()
        start = threading.Barrier(8)

        def take() -> None:
            start.wait(timeout=30)
            for _ in range(10):
                went = limiter.take("shared") == 0.0
                with lock:
                    admitted.append(went)

        threads = [threading.Thread(target=take) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(admitted) == 80
        assert sum(admitted) == 20
