"""What a budget hands out and reports: a `Reservation` held for one model call, and a
`LimitUsage` saying where one limit stands."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cairn.budget.limits import Periods
from cairn.budget.prices import Price


@dataclass(frozen=True, kw_only=True, slots=True)
class Reservation:
    """Budget held for one model call until it is settled or released."""

    id: str
    trace_id: str
    feature: str
    user: str | None
    tenant: str | None
    model: str
    input_tokens: int
    max_output_tokens: int
    worst_case_usd: Decimal
    """The prompt tokens plus max output tokens, priced: what is held."""
    price: Price
    periods: Periods
    """The UTC day and month it counts towards (also when it settles after midnight)."""
    created_at: float
    expires_at: float
    route: str | None = None
    """The router's decision for the request (`cairn.answer.router`), None without one."""


@dataclass(frozen=True, kw_only=True, slots=True)
class LimitUsage:
    """Where one limit stands now."""

    limit: str
    setting: str
    scope: str | None
    period: str
    limit_usd: Decimal
    spent_usd: Decimal
    reserved_usd: Decimal

    @property
    def remaining_usd(self) -> Decimal:
        return max(Decimal(0), self.limit_usd - self.spent_usd - self.reserved_usd)
