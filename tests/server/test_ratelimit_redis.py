"""`RedisRateLimiter` on a real redis-server passes the rate-limiter conformance suite, and
two limiters (two replicas) share one limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cairn.errors import ConfigError
from cairn.server.ratelimit import open_rate_limiter
from cairn.server.ratelimit_redis import RedisRateLimiter
from cairn.testing.clock import Clock
from cairn.testing.ratelimit import RateLimiterConformance
from cairn.testing.redis import RedisServer

pytestmark = pytest.mark.skipif(
    not RedisServer.available(), reason="redis-server is not installed (make setup installs it)"
)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _empty(redis_server: RedisServer) -> None:
    redis_server.flush()


class TestRedisRateLimiter(RateLimiterConformance):
    @pytest.fixture(autouse=True)
    def _server(self, redis_server: RedisServer) -> None:
        self.url = redis_server.url

    def make_limiter(self, per_minute: int, burst: int, clock: Clock) -> RedisRateLimiter:
        limiter = open_rate_limiter(per_minute, burst, url=self.url, clock=clock)
        assert isinstance(limiter, RedisRateLimiter)
        return limiter


def test_two_replicas_share_one_limit(redis_server: RedisServer) -> None:
    clock = Clock()
    a = RedisRateLimiter(redis_server.url, 60, 4, clock=clock)
    b = RedisRateLimiter(redis_server.url, 60, 4, clock=clock)
    went = [limiter.take("key-1") == 0.0 for limiter in (a, b, a, b, a, b)]
    assert went == [True, True, True, True, False, False]
    clock.advance(1.0)
    assert b.take("key-1") == 0.0 and a.take("key-1") > 0
    a.close()
    b.close()


def test_the_redis_server_clock_refills_buckets(redis_server: RedisServer) -> None:
    """Without an injected clock the script reads Redis's TIME: one clock for all replicas.
    6,000 a minute refills a token every 10 ms; a burst of 1 spent twice in a row waits at
    most that long, and a later take (after the server's clock moved) goes."""
    limiter = RedisRateLimiter(redis_server.url, 6000, 1)
    assert limiter.take("k") == 0.0
    wait = limiter.take("k")
    assert 0 < wait <= 0.01 + 1e-9
    went = False
    for _ in range(10_000):  # polls the server's own clock; no sleep as synchronisation
        if limiter.take("k") == 0.0:
            went = True
            break
    assert went
    limiter.close()


def test_an_unreachable_redis_is_a_clear_configuration_error() -> None:
    with pytest.raises(ConfigError, match=r"cannot reach Redis at redis://127\.0\.0\.1:9"):
        open_rate_limiter(60, 10, url="redis://127.0.0.1:9/0")
