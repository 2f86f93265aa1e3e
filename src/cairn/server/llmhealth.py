"""What `/readyz` says about the model: `ok`, `unavailable`, `budget_exhausted` or
`not_configured`, learnt without spending a token.

Sources, none of which calls the model: the configuration (no model: `not_configured`), the
circuit breaker of the answer model (open: `unavailable`), the global budget limits (one at
$0 left: `budget_exhausted`), the outcome of recent requests (a degraded answer reports its
reason until the breaker's reset time, or the budget period's end, has passed, or until the
model answers again), and the optional start-up check (`server.check_llm_at_start`: `GET
/models`, free).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal

import httpx

from cairn.budget.base import CostBudget
from cairn.config import Settings
from cairn.errors import CairnError
from cairn.llm.routing import ModelRoute
from cairn.trace.records import SpanRecord, TraceRecord

log = logging.getLogger("cairn.server")

LLMStatus = Literal["ok", "unavailable", "budget_exhausted", "not_configured"]


class LLMHealth:
    """The model's standing, for `/readyz`. Also a span hook: it reads each `answer` span
    (degraded: the reason; tokens out: the model answered)."""

    def __init__(
        self,
        settings: Settings,
        budget: Callable[[], CostBudget | None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._budget = budget
        self._clock = clock
        self._lock = threading.Lock()
        self._failure: tuple[LLMStatus, str, float] | None = None  # status, detail, until
        self._routes = _routes(settings)  # the settings never change: resolved once
        self.configured = self._routes != []

    # the span hook
    def on_start(self, trace: TraceRecord, span: SpanRecord) -> None:
        pass

    def on_end(self, trace: TraceRecord, span: SpanRecord) -> None:
        if span.name != "answer":
            return
        reason = span.attributes.get("degraded")
        # One caller's limit (a user's, a tenant's, the per-request cap) refusing says nothing
        # about the model for everyone else.
        if isinstance(reason, str) and not span.attributes.get("degraded_caller_only"):
            self.record_failure(reason, str(span.attributes.get("degraded_detail", "")))
        elif _number(span.attributes.get("gen_ai.usage.output_tokens")) > 0:
            self.record_success()

    def record_failure(self, reason: str, detail: str, *, until_success: bool = False) -> None:
        """The model failed; reported for the breaker's reset time, or (`until_success`: the
        start-up check) until the model next answers."""
        status: LLMStatus = "budget_exhausted" if reason == "budget_exhausted" else "unavailable"
        until = float("inf") if until_success else self._clock() + self.settings.llm.breaker_reset_s
        with self._lock:
            self._failure = (status, detail or reason, until)

    def record_success(self) -> None:
        with self._lock:
            self._failure = None

    def status(self) -> tuple[LLMStatus, str]:
        """`(status, detail)`; never calls the model."""
        if not self.configured:
            return "not_configured", "no model configured (llm.provider = extractive)"
        spent = self._spent_limit()
        if spent:
            return "budget_exhausted", spent
        with self._lock:
            failure = self._failure
        if failure is not None and self._clock() < failure[2]:
            return failure[0], failure[1]
        open_breaker = _open_breaker(self.settings, self._routes)
        if open_breaker:
            return "unavailable", open_breaker
        return "ok", ""

    def check_endpoint(self) -> None:
        """`GET /models` on the answer model's endpoint (free); a failure is recorded and
        logged, never raised."""
        if not self._routes:
            return
        route = self._routes[0]
        url, headers = _models_request(route.provider, route.base_url, route.api_key)
        timeout = httpx.Timeout(
            self.settings.llm.read_timeout_s, connect=self.settings.llm.connect_timeout_s
        )
        try:
            response = httpx.get(url, headers=headers, timeout=timeout)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            detail = f"start-up check GET {url} failed: {exc}"
            log.warning("%s; answers fall back as configured (answer.fallback)", detail)
            self.record_failure("unavailable", detail, until_success=True)
            return
        log.info("start-up check GET %s: %s", url, response.status_code)

    def _spent_limit(self) -> str:
        budget = self._budget()
        if budget is None:
            return ""
        try:
            usages = budget.usage()
        except CairnError:
            return ""
        for u in usages:
            if u.scope is None and u.limit_usd - u.spent_usd <= 0:  # spent, not reserved
                return f"{u.setting} (${u.limit_usd}) is spent for {u.period}"
        return ""


def _routes(settings: Settings) -> list[ModelRoute]:
    from cairn.llm.routing import resolve_routes

    try:
        return list(resolve_routes(settings.llm, "answer"))
    except CairnError:
        return []


def _open_breaker(settings: Settings, routes: list[ModelRoute]) -> str:
    """The answer model's breaker, when it is open for every model of the chain."""
    from cairn.llm.breaker import BREAKERS

    llm = settings.llm
    states = [
        BREAKERS.get(r.key, threshold=llm.breaker_threshold, reset_after=llm.breaker_reset_s).state
        for r in routes
    ]
    if routes and all(s == "open" for s in states):
        return f"circuit open for {', '.join(r.model for r in routes)}"
    return ""


def _models_request(
    provider: str, base_url: str | None, api_key: str | None
) -> tuple[str, dict[str, str]]:
    if provider == "anthropic":
        from cairn.llm.anthropic import API_VERSION, AnthropicProvider
        from cairn.llm.anthropic import DEFAULT_BASE_URL as ANTHROPIC

        api_key = AnthropicProvider.api_key(api_key)
        headers = {"anthropic-version": API_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        return f"{(base_url or ANTHROPIC).rstrip('/')}/v1/models", headers
    from cairn.llm.openai import DEFAULT_BASE_URL as OPENAI
    from cairn.llm.openai import OpenAIProvider

    api_key = OpenAIProvider.api_key(api_key)

    return f"{(base_url or OPENAI).rstrip('/')}/models", (
        {"Authorization": f"Bearer {api_key}"} if api_key else {}
    )


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
