"""The OpenAI-compatible adapter against `httpx.MockTransport`: wire format and error mapping."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cairn.llm.base import Completed, JsonSchema, Message, ModelSettings, TextDelta, Tool, ToolCall
from cairn.llm.errors import (
    BadResponse,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
)
from cairn.llm.http import Timeouts, retry_after
from cairn.llm.openai import OpenAIProvider
from cairn.llm.sse import format_sse

SEARCH = Tool(
    name="search",
    description="Search the docs",
    parameters={"type": "object", "properties": {"q": {"type": "string"}}},
)


def _provider(handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> OpenAIProvider:
    return OpenAIProvider(
        "gpt-test",
        base_url="http://llm.test/v1",
        api_key="sk-test",
        transport=httpx.MockTransport(handler),
        timeouts=Timeouts(connect=1, read=1, total=2),
        **kw,
    )


def _completion(
    message: dict[str, Any], usage: bool = True, finish: str = "stop"
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "x",
        "model": "gpt-test-2024",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    return body


def test_request_encoding_and_reply_decoding() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=_completion({"role": "assistant", "content": "Hi."}))

    call = ToolCall(id="c1", name="search", arguments={"q": "dataclass"})
    messages = [
        Message.system("be brief"),
        Message.user("hello"),
        Message.assistant(tool_calls=[call]),
        Message.tool("c1", "found it"),
    ]
    settings = ModelSettings(max_tokens=50, temperature=0.0, stop=("\n\n",), tool_choice="search")
    with _provider(handler) as provider:
        response = provider.generate(messages, tools=[SEARCH], settings=settings)
    body = json.loads(seen[0].content)
    assert seen[0].url == "http://llm.test/v1/chat/completions"
    assert seen[0].headers["authorization"] == "Bearer sk-test"
    assert body["model"] == "gpt-test"
    assert body["messages"][2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "search", "arguments": '{"q": "dataclass"}'},
            }
        ],
    }
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "c1", "content": "found it"}
    assert body["tools"][0]["function"]["name"] == "search"
    assert body["tool_choice"] == {"type": "function", "function": {"name": "search"}}
    assert (body["max_tokens"], body["temperature"], body["stop"]) == (50, 0.0, ["\n\n"])
    assert "stream" not in body
    assert response.text == "Hi."
    assert response.model == "gpt-test-2024"
    assert response.provider == "openai"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (11, 7)
    assert not response.usage.estimated


def test_tool_calls_and_structured_output_are_normalised() -> None:
    replies = iter(
        [
            _completion(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_9",
                            "type": "function",
                            "function": {"name": "search", "arguments": '{"q": "json"}'},
                        }
                    ],
                },
                finish="tool_calls",
            ),
            _completion({"role": "assistant", "content": '```json\n{"score": 4}\n```'}),
        ]
    )
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=next(replies))

    schema = JsonSchema(name="grade", schema={"type": "object"})
    with _provider(handler) as provider:
        called = provider.generate([Message.user("q")], tools=[SEARCH])
        graded = provider.generate([Message.user("q")], settings=ModelSettings(json_schema=schema))
    assert called.tool_calls == (ToolCall(id="call_9", name="search", arguments={"q": "json"}),)
    assert called.finish_reason == "tool_calls"
    assert graded.parsed == {"score": 4}
    assert bodies[1]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "grade", "schema": {"type": "object"}, "strict": True},
    }


def test_missing_usage_is_estimated() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json=_completion({"role": "assistant", "content": "two words"}, usage=False)
        )

    with _provider(handler) as provider:
        usage = provider.generate([Message.user("hello there")]).usage
    assert usage.estimated
    assert usage.output_tokens == 2
    assert usage.input_tokens > 2


def _sse(*chunks: dict[str, Any] | str) -> bytes:
    return b"".join(format_sse(c if isinstance(c, str) else json.dumps(c)) for c in chunks)


def test_streaming_assembles_text_tool_calls_and_usage() -> None:
    def delta(d: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"model": "m", "choices": [{"index": 0, "delta": d, "finish_reason": finish}]}

    stream = _sse(
        delta({"role": "assistant", "content": ""}),
        delta({"content": "Hel"}),
        delta({"content": "lo"}),
        delta({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "search"}}]}),
        delta({"tool_calls": [{"index": 0, "function": {"arguments": '{"q":'}}]}),
        delta({"tool_calls": [{"index": 0, "function": {"arguments": ' "x"}'}}]}),
        delta({}, "tool_calls"),
        {"model": "m", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 5}},
        "[DONE]",
    )
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, content=stream, headers={"content-type": "text/event-stream"})

    with _provider(handler) as provider:
        events = list(provider.stream([Message.user("q")], tools=[SEARCH]))
    assert bodies[0]["stream"] is True
    assert bodies[0]["stream_options"] == {"include_usage": True}
    assert events[:2] == [TextDelta(text="Hel"), TextDelta(text="lo")]
    final = events[-1]
    assert isinstance(final, Completed)
    assert final.response.text == "Hello"
    assert final.response.tool_calls == (ToolCall(id="c1", name="search", arguments={"q": "x"}),)
    assert final.response.finish_reason == "tool_calls"
    assert final.response.usage.input_tokens == 3
    assert not final.response.usage.estimated


def test_a_stream_without_its_end_is_an_error() -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_sse(chunk))

    with _provider(handler) as provider, pytest.raises(BadResponse, match=r"\[DONE\]"):
        list(provider.stream([Message.user("q")]))


@pytest.mark.parametrize(
    ("status", "error", "hint"),
    [
        (401, RequestRejected, "CAIRN_LLM_API_KEY"),
        (404, RequestRejected, "CAIRN_LLM_MODEL"),
        (400, RequestRejected, "see the message"),
        (429, RateLimited, "rate limit"),
        (500, ProviderUnavailable, "fallback_models"),
        (503, ProviderUnavailable, "fallback_models"),
        (504, ProviderTimeout, "fallback_models"),
    ],
)
def test_http_errors_are_mapped_with_a_hint(status: int, error: type, hint: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, json={"error": {"message": "the server says no"}}, headers={"retry-after": "2"}
        )

    with _provider(handler) as provider, pytest.raises(error) as info:
        provider.generate([Message.user("q")])
    message = str(info.value)
    assert message.startswith("openai:gpt-test: HTTP")
    assert "the server says no" in message
    assert hint in message
    assert info.value.status == status
    assert info.value.retryable == (status >= 429)
    if status == 429:
        assert info.value.retry_after == 2.0


def test_unreachable_server_is_a_clear_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with _provider(handler) as provider, pytest.raises(ProviderUnavailable) as info:
        provider.generate([Message.user("q")])
    assert "cannot connect to http://llm.test/v1" in str(info.value)
    assert "CAIRN_LLM_BASE_URL" in str(info.value)


def test_error_inside_a_200_reply_and_wrong_shape() -> None:
    replies = iter([{"error": {"message": "model overloaded"}}, {"choices": []}])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=next(replies))

    with _provider(handler) as provider:
        with pytest.raises(ProviderUnavailable, match="model overloaded"):
            provider.generate([Message.user("q")])
        with pytest.raises(BadResponse, match="unexpected reply shape"):
            provider.generate([Message.user("q")])


def test_retry_after_forms() -> None:
    assert retry_after(httpx.Headers({"retry-after": "3"})) == 3.0
    assert retry_after(httpx.Headers({"retry-after": "0.25"})) == 0.25
    assert retry_after(httpx.Headers({"retry-after-ms": "1500", "retry-after": "9"})) == 1.5
    assert retry_after(httpx.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert retry_after(httpx.Headers({})) is None


def test_defaults_apply_and_no_key_sends_no_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=_completion({"role": "assistant", "content": "x"}))

    provider = OpenAIProvider(
        "local",
        base_url="http://127.0.0.1:9/v1",
        transport=httpx.MockTransport(handler),
        defaults=ModelSettings(temperature=0.1, max_tokens=9),
    )
    with provider:
        provider.generate([Message.user("q")], settings=ModelSettings(max_tokens=5))
    body = json.loads(seen[0].content)
    assert (body["temperature"], body["max_tokens"]) == (0.1, 5)
    assert "authorization" not in seen[0].headers
