"""The budget on the model-call path: `MeteredProvider` reserves before, settles after."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest

from cairn.budget import Budget, BudgetExceeded, Limits, PriceBook
from cairn.budget.metered import MeteredProvider
from cairn.context import request_context
from cairn.llm.base import Message
from cairn.llm.errors import ProviderUnavailable
from cairn.llm.scripted import ScriptedModel

PRICES = PriceBook.fixed({"scripted": ("10", "30")})  # $ per million tokens


@pytest.fixture
def budget(tmp_path: Path) -> Iterator[Budget]:
    b = Budget(tmp_path / "ledger.db", prices=PRICES, limits=Limits.of(daily_usd="0.02"))
    yield b
    b.close()


def ledger_total(path: Path) -> tuple[int, int]:
    with closing(sqlite3.connect(path)) as db:
        settled = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(cost_nanos), 0) FROM ledger WHERE status = 'settled'"
        ).fetchone()
    return int(settled[0]), int(settled[1])


def test_usage_is_settled_and_attributed(budget: Budget) -> None:
    provider = MeteredProvider(ScriptedModel("An answer [1]."), budget, max_output_tokens=50)
    with request_context("trace-1", user="ada", tenant="acme") as ctx:
        response = provider.generate([Message.user("What is it?")])
    assert ctx.calls == 1 and ctx.cost_usd > 0
    assert ctx.usage.output_tokens == response.usage.output_tokens
    [entry] = [e for e in budget.ledger.entries() if e.trace_id == "trace-1"]
    assert (entry.user, entry.tenant, entry.model, entry.status) == (
        "ada",
        "acme",
        "scripted",
        "settled",
    )
    assert entry.cost_usd == ctx.cost_usd


def test_output_limit_is_enforced_on_the_call(budget: Budget) -> None:
    model = ScriptedModel("ok")
    MeteredProvider(model, budget, max_output_tokens=64).generate([Message.user("x")])
    assert model.history[0].settings.max_tokens == 64


def test_failed_call_releases_its_reservation(budget: Budget) -> None:
    model = ScriptedModel(ProviderUnavailable("down"))
    provider = MeteredProvider(model, budget, max_output_tokens=50)
    with pytest.raises(ProviderUnavailable):
        provider.generate([Message.user("x")])
    assert ledger_total(budget.path) == (0, 0)
    assert all(u.reserved_usd == 0 for u in budget.usage())


def test_two_hundred_concurrent_requests_never_overshoot(budget: Budget) -> None:
    """Each call's worst case is ~$0.002 (prompt x1.5 + 16 output tokens); the daily cap
    of $0.02 admits a few dozen; the rest are refused before calling the model."""
    model = ScriptedModel(default=lambda request: "A short answer [1].")
    provider = MeteredProvider(model, budget, max_output_tokens=16)
    prompt = [Message.user("word " * 100)]

    def one(i: int) -> str:
        with request_context(f"t{i}", user=f"u{i % 7}"):
            try:
                provider.generate(prompt)
                return "ok"
            except BudgetExceeded as exc:
                assert exc.limit == "daily"
                return "refused"

    with ThreadPoolExecutor(max_workers=32) as pool:
        outcomes = list(pool.map(one, range(200)))
    settled, spent_nanos = ledger_total(budget.path)
    assert outcomes.count("ok") == settled == len(model.history) > 0
    assert outcomes.count("refused") > 0
    assert Decimal(spent_nanos) / Decimal(10**9) <= Decimal("0.02")
    entries = [e for e in budget.ledger.entries() if e.status == "settled"]
    assert sum(e.cost_usd for e in entries) == Decimal(spent_nanos) / Decimal(10**9)
