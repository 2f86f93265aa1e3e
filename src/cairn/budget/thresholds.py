"""Which budget alerts fire: a threshold of a limit crossed by settled spend, or a request
refused by a limit. Each fires once per limit, scope and period across every process
(`alerts_fired` in `ledger.db`, written in the same transaction as the spend), and is
delivered after that transaction commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cairn.budget.alerts import Alert, AlertDispatcher, AlertKind
from cairn.budget.errors import BudgetExceeded
from cairn.budget.limits import Limits, PeriodicLimit, Periods
from cairn.budget.metrics import Gauge
from cairn.budget.money import from_nanos, to_nanos
from cairn.budget.reservation import Reservation
from cairn.budget.totals import applicable, iso, read_totals, who
from cairn.sql import SqlConnection

AlertId = tuple[str, str, str, str, int]
"""(limit, scope, period, kind, threshold): the primary key of `alerts_fired`."""
Fired = tuple[AlertId, Alert]


class ThresholdAlerts:
    """Finds the alerts a change of the totals fires; remembers those already fired."""

    def __init__(
        self,
        limits: Limits,
        thresholds: Sequence[int],
        dispatcher: AlertDispatcher,
        used: Gauge,
    ) -> None:
        self.limits = limits
        self.alert_thresholds = tuple(thresholds)
        self.alerts = dispatcher
        self.used = used
        self._fired: set[AlertId] = set()

    def crossed(
        self,
        db: SqlConnection,
        user: str | None,
        tenant: str | None,
        periods: Periods,
        now: float,
    ) -> list[Fired]:
        """The threshold alerts the caller's totals now fire (also updates the used-ratio
        gauge of global limits)."""
        checks = applicable(self.limits, user, tenant, periods)
        if not checks:
            return []
        totals = read_totals(db, [(k, p) for _, k, p in checks])
        fired = []
        for pl, key, period in checks:
            limit = to_nanos(pl.usd)
            spent, reserved = totals.get((key, period), (0, 0))
            if key == "global" and limit:
                self.used.set(spent / limit, limit=pl.spec.name)
            for pct in self.alert_thresholds:
                if limit == 0 or spent * 100 < limit * pct:
                    break
                alert = self._fire_once(db, "threshold", pl, key, period, pct, spent, reserved, now)
                if alert is not None:
                    fired.append(alert)
        return fired

    def refused(
        self, db: SqlConnection, refusal: BudgetExceeded, r: Reservation, now: float
    ) -> list[Fired]:
        """The `refused` alert for the limit that refused `r` (none for the per-request
        limit: the error tells the caller)."""
        for pl, key, period in applicable(self.limits, r.user, r.tenant, r.periods):
            if pl.spec.name == refusal.limit:
                spent, reserved = to_nanos(refusal.spent_usd), to_nanos(refusal.reserved_usd)
                alert = self._fire_once(db, "refused", pl, key, period, 0, spent, reserved, now)
                return [] if alert is None else [alert]
        return []  # the per-request limit: the error tells the caller, no alert

    def _fire_once(
        self,
        db: SqlConnection,
        kind: AlertKind,
        pl: PeriodicLimit,
        key: str,
        period: str,
        pct: int,
        spent: int,
        reserved: int,
        now: float,
    ) -> Fired | None:
        """The alert if this process is the first to fire it for its limit and period."""
        ident = (pl.spec.name, key, period, kind, pct)
        if ident in self._fired:
            return None
        inserted = db.execute(
            "INSERT INTO alerts_fired (limit_name, scope, period, kind, threshold, "
            "fired_at) VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (*ident, iso(now)),
        ).rowcount
        if not inserted:
            self._remember(ident)
            return None
        return ident, Alert(
            kind=kind,
            limit=pl.spec.name,
            setting=pl.spec.setting,
            scope=who(key),
            period=period,
            threshold_pct=pct if kind == "threshold" else None,
            limit_usd=pl.usd,
            spent_usd=from_nanos(spent),
            reserved_usd=from_nanos(reserved),
            at=iso(now),
        )

    def _remember(self, ident: AlertId) -> None:
        if len(self._fired) > 10_000:
            self._fired.clear()
        self._fired.add(ident)

    def dispatch(self, fired: Iterable[Fired]) -> None:
        """After the transaction committed: remember and deliver what fired."""
        for ident, alert in fired:
            self._remember(ident)
            self.alerts.emit(alert)
