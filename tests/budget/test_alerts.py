"""Alerts at thresholds of a limit, once per period, to the log, a metric and a webhook
posted to a real HTTP server on 127.0.0.1 without blocking or failing the request."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from decimal import Decimal

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cairn.budget import AlertDispatcher, Limits, MetricsRegistry
from cairn.errors import ConfigError
from cairn.types import Usage
from tests.budget.conftest import BudgetFactory, Clock, Receiver

Dispatchers = Callable[..., AlertDispatcher]


def spend(budget: object, output_tokens: int, **who: str) -> None:
    """Settle one call of `test-model` costing output_tokens * $2/M."""
    from cairn.budget import Budget

    assert isinstance(budget, Budget)
    r = budget.reserve(model="test-model", input_tokens=0, max_output_tokens=output_tokens, **who)
    budget.settle(r, Usage(output_tokens=output_tokens))


def test_each_threshold_fires_once_per_period(
    make_budget: BudgetFactory,
    clock: Clock,
    registry: MetricsRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="cairn.budget")
    budget = make_budget(Limits.of(daily_usd="0.01"))  # 5000 output tokens
    fired = registry.counter("cairn_budget_alerts_total", "", ("limit", "kind", "threshold"))
    spend(budget, 2000)  # 40%
    assert "limit reached" not in caplog.text
    spend(budget, 1000)  # 60%
    assert fired.value(limit="daily", kind="threshold", threshold="50") == 1
    spend(budget, 1000)  # 80%
    spend(budget, 1000)  # 100%
    spend(budget, 0)
    for pct in ("50", "80", "100"):
        assert fired.value(limit="daily", kind="threshold", threshold=pct) == 1
    assert caplog.text.count("% of the daily limit reached") == 3
    assert "100% of the daily limit reached (2026-01-01): spent $0.01 of $0.01" in caplog.text
    assert registry.gauge("cairn_budget_limit_used_ratio", "", ("limit",)).value(limit="daily") == 1

    # Another process (another Budget on the same ledger) does not fire them again...
    other = make_budget(Limits.of(daily_usd="0.01"))
    spend(other, 0)
    assert caplog.text.count("% of the daily limit reached") == 3
    # ...but the next day is a new period.
    clock.advance(86_400)
    spend(other, 2500)
    assert caplog.text.count("50% of the daily limit reached (2026-01-02)") == 1


def test_a_refusal_alerts_once_per_period(
    make_budget: BudgetFactory, registry: MetricsRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    from cairn.budget import BudgetExceeded

    budget = make_budget(Limits.of(user_daily_usd="0.001"))
    for _ in range(3):
        with pytest.raises(BudgetExceeded):
            budget.reserve(model="test-model", input_tokens=0, max_output_tokens=1000, user="bob")
    assert caplog.text.count("refused by the user daily limit for 'bob'") == 1
    assert (
        registry.counter("cairn_budget_refusals_total", "", ("limit",)).value(limit="user_daily")
        == 3
    )


def test_webhook_receives_the_alert_as_json(
    make_budget: BudgetFactory, receiver: Receiver, dispatcher_for: Dispatchers
) -> None:
    alerts = dispatcher_for(webhook_url=receiver.url, timeout_s=5)
    budget = make_budget(
        Limits.of(tenant_monthly_usd="0.004"), alerts=alerts, alert_thresholds=[80]
    )
    spend(budget, 1600, tenant="acme")  # 80%
    assert alerts.flush(10)
    [body] = receiver.bodies
    assert body == {
        "event": "cairn.budget.alert",
        "kind": "threshold",
        "limit": "tenant_monthly",
        "setting": "budget.tenant_monthly_usd",
        "scope": "acme",
        "period": "2026-01",
        "threshold_pct": 80,
        "limit_usd": "0.004",
        "spent_usd": "0.0032",
        "reserved_usd": "0",
        "at": "2026-01-01T00:00:00.000000Z",
        "text": body["text"],
    }
    assert "80% of the tenant monthly limit for 'acme'" in body["text"]


def test_a_slow_webhook_never_blocks_the_request(
    make_budget: BudgetFactory,
    receiver: Receiver,
    dispatcher_for: Dispatchers,
    registry: MetricsRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver.delay = 10.0  # answers long after the client's timeout
    alerts = dispatcher_for(webhook_url=receiver.url, timeout_s=0.3)
    budget = make_budget(Limits.of(daily_usd="0.001"), alerts=alerts)
    started = time.perf_counter()
    spend(budget, 500)  # 100%: three alerts queued
    elapsed = time.perf_counter() - started
    assert elapsed < 0.2, f"settle took {elapsed:.3f}s with a slow webhook"
    assert receiver.received.wait(5)
    assert alerts.flush(10)
    failures = registry.counter("cairn_budget_webhook_failures_total", "")
    assert failures.value() == 3
    assert "budget alert webhook http://127.0.0.1" in caplog.text
    assert "/hooks/budget" not in caplog.text  # the path may hold a secret


def test_an_unreachable_webhook_fails_quietly(
    make_budget: BudgetFactory, dispatcher_for: Dispatchers, registry: MetricsRegistry
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    alerts = dispatcher_for(webhook_url=f"http://127.0.0.1:{port}/x", timeout_s=1)
    budget = make_budget(Limits.of(daily_usd="0.001"), alerts=alerts, alert_thresholds=[100])
    spend(budget, 500)
    assert alerts.flush(10)
    assert registry.counter("cairn_budget_webhook_failures_total", "").value() == 1
    assert registry.counter("cairn_budget_webhook_deliveries_total", "").value() == 0


def test_an_error_status_counts_as_a_failure(
    make_budget: BudgetFactory,
    receiver: Receiver,
    dispatcher_for: Dispatchers,
    registry: MetricsRegistry,
) -> None:
    receiver.status = 500
    alerts = dispatcher_for(webhook_url=receiver.url, timeout_s=5)
    budget = make_budget(Limits.of(daily_usd="0.001"), alerts=alerts, alert_thresholds=[50])
    spend(budget, 250)
    assert alerts.flush(10)
    assert registry.counter("cairn_budget_webhook_failures_total", "").value() == 1


def test_webhook_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="alert_webhook_url"):
        AlertDispatcher(webhook_url="file:///etc/passwd", registry=MetricsRegistry())


def test_metrics_render_in_prometheus_text_format(
    make_budget: BudgetFactory, registry: MetricsRegistry
) -> None:
    budget = make_budget(Limits.of(daily_usd="0.002"))
    spend(budget, 1000, user="alice")
    text = registry.render()
    assert "# TYPE cairn_budget_requests_total counter" in text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples[("cairn_budget_requests_total", (("status", "settled"),))] == 1.0
    spend_key = (("feature", "ask"), ("model", "test-model"))
    assert samples[("cairn_budget_spend_usd_total", spend_key)] == 0.002
    alert_key = (("kind", "threshold"), ("limit", "daily"), ("threshold", "100"))
    assert samples[("cairn_budget_alerts_total", alert_key)] == 1.0
    spent = registry.counter("cairn_budget_spend_usd_total", "", ("model", "feature"))
    assert Decimal(repr(spent.value(model="test-model", feature="ask"))) == Decimal("0.002")
    with pytest.raises(ValueError, match="another type"):
        registry.gauge("cairn_budget_requests_total", "", ("status",))
