"""`RedisEventBus`: events through Redis pub/sub, so a subscriber on one replica sees what
another publishes. Each subscription holds its own pub/sub connection; events are JSON."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from cairn.redisdb import connect

if TYPE_CHECKING:
    import redis

log = logging.getLogger("cairn.server.events")


class _PubSub:
    def __init__(self, client: Any, channel: str) -> None:
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(channel)
        # wait for the confirmation, so an event published after subscribe() returns is seen
        self._pubsub.get_message(timeout=10.0)
        self.closed = False

    def get(self, timeout_s: float) -> dict[str, Any] | None:
        if self.closed:
            return None
        message = self._pubsub.get_message(timeout=timeout_s)
        if message is None or message.get("type") != "message":
            return None
        try:
            event = json.loads(message["data"])
        except ValueError:
            log.warning("event bus: a message that is not JSON was ignored")
            return None
        return event if isinstance(event, dict) else None

    def close(self) -> None:
        self.closed = True
        self._pubsub.close()


class RedisEventBus:
    """`EventBus` on Redis pub/sub (channels under `prefix`)."""

    def __init__(self, client: redis.Redis | str, *, prefix: str = "cairn:events:") -> None:
        # Any: redis-py's reply types are unions of every reply shape.
        self.client: Any = connect(client) if isinstance(client, str) else client
        self.prefix = prefix

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        self.client.publish(self.prefix + topic, json.dumps(event))

    def subscribe(self, topic: str) -> _PubSub:
        return _PubSub(self.client, self.prefix + topic)

    def close(self) -> None:
        self.client.close()
