"""Prices: the vendored price map, exact costs, overrides from configuration, and unknown
models as configuration errors."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from cairn.budget import FREE_MODELS, PriceBook, UnknownModelPrice, format_usd, to_nanos
from cairn.budget.price_table import GENERATED, PRICES, SOURCE, encode, parse_price_file
from cairn.budget.prices import Price, Tier
from cairn.budget.regenerate_prices import entries, main, per_mtok
from cairn.config import LLMSettings, load_settings
from cairn.errors import ConfigError


def test_price_map_is_vendored_with_its_source() -> None:
    assert SOURCE.startswith("litellm ") and "model_prices" in SOURCE
    assert len(GENERATED) == 10
    assert len(PRICES) > 1000
    book = PriceBook()
    gpt = book.price("gpt-4o")
    assert (gpt.input_per_mtok, gpt.output_per_mtok) == (Decimal("2.5"), Decimal("10"))
    assert gpt.source == SOURCE
    assert book.price("gpt-4o-mini").input_per_mtok == Decimal("0.15")


def test_cost_is_exact_and_never_rounded_down() -> None:
    price = Price(input_per_mtok=Decimal("2.5"), output_per_mtok=Decimal("10"))
    assert price.cost_usd(1_000_000, 0) == Decimal("2.5")
    assert price.cost_usd(1234, 567) == Decimal("0.008755")  # 3085 + 5670 micro-dollars
    cheap = Price(input_per_mtok=Decimal("0.075"), output_per_mtok=Decimal("0"))
    assert cheap.cost_nanos(1, 0) == 75  # 0.075 micro-dollars
    odd = Price(input_per_mtok=Decimal("0.0001"), output_per_mtok=Decimal("0"))
    assert odd.cost_nanos(1, 0) == 1  # 0.1 nano-dollars rounds up, never to $0


def test_long_context_tier_prices_the_whole_request() -> None:
    price = Price(
        input_per_mtok=Decimal("3"),
        output_per_mtok=Decimal("15"),
        tiers=(
            Tier(
                above_input_tokens=200_000,
                input_per_mtok=Decimal("6"),
                output_per_mtok=Decimal("22.5"),
            ),
        ),
    )
    assert price.cost_usd(200_000, 1000) == Decimal("0.615")
    assert price.cost_usd(200_001, 1000) == Decimal("1.2225060")


def test_unknown_model_is_a_configuration_error_not_zero() -> None:
    with pytest.raises(UnknownModelPrice, match="CAIRN_LLM_PRICE_INPUT_PER_MTOK") as info:
        PriceBook().price("my-private-model")
    assert isinstance(info.value, ConfigError)
    assert "my-private-model" in str(info.value)
    assert "my-private-model" not in PriceBook()


def test_extractive_answerer_costs_exactly_zero() -> None:
    assert "extractive" in FREE_MODELS
    price = PriceBook().price("extractive")
    assert price.cost_nanos(10_000, 10_000) == 0
    assert "no model call" in price.source


def test_provider_prefixed_names_are_found() -> None:
    book = PriceBook(provider="mistral")
    assert book.price("mistral-large-latest") == PriceBook().price("mistral/mistral-large-latest")


def test_configured_prices_override_the_map_for_the_configured_model() -> None:
    llm = LLMSettings(
        provider="openai", model="gpt-4o", price_input_per_mtok=1.1, price_output_per_mtok=4.4
    )
    book = PriceBook.from_settings(llm)
    price = book.price("gpt-4o")
    assert (price.input_per_mtok, price.output_per_mtok) == (Decimal("1.1"), Decimal("4.4"))
    assert price.source == "configuration"
    assert book.price("gpt-4o-mini").input_per_mtok == Decimal("0.15")  # others untouched


def test_half_an_override_keeps_the_other_half_from_the_map() -> None:
    book = PriceBook.from_settings(LLMSettings(model="gpt-4o", price_output_per_mtok=9))
    price = book.price("gpt-4o")
    assert (price.input_per_mtok, price.output_per_mtok) == (Decimal("2.5"), Decimal("9"))


def test_unknown_model_with_half_an_override_names_the_missing_setting() -> None:
    book = PriceBook.from_settings(LLMSettings(model="local-llama", price_input_per_mtok=0))
    with pytest.raises(ConfigError, match="CAIRN_LLM_PRICE_OUTPUT_PER_MTOK"):
        book.price("local-llama")


def test_environment_variables_set_the_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_LLM_PROVIDER", "openai")
    monkeypatch.setenv("CAIRN_LLM_MODEL", "local-llama")
    monkeypatch.setenv("CAIRN_LLM_PRICE_INPUT_PER_MTOK", "0.2")
    monkeypatch.setenv("CAIRN_LLM_PRICE_OUTPUT_PER_MTOK", "0.6")
    book = PriceBook.from_settings(load_settings().llm)
    assert book.price("local-llama").cost_usd(1_000_000, 1_000_000) == Decimal("0.8")


def test_negative_prices_are_refused() -> None:
    with pytest.raises(ConfigError):
        PriceBook.fixed({"m": ("-1", "1")}).price("m")


def test_money_helpers() -> None:
    assert to_nanos(0.1) == 100_000_000
    assert to_nanos("0.0000000001") == 1
    assert format_usd(Decimal("5")) == "$5.00"
    assert format_usd(Decimal("0.000125")) == "$0.000125"
    assert format_usd(Decimal("1234.5")) == "$1,234.50"


def test_regeneration_keeps_text_models_and_tiers(tmp_path: Path) -> None:
    source = {
        "sample_spec": {"mode": "one of: chat, ...", "input_cost_per_token": 0.0},
        "chat-a": {"mode": "chat", "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05},
        "long-b": {
            "mode": "chat",
            "input_cost_per_token": 3e-06,
            "output_cost_per_token": 1.5e-05,
            "input_cost_per_token_above_200k_tokens": 6e-06,
            "output_cost_per_token_above_200k_tokens": 2.25e-05,
            "input_cost_per_token_above_200k_tokens_priority": 9e-06,
            "cache_read_input_token_cost": 3e-07,
            "cache_creation_input_token_cost": 3.75e-06,
            "cache_read_input_token_cost_above_200k_tokens": 6e-07,
        },
        "embed-c": {"mode": "embedding", "input_cost_per_token": 2e-08},
        "image-d": {"mode": "image_generation", "input_cost_per_token": 1e-06},
        "chat-no-output": {"mode": "chat", "input_cost_per_token": 1e-06},
    }
    assert per_mtok(1.25e-07) == "0.125"
    rows = entries(source)
    assert rows == {
        "chat-a": ["2.5", "10"],
        "embed-c": ["0.02", "0"],
        "long-b": [
            "3",
            "15",
            {
                "cache_read": "0.3",
                "cache_write": "3.75",
                "tiers": [[200_000, "6", "22.5", "0.6", None]],
            },
        ],
    }
    path = tmp_path / "source.json"
    path.write_text(json.dumps(source), encoding="utf-8")
    out = tmp_path / "prices.json"
    assert main([str(path), "--version", "9.9.9", "--output", str(out)]) == 0
    source_label, _, table = parse_price_file(out.read_text(encoding="utf-8"))
    assert {name: encode(row) for name, row in table.items()} == rows
    assert source_label == "litellm 9.9.9 model_prices_and_context_window_backup.json"
    book = PriceBook(table=table)
    long_b = book.price("long-b")
    assert long_b.tiers[0].output_per_mtok == Decimal("22.5")
    assert (long_b.cache_read_per_mtok, long_b.cache_write_per_mtok) == (
        Decimal("0.3"),
        Decimal("3.75"),
    )
    assert long_b.tiers[0].cache_read_per_mtok == Decimal("0.6")
    assert long_b.tiers[0].cache_write_per_mtok is None  # the base cache-write price applies


def test_the_shipped_price_file_is_what_the_generator_writes() -> None:
    """prices.json is package data in the generator's exact format (one model per line)."""
    from importlib.resources import files

    from cairn.budget.regenerate_prices import render

    text = files("cairn.budget").joinpath("prices.json").read_text(encoding="utf-8")
    assert render({n: encode(r) for n, r in PRICES.items()}, SOURCE, GENERATED) == text


# -- prompt-cache tokens ---------------------------------------------------------------------


def test_cached_prompt_tokens_are_billed_at_their_own_prices() -> None:
    """usage x list price, exactly: gpt-4o reads its cache at half the input price, Claude
    Sonnet 4.5 writes at 1.25x and reads at 0.1x (the vendored price map)."""
    gpt = PriceBook().price("gpt-4o")
    assert gpt.cache_read_per_mtok == Decimal("1.25") and gpt.cache_write_per_mtok is None
    # 1,000 prompt tokens of which 600 cached, 100 output tokens.
    expected = (400 * Decimal("2.5") + 600 * Decimal("1.25") + 100 * Decimal("10")) / 10**6
    assert gpt.cost_usd(1000, 100, cache_read=600) == expected
    sonnet = PriceBook().price("claude-sonnet-4-5")
    expected = (
        100 * Decimal("3") + 2000 * Decimal("3.75") + 5000 * Decimal("0.3") + 50 * Decimal("15")
    ) / 10**6
    assert sonnet.cost_usd(7100, 50, cache_read=5000, cache_write=2000) == expected
    with pytest.raises(ValueError, match="cannot exceed"):
        sonnet.cost_nanos(100, 0, cache_read=80, cache_write=30)


def test_a_model_without_cache_prices_bills_cached_tokens_as_input() -> None:
    price = Price(input_per_mtok=Decimal(2), output_per_mtok=Decimal(8))
    assert price.cost_nanos(1000, 10, cache_read=900) == price.cost_nanos(1000, 10)


def test_long_context_tiers_carry_their_own_cache_prices() -> None:
    price = Price(
        input_per_mtok=Decimal(3),
        output_per_mtok=Decimal(15),
        cache_read_per_mtok=Decimal("0.3"),
        cache_write_per_mtok=Decimal("3.75"),
        tiers=(
            Tier(
                above_input_tokens=200_000,
                input_per_mtok=Decimal(6),
                output_per_mtok=Decimal("22.5"),
                cache_read_per_mtok=Decimal("0.6"),
            ),
        ),
    )
    tokens = 300_000
    expected = (100_000 * 6 + 150_000 * Decimal("0.6") + 50_000 * Decimal("3.75")) / 10**6
    assert price.cost_usd(tokens, 0, cache_read=150_000, cache_write=50_000) == expected


def test_the_worst_case_assumes_every_prompt_token_may_be_a_cache_write() -> None:
    sonnet = PriceBook().price("claude-sonnet-4-5")
    worst = sonnet.worst_cost_nanos(1000, 100)
    assert worst == sonnet.cost_nanos(1000, 100, cache_write=1000) > sonnet.cost_nanos(1000, 100)
    for read, write in [(0, 0), (1000, 0), (0, 1000), (400, 600)]:
        assert sonnet.cost_nanos(1000, 100, cache_read=read, cache_write=write) <= worst
    gpt = PriceBook().price("gpt-4o")  # no write price: a write is billed as input
    assert gpt.worst_cost_nanos(1000, 100) == gpt.cost_nanos(1000, 100)


def test_configured_cache_prices_and_a_configured_input_price() -> None:
    repriced = LLMSettings(provider="openai", model="gpt-4o", price_input_per_mtok=2.0)
    price = PriceBook.from_settings(repriced).price("gpt-4o")
    # the map's cache price was relative to its own input price: cached tokens bill as input
    assert price.cache_read_per_mtok is None
    assert price.cost_nanos(1000, 0, cache_read=1000) == price.cost_nanos(1000, 0)
    configured = LLMSettings(
        provider="openai",
        model="local",
        price_input_per_mtok=1.0,
        price_output_per_mtok=2.0,
        price_cache_read_per_mtok=0.0,
    )
    free_reads = PriceBook.from_settings(configured).price("local")
    assert free_reads.cache_read_per_mtok == Decimal(0)
    assert free_reads.cost_usd(1000, 0, cache_read=1000) == Decimal(0)
