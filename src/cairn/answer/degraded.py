"""Degraded mode: which model failures the fallback answerer covers, and how they read.

When the model cannot serve a request, `answer.fallback = "extractive"` (the default) answers
with the extractive answerer instead and marks the answer `degraded` with one of:

| reason             | raised as                                                       |
|--------------------|-----------------------------------------------------------------|
| `unavailable`      | `ProviderUnavailable`, `ProviderTimeout`, `BadResponse` (after   |
|                    | retries), or `AllProvidersFailed` of those                      |
| `circuit_open`     | `CircuitOpen`: the breaker stopped calls to a failing endpoint  |
| `budget_exhausted` | `BudgetExceeded`: a budget limit refused the call (nothing spent)|
| `rate_limited`     | `RateLimited`: the provider's 429, retries used up              |

A `RequestRejected` (a 4xx such as a bad key or an unknown model) is a configuration error,
not an outage: it is raised as before, so it gets fixed rather than hidden.
"""

from __future__ import annotations

import datetime as dt

from cairn.budget.errors import BudgetExceeded
from cairn.errors import CairnError, retry_after_header, status_of
from cairn.llm.errors import (
    AllProvidersFailed,
    BadResponse,
    CircuitOpen,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from cairn.types import Degraded

REASONS = ("unavailable", "circuit_open", "budget_exhausted", "rate_limited")
"""Every `Degraded.reason`, as counted by `cairn_degraded_answers_total`."""


def degradation_of(exc: BaseException, *, now: dt.datetime | None = None) -> Degraded | None:
    """The degradation `exc` stands for, or None for an error the fallback must not hide."""
    if isinstance(exc, BudgetExceeded):
        return Degraded(
            reason="budget_exhausted",
            detail=str(exc),
            retry_after=_period_left(exc.period, now),
            caller_only=exc.scope is not None or exc.limit == "request",
        )
    if isinstance(exc, AllProvidersFailed):
        parts = [degradation_of(f, now=now) for f in exc.failures]
        if not parts or any(p is None for p in parts):
            return None
        reasons = {p.reason for p in parts if p is not None}
        reason = reasons.pop() if len(reasons) == 1 else "unavailable"
        waits = [p.retry_after for p in parts if p is not None and p.retry_after is not None]
        return Degraded(reason=reason, detail=str(exc), retry_after=min(waits) if waits else None)
    if isinstance(exc, CircuitOpen):
        return Degraded(reason="circuit_open", detail=str(exc))
    if isinstance(exc, RateLimited):
        return Degraded(reason="rate_limited", detail=str(exc), retry_after=exc.retry_after)
    if isinstance(exc, ProviderUnavailable | ProviderTimeout | BadResponse):
        return Degraded(reason="unavailable", detail=str(exc))
    return None  # a rejected request (bad key, bad model): a configuration to fix, not an outage


def _period_left(period: str | None, now: dt.datetime | None) -> float | None:
    """Seconds until a daily (`YYYY-MM-DD`) or monthly (`YYYY-MM`) UTC period ends."""
    if not period:
        return None
    now = now or dt.datetime.now(dt.UTC)
    try:
        if len(period) == 10:
            start = dt.datetime.strptime(period, "%Y-%m-%d").replace(tzinfo=dt.UTC)
            end = start + dt.timedelta(days=1)
        else:
            start = dt.datetime.strptime(period, "%Y-%m").replace(tzinfo=dt.UTC)
            end = (start + dt.timedelta(days=32)).replace(day=1)
    except ValueError:
        return None
    return max(1.0, (end - now).total_seconds())


def failure_status(exc: CairnError) -> tuple[int, str, dict[str, str], str | None]:
    """`status_of(exc)` for a request that failed because the model cannot serve it, as the
    API and the command line both report it: 503 with the degradation's reason (the budget's
    own 402 for a budget refusal) and `Retry-After` where known. Other errors as `status_of`
    maps them, with no reason."""
    status, kind, headers = status_of(exc)
    degraded = degradation_of(exc)
    if degraded is None:
        return status, kind, headers, None
    if degraded.reason != "budget_exhausted":
        status = 503
    if degraded.retry_after is not None:
        headers = {**headers, "Retry-After": retry_after_header(degraded.retry_after)}
    return status, kind, headers, degraded.reason
