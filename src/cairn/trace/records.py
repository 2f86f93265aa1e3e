"""What a finished trace looks like once recorded: plain data, handed to every sink."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

SpanStatus = Literal["ok", "error"]


@dataclass(kw_only=True, slots=True)
class SpanRecord:
    """One span. Times are wall-clock seconds since the epoch (`time.time()`)."""

    span_id: str
    """16 hex digits (an OpenTelemetry span id)."""
    parent_id: str | None
    name: str
    start: float
    end: float | None = None
    status: SpanStatus = "ok"
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> float:
        return 0.0 if self.end is None else max(0.0, (self.end - self.start) * 1000)


@dataclass(kw_only=True, slots=True)
class TraceRecord:
    """A request: its root span first, then its other spans in the order they started."""

    trace_id: str
    """32 hex digits (an OpenTelemetry trace id)."""
    name: str
    tenant: str | None = None
    user: str | None = None
    spans: list[SpanRecord] = field(default_factory=list)

    @property
    def root(self) -> SpanRecord:
        return self.spans[0]


def iso(timestamp: float) -> str:
    """Epoch seconds as ISO 8601 UTC with milliseconds (`2026-01-31T12:00:00.123Z`)."""
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
