"""`RecordingTracer` and the SQLite trace store, driven by the real `Pipeline`."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from cairn.config import LLMSettings
from cairn.testing.pipelines import FailingAnswerer, pipeline
from cairn.trace import (
    RecordingTracer,
    Span,
    SQLiteTracer,
    SQLiteTraceStore,
    Tracer,
    TraceRecord,
    TraceStore,
    request_context,
)
from cairn.trace.genai import GenAIAttributes


class Collect:
    def __init__(self) -> None:
        self.traces: list[TraceRecord] = []

    def write(self, trace: TraceRecord) -> None:
        self.traces.append(trace)

    def close(self) -> None:
        pass


class Broken:
    def write(self, trace: TraceRecord) -> None:
        raise OSError("disk full")

    def close(self) -> None:
        raise OSError("still full")


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = SQLiteTraceStore(tmp_path / "traces.db")
    yield s
    s.close()


def test_it_is_a_tracer() -> None:
    tracer = RecordingTracer()
    assert isinstance(tracer, Tracer)
    with tracer.trace("t", "a" * 32) as span:
        assert isinstance(span, Span)


def test_an_ask_is_one_trace_of_nested_spans(tmp_path: Path) -> None:
    tracer = SQLiteTracer(tmp_path / "traces.db", prompts="full")
    try:
        answer = pipeline(tracer).ask("default list?", user="alice", tenant="acme")
        assert tracer.store is not None
        trace = tracer.store.get(answer.trace_id, tenant="acme")
    finally:
        tracer.close()
    assert trace is not None
    assert trace["name"] == "ask" and trace["status"] == "ok"
    assert trace["attributes"]["question"] == "default list?"
    assert trace["attributes"]["tenant"] == "acme" and trace["attributes"]["user"] == "alice"
    spans = trace["spans"]
    assert [s["name"] for s in spans] == ["ask", "retrieve", "answer", "verify"]
    root = spans[0]
    assert root["parent_id"] is None and root["start_ms"] == 0
    assert all(s["parent_id"] == root["span_id"] for s in spans[1:])
    starts = [s["start_ms"] for s in spans]
    assert starts == sorted(starts)
    for s in spans[1:]:
        assert s["start_ms"] + s["duration_ms"] <= root["duration_ms"] + 0.01
    assert spans[1]["attributes"]["chunk_ids"] == ["doc-0", "doc-1"]


def test_search_takes_tenant_and_user_from_the_scope(store: TraceStore) -> None:
    tracer = RecordingTracer(store=store)
    with request_context(tenant="acme", user="alice", route="/v1/search"):
        pipeline(tracer).search("fields")
    pipeline(tracer).search("no scope")
    mine = store.recent(tenant="acme")
    assert len(mine) == 1 and mine[0]["name"] == "search"
    assert mine[0]["attributes"]["route"] == "/v1/search"
    assert mine[0]["attributes"]["user"] == "alice"
    assert len(store.recent(all_tenants=True)) == 2
    assert len(store.recent(tenant=None)) == 1  # the one without a tenant
    assert store.recent(tenant="globex") == []
    assert store.get(mine[0]["trace_id"], tenant="globex") is None


def test_failures_mark_the_span_and_the_trace(store: TraceStore) -> None:
    tracer = RecordingTracer(store=store, prompts="none")
    with pytest.raises(RuntimeError):
        pipeline(tracer, FailingAnswerer()).ask("q", tenant="acme")
    [summary] = store.recent(tenant="acme")
    assert summary["status"] == "error"
    trace = store.get(summary["trace_id"], tenant="acme")
    assert trace is not None
    failed = next(s for s in trace["spans"] if s["name"] == "answer")
    assert failed["status"] == "error"
    assert failed["attributes"]["error.type"] == "RuntimeError"
    assert "sk-abc" not in failed["attributes"]["error.message"]
    assert "question" not in trace["attributes"]  # prompts = none


def test_a_broken_sink_never_breaks_a_request(caplog: pytest.LogCaptureFixture) -> None:
    good = Collect()
    tracer = RecordingTracer([Broken(), good])
    answer = pipeline(tracer).ask("q")
    assert answer.text and len(good.traces) == 1
    tracer.close()
    assert "disk full" in caplog.text


def test_spans_outside_a_trace_are_dropped() -> None:
    sink = Collect()
    tracer = RecordingTracer([sink])
    with tracer.span("orphan") as span:
        span.set(x=1)
    assert sink.traces == []


def test_concurrent_requests_never_mix(store: TraceStore) -> None:
    tracer = RecordingTracer(store=store)
    p = pipeline(tracer)

    def work(tenant: str) -> None:
        for i in range(20):
            with request_context(tenant=tenant, user=tenant):
                p.ask(f"{tenant} {i}", tenant=tenant)

    threads = [threading.Thread(target=work, args=(t,)) for t in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for tenant in ("a", "b", "c"):
        traces = store.recent(tenant=tenant, limit=100)
        assert len(traces) == 20
        for summary in traces:
            trace = store.get(summary["trace_id"], tenant=tenant)
            assert trace is not None and len(trace["spans"]) == 4
            assert trace["attributes"]["question"].startswith(tenant)


def test_genai_attributes_on_the_model_span() -> None:
    sink = Collect()
    llm = LLMSettings(provider="openai", model="gpt-test", max_tokens=256, temperature=0.2)
    tracer = RecordingTracer([sink], hooks=[GenAIAttributes(llm)])
    pipeline(tracer).ask("q")
    answer = next(s for s in sink.traces[0].spans if s.name == "answer")
    assert answer.attributes["gen_ai.request.model"] == "gpt-test"
    assert answer.attributes["gen_ai.provider.name"] == "openai"
    assert answer.attributes["gen_ai.operation.name"] == "chat"
    assert answer.attributes["gen_ai.usage.input_tokens"] == 120
    assert answer.attributes["gen_ai.usage.output_tokens"] == 30
    assert answer.attributes["gen_ai.request.max_tokens"] == 256
    assert answer.attributes["cairn.cost_usd"] == pytest.approx(0.00042)
    extractive = RecordingTracer([Collect()], hooks=[GenAIAttributes(LLMSettings())])
    pipeline(extractive).ask("q")
    spans = extractive.sinks[0].traces[0].spans  # type: ignore[attr-defined]
    assert not any(k.startswith("gen_ai.") for s in spans for k in s.attributes)


def test_prompt_cache_hit_ratio_on_the_model_span_and_in_metrics() -> None:
    from cairn.server.metrics import Metrics, StageMetrics
    from cairn.testing.pipelines import MeteredAnswerer
    from cairn.types import Usage

    sink = Collect()
    metrics = Metrics()
    llm = LLMSettings(provider="anthropic", model="claude-test")
    tracer = RecordingTracer([sink], hooks=[GenAIAttributes(llm), StageMetrics(metrics)])
    usage = Usage(input_tokens=2000, output_tokens=30, cache_read_tokens=1500)
    pipeline(tracer, MeteredAnswerer(usage)).ask("q")
    answer = next(s for s in sink.traces[0].spans if s.name == "answer")
    assert answer.attributes["cairn.prompt_cache.hit_ratio"] == 0.75
    text = metrics.render().decode()
    assert "cairn_prompt_cache_hit_ratio_count 1.0" in text
    assert "cairn_prompt_cache_hit_ratio_sum 0.75" in text
