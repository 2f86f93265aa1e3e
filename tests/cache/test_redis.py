"""`RedisAnswerCache` on a real redis-server passes the answer-cache conformance suite; two
instances (two replicas) see each other's entries; Redis trouble never fails a request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.cache import VectorAnswerCache, open_answer_cache
from cairn.cache.redis import RedisAnswerCache
from cairn.testing.cache import (
    AnswerCacheConformance,
    Clock,
    MakeCache,
    make_answer,
    request,
    unit,
)
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


class TestRedisAnswerCache(AnswerCacheConformance):
    @pytest.fixture
    def make_cache(self, redis_server: RedisServer) -> Iterator[MakeCache]:
        made: list[RedisAnswerCache] = []

        def make(
            *, ttl_s: float | None = None, max_entries: int = 100, clock: Clock | None = None
        ) -> VectorAnswerCache:
            cache = RedisAnswerCache(
                redis_server.url, ttl_s=ttl_s, max_entries=max_entries, clock=clock or Clock()
            )
            made.append(cache)
            return cache

        yield make
        for cache in made:
            cache.close()


def test_two_replicas_share_entries(redis_server: RedisServer) -> None:
    a = open_answer_cache(Path("unused"), url=redis_server.url)
    b = RedisAnswerCache(redis_server.url)
    assert isinstance(a, RedisAnswerCache)
    a.put(request(), make_answer("from replica A"), vector=unit(1, 0), model="m")
    hit = b.get(request())
    assert hit is not None and hit.answer.text == "from replica A"
    [similar] = b.similar(request("q"), unit(1, 0.1), model="m", min_similarity=0.5)
    assert similar.answer.text == "from replica A"
    a.close()
    b.close()


def test_redis_going_away_reads_as_a_miss() -> None:
    with RedisServer() as doomed:
        cache = RedisAnswerCache(doomed.url)
        cache.put(request(), make_answer())
        assert cache.get(request()) is not None
    assert cache.get(request()) is None  # the server is gone
    cache.put(request("another"), make_answer())  # logged and skipped, not raised
    assert cache.similar(request(), unit(1, 0), model="m", min_similarity=0.0) == []
    cache.close()


def test_an_entry_that_does_not_decode_is_dropped(redis_server: RedisServer) -> None:
    cache = RedisAnswerCache(redis_server.url)
    cache.put(request(), make_answer())
    cache.client.hset(f"cairn:cache:e:{request().key}", "answer", "{not json")
    assert cache.get(request()) is None
    assert len(cache) == 0
    cache.close()
