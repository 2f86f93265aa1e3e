"""Prometheus metrics of one app (`GET /metrics`).

A `prometheus_client` registry per app (two apps in one process never share counters):

    cairn_http_requests_total{method,route,status}
    cairn_http_request_duration_seconds{method,route}            histogram
    cairn_http_requests_in_flight
    cairn_stage_duration_seconds{stage}                           retrieve, answer, verify
    cairn_retrieval_duration_seconds / cairn_generation_duration_seconds   histograms
    cairn_tokens_total{direction}          input, output, cache_read, cache_write (the last
                                           two are part of input)
    cairn_cost_usd_total
    cairn_prompt_cache_hit_ratio           histogram: per answer, the share of its prompt
                                           tokens read from the provider's prompt cache
    cairn_route_decisions_total{route}     extractive, cheap, strong, escalated (router)
    cairn_cache_hits_total{cache} / cairn_cache_misses_total{cache}
        cache: answer (the answer cache, exact or semantic hits, from the traces);
        embedding (ingest jobs reusing stored embeddings)
    cairn_budget_remaining_usd{limit,scope}                       at scrape time
    cairn_guard_decisions_total{stage,decision,reason}
        stage: input, context, output (the pipeline), tool (the agent's tool-call guard);
        decision: off, pass, flagged, blocked (tool: pass, approval); reason: a short code
        (`prompt-injection`, `output_leak:canary`, `sanitised:link`, `untrusted_args`, `none`),
        from the `guard.<stage>` spans

followed by the budget's own registry (`cairn.budget.REGISTRY`: ledger statuses,
refusals, spend). Stage timings and tokens come from the tracer (`StageMetrics` is a span
hook), so they measure exactly what the traces show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cairn.answer.degraded import REASONS
from cairn.budget.base import CostBudget
from cairn.trace.records import SpanRecord, TraceRecord

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "cairn_http_requests", "HTTP requests", ("method", "route", "status"), registry=r
        )
        self.latency = Histogram(
            "cairn_http_request_duration_seconds",
            "HTTP request latency (to the end of the response body)",
            ("method", "route"),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("cairn_http_requests_in_flight", "Requests being served", registry=r)
        self.stages = Histogram(
            "cairn_stage_duration_seconds",
            "Pipeline stage latency",
            ("stage",),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.retrieval = Histogram(
            "cairn_retrieval_duration_seconds",
            "Retrieval latency",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.generation = Histogram(
            "cairn_generation_duration_seconds",
            "Answer generation latency (extractive or model)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter("cairn_tokens", "Model tokens", ("direction",), registry=r)
        self.cost = Counter("cairn_cost_usd", "Model cost in US dollars", registry=r)
        self.cache_hits = Counter("cairn_cache_hits", "Cache hits", ("cache",), registry=r)
        self.prompt_cache = Histogram(
            "cairn_prompt_cache_hit_ratio",
            "Share of an answer's prompt tokens read from the provider's prompt cache",
            buckets=(0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0),
            registry=r,
        )
        self.routes = Counter(
            "cairn_route_decisions", "Router decisions (router.mode)", ("route",), registry=r
        )
        self.cache_misses = Counter("cairn_cache_misses", "Cache misses", ("cache",), registry=r)
        self.degraded = Counter(
            "cairn_degraded_answers",
            "Answers from the fallback answerer because the model could not serve, by reason",
            ("reason",),
            registry=r,
        )
        for reason in REASONS:  # every reason exported from the start, at 0
            self.degraded.labels(reason=reason)
        self.guard = Counter(
            "cairn_guard_decisions",
            "Guard decisions by stage, decision and reason code",
            ("stage", "decision", "reason"),
            registry=r,
        )
        self._extra: list[Callable[[], str]] = []
        self._budget: Callable[[], CostBudget | None] = lambda: None
        r.register(_BudgetCollector(lambda: self._budget()))

    def watch_budget(self, budget: Callable[[], CostBudget | None]) -> None:
        """Where `cairn_budget_remaining_usd` reads the limits from (the latest app state)."""
        self._budget = budget

    def append(self, render: Callable[[], str]) -> None:
        """Text appended to the exposition (another registry's rendering), once."""
        if render not in self._extra:
            self._extra.append(render)

    def render(self) -> bytes:
        text = generate_latest(self.registry)
        extra = "".join(render() for render in self._extra)
        return text + extra.encode("utf-8")


class StageMetrics:
    """A span hook: stage latencies, tokens and cost, from the traces as they close."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def on_start(self, trace: TraceRecord, span: SpanRecord) -> None:
        pass

    def on_end(self, trace: TraceRecord, span: SpanRecord) -> None:
        seconds = span.duration_ms / 1000
        if span.parent_id is None:
            route = span.attributes.get("route")
            if isinstance(route, str) and route:
                self.metrics.routes.labels(route=route).inc()
            cache = span.attributes.get("cache")
            if cache == "miss":
                self.metrics.cache_misses.labels(cache="answer").inc()
            elif isinstance(cache, str):
                self.metrics.cache_hits.labels(cache="answer").inc()
            return
        self.metrics.stages.labels(stage=span.name).observe(seconds)
        if span.name.startswith("guard."):
            attrs = span.attributes
            self.metrics.guard.labels(
                stage=str(attrs.get("stage", span.name[6:])),
                decision=str(attrs.get("decision", "none")),
                reason=str(attrs.get("reason", "none")),
            ).inc()
        elif span.name == "retrieve":
            self.metrics.retrieval.observe(seconds)
        elif span.name == "answer":
            self.metrics.generation.observe(seconds)
            attrs = span.attributes
            reason = attrs.get("degraded")
            if isinstance(reason, str):
                self.metrics.degraded.labels(reason=reason).inc()
            self.metrics.tokens.labels(direction="input").inc(
                _number(attrs.get("gen_ai.usage.input_tokens"))
            )
            self.metrics.tokens.labels(direction="output").inc(
                _number(attrs.get("gen_ai.usage.output_tokens"))
            )
            self.metrics.tokens.labels(direction="cache_read").inc(
                _number(attrs.get("gen_ai.usage.cache_read.input_tokens"))
            )
            self.metrics.tokens.labels(direction="cache_write").inc(
                _number(attrs.get("gen_ai.usage.cache_creation.input_tokens"))
            )
            self.metrics.cost.inc(_number(attrs.get("cairn.cost_usd")))
            ratio = attrs.get("cairn.prompt_cache.hit_ratio")
            if isinstance(ratio, int | float):
                self.metrics.prompt_cache.observe(float(ratio))


class _BudgetCollector(Collector):
    def __init__(self, budget: Callable[[], CostBudget | None]) -> None:
        self.budget = budget

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "cairn_budget_remaining_usd",
            "What is left of each configured limit now (global limits)",
            labels=("limit", "scope"),
        )
        budget = self.budget()
        if budget is not None:
            for usage in budget.usage():
                family.add_metric((usage.limit, usage.scope or ""), float(usage.remaining_usd))
        yield family


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and value > 0 else 0.0
