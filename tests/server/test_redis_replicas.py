"""Two server replicas sharing one real Redis: one rate limit across both, one answer cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.config import RedisSettings
from cairn.testing.redis import RedisServer
from tests.server.conftest import app_client, bearer, copy_workspace, create_key, settings_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not RedisServer.available(), reason="redis-server is not installed (make setup installs it)"
    ),
]


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def test_one_rate_limit_across_two_replicas(
    base_workspace: Path, tmp_path: Path, redis_server: RedisServer
) -> None:
    ws = copy_workspace(base_workspace, tmp_path / "ws")
    key = bearer(create_key(ws, "acme", "search"))
    server = {"auth": "keys", "rate_limit_per_minute": 6, "rate_limit_burst": 2}
    settings = settings_for(ws, server=server, redis=RedisSettings(url=redis_server.url))
    with app_client(settings) as a, app_client(settings) as b:
        codes = [
            client.post("/v1/search", headers=key, json={"query": "x"}).status_code
            for client in (a, b, a, b)
        ]
        assert codes == [200, 200, 429, 429]  # alone, each replica would have let 2 through
        limited = b.post("/v1/search", headers=key, json={"query": "x"})
        assert 1 <= int(limited.headers["retry-after"]) <= 10


def test_an_answer_cached_on_one_replica_is_served_by_the_other(
    base_workspace: Path, tmp_path: Path, redis_server: RedisServer
) -> None:
    ws = copy_workspace(base_workspace, tmp_path / "ws")
    settings = settings_for(ws, redis=RedisSettings(url=redis_server.url))
    question = {"question": "How do I read a JSON file?"}
    with app_client(settings) as a, app_client(settings) as b:
        first = a.post("/v1/ask", json=question).json()
        second = b.post("/v1/ask", json=question).json()
    assert first["cached"] is False
    assert second["cached"] is True and second["answer"] == first["answer"]
    assert not (ws / "cache.db").exists()  # the cache lives in Redis, not the workspace
