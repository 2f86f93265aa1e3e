"""`RedisRateLimiter`: token buckets in Redis, one limit across every replica.

Each bucket is a Redis hash updated by one Lua script, so a take is atomic however many
processes share the key: refill by elapsed time, spend one token or say how long to wait.
Time is the Redis server's clock (`TIME`), one clock for all replicas whatever their own
clocks say; a `clock` passed in (the conformance tests wind one by hand) is used instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cairn.redisdb import connect

if TYPE_CHECKING:
    import redis

_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate)
  at = now
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 60000)
return tostring(wait)
"""


class RedisRateLimiter:
    """`RateLimiter` whose buckets live in Redis under `prefix`."""

    def __init__(
        self,
        client: redis.Redis | str,
        per_minute: int,
        burst: int,
        *,
        clock: Callable[[], float] | None = None,
        prefix: str = "cairn:ratelimit:",
    ) -> None:
        # Any: redis-py's replies are typed as unions of every reply shape; this module
        # knows which command answers what (bytes, since responses are not decoded).
        self.client: Any = connect(client) if isinstance(client, str) else client
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.prefix = prefix
        self._clock = clock
        self._take = self.client.register_script(_TAKE)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> float:
        if not self.enabled:
            return 0.0
        now = self._clock() if self._clock is not None else -1.0
        wait = self._take(keys=[self.prefix + key], args=[self.rate, self.burst, repr(now)])
        return float(wait.decode() if isinstance(wait, bytes) else wait)

    def close(self) -> None:
        self.client.close()
