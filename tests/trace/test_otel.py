"""OTLP/HTTP export with the GenAI semantic conventions, received by a real HTTP collector on
127.0.0.1 and decoded with `opentelemetry-proto`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.config import LLMSettings, Settings, TraceSettings
from cairn.testing.otlp import Collector
from cairn.testing.pipelines import FailingAnswerer, pipeline
from cairn.trace import RecordingTracer, build_tracer, request_context
from cairn.trace.genai import GenAIAttributes
from cairn.trace.otel import OTLPExporter, otel_attributes, traces_url

SPAN_KIND_CLIENT = 3
STATUS_ERROR = 2


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector() as c:
        yield c


def test_traces_reach_the_collector_with_genai_attributes(collector: Collector) -> None:
    exporter = OTLPExporter(collector.endpoint, service_name="cairn-test")
    llm = LLMSettings(provider="openai", model="gpt-test", temperature=0.1)
    tracer = RecordingTracer([exporter], hooks=[GenAIAttributes(llm)])
    try:
        with request_context(tenant="acme", user="alice"):
            answer = pipeline(tracer).ask("How do I default a list?")
        assert exporter.flush()
    finally:
        tracer.close()
    spans = collector.wait_for(4)
    assert collector.paths == ["/v1/traces"] * len(collector.paths)
    assert all(t == "application/x-protobuf" for t in collector.content_types)
    assert {s["trace_id"] for s in spans} == {answer.trace_id}
    by_name = {s["name"]: s for s in spans}
    assert set(by_name) == {"ask", "retrieve", "answer", "verify"}
    root = by_name["ask"]
    assert root["parent_id"] is None
    assert all(by_name[n]["parent_id"] == root["span_id"] for n in ("retrieve", "answer", "verify"))
    assert root["resource"]["service.name"] == "cairn-test"
    assert root["attributes"]["cairn.tenant"] == "acme"
    assert root["attributes"]["cairn.user"] == "alice"
    model = by_name["answer"]
    assert model["kind"] == SPAN_KIND_CLIENT
    attributes = model["attributes"]
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "gpt-test"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.temperature"] == pytest.approx(0.1)
    assert attributes["gen_ai.usage.input_tokens"] == 120
    assert attributes["gen_ai.usage.output_tokens"] == 30
    assert by_name["retrieve"]["attributes"]["cairn.chunk_ids"] == ["doc-0", "doc-1"]
    assert root["start"] <= model["start"] <= model["end"] <= root["end"]


def test_failures_are_exported_as_error_status(collector: Collector) -> None:
    exporter = OTLPExporter(collector.endpoint)
    tracer = RecordingTracer([exporter])
    try:
        with pytest.raises(RuntimeError):
            pipeline(tracer, FailingAnswerer()).ask("q")
        exporter.flush()
    finally:
        tracer.close()
    spans = collector.wait_for(2)
    failed = next(s for s in spans if s["name"] == "answer")
    assert failed["status"] == STATUS_ERROR
    assert failed["attributes"]["error.type"] == "RuntimeError"


def test_build_tracer_exports_and_stores_per_settings(collector: Collector, tmp_path: Path) -> None:
    settings = Settings(
        workspace=tmp_path,
        trace=TraceSettings(otlp_endpoint=collector.endpoint, prompts="redacted"),
    )
    tracer = build_tracer(settings)
    try:
        answer = pipeline(tracer).ask("mail me at a@b.com", tenant="acme")
    finally:
        tracer.close()  # shuts the exporter down, which flushes it
    spans = collector.wait_for(4)
    root = next(s for s in spans if s["name"] == "ask")
    assert root["trace_id"] == answer.trace_id
    assert root["attributes"]["cairn.question"] == "mail me at [email]"
    assert (tmp_path / "traces.db").exists()


def test_an_absent_collector_never_slows_requests(tmp_path: Path) -> None:
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exporter = OTLPExporter(f"http://127.0.0.1:{port}", timeout_s=1)
    tracer = RecordingTracer([exporter])
    started = time.perf_counter()
    for _ in range(5):
        pipeline(tracer).ask("q")
    # exporting in the request would cost each request the exporter's retries; the margin
    # keeps the check true on a busy machine
    assert time.perf_counter() - started < 5.0
    exporter.flush(timeout_s=2)
    tracer.close()


def test_attribute_conversion() -> None:
    converted = otel_attributes(
        {"k": 5, "ids": ["a", "b"], "mixed": [1, "a"], "nested": {"x": 1}, "none": None}
    )
    assert converted == {
        "cairn.k": 5,
        "cairn.ids": ["a", "b"],
        "cairn.mixed": '[1, "a"]',
        "cairn.nested": '{"x": 1}',
    }
    assert traces_url("http://h:4318/") == "http://h:4318/v1/traces"
    assert traces_url("http://h:4318/v1/traces") == "http://h:4318/v1/traces"
