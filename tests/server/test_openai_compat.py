"""`/v1/chat/completions` through the official `openai` SDK, and SSE over real HTTP: a real
uvicorn server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from cairn.config import Settings
from tests.server.conftest import LiveServer, bearer, copy_workspace, create_key, settings_for

pytestmark = pytest.mark.integration

QUESTION = "How do I give a dataclass field a default list?"


@pytest.fixture(scope="module")
def server(
    base_workspace: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, str]]:
    from cairn.server.app import create_app

    ws = copy_workspace(base_workspace, tmp_path_factory.mktemp("openai") / "ws")
    key = create_key(ws, "acme", "ask", "traces")
    settings: Settings = settings_for(ws, server={"auth": "keys"})
    with LiveServer(create_app(settings)) as live:
        yield live, key


@pytest.fixture
def client(server: tuple[LiveServer, str]) -> Iterator[OpenAI]:
    live, key = server
    with OpenAI(base_url=live.url + "/v1", api_key=key, max_retries=0, timeout=30) as c:
        yield c


def test_chat_completion_with_citations(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model="cairn",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "Hi!"},
            {"role": "user", "content": QUESTION},
        ],
    )
    assert completion.model == "cairn"
    assert completion.object == "chat.completion"
    text = completion.choices[0].message.content
    assert text and completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    extension = (completion.model_extra or {})["cairn"]
    assert extension["abstained"] is False and len(extension["trace_id"]) == 32
    assert extension["citations"]
    for citation in extension["citations"]:
        assert f"[{citation['n']}]" in text
        assert citation["source"] == "library/dataclasses.html"


def test_chat_completion_streams(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model="any-name", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    deltas: list[str] = []
    final = None
    with stream:
        for chunk in stream:
            assert chunk.model == "any-name" and chunk.object == "chat.completion.chunk"
            choice = chunk.choices[0]
            if choice.delta.content:
                deltas.append(choice.delta.content)
            if choice.finish_reason is not None:
                final = chunk
    assert len(deltas) > 3
    assert final is not None and final.choices[0].finish_reason == "stop"
    assert final.usage is not None and final.usage.completion_tokens > 0
    extension = (final.model_extra or {})["cairn"]
    assert "".join(deltas) == extension["answer"]
    assert extension["citations"] and extension["trace_id"]


def test_a_bad_key_is_an_sdk_authentication_error(server: tuple[LiveServer, str]) -> None:
    import openai

    live, _ = server
    with (
        OpenAI(base_url=live.url + "/v1", api_key="cairn_wrong", max_retries=0) as c,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        c.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "unauthorized"


def test_no_user_message_is_a_400(client: OpenAI) -> None:
    import openai

    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="x", messages=[{"role": "system", "content": "hi"}])


def test_ask_streams_events_over_http(server: tuple[LiveServer, str]) -> None:
    live, key = server
    events: list[str] = []
    with (
        httpx.Client(base_url=live.url, headers=bearer(key), timeout=30) as http,
        http.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as r,
    ):
        assert r.status_code == 200
        assert r.headers["cache-control"] == "no-cache"
        for line in r.iter_lines():
            if line.startswith("event: "):
                events.append(line.removeprefix("event: "))
            elif line.startswith("data: ") and events[-1] == "done":
                done = json.loads(line.removeprefix("data: "))
    assert events[0] == "token" and events[-2:] == ["verification", "done"]
    assert done["citations"] and not done["abstained"]


def test_a_client_that_leaves_mid_stream_does_not_break_the_server(
    server: tuple[LiveServer, str],
) -> None:
    live, key = server
    with httpx.Client(base_url=live.url, headers=bearer(key), timeout=30) as http:
        with http.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as r:
            next(r.iter_lines())  # read one line, then hang up
        again = http.post("/v1/ask", json={"question": QUESTION})
        assert again.status_code == 200
        traces = http.get("/v1/traces").json()
        assert traces and all(t["attributes"]["tenant"] == "acme" for t in traces)
