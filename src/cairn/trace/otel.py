"""Export finished traces over OTLP/HTTP (protobuf) with the OpenTelemetry SDK.

Each `TraceRecord` is replayed into the SDK with its own ids and times, so the trace id in
an answer (`trace_id`), in `traces.db` and in the collector is the same 32-hex value. Spans
leave through a `BatchSpanProcessor` (a background thread): a slow or absent collector never
delays a request. Attributes keep their names when they already follow a convention
(`gen_ai.*`, `error.*`) and are prefixed `cairn.` otherwise; values that OpenTelemetry
cannot carry (dicts, mixed lists) are sent as JSON strings.

Needs `opentelemetry-sdk` and `opentelemetry-exporter-otlp-proto-http` (imported only
when `trace.otlp_endpoint` is set).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from typing import Any

from cairn.errors import ConfigError
from cairn.trace.records import TraceRecord

_KEPT_PREFIXES = ("gen_ai.", "error.", "cairn.", "http.", "server.", "service.")


def traces_url(endpoint: str) -> str:
    """`http://host:4318` -> `http://host:4318/v1/traces` (a full URL is kept as given)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


class OTLPExporter:
    """A trace sink sending every finished trace to an OTLP/HTTP collector."""

    def __init__(
        self, endpoint: str, *, service_name: str = "cairn", timeout_s: float = 10.0
    ) -> None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from opentelemetry.sdk.trace.id_generator import IdGenerator
        except ImportError as exc:
            raise ConfigError(
                "trace.otlp_endpoint is set but OpenTelemetry is not installed: "
                "pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http"
            ) from exc

        class _ReplayIds(IdGenerator):
            """Hands the SDK the ids of the span being replayed."""

            def __init__(self) -> None:
                self.trace_id = 0
                self.span_id = 0

            def generate_trace_id(self) -> int:
                return self.trace_id

            def generate_span_id(self) -> int:
                return self.span_id

        self.endpoint = traces_url(endpoint)
        self._ids = _ReplayIds()
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": service_name}), id_generator=self._ids
        )
        self._processor = BatchSpanProcessor(
            OTLPSpanExporter(endpoint=self.endpoint, timeout=timeout_s),
            schedule_delay_millis=500,
        )
        self._provider.add_span_processor(self._processor)
        self._tracer = self._provider.get_tracer("cairn")
        self._lock = threading.Lock()

    def write(self, trace: TraceRecord) -> None:
        from opentelemetry import trace as otel
        from opentelemetry.context import Context
        from opentelemetry.trace import SpanKind, Status, StatusCode

        started: dict[str, Any] = {}
        with self._lock:  # the id generator holds the ids of the span being replayed
            for record in trace.spans:
                self._ids.trace_id = _int_id(trace.trace_id, 128)
                self._ids.span_id = _int_id(record.span_id, 64)
                parent = started.get(record.parent_id or "")
                context = otel.set_span_in_context(parent) if parent is not None else Context()
                kind = (
                    SpanKind.CLIENT
                    if "gen_ai.operation.name" in record.attributes
                    else SpanKind.INTERNAL
                )
                attributes = otel_attributes(record.attributes)
                if record.parent_id is None:
                    if trace.tenant is not None:
                        attributes["cairn.tenant"] = trace.tenant
                    if trace.user is not None:
                        attributes["cairn.user"] = trace.user
                span = self._tracer.start_span(
                    record.name,
                    context=context,
                    kind=kind,
                    attributes=attributes,
                    start_time=_ns(record.start),
                )
                if record.status == "error":
                    message = str(record.attributes.get("error.message", ""))
                    span.set_status(Status(StatusCode.ERROR, message or None))
                started[record.span_id] = span
        for record in reversed(trace.spans):
            started[record.span_id].end(end_time=_ns(record.end or record.start))

    def flush(self, timeout_s: float = 10.0) -> bool:
        return bool(self._provider.force_flush(int(timeout_s * 1000)))

    def close(self) -> None:
        self._provider.shutdown()


def otel_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes as OpenTelemetry accepts them (primitives or homogeneous lists)."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        name = key if key.startswith(_KEPT_PREFIXES) else f"cairn.{key}"
        out[name] = _value(value)
    return out


def _value(value: Any) -> Any:
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple):
        kinds = {type(v) for v in value}
        if len(kinds) == 1 and kinds <= {str, bool, int, float}:
            return list(value)
        if not value:
            return []
    return json.dumps(value, default=str, ensure_ascii=False)


def _int_id(value: str, bits: int) -> int:
    digits = bits // 4
    if len(value) == digits:
        try:
            number = int(value, 16)
        except ValueError:
            pass
        else:
            if number:
                return number
    return int(hashlib.sha256(value.encode()).hexdigest()[:digits], 16) or 1


def _ns(timestamp: float) -> int:
    return int(timestamp * 1_000_000_000)
