"""`cairn chat` end to end: questions piped on stdin, the real model and a real SQLite
workspace (in-process runner)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cairn.cli import app
from cairn.llm.fake_server import FakeLLMServer
from cairn.llm.replies import Responder, when

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture(scope="module")
def workspace(docs_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("ws")
    result = runner.invoke(app, ["ingest", str(docs_corpus), "--workspace", str(ws), "--json"])
    assert result.exit_code == 0, result.output
    return ws


def chat(workspace: Path, lines: list[str], *args: str) -> tuple[int, str]:
    result = runner.invoke(
        app, ["chat", "--workspace", str(workspace), "--no-cache", *args], input="\n".join(lines)
    )
    return result.exit_code, result.stdout


def turns(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_a_piped_conversation_keeps_its_subject(workspace: Path) -> None:
    code, out = chat(
        workspace,
        ["What is a set in Python?", "", "how do I make an empty one?", "and as a queue?"],
        "--json",
    )
    assert code == 0, out
    first, second, third = turns(out)
    assert [t["turn"] for t in (first, second, third)] == [1, 2, 3]
    assert first["rewritten"] is False and first["query"] == "What is a set in Python?"
    assert second["question"] == "how do I make an empty one?"
    assert second["rewritten"] is True and "set" in second["query"]
    assert "set()" in second["answer"] and not second["abstained"]
    assert {c["source"] for c in second["citations"]} == {"tutorial/datastructures.html"}
    assert third["rewritten"] is True  # a chain of follow-ups keeps the subject
    assert third["trace_id"] and third["citations"]


def test_quit_ends_the_conversation(workspace: Path) -> None:
    code, out = chat(
        workspace, ["What is a set in Python?", "quit", "How do I sort a list?"], "--json"
    )
    assert code == 0
    assert [t["question"] for t in turns(out)] == ["What is a set in Python?"]


def test_text_mode_cites_sources_and_says_what_it_searched(workspace: Path) -> None:
    result = runner.invoke(
        app,
        ["chat", "--workspace", str(workspace), "--no-cache"],
        input="What is a set in Python?\nhow do I make an empty one?\n",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Sources") == 2
    assert "set()" in result.stdout and "tutorial/datastructures.html" in result.stdout
    assert "searched for: how do I make an empty one? (set" in result.stderr


def test_a_bad_mode_is_refused(workspace: Path) -> None:
    code, _ = chat(workspace, ["What is a set?"], "--mode", "fuzzy")
    assert code == 2


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLMServer]:
    rules = [when(r"<conversation>", "How do I create an empty set in Python?")]
    with FakeLLMServer(responder=Responder(rules=rules)) as server:
        for name, value in {
            "PROVIDER": "openai",
            "BASE_URL": server.url,
            "MODEL": "fake-model",
            "API_KEY": "test-key",
            "PRICE_INPUT_PER_MTOK": "1.0",
            "PRICE_OUTPUT_PER_MTOK": "2.0",
            "RETRIES": "0",
        }.items():
            monkeypatch.setenv(f"CAIRN_LLM_{name}", value)
        yield server


def settled(ws: Path, trace_id: str) -> list[str]:
    with closing(sqlite3.connect(ws / "ledger.db")) as db:
        rows = db.execute(
            "SELECT model FROM ledger WHERE trace_id = ? AND status = 'settled'", (trace_id,)
        )
        return [r[0] for r in rows]


def test_with_a_model_the_model_rewrites_and_both_calls_are_metered(
    workspace: Path, fake: FakeLLMServer
) -> None:
    code, out = chat(
        workspace, ["What is a set in Python?", "how do I make an empty one?"], "--json"
    )
    assert code == 0, out
    first, second = turns(out)
    assert first["rewritten"] is False
    assert second["query"] == "How do I create an empty set in Python?"
    assert {c["source"] for c in second["citations"]} == {"tutorial/datastructures.html"}
    assert len(fake.requests) == 3  # answer; rewrite + answer
    assert "What is a set in Python?" in fake.requests[1].last_user
    assert settled(workspace, second["trace_id"]) == ["fake-model", "fake-model"]


def test_a_failed_model_rewrite_falls_back_to_the_terms(
    workspace: Path, fake: FakeLLMServer
) -> None:
    fake.push_faults("ok", "500")  # the second request (turn 2's rewrite) fails
    code, out = chat(
        workspace, ["What is a set in Python?", "how do I make an empty one?"], "--json"
    )
    assert code == 0, out
    second = turns(out)[1]
    assert second["query"] == "how do I make an empty one? (set)"
    assert not second["abstained"] and second["citations"]


def test_a_failed_turn_is_reported_and_the_conversation_goes_on(
    workspace: Path, fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_ANSWER_FALLBACK", "error")
    fake.push_faults("500")
    code, out = chat(workspace, ["What is a set in Python?", "How do I sort a list?"], "--json")
    assert code == 1
    failed, answered = turns(out)
    assert failed["turn"] == 1 and failed["question"] == "What is a set in Python?"
    assert failed["error"]["code"] == "upstream_error"
    assert answered["turn"] == 2 and answered["citations"] and not answered["rewritten"]
