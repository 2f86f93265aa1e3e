"""The fake server speaks the chat-completions protocol over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cairn.llm.base import Message, ModelSettings
from cairn.llm.errors import RequestRejected
from cairn.llm.fake_server import FakeLLMServer, Fault
from cairn.llm.openai import OpenAIProvider
from cairn.llm.replies import Reply
from cairn.llm.sse import iter_sse
from tests.llm.conftest import FAST, HANG_LIMIT, NEVER_A_HANG


@pytest.fixture
def client(server: FakeLLMServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=2.0) as c:
        yield c


def _chat(**extra: Any) -> dict[str, Any]:
    return {
        "model": "fake-model",
        "messages": [{"role": "user", "content": "hello world"}],
        **extra,
    }


def _sse(response: httpx.Response) -> list[Any]:
    return [
        e.data if e.data == "[DONE]" else json.loads(e.data)
        for e in iter_sse(response.text.split("\n"))
    ]


def test_non_streaming_reply_has_the_openai_shape(client: httpx.Client) -> None:
    body = client.post("/v1/chat/completions", json=_chat()).json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "hello world"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == 2
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + 2


def test_streaming_sends_chunks_usage_and_done(client: httpx.Client) -> None:
    response = client.post(
        "/v1/chat/completions",
        json=_chat(stream=True, stream_options={"include_usage": True}),
    )
    assert response.headers["content-type"] == "text/event-stream"
    events = _sse(response)
    assert events[-1] == "[DONE]"
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-2])
    assert text == "hello world"
    assert events[-3]["choices"][0]["finish_reason"] == "stop"
    assert events[-2]["choices"] == []
    assert events[-2]["usage"]["completion_tokens"] == 2
    # without include_usage there is no usage chunk
    plain = _sse(client.post("/v1/chat/completions", json=_chat(stream=True)))
    assert all("usage" not in e for e in plain[:-1])


def test_scripted_tool_calls_over_http(server: FakeLLMServer, client: httpx.Client) -> None:
    server.enqueue(Reply.call("search", {"q": "x"}, id="c1"))
    body = client.post("/v1/chat/completions", json=_chat()).json()
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert body["choices"][0]["message"]["tool_calls"] == [
        {"id": "c1", "type": "function", "function": {"name": "search", "arguments": '{"q": "x"}'}}
    ]


def test_control_endpoints(server: FakeLLMServer, client: httpx.Client) -> None:
    assert client.post(
        "/_fake/replies", json={"replies": ["scripted", {"text": "two"}]}
    ).json() == {"queued": 2}
    assert client.post("/_fake/faults", json={"faults": ["500"]}).json() == {"queued": 1}
    assert client.post("/_fake/faults", json={"faults": ["nonsense"]}).status_code == 400
    assert client.post("/v1/chat/completions", json=_chat()).status_code == 500
    texts = [
        client.post("/v1/chat/completions", json=_chat()).json()["choices"][0]["message"]["content"]
        for _ in range(2)
    ]
    assert texts == ["scripted", "two"]
    requests = client.get("/_fake/requests").json()["requests"]
    assert requests[-1]["messages"] == [{"role": "user", "content": "hello world"}]
    stats = client.get("/_fake/stats").json()
    assert stats["requests"] == 3
    assert stats["faults"] == {"500": 1}
    assert client.get("/v1/models").json()["data"][0]["id"] == "fake-model"
    assert client.get("/health").json() == {"status": "ok"}
    assert client.post("/_fake/reset").json() == {"reset": True}
    assert client.get("/_fake/stats").json()["requests"] == 0
    assert client.get("/nowhere").status_code == 404


def test_bad_requests_get_openai_style_errors(client: httpx.Client) -> None:
    bad_json = client.post(
        "/v1/chat/completions", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert "not valid JSON" in bad_json.json()["error"]["message"]
    assert client.post("/v1/chat/completions", json={"model": "m"}).status_code == 400


def test_api_key_is_checked_when_configured() -> None:
    with FakeLLMServer(api_key="secret") as server:
        wrong = OpenAIProvider("m", base_url=server.url, api_key="wrong", timeouts=FAST)
        with wrong, pytest.raises(RequestRejected, match="CAIRN_LLM_API_KEY"):
            wrong.generate([Message.user("x")])
        with OpenAIProvider("m", base_url=server.url, api_key="secret", timeouts=FAST) as p:
            assert p.generate([Message.user("x")]).text == "x"


def test_latency_time_to_first_token_and_tokens_per_second(provider: OpenAIProvider) -> None:
    settings = ModelSettings(extra_headers={"X-Fake-TTFT": "0.15", "X-Fake-TPS": "50"})
    started = time.monotonic()
    stamps = []
    for _ in provider.stream([Message.user("a b c d e f g h i j")], settings=settings):
        stamps.append(time.monotonic() - started)
    assert stamps[0] >= 0.15  # first token after the TTFT
    assert stamps[-1] >= 0.15 + 9 / 50  # then ten tokens at 50 per second
    assert stamps[-1] < NEVER_A_HANG


def test_missing_usage_header_makes_the_client_estimate(provider: OpenAIProvider) -> None:
    settings = ModelSettings(extra_headers={"X-Fake-No-Usage": "1"})
    assert provider.generate([Message.user("a b")], settings=settings).usage.estimated
    assert not provider.generate([Message.user("a b")]).usage.estimated


def test_fault_specs() -> None:
    assert Fault.parse("429") == Fault(kind="status", status=429, retry_after=1.0)
    assert Fault.parse("429:0.2") == Fault(kind="status", status=429, retry_after=0.2)
    assert Fault.parse("503") == Fault(kind="status", status=503)
    assert Fault.parse(" Hang ") == Fault(kind="hang")
    with pytest.raises(ValueError, match="unknown fault"):
        Fault.parse("explode")


def test_close_wakes_a_hanging_request_promptly() -> None:
    server = FakeLLMServer(hang_limit=HANG_LIMIT).start()
    provider = OpenAIProvider("m", base_url=server.url, timeouts=FAST)
    server.push_faults("hang")
    with pytest.raises(Exception, match="read timeout"):
        provider.generate([Message.user("x")])
    started = time.monotonic()
    server.close()  # the handler is still sleeping in its hang
    provider.close()
    assert time.monotonic() - started < NEVER_A_HANG
