"""Connecting to Redis, for the state several cairn processes share (rate limits, the answer
cache): `redis://` and `rediss://` URLs through redis-py, imported only when a Redis URL is
configured (`pip install 'cairn[redis]'`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cairn.errors import ConfigError
from cairn.trace.redact import safe_url

if TYPE_CHECKING:
    import redis

SCHEMES = ("redis://", "rediss://", "unix://")


def is_redis_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(SCHEMES)


def connect(url: str) -> redis.Redis:
    """A client for `url` (one connection pool, thread-safe); fails fast when the server does
    not answer, naming the URL."""
    try:
        import redis
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigError(
            f"{url} needs the Redis client: pip install 'cairn[redis]' (redis-py)"
        ) from None
    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        raise ConfigError(
            f"cannot reach Redis at {safe_url(url)} ({exc}): start it (cairn uses redis-server "
            "7 or newer) or unset CAIRN_REDIS_URL to keep this state in the process"
        ) from None
    return client
