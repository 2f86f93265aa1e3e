"""Summaries of the cost ledger for `cairn costs`: totals by day, feature, user, tenant,
model and route decision over a time range. Sums are done on integer nano-dollars, so they
are exact."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from cairn.budget.ledger import Ledger, time_filter
from cairn.budget.money import from_nanos
from cairn.errors import UserError

Grouping = Literal["day", "feature", "user", "tenant", "model", "route"]
GROUPINGS: tuple[Grouping, ...] = ("day", "feature", "user", "tenant", "model", "route")
_COLUMN: dict[Grouping, str] = {
    "day": "day",
    "feature": "feature",
    "user": "user_id",
    "tenant": "tenant_id",
    "model": "model",
    "route": "route",
}
_RELATIVE = re.compile(r"^(\d+)([dh])$")


@dataclass(frozen=True, kw_only=True, slots=True)
class CostRow:
    key: str | None
    """The day, feature, user, tenant or model (`None`: no user or tenant was given)."""
    requests: int
    """Settled, released and expired requests (refused ones are counted apart)."""
    refused: int
    input_tokens: int
    output_tokens: int
    cost_nanos: int
    estimated: int
    """How many of the requests carry an estimated cost."""
    cache_read_tokens: int = 0
    """Of `input_tokens`, those read from the provider's prompt cache."""
    cache_write_tokens: int = 0
    """Of `input_tokens`, those written to the provider's prompt cache."""

    @property
    def cost_usd(self) -> Decimal:
        return from_nanos(self.cost_nanos)

    @property
    def cached_share(self) -> float:
        """The share of prompt tokens read from the provider's prompt cache."""
        return self.cache_read_tokens / self.input_tokens if self.input_tokens else 0.0

    def as_json(self, key_name: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {key_name: self.key} if key_name else {}
        return out | {
            "requests": self.requests,
            "refused": self.refused,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cached_share": round(self.cached_share, 4),
            "cost_usd": float(self.cost_usd),
            "cost_nanousd": self.cost_nanos,
            "estimated": self.estimated,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class CostSummary:
    since: str | None
    until: str | None
    total: CostRow
    groups: dict[Grouping, list[CostRow]]
    in_flight: int
    """Reservations not yet settled (now, whatever the range)."""
    in_flight_usd: Decimal

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "total": self.total.as_json(),
            **{f"by_{g}": [r.as_json(g) for r in rows] for g, rows in self.groups.items()},
            "in_flight": {"requests": self.in_flight, "reserved_usd": float(self.in_flight_usd)},
        }


_AGGREGATES = (
    "SUM(CASE WHEN status != 'refused' THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN status = 'refused' THEN 1 ELSE 0 END), SUM(input_tokens), "
    "SUM(output_tokens), SUM(cost_nanos), SUM(estimated), SUM(cache_read_tokens), "
    "SUM(cache_write_tokens)"
)


def summarise(
    ledger: Ledger,
    *,
    since: str | None = None,
    until: str | None = None,
    groupings: tuple[Grouping, ...] = GROUPINGS,
    tenant: str | None = None,
) -> CostSummary:
    """Totals of the entries whose request time is in `[since, until)` (ISO 8601, UTC);
    with `tenant`, only that tenant's entries and reservations."""
    where, params = time_filter(since, until)
    if tenant is not None:
        where = f"{where} AND tenant_id = ?" if where else "WHERE tenant_id = ?"
        params = [*params, tenant]
    with ledger.reading() as db:
        total = _row(
            None, db.execute(f"SELECT {_AGGREGATES} FROM ledger {where}", params).fetchone()
        )
        groups: dict[Grouping, list[CostRow]] = {}
        for grouping in groupings:
            column = _COLUMN[grouping]
            order = "key" if grouping == "day" else "SUM(cost_nanos) DESC, key"
            rows = db.execute(
                f"SELECT {column} AS key, {_AGGREGATES} FROM ledger {where} "
                f"GROUP BY {column} ORDER BY {order}",
                params,
            ).fetchall()
            groups[grouping] = [_row(r[0], tuple(r)[1:]) for r in rows]
        flight = db.execute(
            "SELECT COUNT(*), SUM(reserved_nanos) FROM reservations"
            + ("" if tenant is None else " WHERE tenant_id = ?"),
            () if tenant is None else (tenant,),
        ).fetchone()
    return CostSummary(
        since=since,
        until=until,
        total=total,
        groups=groups,
        in_flight=int(flight[0]),
        in_flight_usd=from_nanos(int(flight[1] or 0)),
    )


def _row(key: object, sums: Any) -> CostRow:
    values = [int(v or 0) for v in tuple(sums)]
    return CostRow(
        key=None if key is None else str(key),
        requests=values[0],
        refused=values[1],
        input_tokens=values[2],
        output_tokens=values[3],
        cost_nanos=values[4],
        estimated=values[5],
        cache_read_tokens=values[6],
        cache_write_tokens=values[7],
    )


def parse_bound(text: str, *, end: bool, now: dt.datetime | None = None) -> str:
    """`--since`/`--until` as a ledger timestamp: `YYYY-MM-DD` (an `--until` day is
    included whole), an ISO 8601 time (UTC unless it has an offset), or `7d` / `12h` ago."""
    now = now or dt.datetime.now(dt.UTC)
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        moment = now - (dt.timedelta(days=amount) if unit == "d" else dt.timedelta(hours=amount))
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError as exc:
            raise UserError(f"invalid date {text!r}: {exc}") from None
        moment = dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time(), dt.UTC)
    else:
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise UserError(
                f"cannot read the time {text!r}: use YYYY-MM-DD, an ISO 8601 time such as "
                "2025-01-31T12:00:00Z, or a span back from now such as 7d or 12h"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
