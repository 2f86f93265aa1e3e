"""What `/readyz` learns about the model, with an injected clock: one caller's spent budget
is not everyone's, money reserved is not money spent, and a failed start-up check stays
reported until the model answers (however long the start took)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from cairn.budget import Budget, Limits, MetricsRegistry, PriceBook
from cairn.config import LLMSettings, Settings
from cairn.server.llmhealth import LLMHealth
from cairn.testing.clock import Clock
from cairn.trace.records import SpanRecord, TraceRecord

LLM = LLMSettings(provider="openai", base_url="http://127.0.0.1:9/v1", model="m", api_key="k")


def health(tmp_path: Path, budget: Budget | None = None) -> tuple[LLMHealth, Clock]:
    clock = Clock()
    settings = Settings(workspace=tmp_path, llm=LLM)
    return LLMHealth(settings, lambda: budget, clock=clock), clock


def answer_span(**attributes: object) -> tuple[TraceRecord, SpanRecord]:
    trace = TraceRecord(trace_id="t" * 32, name="ask")
    span = SpanRecord(
        span_id="s", parent_id=None, name="answer", start=0.0, attributes=dict(attributes)
    )
    return trace, span


def test_one_callers_budget_refusal_is_not_the_models(tmp_path: Path) -> None:
    h, _ = health(tmp_path)
    h.on_end(*answer_span(degraded="budget_exhausted", degraded_caller_only=True))
    assert h.status() == ("ok", "")
    h.on_end(*answer_span(degraded="budget_exhausted", degraded_detail="budget.daily_usd"))
    assert h.status()[0] == "budget_exhausted"


def test_reserved_money_is_not_spent(tmp_path: Path) -> None:
    prices = PriceBook.fixed({"m": ("1", "2")})
    with Budget(
        tmp_path / "ledger.db",
        prices=prices,
        limits=Limits.of(daily_usd="0.003"),
        registry=MetricsRegistry(),
    ) as budget:
        held = budget.reserve(model="m", input_tokens=1000, max_output_tokens=1000)  # $0.003
        h, _ = health(tmp_path, budget)
        assert h.status() == ("ok", "")  # all of it reserved, none of it spent
        budget.settle(held, cost_usd=Decimal("0.003"))
        assert h.status()[0] == "budget_exhausted"


def test_a_failed_start_up_check_stays_until_the_model_answers(tmp_path: Path) -> None:
    h, clock = health(tmp_path)
    h.check_endpoint()  # nothing listens on port 9
    assert h.status()[0] == "unavailable"
    clock.advance(3600)  # a slow start or a long wait does not make it ok
    assert h.status()[0] == "unavailable"
    h.on_end(*answer_span(**{"gen_ai.usage.output_tokens": 12}))
    assert h.status() == ("ok", "")
