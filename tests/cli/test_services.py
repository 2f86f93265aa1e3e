"""`cairn services up|status|down` starts a real Postgres (pgvector) and Redis that outlive
the command, with data under the workspace, and stops them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile

import pytest

from cairn.testing.postgres import PostgresServer
from cairn.testing.redis import RedisServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (PostgresServer.available() and RedisServer.available()),
        reason="the bundled Postgres or redis-server is missing (make setup installs both)",
    ),
]


def cairn(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cairn", *args], capture_output=True, text=True, timeout=300
    )


def test_up_status_down() -> None:
    import psycopg
    import redis

    # Not under pytest's tmp_path: Postgres runs as another user (the server refuses root),
    # which must traverse the folders above its data, and pytest keeps its own tmp root
    # private (0700), resetting it whenever a pytest session starts.
    ws = tempfile.mkdtemp(prefix="cairn-services-")
    try:
        started = cairn("services", "up", "--workspace", ws)
        assert started.returncode == 0, started.stderr
        assert "export CAIRN_REDIS_URL=" in started.stdout
        state = json.loads(cairn("services", "status", "--workspace", ws, "--json").stdout)
        assert state["postgres"]["running"] and state["redis"]["running"]
        assert state["postgres"]["data"].startswith(ws)
        with psycopg.connect(state["postgres"]["url"], autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            version = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            ).fetchone()
        assert version is not None and tuple(map(int, version[0].split(".")[:2])) >= (0, 8)
        client = redis.Redis.from_url(state["redis"]["url"])
        assert client.ping()
        client.close()
        again = cairn("services", "up", "--workspace", ws)  # already running: a no-op
        assert again.returncode == 0 and state["redis"]["url"] in again.stdout
    finally:
        stopped = cairn("services", "down", "--workspace", ws, "--json")
        shutil.rmtree(ws, ignore_errors=True)
    assert stopped.returncode == 0, stopped.stderr
    after = json.loads(stopped.stdout)
    assert not after["postgres"]["running"] and not after["redis"]["running"]
