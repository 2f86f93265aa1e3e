"""What a model costs: prices in US dollars per million tokens, from the vendored LiteLLM
price map (`prices.json`, regenerated offline) with overrides from configuration.

A model with no known price is a configuration error (`UnknownModelPrice`), never a silent
$0. The extractive answerer makes no model call and is known to cost exactly $0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING

from cairn.budget.errors import UnknownModelPrice
from cairn.budget.money import Amount, from_nanos, to_decimal
from cairn.errors import ConfigError

if TYPE_CHECKING:
    from cairn.budget.price_table import Row
    from cairn.config import LLMSettings

FREE_MODELS: frozenset[str] = frozenset({"extractive"})
"""Models known to cost nothing: the extractive answerer (no model call at all)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Tier:
    """A long-context price: applies to the whole request once the prompt is longer."""

    above_input_tokens: int
    input_per_mtok: Decimal
    output_per_mtok: Decimal


@dataclass(frozen=True, kw_only=True, slots=True)
class Price:
    """The price of one model, in US dollars per million tokens."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    tiers: tuple[Tier, ...] = ()
    """Long-context tiers, lowest threshold first."""
    source: str = ""
    """Where the price came from: the price map, the configuration, or built in."""

    def __post_init__(self) -> None:
        if self.input_per_mtok < 0 or self.output_per_mtok < 0:
            raise ConfigError("model prices must be zero or more dollars per million tokens")

    def cost_nanos(self, input_tokens: int, output_tokens: int) -> int:
        """The exact cost in nano-dollars, rounded up."""
        if input_tokens < 0 or output_tokens < 0:
            raise ValueError("token counts cannot be negative")
        inp, out = self.input_per_mtok, self.output_per_mtok
        for tier in self.tiers:
            if input_tokens > tier.above_input_tokens:
                inp, out = tier.input_per_mtok, tier.output_per_mtok
        # tokens * $/Mtok = micro-dollars; * 1000 = nano-dollars.
        nanos = (input_tokens * inp + output_tokens * out) * 1000
        return int(nanos.to_integral_value(rounding=ROUND_CEILING))

    def cost_usd(self, input_tokens: int, output_tokens: int) -> Decimal:
        return from_nanos(self.cost_nanos(input_tokens, output_tokens))


FREE = Price(
    input_per_mtok=Decimal(0),
    output_per_mtok=Decimal(0),
    source="built in: the extractive answerer makes no model call",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class PriceOverride:
    """Configured prices for one model; a missing half falls back to the price map."""

    input_per_mtok: Decimal | None = None
    output_per_mtok: Decimal | None = None


class PriceBook:
    """Looks up a model's `Price`: overrides first, then the price map (exact name, then
    `provider/model`), then the free built-ins; anything else raises `UnknownModelPrice`."""

    def __init__(
        self,
        overrides: Mapping[str, PriceOverride] | None = None,
        *,
        provider: str | None = None,
        table: Mapping[str, Row] | None = None,
    ) -> None:
        self.overrides = dict(overrides or {})
        self.provider = provider
        self._table = table
        self._cache: dict[str, Price] = {}

    @classmethod
    def from_settings(cls, llm: LLMSettings) -> PriceBook:
        """Overrides from `llm.price_input_per_mtok` / `llm.price_output_per_mtok` (also
        `CAIRN_LLM_PRICE_INPUT_PER_MTOK` / `..._OUTPUT_...`) apply to `llm.model`."""
        overrides: dict[str, PriceOverride] = {}
        inp, out = llm.price_input_per_mtok, llm.price_output_per_mtok
        if llm.model and (inp is not None or out is not None):
            overrides[llm.model] = PriceOverride(
                input_per_mtok=None if inp is None else to_decimal(inp),
                output_per_mtok=None if out is None else to_decimal(out),
            )
        return cls(overrides, provider=llm.provider)

    @classmethod
    def fixed(cls, prices: Mapping[str, tuple[Amount, Amount]]) -> PriceBook:
        """A book holding only these `model: (input, output)` prices (for tests and demos)."""
        return cls(
            {
                m: PriceOverride(input_per_mtok=to_decimal(i), output_per_mtok=to_decimal(o))
                for m, (i, o) in prices.items()
            },
            table={},
        )

    @property
    def table(self) -> Mapping[str, Row]:
        if self._table is None:
            from cairn.budget.price_table import PRICES

            self._table = PRICES
        return self._table

    def price(self, model: str) -> Price:
        """The price of `model`; raises `UnknownModelPrice` when none is known."""
        cached = self._cache.get(model)
        if cached is None:
            cached = self._cache[model] = self._lookup(model)
        return cached

    def __contains__(self, model: object) -> bool:
        if not isinstance(model, str):
            return False
        try:
            self.price(model)
        except ConfigError:
            return False
        return True

    def _lookup(self, model: str) -> Price:
        base = self._from_table(model)
        if base is None and model in FREE_MODELS:
            base = FREE
        override = self.overrides.get(model)
        if override is None:
            if base is None:
                raise UnknownModelPrice(model)
            return base
        if base is None:
            if override.input_per_mtok is None or override.output_per_mtok is None:
                missing = "input" if override.input_per_mtok is None else "output"
                raise ConfigError(
                    f"model {model!r} is not in the price map, so its {missing} price must be "
                    f"configured too: set llm.price_{missing}_per_mtok in cairn.toml or "
                    f"CAIRN_LLM_PRICE_{missing.upper()}_PER_MTOK (US dollars per million tokens)"
                )
            base = Price(input_per_mtok=Decimal(0), output_per_mtok=Decimal(0))
        return replace(
            base,
            input_per_mtok=_pick(override.input_per_mtok, base.input_per_mtok),
            output_per_mtok=_pick(override.output_per_mtok, base.output_per_mtok),
            tiers=(),  # a configured price is the whole price
            source="configuration",
        )

    def _from_table(self, model: str) -> Price | None:
        row = self.table.get(model)
        if row is None and self.provider:
            row = self.table.get(f"{self.provider}/{model}")
        if row is None:
            return None
        from cairn.budget.price_table import SOURCE

        inp, out, *rest = row
        tiers = tuple(
            Tier(above_input_tokens=above, input_per_mtok=Decimal(i), output_per_mtok=Decimal(o))
            for tier_rows in rest
            for above, i, o in tier_rows
        )
        return Price(
            input_per_mtok=Decimal(inp),
            output_per_mtok=Decimal(out),
            tiers=tiers,
            source=SOURCE,
        )


def _pick(value: Decimal | None, default: Decimal) -> Decimal:
    return default if value is None else value
