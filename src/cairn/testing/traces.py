"""The behaviour every trace-store backend must have. A backend's test module subclasses
`TraceStoreConformance` and provides the `make_traces` fixture (a fresh, empty store)."""

from __future__ import annotations

import pytest

from cairn.trace.records import SpanRecord, TraceRecord
from cairn.trace.storage import TraceStore

__all__ = ["TraceStoreConformance", "make_trace"]

T0 = 1_767_225_600.0
"""2026-01-01T00:00:00Z."""


def make_trace(
    trace_id: str,
    *,
    at: float = T0,
    tenant: str | None = None,
    user: str | None = None,
    failed: bool = False,
) -> TraceRecord:
    """A request trace: root `ask` (1 s), `retrieve` from 0.1 s and `answer` from 0.4 s."""
    root = SpanRecord(
        span_id="a" * 16,
        parent_id=None,
        name="ask",
        start=at,
        end=at + 1.0,
        attributes={"question": "q", "k": 5},
    )
    retrieve = SpanRecord(
        span_id="b" * 16,
        parent_id=root.span_id,
        name="retrieve",
        start=at + 0.1,
        end=at + 0.3,
        attributes={"hits": ["c1", "c2"]},
    )
    answer = SpanRecord(
        span_id="c" * 16,
        parent_id=root.span_id,
        name="answer",
        start=at + 0.4,
        end=at + 0.9,
        status="error" if failed else "ok",
        attributes={"model": "m"},
    )
    return TraceRecord(
        trace_id=trace_id, name="ask", tenant=tenant, user=user, spans=[root, retrieve, answer]
    )


class TraceStoreConformance:
    @pytest.fixture
    def traces(self, make_traces: TraceStore) -> TraceStore:
        return make_traces

    def test_a_written_trace_reads_back_with_its_spans(self, traces: TraceStore) -> None:
        traces.write(make_trace("t1"))
        got = traces.get("t1")
        assert got is not None
        assert (got["trace_id"], got["name"], got["status"]) == ("t1", "ask", "ok")
        assert got["started_at"] == "2026-01-01T00:00:00.000Z"
        assert got["duration_ms"] == pytest.approx(1000.0)
        assert got["attributes"] == {"question": "q", "k": 5}
        spans = got["spans"]
        assert [s["name"] for s in spans] == ["ask", "retrieve", "answer"]
        assert [s["start_ms"] for s in spans] == pytest.approx([0.0, 100.0, 400.0])
        assert [s["duration_ms"] for s in spans] == pytest.approx([1000.0, 200.0, 500.0])
        assert spans[0]["parent_id"] is None and spans[1]["parent_id"] == "a" * 16
        assert spans[1]["attributes"] == {"hits": ["c1", "c2"]}

    def test_a_failed_span_marks_the_trace(self, traces: TraceStore) -> None:
        traces.write(make_trace("t1", failed=True))
        got = traces.get("t1")
        assert got is not None and got["status"] == "error"
        assert [s["status"] for s in got["spans"]] == ["ok", "ok", "error"]

    def test_writing_a_trace_again_replaces_it(self, traces: TraceStore) -> None:
        traces.write(make_trace("t1", failed=True))
        again = make_trace("t1")
        again.spans = again.spans[:2]
        traces.write(again)
        got = traces.get("t1")
        assert got is not None and got["status"] == "ok" and len(got["spans"]) == 2
        assert len(traces.recent(all_tenants=True)) == 1

    def test_recent_is_newest_first_and_limited(self, traces: TraceStore) -> None:
        for n in range(5):
            traces.write(make_trace(f"t{n}", at=T0 + 10 * ((n * 3) % 5)))
        listed = [t["trace_id"] for t in traces.recent(limit=3)]
        assert listed == ["t3", "t1", "t4"]
        assert "spans" not in traces.recent(limit=1)[0]

    def test_tenants_read_only_their_own(self, traces: TraceStore) -> None:
        traces.write(make_trace("mine", tenant="acme", user="ann"))
        traces.write(make_trace("theirs", tenant="other", at=T0 + 1))
        traces.write(make_trace("local", at=T0 + 2))
        assert [t["trace_id"] for t in traces.recent(tenant="acme")] == ["mine"]
        assert [t["trace_id"] for t in traces.recent()] == ["local"]
        assert {t["trace_id"] for t in traces.recent(all_tenants=True)} == {
            "mine",
            "theirs",
            "local",
        }
        assert traces.get("mine", tenant="acme") is not None
        assert traces.get("mine", tenant="other") is None
        assert traces.get("mine") is None
        assert traces.get("mine", all_tenants=True) is not None
        assert traces.get("missing", all_tenants=True) is None
