"""The SQLite budget (`ledger.db`) passes the budget conformance suite, opened directly and
through `open_budget`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import pytest

from cairn.budget import Budget, Limits, MetricsRegistry, PriceBook
from cairn.budget.base import open_budget
from cairn.config import load_settings
from cairn.errors import ConfigError
from cairn.testing.clock import Clock
from cairn.testing.ledger import BudgetConformance


class TestSQLiteBudget(BudgetConformance):
    def make_budget(
        self, tmp_path: Path, *, prices: PriceBook, limits: Limits, clock: Clock
    ) -> Budget:
        return Budget(
            tmp_path / "ledger.db",
            prices=prices,
            limits=limits,
            clock=clock,
            registry=MetricsRegistry(),
        )

    def process_opener(
        self, tmp_path: Path, *, prices: PriceBook, limits: Limits
    ) -> Callable[[], Budget]:
        return functools.partial(Budget, tmp_path / "ledger.db", prices=prices, limits=limits)


def test_open_budget_uses_the_workspace_ledger_or_the_url_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_WORKSPACE", str(tmp_path / "ws"))
    settings = load_settings()
    with open_budget(settings) as budget:
        assert budget.path == tmp_path / "ws" / "ledger.db"
    elsewhere = tmp_path / "costs" / "ledger.db"
    with open_budget(settings, url=f"sqlite:///{elsewhere}") as budget:
        assert budget.path == elsewhere
    assert elsewhere.exists()


def test_open_budget_names_the_backends_that_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sqlite:///PATH"):
        open_budget(load_settings(), url="mysql://db/costs")
