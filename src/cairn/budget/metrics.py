"""The budget's metrics, on `prometheus_client` (the one metrics library cairn uses).

`MetricsRegistry` wraps a `prometheus_client.CollectorRegistry` with get-or-create by name,
so several `Budget` objects in one process share their counters, and with `value()` for
tests:

    registry = MetricsRegistry()
    refusals = registry.counter("cairn_budget_refusals_total", "Requests refused", ("limit",))
    refusals.inc(limit="daily")
    registry.render()  # Prometheus exposition text
"""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge as PromGauge


class _Metric:
    """One named metric; each distinct label set holds its own value."""

    def __init__(self, metric: Any, sample: str, labelnames: tuple[str, ...]) -> None:
        self._metric = metric
        self._sample = sample
        self.name = sample
        self.labelnames = labelnames

    def _child(self, labels: dict[str, str]) -> Any:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {tuple(labels)}")
        if not self.labelnames:
            return self._metric
        return self._metric.labels(**{k: str(v) for k, v in labels.items()})

    def value(self, **labels: str) -> float:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {tuple(labels)}")
        wanted = {k: str(v) for k, v in labels.items()}
        for family in self._metric.collect():
            for sample in family.samples:
                if sample.name == self._sample and sample.labels == wanted:
                    return float(sample.value)
        return 0.0


class Counter(_Metric):
    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        self._child(labels).inc(amount)


class Gauge(_Metric):
    def set(self, value: float, **labels: str) -> None:
        self._child(labels).set(value)


class MetricsRegistry:
    """Get-or-create metrics by name; `render()` writes the Prometheus text format."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._metrics: dict[str, _Metric] = {}
        self._lock = threading.Lock()

    def counter(self, name: str, help_text: str, labelnames: tuple[str, ...] = ()) -> Counter:
        metric = self._get(Counter, name, help_text, labelnames)
        assert isinstance(metric, Counter)
        return metric

    def gauge(self, name: str, help_text: str, labelnames: tuple[str, ...] = ()) -> Gauge:
        metric = self._get(Gauge, name, help_text, labelnames)
        assert isinstance(metric, Gauge)
        return metric

    def _get(
        self, cls: type[_Metric], name: str, help_text: str, labelnames: tuple[str, ...]
    ) -> _Metric:
        name = name.removesuffix("_total") + "_total" if cls is Counter else name
        with self._lock:
            metric = self._metrics.get(name)
            if metric is None:
                if cls is Counter:
                    # prometheus_client names a counter without `_total` and adds it back
                    base = name.removesuffix("_total")
                    inner: Any = PromCounter(base, help_text, labelnames, registry=self.registry)
                    sample = f"{base}_total"
                else:
                    inner = PromGauge(name, help_text, labelnames, registry=self.registry)
                    sample = name
                metric = self._metrics[name] = cls(inner, sample, labelnames)
            elif type(metric) is not cls or metric.labelnames != labelnames:
                raise ValueError(f"metric {name} already registered with another type or labels")
            return metric

    def render(self) -> str:
        return generate_latest(self.registry).decode("utf-8")


REGISTRY = MetricsRegistry()
"""The process-wide registry the budget reports to unless given another."""
