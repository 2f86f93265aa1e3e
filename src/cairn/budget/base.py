"""The budget contract, and `open_budget`, which picks its backend.

    reservation = budget.reserve(model=..., input_tokens=..., max_output_tokens=...)
    ...  # the model call
    budget.settle(reservation, response.usage)   # or budget.release(reservation)

`Budget` (`ledger.db`, SQLite) is the backend built in. Another (Postgres, say) is a module
implementing `CostBudget`, chosen here by URL, that passes the conformance suite in
`cairn.testing.ledger`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from cairn.budget.ledger import LEDGER_FILE, LedgerEntry
from cairn.budget.money import Amount
from cairn.budget.reservation import LimitUsage, Reservation
from cairn.errors import ConfigError
from cairn.sqlite import sqlite_url_path
from cairn.types import Usage

if TYPE_CHECKING:
    from cairn.config import Settings


@runtime_checkable
class CostBudget(Protocol):
    """Holds the worst-case cost of each model call until it settles; never lets concurrent
    callers together reserve past a limit."""

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
        """Hold the call's worst case, or raise `BudgetExceeded` naming the limit. `route`:
        the router's decision for the request, recorded on its ledger line."""
        ...

    def settle(
        self,
        reservation: Reservation,
        usage: Usage | None = None,
        *,
        cost_usd: Amount | None = None,
    ) -> LedgerEntry:
        """Charge the actual cost and free the rest; settling twice raises
        `ReservationClosed`."""
        ...

    def release(self, reservation: Reservation, usage: Usage | None = None) -> LedgerEntry | None:
        """The call failed: free the reservation (charging `usage` if given). Idempotent:
        `None` when it was already closed."""
        ...

    def usage(self, *, user: str | None = None, tenant: str | None = None) -> list[LimitUsage]:
        """Spent and reserved now against each limit that applies to this caller."""
        ...

    def entries(self, *, since: str | None = None, until: str | None = None) -> list[LedgerEntry]:
        """Closed requests (settled, released, expired, refused) in `[since, until)`."""
        ...

    def close(self) -> None: ...


def open_budget(settings: Settings, *, url: str | None = None) -> CostBudget:
    """The workspace's budget: `url` None for `<workspace>/ledger.db` (or the store's
    database when `store.url` is `postgresql://...`), `sqlite:///PATH` for
    a ledger elsewhere (`sqlite:////srv/cairn/ledger.db`), or `postgresql://...` for one
    shared by every replica."""
    from cairn.budget.reservations import Budget
    from cairn.pg import is_postgres_url

    if url is None:
        return Budget.from_settings(settings)
    if is_postgres_url(url):
        return Budget.from_settings(settings, path=url)
    path = sqlite_url_path(url, settings.workspace)
    if path is not None:
        return Budget.from_settings(settings, path=path)
    raise ConfigError(
        f"no budget ledger backend for {url!r}: use sqlite:///PATH, postgresql://..., or "
        "leave the URL unset "
        f"for {settings.workspace / LEDGER_FILE}"
    )
