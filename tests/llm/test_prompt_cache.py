"""Prompt caching: Anthropic `cache_control` breakpoints on the stable prefix, the fake
server's Anthropic endpoint accounting for them as Anthropic does, and the ledger pricing
what it reports exactly; the route column reaching a ledger made before it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from cairn.budget import Budget, Limits, PriceBook
from cairn.budget.ledger import LEDGER_FILE
from cairn.budget.metered import MeteredProvider
from cairn.budget.schema import MIGRATIONS
from cairn.llm.anthropic import EPHEMERAL, AnthropicProvider
from cairn.llm.base import Completed, Message, Tool
from cairn.llm.fake_server import FakeLLMServer
from cairn.llm.prefix_cache import BreakpointCache, messages_units
from cairn.llm.replies import Reply
from cairn.llm.routing import build_provider
from cairn.llm.scripted import ScriptedModel
from cairn.types import Usage

SONNET = "claude-sonnet-4-5"
LONG = " ".join(f"rule{i} applies." for i in range(800))  # well over 1,024 tokens
SEARCH = Tool(name="search", parameters={"type": "object", "properties": {"q": {"type": "string"}}})


@pytest.fixture
def budget(tmp_path: Path) -> Iterator[Budget]:
    b = Budget(tmp_path / LEDGER_FILE, prices=PriceBook(), limits=Limits.of(daily_usd="10"))
    yield b
    b.close()


def _body(messages: list[Message], *, cache: str = "auto", tools: tuple[Tool, ...] = ()) -> dict:  # type: ignore[type-arg]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "content": [{"type": "text", "text": "ok"}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 1, "output_tokens": 1},
            },
        )

    with AnthropicProvider(
        SONNET,
        api_key="k",
        transport=httpx.MockTransport(handler),
        prompt_cache=cache,  # type: ignore[arg-type]
    ) as provider:
        provider.generate(messages, tools=tools)
    body: dict = json.loads(seen[0].content)  # type: ignore[type-arg]
    return body


def test_the_system_prompt_is_the_breakpoint_of_a_single_question() -> None:
    body = _body([Message.system("rules"), Message.user("question")])
    assert body["system"] == [{"type": "text", "text": "rules", "cache_control": EPHEMERAL}]
    assert "cache_control" not in json.dumps(body["messages"])  # a one-off question


def test_a_conversation_that_goes_on_marks_its_last_turn_too() -> None:
    messages = [
        Message.system("rules"),
        Message.user("find x"),
        Message.assistant("", []),
        Message.user("again"),
    ]
    body = _body(messages, tools=(SEARCH,))
    assert body["messages"][-1]["content"][-1]["cache_control"] == EPHEMERAL
    assert "cache_control" not in body["tools"][-1]  # the system breakpoint covers the tools
    no_system = _body(
        [Message.user("q"), Message.assistant("a"), Message.user("q2")], tools=(SEARCH,)
    )
    assert no_system["tools"][-1]["cache_control"] == EPHEMERAL


def test_prompt_cache_all_marks_every_last_turn() -> None:
    body = _body([Message.system("rules"), Message.user("q")], cache="all")
    assert body["messages"][-1]["content"][-1]["cache_control"] == EPHEMERAL


def test_prompt_cache_off_sends_no_breakpoint() -> None:
    body = _body([Message.system("rules"), Message.user("q"), Message.assistant("a")], cache="off")
    assert body["system"] == "rules" and "cache_control" not in json.dumps(body)
    llm = {"provider": "anthropic", "model": SONNET, "api_key": "k", "prompt_cache": "off"}
    provider = build_provider(llm)
    assert provider is not None and provider.inner.prompt_cache == "off"  # type: ignore[attr-defined]


def test_the_breakpoint_cache_writes_then_reads_only_marked_long_prefixes() -> None:
    cache = BreakpointCache()
    marked = {"system": [{"type": "text", "text": LONG, "cache_control": EPHEMERAL}]}
    first = {**marked, "messages": [{"role": "user", "content": "What is rule 7?"}]}
    units, breakpoints = messages_units(first)
    read, written = cache.usage(units, breakpoints)
    assert read == 0 and written == breakpoints[0] >= 1024
    second = {**marked, "messages": [{"role": "user", "content": "And rule 9?"}]}
    units2, breakpoints2 = messages_units(second)
    assert cache.usage(units2, breakpoints2) == (written, 0)
    unmarked = {"system": LONG, "messages": [{"role": "user", "content": "x"}]}
    assert cache.usage(*messages_units(unmarked)) == (0, 0)  # no breakpoint: no cache
    short = {"system": [{"type": "text", "text": "short", "cache_control": EPHEMERAL}]}
    assert cache.usage(*messages_units({**short, "messages": []})) == (0, 0)


@pytest.mark.parametrize("stream", [False, True])
def test_the_fake_server_reports_anthropic_cache_usage_and_the_ledger_prices_it_exactly(
    budget: Budget, stream: bool
) -> None:
    system = Message.system(LONG)
    with (
        FakeLLMServer(model=SONNET, prompt_cache=True) as server,
        AnthropicProvider(SONNET, base_url=server.anthropic_url, api_key="k") as raw,
    ):
        metered = MeteredProvider(raw, budget, max_output_tokens=100)

        def call(question: str) -> Usage:
            messages = [system, Message.user(question)]
            if not stream:
                return metered.generate(messages).usage
            last = list(metered.stream(messages))[-1]
            assert isinstance(last, Completed)
            return last.response.usage

        first, second = call("What is rule 7?"), call("And rule 9?")
    assert (first.cache_read_tokens, second.cache_write_tokens) == (0, 0)
    assert first.cache_write_tokens >= 1024
    assert second.cache_read_tokens == first.cache_write_tokens
    assert second.input_tokens - second.cache_read_tokens < 30  # only the question is new
    price = PriceBook().price(SONNET)
    for usage, entry in zip((first, second), budget.ledger.entries(), strict=True):
        uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
        expected = (
            uncached * price.input_per_mtok
            + usage.cache_read_tokens * price.cache_read_per_mtok  # type: ignore[operator]
            + usage.cache_write_tokens * price.cache_write_per_mtok  # type: ignore[operator]
            + usage.output_tokens * price.output_per_mtok
        ) / Decimal(1_000_000)
        assert entry.cost_usd == expected
    costs = [e.cost_usd for e in budget.ledger.entries()]
    assert costs[1] < costs[0] / 3  # the read costs a tenth of the input price


def test_the_fake_server_answers_tool_calls_on_the_messages_api() -> None:
    model = ScriptedModel()
    with FakeLLMServer(model=SONNET, responder=model.responder) as server:
        server.enqueue(Reply.call("search", {"q": "x"}, id="tu_1"))
        with AnthropicProvider(SONNET, base_url=server.anthropic_url, api_key="k") as provider:
            response = provider.generate([Message.user("find x")], tools=[SEARCH])
            events = list(provider.stream([Message.user("hello there")]))
    assert response.tool_calls[0].name == "search"
    assert [t.name for t in server.requests[0].tools] == ["search"]
    assert dict(response.tool_calls[0].arguments) == {"q": "x"}
    last = events[-1]
    assert isinstance(last, Completed) and last.response.text == "hello there"


def test_a_ledger_made_before_the_route_column_gains_it(tmp_path: Path) -> None:
    path = tmp_path / LEDGER_FILE
    with closing(sqlite3.connect(path)) as db:
        db.executescript(MIGRATIONS[0])
        db.executescript(MIGRATIONS[1])
        db.execute("PRAGMA user_version = 2")
        db.commit()
    with Budget(path, prices=PriceBook.fixed({"m": ("1", "2")}), limits=Limits.of()) as b:
        r = b.reserve(model="m", input_tokens=10, max_output_tokens=10, route="cheap")
        b.settle(r, Usage(input_tokens=10, output_tokens=10))
        [stored] = b.ledger.entries()
    assert stored.route == "cheap"
