"""The errors the budget raises. Until they move into `cairn.errors`, they live here and
subclass the matching branch of cairn's tree:

CairnError
├── UserError
│   ├── ConfigError
│   │   └── UnknownModelPrice     no price for a model and no override: never a silent $0
│   └── ReservationClosed         settle() on a reservation already settled or released
└── RunError
    ├── BudgetExceeded            a reservation would cross a limit; names the limit
    └── StoreError
        └── LedgerError           the ledger database is missing, locked or corrupt
"""

from __future__ import annotations

from decimal import Decimal

from cairn.budget.money import format_usd
from cairn.errors import ConfigError, RunError, StoreError, UserError


class UnknownModelPrice(ConfigError):
    """No price is known for a model, so its cost cannot be bounded."""

    def __init__(self, model: str) -> None:
        super().__init__(
            f"no price known for model {model!r}: set llm.price_input_per_mtok and "
            "llm.price_output_per_mtok in cairn.toml (or CAIRN_LLM_PRICE_INPUT_PER_MTOK and "
            "CAIRN_LLM_PRICE_OUTPUT_PER_MTOK), in US dollars per million tokens; use 0 for a "
            "free local model"
        )
        self.model = model


class ReservationClosed(UserError):
    """A reservation was settled twice, or settled after it was released."""


class LedgerError(StoreError):
    """The cost ledger (`ledger.db`) could not be opened, read or written."""


class BudgetExceeded(RunError):
    """A request was refused before any model call because its worst-case cost would cross
    a limit. Carries which limit, its value, what is already spent and reserved, and the
    request's worst case."""

    def __init__(
        self,
        *,
        limit: str,
        setting: str,
        limit_usd: Decimal,
        spent_usd: Decimal,
        reserved_usd: Decimal,
        request_usd: Decimal,
        scope: str | None = None,
        period: str | None = None,
    ) -> None:
        self.limit = limit
        """The limit's name: `request`, `daily`, `monthly`, `user_daily`, `tenant_monthly`..."""
        self.setting = setting
        """The configuration key that sets it, e.g. `budget.user_daily_usd`."""
        self.limit_usd = limit_usd
        self.spent_usd = spent_usd
        self.reserved_usd = reserved_usd
        """Worst-case cost of other requests still in flight."""
        self.request_usd = request_usd
        """This request's worst-case cost."""
        self.scope = scope
        """The user or tenant the limit applies to (`None` for global and per-request)."""
        self.period = period
        """`YYYY-MM-DD` or `YYYY-MM` (UTC) for daily and monthly limits."""
        super().__init__(self._message())

    def _message(self) -> str:
        who = f" for {self.scope!r}" if self.scope is not None else ""
        name = self.limit.replace("_", " ")
        if self.limit == "request":
            return (
                f"budget exceeded: the per-request limit is {format_usd(self.limit_usd)} and "
                f"this request's worst case is {format_usd(self.request_usd)} (prompt tokens "
                f"plus max output tokens, priced). Lower the max output tokens or the prompt "
                f"size, or raise {self.setting}"
            )
        total = self.spent_usd + self.reserved_usd + self.request_usd
        resets = "00:00 UTC" if self.limit.endswith("daily") else "the 1st of the month (UTC)"
        return (
            f"budget exceeded: the {name} limit{who} is {format_usd(self.limit_usd)} "
            f"({self.period} UTC); spent {format_usd(self.spent_usd)} + reserved "
            f"{format_usd(self.reserved_usd)} + this request's worst case "
            f"{format_usd(self.request_usd)} = {format_usd(total)}. Wait until it resets at "
            f"{resets}, lower the max output tokens, or raise {self.setting}"
        )
