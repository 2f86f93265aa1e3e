"""Cost and budgets: what each model call costs, a ledger of every request, and limits with
a hard ceiling enforced by atomic reservations.

    from cairn.budget import Budget, Limits, PriceBook

    budget = Budget(workspace / "ledger.db", prices=PriceBook(), limits=Limits.of(daily_usd=5))
    reservation = budget.reserve(model="gpt-4o", input_tokens=900, max_output_tokens=500,
                                 feature="ask", user="alice")
    ...  # the model call
    budget.settle(reservation, response.usage)   # or budget.release(reservation) on failure

See docs/costs.md.
"""

from cairn.budget.alerts import Alert, AlertDispatcher
from cairn.budget.errors import BudgetExceeded, LedgerError, ReservationClosed, UnknownModelPrice
from cairn.budget.ledger import LEDGER_FILE, Ledger, LedgerEntry
from cairn.budget.limits import DEFAULT_ALERT_THRESHOLDS, Limits
from cairn.budget.metrics import REGISTRY, Counter, Gauge, MetricsRegistry
from cairn.budget.money import format_usd, from_nanos, to_nanos
from cairn.budget.prices import FREE_MODELS, Price, PriceBook, PriceOverride
from cairn.budget.reservations import Budget, LimitUsage, Reservation
from cairn.budget.summary import CostRow, CostSummary, summarise

__all__ = [
    "DEFAULT_ALERT_THRESHOLDS",
    "FREE_MODELS",
    "LEDGER_FILE",
    "REGISTRY",
    "Alert",
    "AlertDispatcher",
    "Budget",
    "BudgetExceeded",
    "CostRow",
    "CostSummary",
    "Counter",
    "Gauge",
    "Ledger",
    "LedgerEntry",
    "LedgerError",
    "LimitUsage",
    "Limits",
    "MetricsRegistry",
    "Price",
    "PriceBook",
    "PriceOverride",
    "Reservation",
    "ReservationClosed",
    "UnknownModelPrice",
    "format_usd",
    "from_nanos",
    "summarise",
    "to_nanos",
]
