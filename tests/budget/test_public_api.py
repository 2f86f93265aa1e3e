"""The public surface of `cairn.budget` is its curated `__all__`; changing it is deliberate."""

from __future__ import annotations

import subprocess
import sys

import cairn.budget


def test_public_names() -> None:
    assert sorted(cairn.budget.__all__) == [
        "Alert",
        "AlertDispatcher",
        "Budget",
        "BudgetExceeded",
        "CostRow",
        "CostSummary",
        "Counter",
        "DEFAULT_ALERT_THRESHOLDS",
        "FREE_MODELS",
        "Gauge",
        "LEDGER_FILE",
        "Ledger",
        "LedgerEntry",
        "LedgerError",
        "LimitUsage",
        "Limits",
        "MetricsRegistry",
        "Price",
        "PriceBook",
        "PriceOverride",
        "REGISTRY",
        "Reservation",
        "ReservationClosed",
        "UnknownModelPrice",
        "format_usd",
        "from_nanos",
        "summarise",
        "to_nanos",
    ]
    for name in cairn.budget.__all__:
        assert hasattr(cairn.budget, name), name


def test_importing_the_budget_does_not_load_the_price_map() -> None:
    code = (
        "import sys, cairn.budget; "
        "assert 'cairn.budget.price_table' not in sys.modules; "
        "assert 'litellm' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
