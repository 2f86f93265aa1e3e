"""`MemoryTraceStore`: traces kept in this process's memory (tests, short-lived tools)."""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from typing import Any

from cairn.trace.records import TraceRecord, iso


class MemoryTraceStore:
    """`TraceStore` in a dict; the oldest traces go once `max_traces` are held."""

    def __init__(self, *, max_traces: int = 10_000) -> None:
        if max_traces < 1:
            raise ValueError("max_traces must be at least 1")
        self.max_traces = max_traces
        self._traces: OrderedDict[str, tuple[float, str | None, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def write(self, trace: TraceRecord) -> None:
        root = trace.root
        stored = {
            "trace_id": trace.trace_id,
            "name": trace.name,
            "started_at": iso(root.start),
            "duration_ms": round(root.duration_ms, 3),
            "status": "error" if any(s.status == "error" for s in trace.spans) else "ok",
            "attributes": copy.deepcopy(root.attributes),
            "spans": [
                {
                    "span_id": s.span_id,
                    "parent_id": s.parent_id,
                    "name": s.name,
                    "start_ms": round((s.start - root.start) * 1000, 3),
                    "duration_ms": round(s.duration_ms, 3),
                    "status": s.status,
                    "attributes": copy.deepcopy(s.attributes),
                }
                for s in sorted(
                    trace.spans, key=lambda s: (s.start - root.start, s.parent_id is not None)
                )
            ],
        }
        with self._lock:
            self._traces.pop(trace.trace_id, None)
            self._traces[trace.trace_id] = (root.start, trace.tenant, stored)
            while len(self._traces) > self.max_traces:
                self._traces.popitem(last=False)

    def recent(
        self, *, limit: int = 50, tenant: str | None = None, all_tenants: bool = False
    ) -> list[dict[str, Any]]:
        with self._lock:
            held = list(self._traces.values())
        mine = [(at, t) for at, owner, t in held if all_tenants or owner == tenant]
        mine.sort(key=lambda pair: pair[0], reverse=True)
        return [_summary(t) for _, t in mine[:limit]]

    def get(
        self, trace_id: str, *, tenant: str | None = None, all_tenants: bool = False
    ) -> dict[str, Any] | None:
        with self._lock:
            held = self._traces.get(trace_id)
        if held is None or not (all_tenants or held[1] == tenant):
            return None
        return copy.deepcopy(held[2])

    def close(self) -> None:
        with self._lock:
            self._traces.clear()


def _summary(trace: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy({k: v for k, v in trace.items() if k != "spans"})
