"""Budget alerts: when settled spend crosses a threshold of a limit (50%, 80%, 100% by
default) or a request is refused, an `Alert` goes to the log, to a metric and, when one is
configured, to a webhook (HTTP POST of JSON).

The budget decides *whether* an alert fires (once per limit, scope, period and threshold, in
the ledger database, so several processes do not repeat it). `AlertDispatcher` only delivers:
webhook posts run on one background thread with a timeout, from a bounded queue, so a slow
or failing receiver never blocks or fails a request; failures are logged and counted.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.parse
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from cairn.budget.metrics import REGISTRY, MetricsRegistry
from cairn.budget.money import format_usd
from cairn.errors import ConfigError

log = logging.getLogger("cairn.budget")

AlertKind = Literal["threshold", "refused"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Alert:
    kind: AlertKind
    """`threshold`: settled spend reached `threshold_pct` of the limit; `refused`: a request
    was refused by this limit (sent once per period, like a threshold)."""
    limit: str
    """`daily`, `monthly`, `user_daily`, `user_monthly`, `tenant_daily`, `tenant_monthly`."""
    setting: str
    """The configuration key of the limit, e.g. `budget.tenant_daily_usd`."""
    scope: str | None
    """The user or tenant the limit applies to; `None` for global limits."""
    period: str
    """`YYYY-MM-DD` or `YYYY-MM`, UTC."""
    threshold_pct: int | None
    limit_usd: Decimal
    spent_usd: Decimal
    reserved_usd: Decimal
    at: str
    """When it fired (ISO 8601, UTC)."""

    @property
    def message(self) -> str:
        who = f" for {self.scope!r}" if self.scope is not None else ""
        name = self.limit.replace("_", " ")
        spent = f"{format_usd(self.spent_usd)} of {format_usd(self.limit_usd)}"
        if self.kind == "refused":
            return (
                f"budget: a request was refused by the {name} limit{who} ({self.period}): "
                f"spent {spent}, {format_usd(self.reserved_usd)} reserved; raise {self.setting} "
                "to allow more"
            )
        return (
            f"budget: {self.threshold_pct}% of the {name} limit{who} reached ({self.period}): "
            f"spent {spent}"
        )

    def payload(self) -> dict[str, Any]:
        """The webhook body (money as decimal strings, exact)."""
        return {
            "event": "cairn.budget.alert",
            "kind": self.kind,
            "limit": self.limit,
            "setting": self.setting,
            "scope": self.scope,
            "period": self.period,
            "threshold_pct": self.threshold_pct,
            "limit_usd": str(self.limit_usd),
            "spent_usd": str(self.spent_usd),
            "reserved_usd": str(self.reserved_usd),
            "at": self.at,
            "text": self.message,
        }


class AlertDispatcher:
    """Delivers alerts to the log, the metrics registry and an optional webhook."""

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        timeout_s: float = 5.0,
        registry: MetricsRegistry = REGISTRY,
        max_queue: int = 1000,
    ) -> None:
        if webhook_url is not None:
            parsed = urllib.parse.urlsplit(webhook_url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ConfigError(
                    f"budget alert webhook must be an http:// or https:// URL, not "
                    f"{webhook_url!r}: fix budget.alert_webhook_url"
                )
        self.webhook_url = webhook_url
        self.timeout_s = timeout_s
        self._alerts = registry.counter(
            "cairn_budget_alerts_total",
            "Budget alerts fired, by limit, kind and threshold",
            ("limit", "kind", "threshold"),
        )
        self._delivered = registry.counter(
            "cairn_budget_webhook_deliveries_total", "Alert webhook posts that succeeded"
        )
        self._failed = registry.counter(
            "cairn_budget_webhook_failures_total", "Alert webhook posts that failed or timed out"
        )
        self._dropped = registry.counter(
            "cairn_budget_webhook_dropped_total", "Alerts not posted because the queue was full"
        )
        self._queue: queue.Queue[Alert | None] = queue.Queue(maxsize=max_queue)
        self._pending = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def _target(self) -> str:
        """The webhook without its path (paths of chat webhooks hold secrets)."""
        parts = urllib.parse.urlsplit(self.webhook_url or "")
        return f"{parts.scheme}://{parts.netloc}"

    def emit(self, alert: Alert) -> None:
        """Log, count and queue the alert. Never raises, never blocks."""
        log.warning(alert.message)
        self._alerts.inc(limit=alert.limit, kind=alert.kind, threshold=str(alert.threshold_pct))
        if self.webhook_url is None or self._closed:
            return
        with self._idle:
            self._start()
            try:
                self._queue.put_nowait(alert)
            except queue.Full:
                self._dropped.inc()
                log.warning("budget alert webhook queue is full; alert not posted")
                return
            self._pending += 1

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued alert has been posted (or failed); `False` on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout_s)

    def close(self, timeout_s: float | None = None) -> None:
        """Post what is queued (each post is bounded by the timeout), then stop the thread."""
        with self._idle:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout_s)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="cairn-budget-alerts", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while (alert := self._queue.get()) is not None:
            try:
                self._post(alert)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _post(self, alert: Alert) -> None:
        assert self.webhook_url is not None
        body = json.dumps(alert.payload()).encode("utf-8")
        request = urllib.request.Request(
            self.webhook_url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": "cairn-budget"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
        except Exception as exc:  # delivery must never take the process down
            self._failed.inc()
            log.warning("budget alert webhook %s failed: %s", self._target, exc)
        else:
            self._delivered.inc()
