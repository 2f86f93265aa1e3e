"""Budgets with a hard ceiling: reserve the worst case before a model call, settle to the
actual cost after it, release on failure.

    reservation = budget.reserve(
        model="gpt-4o", input_tokens=1200, max_output_tokens=800,
        feature="ask", user="alice", tenant="acme", trace_id=trace_id,
    )  # raises BudgetExceeded before any model call
    try:
        response = provider.generate(...)
    except BaseException:
        budget.release(reservation)
        raise
    budget.settle(reservation, response.usage)

`reserve` checks every limit against spent + outstanding reservations + this request's worst
case and inserts the reservation in one `BEGIN IMMEDIATE` transaction, so concurrent
requests, in threads or in processes sharing the workspace, can never together reserve more
than a limit. Settled spend therefore stays under the ceiling as long as a call costs no more
than its worst case (the provider honours max output tokens and the prompt count is not
underestimated); an overrun is still recorded, logged and counted.

A reservation never settled or released (its process crashed) expires after
`reservation_ttl_s`; by default it is then charged at its worst case, flagged `estimated`,
because the call may have been made and paid for. A late `settle` corrects it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from cairn.budget.alerts import AlertDispatcher
from cairn.budget.errors import BudgetExceeded, ReservationClosed
from cairn.budget.ledger import LEDGER_FILE, Ledger, LedgerEntry
from cairn.budget.limits import DEFAULT_ALERT_THRESHOLDS, Limits, Periods
from cairn.budget.metrics import REGISTRY, MetricsRegistry
from cairn.budget.money import Amount, from_nanos, to_nanos
from cairn.budget.prices import PriceBook
from cairn.budget.reservation import LimitUsage, Reservation
from cairn.budget.thresholds import Fired, ThresholdAlerts
from cairn.budget.totals import (
    add_to_totals,
    applicable,
    insert_entry,
    iso,
    read_totals,
    total_keys,
    who,
)
from cairn.errors import ConfigError, UserError
from cairn.pg import is_postgres_url
from cairn.sql import SqlConnection
from cairn.types import Usage

if TYPE_CHECKING:
    from cairn.config import Settings

log = logging.getLogger("cairn.budget")

DEFAULT_RESERVATION_TTL_S = 900.0
_T = TypeVar("_T")

__all__ = ["DEFAULT_RESERVATION_TTL_S", "Budget", "LimitUsage", "Reservation"]


class Budget:
    """The cost ledger and the limits it enforces. Thread-safe; share one per process.

    `path` is the ledger database (`<workspace>/ledger.db`), shared by every process that
    serves the workspace.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        prices: PriceBook,
        limits: Limits | None = None,
        alert_thresholds: Sequence[int] = DEFAULT_ALERT_THRESHOLDS,
        alerts: AlertDispatcher | None = None,
        reservation_ttl_s: float = DEFAULT_RESERVATION_TTL_S,
        charge_expired: bool = True,
        registry: MetricsRegistry = REGISTRY,
        clock: Callable[[], float] = time.time,
        durable: bool = False,
    ) -> None:
        if any(not 0 < t <= 1000 for t in alert_thresholds):
            raise ConfigError("budget.alert_thresholds are percents between 1 and 1000")
        if reservation_ttl_s <= 0:
            raise ConfigError("budget.reservation_ttl_s must be positive")
        self.prices = prices
        self.limits = limits or Limits()
        self.reservation_ttl_s = reservation_ttl_s
        self.charge_expired = charge_expired
        self._clock = clock
        self._owns_alerts = alerts is None
        self.alerts = alerts or AlertDispatcher(registry=registry)
        self._ledger = Ledger(path, durable=durable)
        self._requests = registry.counter(
            "cairn_budget_requests_total", "Model calls by ledger status", ("status",)
        )
        self._refusals = registry.counter(
            "cairn_budget_refusals_total", "Requests refused, by limit", ("limit",)
        )
        self._spend = registry.counter(
            "cairn_budget_spend_usd_total", "Settled spend in US dollars", ("model", "feature")
        )
        self._overruns = registry.counter(
            "cairn_budget_overruns_total", "Calls that cost more than the worst case reserved"
        )
        self._thresholds = ThresholdAlerts(
            self.limits,
            sorted(set(alert_thresholds)),
            self.alerts,
            registry.gauge(
                "cairn_budget_limit_used_ratio", "Spent / limit for global limits", ("limit",)
            ),
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        extra_limits: dict[str, Amount | None] | None = None,
        webhook_url: str | None = None,
        webhook_timeout_s: float | None = None,
        alert_thresholds: Sequence[int] | None = None,
        reservation_ttl_s: float | None = None,
        registry: MetricsRegistry = REGISTRY,
        path: Path | str | None = None,
    ) -> Budget:
        """The workspace's budget: `<workspace>/ledger.db`, prices and overrides from
        `settings.llm`, limits and options from `settings.budget`. Keyword arguments given
        here win; they also stand in for settings `BudgetSettings` does not have yet
        (`alert_webhook_url`, `alert_webhook_timeout_s`, `alert_thresholds`,
        `reservation_ttl_s`, and the per-user, per-tenant and monthly limits). `path` puts
        the ledger elsewhere than in the workspace: another file, or a `postgresql://` URL;
        without it, a `postgresql://` `store.url` holds the ledger too."""
        b = settings.budget
        url = webhook_url if webhook_url is not None else getattr(b, "alert_webhook_url", None)
        timeout = _given(webhook_timeout_s, getattr(b, "alert_webhook_timeout_s", 5.0))
        if path is None and is_postgres_url(settings.store.url):
            path = settings.store.url  # the ledger follows the store to Postgres
        budget = cls(
            path or settings.workspace / LEDGER_FILE,
            prices=PriceBook.from_settings(settings.llm),
            limits=Limits.from_settings(b, **(extra_limits or {})),
            alerts=AlertDispatcher(webhook_url=url, timeout_s=timeout, registry=registry),
            alert_thresholds=_given(
                alert_thresholds, getattr(b, "alert_thresholds", DEFAULT_ALERT_THRESHOLDS)
            ),
            reservation_ttl_s=_given(
                reservation_ttl_s, getattr(b, "reservation_ttl_s", DEFAULT_RESERVATION_TTL_S)
            ),
            registry=registry,
        )
        budget._owns_alerts = True
        return budget

    @property
    def alert_thresholds(self) -> tuple[int, ...]:
        """The percents of a limit at which alerts fire."""
        return self._thresholds.alert_thresholds

    @property
    def path(self) -> Path | None:
        """The ledger file (None for a ledger in Postgres: see `ledger.location`)."""
        return self._ledger.path

    @property
    def ledger(self) -> Ledger:
        return self._ledger

    # -- the request path ---------------------------------------------------------------

    def reserve(
        self,
        *,
        model: str,
        input_tokens: int,
        max_output_tokens: int,
        feature: str = "ask",
        user: str | None = None,
        tenant: str | None = None,
        trace_id: str | None = None,
        route: str | None = None,
    ) -> Reservation:
        """Hold the worst-case cost of one model call, or raise `BudgetExceeded` naming the
        limit it would cross. Raises `UnknownModelPrice` for a model with no known price."""
        if input_tokens < 0 or max_output_tokens < 0:
            raise UserError("token counts for a budget reservation cannot be negative")
        price = self.prices.price(model)
        worst = price.worst_cost_nanos(input_tokens, max_output_tokens)
        now = self._clock()
        rid = uuid.uuid4().hex
        reservation = Reservation(
            id=rid,
            trace_id=trace_id or rid,
            feature=feature,
            user=user,
            tenant=tenant,
            model=model,
            input_tokens=input_tokens,
            max_output_tokens=max_output_tokens,
            worst_case_usd=from_nanos(worst),
            price=price,
            periods=Periods.at(now),
            created_at=now,
            expires_at=now + self.reservation_ttl_s,
            route=route,
        )
        with self._ledger.transaction() as db:
            _, fired = self._expire(db, now)
            refusal = self._check(db, reservation, worst)
            if refusal is None:
                db.execute(
                    "INSERT INTO reservations (id, trace_id, feature, user_id, tenant_id, model, "
                    "input_tokens, max_output_tokens, reserved_nanos, ts, day, month, "
                    "expires_at, route) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        rid,
                        reservation.trace_id,
                        feature,
                        user,
                        tenant,
                        model,
                        input_tokens,
                        max_output_tokens,
                        worst,
                        iso(now),
                        reservation.periods.day,
                        reservation.periods.month,
                        reservation.expires_at,
                        route,
                    ),
                )
                add_to_totals(
                    db, total_keys(user, tenant, reservation.periods), spent=0, reserved=worst
                )
            else:
                insert_entry(
                    db,
                    reservation,
                    status="refused",
                    reserved=worst,
                    cost=0,
                    usage=Usage(),  # nothing was consumed; reserved_nanos keeps the worst case
                    note=refusal.limit,
                    closed=now,
                )
                fired += self._thresholds.refused(db, refusal, reservation, now)
        self._thresholds.dispatch(fired)
        if refusal is not None:
            self._requests.inc(status="refused")
            self._refusals.inc(limit=refusal.limit)
            raise refusal
        return reservation

    def settle(
        self,
        reservation: Reservation,
        usage: Usage | None = None,
        *,
        cost_usd: Amount | None = None,
    ) -> LedgerEntry:
        """Record the actual cost (priced from `usage`, or `cost_usd` when the provider
        reports one) and release the rest of the reservation."""
        if usage is None and cost_usd is None:
            raise TypeError("settle() needs the call's usage or its cost_usd")
        usage = usage or Usage()
        cost = (
            to_nanos(cost_usd)
            if cost_usd is not None
            else reservation.price.usage_cost_nanos(usage)
        )
        entry = self._finish(reservation, "settled", usage, cost)
        if entry is None:
            raise ReservationClosed(
                f"reservation {reservation.id} was already released; settle or release a "
                "reservation once"
            )
        return entry

    def release(self, reservation: Reservation, usage: Usage | None = None) -> LedgerEntry | None:
        """The call failed: give the reservation back. Pass `usage` when the failed call
        still consumed tokens (a broken stream) so they are charged. Releasing a reservation
        already settled or released does nothing and returns `None`."""
        usage = usage or Usage()
        cost = reservation.price.usage_cost_nanos(usage)
        return self._finish(reservation, "released", usage, cost)

    # -- reading ------------------------------------------------------------------------

    def usage(self, *, user: str | None = None, tenant: str | None = None) -> list[LimitUsage]:
        """Spent and reserved now against each periodic limit that applies to this caller."""
        periods = Periods.at(self._clock())
        checks = applicable(self.limits, user, tenant, periods)
        with self._ledger.reading() as db:
            totals = read_totals(db, [(k, p) for _, k, p in checks])
        out = []
        for pl, key, period in checks:
            spent, reserved = totals.get((key, period), (0, 0))
            out.append(
                LimitUsage(
                    limit=pl.spec.name,
                    setting=pl.spec.setting,
                    scope=who(key),
                    period=period,
                    limit_usd=pl.usd,
                    spent_usd=from_nanos(spent),
                    reserved_usd=from_nanos(reserved),
                )
            )
        return out

    def entries(self, *, since: str | None = None, until: str | None = None) -> list[LedgerEntry]:
        """Closed requests whose `ts` is in `[since, until)` (ISO 8601 UTC), oldest first."""
        return self._ledger.entries(since=since, until=until)

    def expire_stale(self) -> int:
        """Expire reservations older than the TTL now (reserve() also does it); how many."""
        with self._ledger.transaction() as db:
            count, fired = self._expire(db, self._clock())
        self._thresholds.dispatch(fired)
        return count

    def close(self) -> None:
        """Close the ledger and, if this budget made it, the alert dispatcher."""
        self._ledger.close()
        if self._owns_alerts:
            self.alerts.close(timeout_s=self.alerts.timeout_s + 1)

    def __enter__(self) -> Budget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------

    def _check(self, db: SqlConnection, r: Reservation, worst: int) -> BudgetExceeded | None:
        worst_usd = from_nanos(worst)
        request = self.limits.request_usd
        if request is not None and worst > to_nanos(request):
            return BudgetExceeded(
                limit="request",
                setting="budget.request_usd",
                limit_usd=request,
                spent_usd=Decimal(0),
                reserved_usd=Decimal(0),
                request_usd=worst_usd,
            )
        checks = applicable(self.limits, r.user, r.tenant, r.periods)
        totals = read_totals(db, [(k, p) for _, k, p in checks])
        for pl, key, period in checks:
            spent, reserved = totals.get((key, period), (0, 0))
            if spent + reserved + worst > to_nanos(pl.usd):
                return BudgetExceeded(
                    limit=pl.spec.name,
                    setting=pl.spec.setting,
                    limit_usd=pl.usd,
                    spent_usd=from_nanos(spent),
                    reserved_usd=from_nanos(reserved),
                    request_usd=worst_usd,
                    scope=who(key),
                    period=period,
                )
        return None

    def _finish(self, r: Reservation, status: str, usage: Usage, cost: int) -> LedgerEntry | None:
        now = self._clock()
        keys = total_keys(r.user, r.tenant, r.periods)
        reserved = to_nanos(r.worst_case_usd)
        with self._ledger.transaction() as db:
            row = db.execute(
                "SELECT reserved_nanos FROM reservations WHERE id = ?", (r.id,)
            ).fetchone()
            note = None
            if row is not None:
                db.execute("DELETE FROM reservations WHERE id = ?", (r.id,))
                insert_entry(
                    db, r, status=status, reserved=reserved, cost=cost, usage=usage, closed=now
                )
                add_to_totals(db, keys, spent=cost, reserved=-int(row[0]))
            else:
                before = db.execute(
                    "SELECT status, cost_nanos FROM ledger WHERE id = ?", (r.id,)
                ).fetchone()
                if before is None:
                    raise ReservationClosed(
                        f"reservation {r.id} is not in the ledger {self._ledger.location}: "
                        "settle it with the budget (workspace) that made it"
                    )
                if before["status"] != "expired":
                    if status == "released":
                        return None
                    raise ReservationClosed(
                        f"reservation {r.id} was already {before['status']}; settle or release "
                        "a reservation once"
                    )
                note = f"{status} after it expired"
                log.warning(
                    "budget: reservation %s %s after it expired; raise reservation_ttl_s above "
                    "the longest model call",
                    r.id,
                    status,
                )
                db.execute(
                    "UPDATE ledger SET status = ?, cost_nanos = ?, input_tokens = ?, "
                    "output_tokens = ?, cache_read_tokens = ?, cache_write_tokens = ?, "
                    "estimated = ?, note = ?, closed_at = ? WHERE id = ?",
                    (
                        status,
                        cost,
                        usage.input_tokens,
                        usage.output_tokens,
                        usage.cache_read_tokens,
                        usage.cache_write_tokens,
                        int(usage.estimated),
                        note,
                        iso(now),
                        r.id,
                    ),
                )
                add_to_totals(db, keys, spent=cost - int(before["cost_nanos"]), reserved=0)
            fired = self._thresholds.crossed(db, r.user, r.tenant, r.periods, now)
        self._thresholds.dispatch(fired)
        self._requests.inc(status=status)
        if cost:
            self._spend.inc(float(from_nanos(cost)), model=r.model, feature=r.feature)
        if cost > reserved:
            self._overruns.inc()
            log.warning(
                "budget: %s cost %s, more than the %s reserved (%d prompt + %d max output "
                "tokens); reserve with a larger prompt estimate",
                r.model,
                from_nanos(cost),
                r.worst_case_usd,
                r.input_tokens,
                r.max_output_tokens,
            )
        return LedgerEntry(
            id=r.id,
            trace_id=r.trace_id,
            feature=r.feature,
            user=r.user,
            tenant=r.tenant,
            model=r.model,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            reserved_usd=r.worst_case_usd,
            cost_usd=from_nanos(cost),
            estimated=usage.estimated,
            status=status,
            note=note,
            ts=iso(r.created_at),
            closed_at=iso(now),
            day=r.periods.day,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            route=r.route,
        )

    def _expire(self, db: SqlConnection, now: float) -> tuple[int, list[Fired]]:
        rows = db.execute("SELECT * FROM reservations WHERE expires_at <= ?", (now,)).fetchall()
        fired: list[Fired] = []
        for row in rows:
            periods = Periods(day=row["day"], month=row["month"])
            reserved = int(row["reserved_nanos"])
            cost = reserved if self.charge_expired else 0
            db.execute("DELETE FROM reservations WHERE id = ?", (row["id"],))
            db.execute(
                "INSERT INTO ledger (id, trace_id, feature, user_id, tenant_id, model, "
                "input_tokens, output_tokens, reserved_nanos, cost_nanos, estimated, status, "
                "note, ts, closed_at, day, month, route) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    row["id"],
                    row["trace_id"],
                    row["feature"],
                    row["user_id"],
                    row["tenant_id"],
                    row["model"],
                    row["input_tokens"],
                    row["max_output_tokens"] if self.charge_expired else 0,
                    reserved,
                    cost,
                    1,
                    "expired",
                    "never settled: charged the worst case" if cost else "never settled",
                    row["ts"],
                    iso(now),
                    row["day"],
                    row["month"],
                    row["route"],
                ),
            )
            add_to_totals(
                db,
                total_keys(row["user_id"], row["tenant_id"], periods),
                spent=cost,
                reserved=-reserved,
            )
            fired += self._thresholds.crossed(db, row["user_id"], row["tenant_id"], periods, now)
            log.warning(
                "budget: reservation %s (%s, trace %s) was never settled and expired",
                row["id"],
                row["model"],
                row["trace_id"],
            )
            self._requests.inc(status="expired")
        return len(rows), fired


def _given(value: _T | None, default: _T) -> _T:
    return default if value is None else value
