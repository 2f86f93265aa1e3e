"""A small in-process metrics registry: counters and gauges with labels, readable by tests
and renderable in the Prometheus text format, so other code (the HTTP server, the trace
package) can export them later without a dependency here.

    registry = MetricsRegistry()
    refusals = registry.counter("cairn_budget_refusals_total", "Requests refused", ("limit",))
    refusals.inc(limit="daily")
    registry.render()  # Prometheus exposition text
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

MetricKind = Literal["counter", "gauge"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Sample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


class Metric:
    """One named metric; each distinct label set holds its own value."""

    kind: MetricKind = "counter"

    def __init__(self, name: str, help_text: str, labelnames: tuple[str, ...] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labelnames = labelnames
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def _key(self, labels: dict[str, str]) -> tuple[str, ...]:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {tuple(labels)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def samples(self) -> Iterator[Sample]:
        with self._lock:
            items = sorted(self._values.items())
        for key, value in items:
            yield Sample(
                name=self.name, labels=tuple(zip(self.labelnames, key, strict=True)), value=value
            )


class Counter(Metric):
    kind: MetricKind = "counter"

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount


class Gauge(Metric):
    kind: MetricKind = "gauge"

    def set(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = value


class MetricsRegistry:
    """Get-or-create metrics by name; `render()` writes the Prometheus text format."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}
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
        self, cls: type[Metric], name: str, help_text: str, labelnames: tuple[str, ...]
    ) -> Metric:
        with self._lock:
            metric = self._metrics.get(name)
            if metric is None:
                metric = self._metrics[name] = cls(name, help_text, labelnames)
            elif type(metric) is not cls or metric.labelnames != labelnames:
                raise ValueError(f"metric {name} already registered with another type or labels")
            return metric

    def metrics(self) -> list[Metric]:
        with self._lock:
            return sorted(self._metrics.values(), key=lambda m: m.name)

    def render(self) -> str:
        lines: list[str] = []
        for metric in self.metrics():
            lines.append(f"# HELP {metric.name} {metric.help}")
            lines.append(f"# TYPE {metric.name} {metric.kind}")
            for sample in metric.samples():
                labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sample.labels)
                lines.append(
                    f"{sample.name}{{{labels}}} {sample.value!r}"
                    if labels
                    else f"{sample.name} {sample.value!r}"
                )
        return "\n".join(lines) + "\n" if lines else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


REGISTRY = MetricsRegistry()
"""The process-wide registry the budget reports to unless given another."""
