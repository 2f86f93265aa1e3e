"""`RecordingTracer`: the `Tracer` that keeps what it sees.

It builds a `TraceRecord` per request (the root span from `trace()`, a child per `span()`,
nested through a context variable so concurrent requests never mix), applies the prompt
policy to every attribute as it is set, and when the root span closes hands the finished
record to each sink: the SQLite store (`cairn.trace.store`), the OTLP exporter
(`cairn.trace.otel`), or anything with `write(trace)` and `close()`. Hooks see every span
open and close (metrics, GenAI attributes). A failing sink or hook is logged, never raised:
tracing must not break a request.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

from cairn.context import current_context
from cairn.trace.base import Span
from cairn.trace.records import SpanRecord, TraceRecord
from cairn.trace.redact import PromptPolicy, apply_policy, mask_credentials

if TYPE_CHECKING:
    from cairn.trace.storage import TraceStore

log = logging.getLogger(__name__)


class TraceSink(Protocol):
    def write(self, trace: TraceRecord) -> None: ...

    def close(self) -> None: ...


class SpanHook(Protocol):
    """Sees spans open and close (before the record reaches the sinks)."""

    def on_start(self, trace: TraceRecord, span: SpanRecord) -> None: ...

    def on_end(self, trace: TraceRecord, span: SpanRecord) -> None: ...


class RecordedSpan:
    """The `Span` handed to the pipeline: writes go through the prompt policy."""

    __slots__ = ("_policy", "record", "trace")

    def __init__(self, trace: TraceRecord, record: SpanRecord, policy: PromptPolicy) -> None:
        self.trace = trace
        self.record = record
        self._policy = policy

    def set(self, **attributes: Any) -> None:
        self.record.attributes.update(apply_policy(attributes, self._policy))

    def error(self, exc: BaseException) -> None:
        self.record.status = "error"
        self.record.attributes["error.type"] = type(exc).__name__
        self.record.attributes["error.message"] = mask_credentials(str(exc))[:2000]


class _DetachedSpan:
    """A stage run outside any request: nothing to attach it to."""

    def set(self, **attributes: Any) -> None:
        pass

    def error(self, exc: BaseException) -> None:
        pass


class RecordingTracer:
    """A `Tracer` that records spans and passes finished traces to its sinks."""

    def __init__(
        self,
        sinks: Sequence[TraceSink] = (),
        *,
        store: TraceStore | None = None,
        prompts: PromptPolicy = "redacted",
        hooks: Sequence[SpanHook] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        """The workspace's trace store, when traces are kept (it is also a sink)."""
        self.sinks: list[TraceSink] = [*([store] if store is not None else []), *sinks]
        self.prompts = prompts
        self.hooks = list(hooks)
        self._clock = clock
        self._current: ContextVar[RecordedSpan | None] = ContextVar(
            f"cairn_span_{id(self)}", default=None
        )

    @contextmanager
    def trace(self, name: str, trace_id: str, **attributes: Any) -> Iterator[Span]:
        if self._current.get() is not None:  # a request inside a request: one trace
            with self.span(name, **attributes) as span:
                yield span
            return
        scope = current_context()
        given = {k: v for k, v in attributes.items() if v is not None}
        if scope is not None:
            given = {**scope.attributes, **given}
            given.setdefault("feature", scope.feature)
            if scope.tenant is not None:
                given.setdefault("tenant", scope.tenant)
            if scope.user is not None:
                given.setdefault("user", scope.user)
        record = TraceRecord(
            trace_id=trace_id,
            name=name,
            tenant=_text(given.get("tenant")),
            user=_text(given.get("user")),
        )
        try:
            with self._open(record, None, name, given) as span:
                yield span
        finally:
            self._finish(record)

    @contextmanager
    def span(self, name: str, **attributes: Any) -> Iterator[Span]:
        parent = self._current.get()
        if parent is None:
            yield _DetachedSpan()
            return
        with self._open(parent.trace, parent.record.span_id, name, attributes) as span:
            yield span

    @contextmanager
    def _open(
        self, trace: TraceRecord, parent_id: str | None, name: str, attributes: dict[str, Any]
    ) -> Iterator[RecordedSpan]:
        record = SpanRecord(
            span_id=f"{random.getrandbits(64) or 1:016x}",
            parent_id=parent_id,
            name=name,
            start=self._clock(),
        )
        trace.spans.append(record)
        span = RecordedSpan(trace, record, self.prompts)
        span.set(**attributes)
        self._hook("on_start", trace, record)
        token = self._current.set(span)
        try:
            yield span
        except BaseException as exc:
            span.error(exc)
            raise
        finally:
            record.end = self._clock()
            self._current.reset(token)
            self._hook("on_end", trace, record)

    def _hook(self, event: str, trace: TraceRecord, record: SpanRecord) -> None:
        for hook in self.hooks:
            try:
                getattr(hook, event)(trace, record)
            except Exception:
                log.exception("trace hook %r failed on %s", hook, event)

    def _finish(self, trace: TraceRecord) -> None:
        for sink in self.sinks:
            try:
                sink.write(trace)
            except Exception:
                log.exception("trace sink %r failed; trace %s not kept there", sink, trace.trace_id)

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:
                log.exception("closing trace sink %r failed", sink)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
