"""The Anthropic Messages adapter against `httpx.MockTransport`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cairn.llm.anthropic import AnthropicProvider
from cairn.llm.base import Completed, JsonSchema, Message, ModelSettings, TextDelta, Tool, ToolCall
from cairn.llm.errors import BadResponse, ProviderUnavailable, RateLimited
from cairn.llm.sse import format_sse

SEARCH = Tool(name="search", parameters={"type": "object", "properties": {"q": {"type": "string"}}})


def _provider(handler: Callable[[httpx.Request], httpx.Response]) -> AnthropicProvider:
    """Without prompt-cache breakpoints (tests/llm/test_prompt_cache.py has them)."""
    return AnthropicProvider(
        "claude-test",
        api_key="ak-test",
        transport=httpx.MockTransport(handler),
        prompt_cache="off",
    )


def _message(content: list[dict[str, Any]], stop: str = "end_turn") -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": content,
        "stop_reason": stop,
        "usage": {"input_tokens": 12, "output_tokens": 4},
    }


def test_request_encoding_and_tool_use_decoding() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        content = [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "tu_1", "name": "search", "input": {"q": "x"}},
        ]
        return httpx.Response(200, json=_message(content, stop="tool_use"))

    call = ToolCall(id="tu_0", name="search", arguments={"q": "a"})
    messages = [
        Message.system("rules one"),
        Message.system("rules two"),
        Message.user("hello"),
        Message.assistant("checking", [call]),
        Message.tool("tu_0", "nothing"),
        Message.user("try again"),
    ]
    with _provider(handler) as provider:
        response = provider.generate(
            messages, tools=[SEARCH], settings=ModelSettings(tool_choice="required")
        )
    request = seen[0]
    body = json.loads(request.content)
    assert request.url == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == "ak-test"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert body["system"] == "rules one\n\nrules two"
    assert body["max_tokens"] == 1024
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"][1] == {
        "type": "tool_use",
        "id": "tu_0",
        "name": "search",
        "input": {"q": "a"},
    }
    # the tool result and the next user turn merge into one user turn
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "tu_0", "content": "nothing"},
        {"type": "text", "text": "try again"},
    ]
    assert body["tools"] == [
        {"name": "search", "description": "", "input_schema": dict(SEARCH.parameters)}
    ]
    assert body["tool_choice"] == {"type": "any"}
    assert response.text == "Let me look."
    assert response.tool_calls == (ToolCall(id="tu_1", name="search", arguments={"q": "x"}),)
    assert response.finish_reason == "tool_calls"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 4)


def test_structured_output_through_a_forced_tool() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        content = [{"type": "tool_use", "id": "t", "name": "grade", "input": {"score": 5}}]
        return httpx.Response(200, json=_message(content, stop="tool_use"))

    schema = JsonSchema(name="grade", schema={"type": "object", "properties": {}})
    with _provider(handler) as provider:
        response = provider.generate(
            [Message.user("grade it")], settings=ModelSettings(json_schema=schema)
        )
    assert bodies[0]["tool_choice"] == {"type": "tool", "name": "grade"}
    assert response.parsed == {"score": 5}
    assert json.loads(response.text) == {"score": 5}
    assert response.tool_calls == ()
    assert response.finish_reason == "stop"


def _events(*events: dict[str, Any]) -> bytes:
    return b"".join(format_sse(json.dumps(e), event=e["type"]) for e in events)


def test_streaming_text_and_tool_input() -> None:
    stream = _events(
        {"type": "message_start", "message": {"usage": {"input_tokens": 9, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "tu", "name": "search", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"q": '},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '"y"}'},
        },
        {"type": "content_block_stop", "index": 1},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 8},
        },
        {"type": "message_stop"},
    )

    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["stream"] is True
        return httpx.Response(200, content=stream)

    with _provider(handler) as provider:
        events = list(provider.stream([Message.user("q")], tools=[SEARCH]))
    assert events[:2] == [TextDelta(text="Hi"), TextDelta(text="!")]
    final = events[-1]
    assert isinstance(final, Completed)
    assert final.response.text == "Hi!"
    assert final.response.tool_calls == (ToolCall(id="tu", name="search", arguments={"q": "y"}),)
    assert (final.response.usage.input_tokens, final.response.usage.output_tokens) == (9, 8)


def test_stream_errors() -> None:
    error = _events({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
    cut = _events({"type": "message_start", "message": {"usage": {"input_tokens": 1}}})
    bodies = iter([error, cut])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=next(bodies))

    with _provider(handler) as provider:
        with pytest.raises(ProviderUnavailable, match="busy"):
            list(provider.stream([Message.user("q")]))
        with pytest.raises(BadResponse, match="message_stop"):
            list(provider.stream([Message.user("q")]))


def test_overloaded_and_rate_limited() -> None:
    replies = iter(
        [
            httpx.Response(529, json={"type": "error", "error": {"message": "Overloaded"}}),
            httpx.Response(429, json={"error": {"message": "slow"}}, headers={"retry-after": "4"}),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return next(replies)

    with _provider(handler) as provider:
        with pytest.raises(
            ProviderUnavailable, match="anthropic:claude-test: HTTP 529: Overloaded"
        ):
            provider.generate([Message.user("q")])
        with pytest.raises(RateLimited) as info:
            provider.generate([Message.user("q")])
    assert info.value.retry_after == 4.0
