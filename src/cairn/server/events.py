"""Events between server processes: the `EventBus` contract, the in-process bus, and
`open_event_bus`, which picks the backend by URL.

An ingest job publishes its state on topic `job:<id>` after every change; an SSE stream
(`GET /v1/jobs/{id}/events`) subscribes to it. With the in-process bus a stream sees the jobs
of its own process; with Redis (`cairn.server.events_redis`, chosen by a `redis://` URL) a
stream on one replica sees a job running on another. Events only speed a stream up: the
stream re-reads the job store while it waits, so nothing is lost if an event is.
"""

from __future__ import annotations

import queue
import threading
from collections import defaultdict
from typing import Any, Protocol, runtime_checkable

from cairn.errors import ConfigError

MEMORY_URL = "memory://"


@runtime_checkable
class Subscription(Protocol):
    def get(self, timeout_s: float) -> dict[str, Any] | None:
        """The next event, or `None` when none came within `timeout_s` (at once, once the
        subscription is closed)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class EventBus(Protocol):
    """Publishes JSON-able events on topics to the current subscribers of each topic."""

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        """Deliver `event` to every open subscription of `topic` (none: dropped)."""
        ...

    def subscribe(self, topic: str) -> Subscription:
        """Events published on `topic` from now on, in order."""
        ...

    def close(self) -> None: ...


class _Queue:
    def __init__(self, bus: MemoryEventBus, topic: str) -> None:
        self.bus, self.topic = bus, topic
        self.items: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.closed = False

    def get(self, timeout_s: float) -> dict[str, Any] | None:
        if self.closed:
            return None
        try:
            return self.items.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.closed = True
        self.bus._drop(self)


class MemoryEventBus:
    """`EventBus` within one process."""

    def __init__(self) -> None:
        self._subscribers: dict[str, list[_Queue]] = defaultdict(list)
        self._lock = threading.Lock()

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        with self._lock:
            targets = list(self._subscribers.get(topic, ()))
        for target in targets:
            target.items.put(dict(event))

    def subscribe(self, topic: str) -> Subscription:
        sub = _Queue(self, topic)
        with self._lock:
            self._subscribers[topic].append(sub)
        return sub

    def _drop(self, sub: _Queue) -> None:
        with self._lock:
            subs = self._subscribers.get(sub.topic, [])
            if sub in subs:
                subs.remove(sub)
            if not subs:
                self._subscribers.pop(sub.topic, None)

    def close(self) -> None:
        with self._lock:
            self._subscribers.clear()


def open_event_bus(url: str = MEMORY_URL) -> EventBus:
    """The bus for `url`: `memory://` (this process) or `redis://...` (every process using
    that Redis)."""
    if url == MEMORY_URL:
        return MemoryEventBus()
    from cairn.redisdb import is_redis_url

    if is_redis_url(url):
        from cairn.server.events_redis import RedisEventBus

        return RedisEventBus(url)
    raise ConfigError(f"unknown event bus backend {url!r}: use {MEMORY_URL!r} or a redis:// URL")
