"""Which limits exist, what they apply to, and the periods they count over.

Limits are in US dollars. Daily and monthly periods are UTC calendar days and months. A user
or tenant limit applies only to requests that name a user or tenant; every request counts
towards the global limits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from cairn.budget.money import Amount, to_decimal
from cairn.errors import ConfigError

if TYPE_CHECKING:
    from cairn.config import BudgetSettings

Scope = Literal["global", "user", "tenant"]
PeriodKind = Literal["day", "month"]

DEFAULT_ALERT_THRESHOLDS: tuple[int, ...] = (50, 80, 100)
"""Percent of a limit at which an alert fires (once per limit, scope and period)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """Hard ceilings in US dollars; `None` means no limit. Checked most specific first."""

    request_usd: Decimal | None = None
    """Worst-case cost of one request (`budget.request_usd`, `CAIRN_BUDGET_REQUEST_USD`)."""
    user_daily_usd: Decimal | None = None
    user_monthly_usd: Decimal | None = None
    tenant_daily_usd: Decimal | None = None
    tenant_monthly_usd: Decimal | None = None
    daily_usd: Decimal | None = None
    """All requests together per UTC day (`budget.daily_usd`, `CAIRN_BUDGET_DAILY_USD`)."""
    monthly_usd: Decimal | None = None
    """All requests together per UTC month."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            value = to_decimal(value)
            if not value.is_finite() or value < 0:
                raise ConfigError(f"budget.{f.name} must be zero or more US dollars, not {value}")
            object.__setattr__(self, f.name, value)

    @classmethod
    def of(cls, **limits: Amount | None) -> Limits:
        """`Limits.of(daily_usd=5, user_daily_usd="0.50")`: floats, ints and strings welcome."""
        return cls(**{k: None if v is None else to_decimal(v) for k, v in limits.items()})

    @classmethod
    def from_settings(cls, budget: BudgetSettings, **extra: Amount | None) -> Limits:
        """The limits in `cairn.toml` / `CAIRN_BUDGET_*`: each field `X_usd` here is read from
        `budget.X_usd` when `BudgetSettings` has it; `extra` supplies or replaces values."""
        values: dict[str, Amount | None] = {
            f.name: getattr(budget, f.name, None) for f in fields(cls)
        }
        return cls.of(**(values | extra))

    def periodic(self) -> Iterator[PeriodicLimit]:
        """The daily and monthly limits that are set, in checking order."""
        for spec in PERIODIC_LIMITS:
            value: Decimal | None = getattr(self, spec.setting_field)
            if value is not None:
                yield PeriodicLimit(spec=spec, usd=value)


@dataclass(frozen=True, kw_only=True, slots=True)
class LimitSpec:
    name: str
    """`user_daily`, `daily`, ..."""
    scope: Scope
    period: PeriodKind

    @property
    def setting_field(self) -> str:
        return f"{self.name}_usd"

    @property
    def setting(self) -> str:
        return f"budget.{self.setting_field}"


@dataclass(frozen=True, kw_only=True, slots=True)
class PeriodicLimit:
    spec: LimitSpec
    usd: Decimal


PERIODIC_LIMITS: tuple[LimitSpec, ...] = (
    LimitSpec(name="user_daily", scope="user", period="day"),
    LimitSpec(name="user_monthly", scope="user", period="month"),
    LimitSpec(name="tenant_daily", scope="tenant", period="day"),
    LimitSpec(name="tenant_monthly", scope="tenant", period="month"),
    LimitSpec(name="daily", scope="global", period="day"),
    LimitSpec(name="monthly", scope="global", period="month"),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Periods:
    """The UTC day and month a request falls in."""

    day: str
    """`YYYY-MM-DD`"""
    month: str
    """`YYYY-MM`"""

    @classmethod
    def at(cls, timestamp: float) -> Periods:
        day = dt.datetime.fromtimestamp(timestamp, dt.UTC).date().isoformat()
        return cls(day=day, month=day[:7])

    def of(self, kind: PeriodKind) -> str:
        return self.day if kind == "day" else self.month


def scope_key(scope: Scope, user: str | None, tenant: str | None) -> str | None:
    """The counter key of a scope for one request, or `None` when the scope does not apply."""
    if scope == "global":
        return "global"
    who = user if scope == "user" else tenant
    return None if who is None else f"{scope}:{who}"
