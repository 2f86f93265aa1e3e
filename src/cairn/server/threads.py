"""Running the synchronous pipeline off the event loop.

`run_sync` runs one call in a worker thread (bounded by the app's limiter). It abandons the
thread on cancellation, so the request timeout answers at once; the abandoned call finishes
in the background and its result is dropped.

`iterate_in_thread` drives a blocking iterator (`Pipeline.ask_stream`) in a thread of its
own and hands its items to the event loop as they come, through a small buffer, so tokens
flush as they are produced. The whole iterator runs in one thread, so the context
variables it sets (trace spans, the budget's request context) stay consistent. When the
consumer stops early (the client went away), the iterator is closed in its thread.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
from anyio import CapacityLimiter

T = TypeVar("T")


async def run_sync(
    func: Callable[..., T], *args: Any, limiter: CapacityLimiter | None = None, **kwargs: Any
) -> T:
    context = contextvars.copy_context()
    call = partial(context.run, func, *args, **kwargs)
    return await anyio.to_thread.run_sync(call, abandon_on_cancel=True, limiter=limiter)


class _End:
    pass


async def iterate_in_thread(
    make: Callable[[], Iterator[T]], *, limiter: CapacityLimiter | None = None, buffer: int = 64
) -> AsyncIterator[T]:
    """Items of `make()` as they come; at most `limiter`'s tokens of these run at once."""
    if limiter is None:
        async for item in _iterate(make, buffer):
            yield item
        return
    async with limiter:
        async for item in _iterate(make, buffer):
            yield item


async def _iterate(make: Callable[[], Iterator[T]], buffer: int) -> AsyncIterator[T]:
    send, receive = anyio.create_memory_object_stream[Any](buffer)
    token = anyio.lowlevel.current_token()
    stop = threading.Event()
    context = contextvars.copy_context()

    def deliver(item: Any) -> bool:
        try:
            anyio.from_thread.run(send.send, item, token=token)
        except Exception:  # the consumer is gone, or the loop has stopped
            stop.set()
            return False
        return True

    def produce() -> None:
        try:
            iterator = make()
            try:
                for item in iterator:
                    if stop.is_set() or not deliver(item):
                        return
            finally:
                close = getattr(iterator, "close", None)
                if callable(close):
                    close()
        except BaseException as exc:
            if not stop.is_set():
                deliver(exc)
        finally:
            if not stop.is_set():
                deliver(_End())

    thread = threading.Thread(target=context.run, args=(produce,), daemon=True, name="cairn-stream")
    thread.start()
    try:
        async with receive:
            async for item in receive:
                if isinstance(item, _End):
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
    finally:
        stop.set()
        send.close()
