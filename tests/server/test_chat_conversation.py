"""Conversations over `/v1/chat/completions` with the official `openai` SDK against a real
server on 127.0.0.1: a follow-up is answered from the conversation's subject, the standalone
query travels in the `cairn` extension and on the trace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI

from tests.server.conftest import LiveServer, bearer, copy_workspace, create_key, settings_for

pytestmark = pytest.mark.integration

SETS = "What is a set in Python?"
EMPTY_ONE = "how do I make an empty one?"


@pytest.fixture(scope="module")
def ws(base_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_workspace(base_workspace, tmp_path_factory.mktemp("chat") / "ws")


@pytest.fixture(scope="module")
def server(ws: Path) -> Iterator[tuple[LiveServer, str]]:
    from cairn.server.app import create_app

    key = create_key(ws, "acme", "ask", "traces")
    with LiveServer(create_app(settings_for(ws, server={"auth": "keys"}))) as live:
        yield live, key


@pytest.fixture
def client(server: tuple[LiveServer, str]) -> Iterator[OpenAI]:
    live, key = server
    with OpenAI(base_url=live.url + "/v1", api_key=key, max_retries=0, timeout=60) as c:
        yield c


def ask(client: OpenAI, messages: list[dict[str, str]]) -> tuple[str, dict[str, Any]]:
    completion = client.chat.completions.create(model="cairn", messages=messages)  # type: ignore[arg-type]
    return completion.choices[0].message.content or "", (completion.model_extra or {})["cairn"]


def test_a_follow_up_is_answered_from_the_conversation(client: OpenAI) -> None:
    first, _ = ask(client, [{"role": "user", "content": SETS}])
    alone_text, alone = ask(client, [{"role": "user", "content": EMPTY_ONE}])
    text, extension = ask(
        client,
        [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": SETS},
            {"role": "assistant", "content": first},
            {"role": "user", "content": EMPTY_ONE},
        ],
    )
    # asked alone, the follow-up has no subject; in the conversation it is about sets
    assert alone["rewritten"] is False and alone["query"] == EMPTY_ONE
    # (alone it may list several empty containers, sets among them, but it does not lead
    # with sets: its first quoted claim is about something else)
    assert alone["abstained"] or "set()" not in alone_text.split("[1]")[0]
    assert extension["rewritten"] is True
    assert extension["query"].startswith(EMPTY_ONE) and "set" in extension["query"]
    assert not extension["abstained"]
    assert "set()" in text
    assert {c["source"] for c in extension["citations"]} == {"tutorial/datastructures.html"}


def test_the_subject_of_an_earlier_question_reaches_the_right_page(client: OpenAI) -> None:
    json_q = "How do I convert a Python object to a JSON string?"
    _, extension = ask(
        client,
        [
            {"role": "user", "content": json_q},
            {"role": "assistant", "content": "Use json.dumps(obj) [1]."},
            {"role": "user", "content": "and how do I turn it back into an object?"},
        ],
    )
    assert extension["rewritten"] is True and "JSON" in extension["query"]
    assert extension["citations"]
    assert {c["source"] for c in extension["citations"]} == {"library/json.html"}


def test_a_standalone_question_with_history_is_not_rewritten(client: OpenAI) -> None:
    question = "How do I give a dataclass field a default list?"
    _, extension = ask(
        client,
        [
            {"role": "user", "content": SETS},
            {"role": "assistant", "content": "A set is an unordered collection [1]."},
            {"role": "user", "content": question},
        ],
    )
    assert extension["rewritten"] is False and extension["query"] == question
    assert {c["source"] for c in extension["citations"]} == {"library/dataclasses.html"}


def test_a_streamed_follow_up_carries_the_query(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model="cairn",
        messages=[
            {"role": "user", "content": "How do I use a list as a stack?"},
            {"role": "assistant", "content": "Use append() and pop() [1]."},
            {"role": "user", "content": "and as a queue?"},
        ],
        stream=True,
    )
    deltas: list[str] = []
    final = None
    with stream:
        for chunk in stream:
            if chunk.choices[0].delta.content:
                deltas.append(chunk.choices[0].delta.content)
            if chunk.choices[0].finish_reason is not None:
                final = chunk
    assert final is not None
    extension = (final.model_extra or {})["cairn"]
    assert extension["rewritten"] is True and "stack" in extension["query"]
    assert "".join(deltas) == extension["answer"] and "queue" in extension["answer"]
    assert {c["source"] for c in extension["citations"]} == {"tutorial/datastructures.html"}


def test_the_rewrite_is_on_the_trace(server: tuple[LiveServer, str], client: OpenAI) -> None:
    live, key = server
    _, extension = ask(
        client,
        [
            {"role": "user", "content": SETS},
            {"role": "assistant", "content": "A set is an unordered collection [1]."},
            {"role": "user", "content": EMPTY_ONE},
        ],
    )
    with httpx.Client(base_url=live.url, headers=bearer(key), timeout=30) as http:
        trace = http.get(f"/v1/traces/{extension['trace_id']}").json()
    root = trace["spans"][0]
    [rewrite] = [s for s in trace["spans"] if s["name"] == "rewrite"]
    assert root["attributes"]["question"] == EMPTY_ONE
    assert root["attributes"]["query"] == extension["query"]
    assert root["attributes"]["rewritten"] is True
    assert rewrite["name"] == "rewrite"
    assert rewrite["attributes"]["rewriter"] == "TermRewriter"
    assert rewrite["attributes"]["turns"] == 2


def test_a_kept_conversation_needs_no_resent_history(
    server: tuple[LiveServer, str], client: OpenAI
) -> None:
    first = client.chat.completions.create(
        model="cairn",
        messages=[{"role": "user", "content": SETS}],
        extra_body={"cairn": {"conversation_id": "sets-1"}},
    )
    assert (first.model_extra or {})["cairn"]["conversation_id"] == "sets-1"
    stream = client.chat.completions.create(
        model="cairn",
        messages=[{"role": "user", "content": EMPTY_ONE}],
        extra_body={"cairn": {"conversation_id": "sets-1"}},
        stream=True,
    )
    with stream:
        final = [c for c in stream if c.choices[0].finish_reason is not None][-1]
    extension = (final.model_extra or {})["cairn"]
    assert extension["rewritten"] is True and "set" in extension["query"]
    assert {c["source"] for c in extension["citations"]} == {"tutorial/datastructures.html"}
    # the streamed turn was kept too: a third question still leans on the conversation
    _, third = ask_kept(client, "and can I add items to it?", "sets-1")
    assert third["rewritten"] is True and "set" in third["query"]


def ask_kept(client: OpenAI, question: str, conversation: str) -> tuple[str, dict[str, Any]]:
    completion = client.chat.completions.create(
        model="cairn",
        messages=[{"role": "user", "content": question}],
        extra_body={"cairn": {"conversation_id": conversation}},
    )
    return completion.choices[0].message.content or "", (completion.model_extra or {})["cairn"]


def test_a_conversation_belongs_to_its_user_and_tenant(
    server: tuple[LiveServer, str], ws: Path, client: OpenAI
) -> None:
    live, _ = server
    ask_kept(client, "How do I convert a Python object to a JSON string?", "mine")
    _, again = ask_kept(client, "and how do I turn it back into an object?", "mine")
    assert again["rewritten"] is True
    for tenant, name in (("acme", "bob"), ("globex", None)):
        key = create_key(ws, tenant, "ask", name=name)
        with OpenAI(base_url=live.url + "/v1", api_key=key, max_retries=0, timeout=60) as other:
            _, theirs = ask_kept(other, "and how do I turn it back into an object?", "mine")
        assert theirs["rewritten"] is False and theirs["conversation_id"] == "mine"


def test_a_conversation_may_start_from_the_messages(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model="cairn",
        messages=[
            {"role": "user", "content": "How do I use a list as a stack?"},
            {"role": "assistant", "content": "Use append() and pop() [1]."},
            {"role": "user", "content": "and as a queue?"},
        ],
        extra_body={"cairn": {"conversation_id": "imported"}},
    )
    assert (completion.model_extra or {})["cairn"]["rewritten"] is True
    _, later = ask_kept(client, "why is that slow?", "imported")
    assert later["rewritten"] is True and "list" in later["query"]


def test_a_bad_conversation_id_is_a_400(server: tuple[LiveServer, str]) -> None:
    live, key = server
    with httpx.Client(base_url=live.url, headers=bearer(key), timeout=30) as http:
        r = http.post(
            "/v1/chat/completions",
            json={
                "model": "cairn",
                "messages": [{"role": "user", "content": SETS}],
                "cairn": {"conversation_id": "no spaces allowed"},
            },
        )
    assert r.status_code in (400, 422)
    assert "conversation_id" in r.text


TOMLLIB = Path("/usr/share/doc/python3.11/html/library/tomllib.html")


@pytest.fixture(scope="module")
def toml_client(docs_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAI]:
    """A server over the three test pages and `library/tomllib.html` (local auth)."""
    import shutil

    from cairn.config import Settings
    from cairn.ingest.pipeline import ingest
    from cairn.server.app import create_app
    from cairn.workspace import Workspace

    if not TOMLLIB.is_file():
        pytest.skip("the demo corpus is missing: apt-get install -y python3.11-doc")
    corpus = tmp_path_factory.mktemp("toml-corpus")
    shutil.copytree(docs_corpus, corpus, dirs_exist_ok=True)
    shutil.copy(TOMLLIB, corpus / "library" / "tomllib.html")
    root = tmp_path_factory.mktemp("toml-ws")
    ws = Workspace(Settings(workspace=root), create=True)
    try:
        report = ingest(
            [corpus],
            store=ws.store,
            embedder=ws.embedder,
            tokenizer=ws.embedder.tokenizer,
            settings=ws.settings,
        )
    finally:
        ws.close()
    assert report.ingested == 4
    with (
        LiveServer(create_app(settings_for(root))) as live,
        OpenAI(base_url=live.url + "/v1", api_key="local", max_retries=0, timeout=60) as c,
    ):
        yield c


def test_the_toml_follow_up_retrieves_the_tomllib_page(toml_client: OpenAI) -> None:
    first, _ = ask(toml_client, [{"role": "user", "content": "How do I read a TOML file?"}])
    _, alone = ask(toml_client, [{"role": "user", "content": "and can it write them too?"}])
    _, extension = ask(
        toml_client,
        [
            {"role": "user", "content": "How do I read a TOML file?"},
            {"role": "assistant", "content": first},
            {"role": "user", "content": "and can it write them too?"},
        ],
    )
    assert "library/tomllib.html" not in {c["source"] for c in alone["citations"]}
    assert extension["query"] == "and can it write them too? (read, TOML, file)"
    assert extension["citations"] and not extension["abstained"]
    assert {c["source"] for c in extension["citations"]} == {"library/tomllib.html"}


def test_a_retried_request_is_stored_once_and_answered_as_the_first(
    ws: Path, client: OpenAI
) -> None:
    """A client retries a request whose reply it never got: the turns are kept once, and the
    retry does not see its own first try as history."""
    import sqlite3
    from contextlib import closing

    from cairn.conversation.store import CONVERSATIONS_FILE

    _, first = ask_kept(client, SETS, "retry-1")
    _, again = ask_kept(client, SETS, "retry-1")  # the retry
    assert again["rewritten"] is False and again["query"] == first["query"]
    with closing(sqlite3.connect(ws / CONVERSATIONS_FILE)) as db:
        roles = db.execute(
            "SELECT role FROM turns WHERE conversation = 'retry-1' ORDER BY rowid"
        ).fetchall()
    assert [r[0] for r in roles] == ["user", "assistant"]
