"""OpenTelemetry GenAI semantic conventions on the span that calls the model.

The pipeline's `answer` span is where the model is called. This hook adds, when a model is
configured (not in extractive mode):

    gen_ai.operation.name        "chat"
    gen_ai.provider.name         "openai" | "anthropic"   (and the older gen_ai.system)
    gen_ai.request.model         llm.model
    gen_ai.request.max_tokens    llm.max_tokens, when set
    gen_ai.request.temperature   llm.temperature, when set
    gen_ai.usage.input_tokens    tokens the request's model calls used in this span
    gen_ai.usage.output_tokens
    gen_ai.usage.cache_read.input_tokens      of the input tokens, read from the prompt cache
    gen_ai.usage.cache_creation.input_tokens  of the input tokens, written to the prompt cache
    cairn.cost_usd               what those calls cost (the ledger's figure)
    cairn.prompt_cache.hit_ratio cache-read share of those input tokens (when there were any)

Usage comes from the request context the budget keeps (`cairn.context`), measured as
the difference between the span's start and end, so it counts every attempt and fallback.
"""

from __future__ import annotations

import threading
from typing import Any

from cairn.config import LLMSettings
from cairn.trace.records import SpanRecord, TraceRecord

ANSWER_SPAN = "answer"


class GenAIAttributes:
    """A `SpanHook` adding GenAI attributes to the `answer` span."""

    def __init__(self, llm: LLMSettings) -> None:
        self.enabled = llm.provider != "extractive"
        self.static: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": llm.provider,
            "gen_ai.system": llm.provider,
        }
        if llm.model:
            self.static["gen_ai.request.model"] = llm.model
        if llm.max_tokens is not None:
            self.static["gen_ai.request.max_tokens"] = llm.max_tokens
        if llm.temperature is not None:
            self.static["gen_ai.request.temperature"] = llm.temperature
        self._before: dict[str, tuple[int, int, int, int, float]] = {}
        self._lock = threading.Lock()

    def on_start(self, trace: TraceRecord, span: SpanRecord) -> None:
        if self.enabled and span.name == ANSWER_SPAN:
            with self._lock:
                self._before[span.span_id] = _spent(trace.trace_id)

    def on_end(self, trace: TraceRecord, span: SpanRecord) -> None:
        if not self.enabled or span.name != ANSWER_SPAN:
            return
        with self._lock:
            before = self._before.pop(span.span_id, (0, 0, 0, 0, 0.0))
        after = _spent(trace.trace_id)
        span.attributes.update(self.static)
        span.attributes["gen_ai.usage.input_tokens"] = after[0] - before[0]
        span.attributes["gen_ai.usage.output_tokens"] = after[1] - before[1]
        span.attributes["gen_ai.usage.cache_read.input_tokens"] = after[2] - before[2]
        span.attributes["gen_ai.usage.cache_creation.input_tokens"] = after[3] - before[3]
        span.attributes["cairn.cost_usd"] = round(after[4] - before[4], 9)
        if after[0] > before[0]:
            ratio = (after[2] - before[2]) / (after[0] - before[0])
            span.attributes["cairn.prompt_cache.hit_ratio"] = round(ratio, 4)


def _spent(trace_id: str) -> tuple[int, int, int, int, float]:
    from cairn.context import current_request

    ctx = current_request()
    if ctx.trace_id != trace_id:  # not inside this request's budget context
        return (0, 0, 0, 0, 0.0)
    usage = ctx.usage
    return (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        float(ctx.cost_usd),
    )
