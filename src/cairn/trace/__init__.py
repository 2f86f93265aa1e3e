"""Tracing: every request is a trace of spans (see `cairn.trace.base`).

    tracer = build_tracer(settings)          # traces.db and/or OTLP, per settings.trace
    pipeline.tracer = tracer
    with request_context(tenant="acme", user="alice"):
        pipeline.search("...")               # the stored trace carries tenant and user
    tracer.store.recent(tenant="acme")       # what GET /v1/traces serves

`RecordingTracer` records; sinks keep (a `TraceStore`, by default `traces.db`;
`OTLPExporter`); the
prompt policy (`trace.prompts`) is applied before anything reaches a sink.
"""

from __future__ import annotations

from collections.abc import Sequence

from cairn.config import Settings
from cairn.context import request_context
from cairn.trace.base import NullTracer, Span, Tracer
from cairn.trace.recorder import RecordingTracer, SpanHook, TraceSink
from cairn.trace.records import SpanRecord, TraceRecord
from cairn.trace.redact import apply_policy, redact
from cairn.trace.sqlite import SQLiteTracer, SQLiteTraceStore
from cairn.trace.storage import TRACES_FILE, TraceStore, open_trace_store

__all__ = [
    "TRACES_FILE",
    "NullTracer",
    "RecordingTracer",
    "SQLiteTraceStore",
    "SQLiteTracer",
    "Span",
    "SpanHook",
    "SpanRecord",
    "TraceRecord",
    "TraceSink",
    "TraceStore",
    "Tracer",
    "apply_policy",
    "build_tracer",
    "open_trace_store",
    "redact",
    "request_context",
]


def build_tracer(settings: Settings, *, hooks: Sequence[SpanHook] = ()) -> RecordingTracer:
    """The workspace's tracer: `traces.db` when `trace.store` (the store's Postgres
    database when `store.url` is `postgresql://...`), OTLP export when
    `trace.otlp_endpoint` is set, GenAI attributes on model calls, plus `hooks`.
    Its `store` attribute is the `TraceStore` (or None when traces are not kept)."""
    from cairn.trace.genai import GenAIAttributes
    from cairn.trace.redact import register_configured_secrets

    register_configured_secrets(settings.model_dump())
    t = settings.trace
    sinks: list[TraceSink] = []
    from cairn.pg import follows_store

    shared = follows_store(settings.store.url)
    store = open_trace_store(settings.workspace, url=shared) if t.store else None
    if t.otlp_endpoint:
        from cairn.trace.otel import OTLPExporter

        sinks.append(OTLPExporter(t.otlp_endpoint, service_name=t.service_name))
    return RecordingTracer(
        sinks, store=store, prompts=t.prompts, hooks=[GenAIAttributes(settings.llm), *hooks]
    )
