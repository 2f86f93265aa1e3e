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
    from cairn.types import Usage

FREE_MODELS: frozenset[str] = frozenset({"extractive"})
"""Models known to cost nothing: the extractive answerer (no model call at all)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Tier:
    """A long-context price: applies to the whole request once the prompt is longer."""

    above_input_tokens: int
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cache_read_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Price:
    """The price of one model, in US dollars per million tokens."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cache_read_per_mtok: Decimal | None = None
    """Prompt tokens read from the provider's prompt cache; `None`: billed as input."""
    cache_write_per_mtok: Decimal | None = None
    """Prompt tokens written to the provider's prompt cache; `None`: billed as input."""
    tiers: tuple[Tier, ...] = ()
    """Long-context tiers, lowest threshold first."""
    source: str = ""
    """Where the price came from: the price map, the configuration, or built in."""

    def __post_init__(self) -> None:
        prices = (
            self.input_per_mtok,
            self.output_per_mtok,
            self.cache_read_per_mtok,
            self.cache_write_per_mtok,
        )
        if any(p is not None and p < 0 for p in prices):
            raise ConfigError("model prices must be zero or more dollars per million tokens")

    def cost_nanos(
        self, input_tokens: int, output_tokens: int, *, cache_read: int = 0, cache_write: int = 0
    ) -> int:
        """The exact cost in nano-dollars, rounded up.

        `input_tokens` counts every prompt token; `cache_read` and `cache_write` say how many
        of them the provider read from or wrote to its prompt cache (billed at their own
        prices), the rest are billed as input.
        """
        if min(input_tokens, output_tokens, cache_read, cache_write) < 0:
            raise ValueError("token counts cannot be negative")
        if cache_read + cache_write > input_tokens:
            raise ValueError("cached prompt tokens cannot exceed the prompt's tokens")
        inp, out = self.input_per_mtok, self.output_per_mtok
        read, write = self.cache_read_per_mtok, self.cache_write_per_mtok
        for tier in self.tiers:
            if input_tokens > tier.above_input_tokens:
                inp, out = tier.input_per_mtok, tier.output_per_mtok
                read = tier.cache_read_per_mtok if tier.cache_read_per_mtok is not None else read
                write = (
                    tier.cache_write_per_mtok if tier.cache_write_per_mtok is not None else write
                )
        uncached = input_tokens - cache_read - cache_write
        # tokens * $/Mtok = micro-dollars; * 1000 = nano-dollars.
        micros = (
            uncached * inp
            + cache_read * (inp if read is None else read)
            + cache_write * (inp if write is None else write)
            + output_tokens * out
        )
        return int((micros * 1000).to_integral_value(rounding=ROUND_CEILING))

    def worst_cost_nanos(self, input_tokens: int, max_output_tokens: int) -> int:
        """The most a call can cost: every prompt token billed at the dearer of the input and
        cache-write prices (a provider may write the whole prompt to its cache), and the full
        output allowance."""
        return max(
            self.cost_nanos(input_tokens, max_output_tokens),
            self.cost_nanos(input_tokens, max_output_tokens, cache_write=input_tokens),
        )

    def usage_cost_nanos(self, usage: Usage) -> int:
        """The cost of what a call used, cached prompt tokens at their own prices."""
        return self.cost_nanos(
            usage.input_tokens,
            usage.output_tokens,
            cache_read=usage.cache_read_tokens,
            cache_write=usage.cache_write_tokens,
        )

    def cost_usd(
        self, input_tokens: int, output_tokens: int, *, cache_read: int = 0, cache_write: int = 0
    ) -> Decimal:
        return from_nanos(
            self.cost_nanos(
                input_tokens, output_tokens, cache_read=cache_read, cache_write=cache_write
            )
        )


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
    cache_read_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None


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
        configured = (
            llm.price_input_per_mtok,
            llm.price_output_per_mtok,
            llm.price_cache_read_per_mtok,
            llm.price_cache_write_per_mtok,
        )
        if llm.model and any(p is not None for p in configured):
            inp, out, read, write = (None if p is None else to_decimal(p) for p in configured)
            overrides[llm.model] = PriceOverride(
                input_per_mtok=inp,
                output_per_mtok=out,
                cache_read_per_mtok=read,
                cache_write_per_mtok=write,
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
        # A configured input price makes the map's cache prices meaningless (they are
        # relative to the map's input price): unless configured too, cached tokens are then
        # billed as input, which never understates a cost.
        repriced = override.input_per_mtok is not None
        return replace(
            base,
            input_per_mtok=_pick(override.input_per_mtok, base.input_per_mtok),
            output_per_mtok=_pick(override.output_per_mtok, base.output_per_mtok),
            cache_read_per_mtok=_first(
                override.cache_read_per_mtok, None if repriced else base.cache_read_per_mtok
            ),
            cache_write_per_mtok=_first(
                override.cache_write_per_mtok, None if repriced else base.cache_write_per_mtok
            ),
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

        tiers = tuple(
            Tier(
                above_input_tokens=t.above_input_tokens,
                input_per_mtok=Decimal(t.input),
                output_per_mtok=Decimal(t.output),
                cache_read_per_mtok=_decimal(t.cache_read),
                cache_write_per_mtok=_decimal(t.cache_write),
            )
            for t in row.tiers
        )
        return Price(
            input_per_mtok=Decimal(row.input),
            output_per_mtok=Decimal(row.output),
            cache_read_per_mtok=_decimal(row.cache_read),
            cache_write_per_mtok=_decimal(row.cache_write),
            tiers=tiers,
            source=SOURCE,
        )


def _pick(value: Decimal | None, default: Decimal) -> Decimal:
    return default if value is None else value


def _first(value: Decimal | None, default: Decimal | None) -> Decimal | None:
    return default if value is None else value


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
