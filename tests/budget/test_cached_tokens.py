"""Prompt-cache tokens from the wire to the ledger: both adapters (complete and streaming,
recorded payload shapes), the fake server's prefix cache, and the ledger's cost, which must
equal usage x list price exactly."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from cairn.budget import Budget, Limits, PriceBook
from cairn.budget.ledger import LEDGER_FILE
from cairn.budget.metered import MeteredProvider
from cairn.budget.schema import MIGRATIONS
from cairn.context import request_context
from cairn.llm.anthropic import AnthropicProvider
from cairn.llm.base import Completed, Message, Provider
from cairn.llm.fake_server import FakeLLMServer
from cairn.llm.openai import OpenAIProvider
from cairn.llm.sse import format_sse
from cairn.types import Usage

PRICES = PriceBook()  # the vendored list prices
SONNET = "claude-sonnet-4-5"
GPT = "gpt-4o"


@pytest.fixture
def budget(tmp_path: Path) -> Iterator[Budget]:
    b = Budget(tmp_path / LEDGER_FILE, prices=PRICES, limits=Limits.of(daily_usd="10"))
    yield b
    b.close()


# -- recorded payload shapes -----------------------------------------------------------------

OPENAI_COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": GPT,
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hi."}, "finish_reason": "stop"}
    ],
    "usage": {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "total_tokens": 2306,
        "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
}
OPENAI_STREAM = [
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]},
    {"choices": [{"index": 0, "delta": {"content": "."}, "finish_reason": "stop"}]},
    {
        "choices": [],
        "usage": {
            "prompt_tokens": 2006,
            "completion_tokens": 300,
            "total_tokens": 2306,
            "prompt_tokens_details": {"cached_tokens": 1920},
        },
    },
]
ANTHROPIC_USAGE = {
    "input_tokens": 21,
    "cache_creation_input_tokens": 188,
    "cache_read_input_tokens": 1800,
    "output_tokens": 393,
}
ANTHROPIC_MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": SONNET,
    "content": [{"type": "text", "text": "Hi."}],
    "stop_reason": "end_turn",
    "usage": ANTHROPIC_USAGE,
}
ANTHROPIC_STREAM = [
    {
        "type": "message_start",
        "message": {"usage": {**ANTHROPIC_USAGE, "output_tokens": 1}},
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi."}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn"},
        "usage": {"output_tokens": 393},
    },
    {"type": "message_stop"},
]


def _openai(stream: bool) -> OpenAIProvider:
    def handler(request: httpx.Request) -> httpx.Response:
        if stream:
            body = b"".join(format_sse(json.dumps(c)) for c in OPENAI_STREAM)
            return httpx.Response(200, content=body + format_sse("[DONE]"))
        return httpx.Response(200, json=OPENAI_COMPLETION)

    return OpenAIProvider(
        GPT, base_url="http://openai.test/v1", api_key="k", transport=httpx.MockTransport(handler)
    )


def _anthropic(stream: bool) -> AnthropicProvider:
    def handler(request: httpx.Request) -> httpx.Response:
        if stream:
            body = b"".join(format_sse(json.dumps(e), event=e["type"]) for e in ANTHROPIC_STREAM)
            return httpx.Response(200, content=body)
        return httpx.Response(200, json=ANTHROPIC_MESSAGE)

    return AnthropicProvider(SONNET, api_key="k", transport=httpx.MockTransport(handler))


OPENAI_USAGE = Usage(input_tokens=2006, output_tokens=300, cache_read_tokens=1920)
ANTHROPIC_NORMALISED = Usage(
    input_tokens=21 + 188 + 1800, output_tokens=393, cache_read_tokens=1800, cache_write_tokens=188
)
CASES: list[tuple[str, Callable[[bool], Provider], Usage, Decimal]] = [
    (
        "openai",
        _openai,
        OPENAI_USAGE,
        (86 * Decimal("2.5") + 1920 * Decimal("1.25") + 300 * Decimal(10)) / 10**6,
    ),
    (
        "anthropic",
        _anthropic,
        ANTHROPIC_NORMALISED,
        (21 * Decimal(3) + 188 * Decimal("3.75") + 1800 * Decimal("0.3") + 393 * Decimal(15))
        / 10**6,
    ),
]


def _call(provider: Provider, stream: bool) -> Usage:
    messages = [Message.user("hello")]
    if not stream:
        return provider.generate(messages).usage
    events = list(provider.stream(messages))  # type: ignore[attr-defined]
    final = events[-1]
    assert isinstance(final, Completed)
    return final.response.usage


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize(
    ("name", "make", "usage", "list_price"), CASES, ids=["openai", "anthropic"]
)
def test_ledger_cost_is_usage_times_list_price_with_cached_tokens(
    budget: Budget,
    name: str,
    make: Callable[[bool], Provider],
    usage: Usage,
    list_price: Decimal,
    stream: bool,
) -> None:
    with make(stream) as raw:  # type: ignore[attr-defined]
        assert _call(raw, stream) == usage
    with make(stream) as raw:  # type: ignore[attr-defined]
        metered = MeteredProvider(raw, budget, max_output_tokens=1000)
        with request_context(f"t-{name}-{stream}") as ctx:
            _call(metered, stream)
    [entry] = [e for e in budget.ledger.entries() if e.trace_id == f"t-{name}-{stream}"]
    assert entry.cost_usd == list_price
    assert (entry.input_tokens, entry.cache_read_tokens, entry.cache_write_tokens) == (
        usage.input_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
    )
    assert ctx.usage.cache_read_tokens == usage.cache_read_tokens
    assert entry.reserved_usd >= entry.cost_usd


def test_the_fake_server_reports_a_repeated_prefix_as_cached(budget: Budget) -> None:
    """Two requests sharing a long system prompt: the second reads it from the cache, as
    OpenAI reports it, and costs less in the ledger."""
    system = Message.system(" ".join(f"rule{i} applies." for i in range(800)))
    with (
        FakeLLMServer(model=GPT, prompt_cache=True) as server,
        OpenAIProvider(GPT, base_url=server.url, api_key="") as raw,
    ):
        metered = MeteredProvider(raw, budget, max_output_tokens=100)
        first = metered.generate([system, Message.user("What is rule 7?")]).usage
        second = metered.generate([system, Message.user("And rule 9?")]).usage
        short = metered.generate([Message.user("What is rule 7?")]).usage
        stats = server.stats
    assert first.cache_read_tokens == 0
    assert second.input_tokens >= 1024
    assert 0 < second.cache_read_tokens <= second.input_tokens
    assert second.cache_read_tokens % 128 == 0
    assert second.input_tokens - second.cache_read_tokens < 128 + 20  # only the question
    assert short.cache_read_tokens == 0  # below the 1,024-token minimum
    assert stats.cached_tokens == second.cache_read_tokens
    costs = [e.cost_usd for e in budget.ledger.entries()]
    assert len(costs) == 3
    first_cost, second_cost = sorted(costs, reverse=True)[:2]
    assert second_cost < first_cost


def test_a_ledger_made_before_cache_columns_gains_them(tmp_path: Path) -> None:
    path = tmp_path / LEDGER_FILE
    with closing(sqlite3.connect(path)) as db:
        db.executescript(MIGRATIONS[0])
        db.execute("PRAGMA user_version = 1")
        db.commit()
    with Budget(path, prices=PriceBook.fixed({"m": ("1", "2")}), limits=Limits.of()) as b:
        r = b.reserve(model="m", input_tokens=1000, max_output_tokens=10)
        entry = b.settle(r, Usage(input_tokens=1000, output_tokens=10, cache_read_tokens=500))
        [stored] = b.ledger.entries()
    assert stored.cache_read_tokens == 500 == entry.cache_read_tokens
    assert stored.cost_usd == entry.cost_usd == Decimal("0.00102")
