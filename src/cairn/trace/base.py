"""The tracing contract the pipeline writes to.

The pipeline opens one root span per request (`Tracer.trace`) and a child span per stage
(`Tracer.span`), setting attributes as it learns them (chunk ids and scores, model, usage,
cost). Backends store spans in the workspace and/or export them with OpenTelemetry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Span(Protocol):
    def set(self, **attributes: Any) -> None:
        """Add or overwrite attributes of this span."""
        ...

    def error(self, exc: BaseException) -> None:
        """Mark the span failed with this exception."""
        ...


@runtime_checkable
class Tracer(Protocol):
    def trace(self, name: str, trace_id: str, **attributes: Any) -> AbstractContextManager[Span]:
        """Open the root span of a request."""
        ...

    def span(self, name: str, **attributes: Any) -> AbstractContextManager[Span]:
        """Open a child span of the current one."""
        ...


class _NullSpan:
    def set(self, **attributes: Any) -> None:
        pass

    def error(self, exc: BaseException) -> None:
        pass


class NullTracer:
    """Records nothing; the default when tracing is not configured."""

    @contextmanager
    def trace(self, name: str, trace_id: str, **attributes: Any) -> Iterator[Span]:
        yield _NullSpan()

    @contextmanager
    def span(self, name: str, **attributes: Any) -> Iterator[Span]:
        yield _NullSpan()
