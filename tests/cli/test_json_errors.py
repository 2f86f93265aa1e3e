"""With `--json`, every failure of a command prints one JSON object on stdout, the API's error
shape with its codes (`{"error": {"code", "message", ...}}`), and keeps its exit status; a
batch writes an error object for each failed line and goes on with the rest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cairn.cli import app
from cairn.llm.fake_server import FakeLLMServer

runner = CliRunner()


@pytest.fixture(scope="module")
def workspace(docs_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("ws-json-errors")
    result = runner.invoke(app, ["ingest", str(docs_corpus), "--workspace", str(ws), "--json"])
    assert result.exit_code == 0, result.output
    return ws


@pytest.fixture
def fake() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


def use_llm(monkeypatch: pytest.MonkeyPatch, base_url: str) -> None:
    """Configure the model; where answers can fall back to the extractive answerer when the
    model cannot serve (`answer.fallback`), ask for the error instead, which is under test."""
    from cairn.config import AnswerSettings

    if "fallback" in AnswerSettings.model_fields:
        monkeypatch.setenv("CAIRN_ANSWER_FALLBACK", "error")
    monkeypatch.setenv("CAIRN_LLM_PROVIDER", "openai")
    monkeypatch.setenv("CAIRN_LLM_BASE_URL", base_url)
    monkeypatch.setenv("CAIRN_LLM_MODEL", "fake-model")
    monkeypatch.setenv("CAIRN_LLM_API_KEY", "test-key")
    monkeypatch.setenv("CAIRN_LLM_PRICE_INPUT_PER_MTOK", "1.0")
    monkeypatch.setenv("CAIRN_LLM_PRICE_OUTPUT_PER_MTOK", "2.0")


def json_error(args: list[str], exit_code: int) -> dict[str, Any]:
    """Run the command; its stdout must be exactly one JSON error object."""
    result = runner.invoke(app, args)
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    body = json.loads(lines[0])
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert isinstance(error["code"], str) and error["message"]
    assert error["exit_code"] == exit_code
    return error


QUESTION = "How do I parse JSON from a string?"


def test_budget_refusal_is_a_json_error(
    workspace: Path, fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_llm(monkeypatch, fake.url)
    monkeypatch.setenv("CAIRN_BUDGET_DAILY_USD", "0.0000001")
    error = json_error(["ask", QUESTION, "--json", "--no-cache", "-w", str(workspace)], 2)
    assert error["code"] == "budget_exceeded" and error["status"] == 402
    assert "daily" in error["message"].lower()
    assert fake.requests == []


def test_provider_outage_is_a_json_error(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_llm(monkeypatch, "http://127.0.0.1:9/v1")  # nothing listens on port 9
    monkeypatch.setenv("CAIRN_LLM_RETRIES", "0")
    error = json_error(["ask", QUESTION, "--json", "--no-cache", "-w", str(workspace)], 2)
    # The API answers an outage 503 with the degradation reason; the CLI reports the same.
    assert (error["code"], error["status"], error["reason"]) == (
        "upstream_error",
        503,
        "unavailable",
    )


def test_batch_writes_an_error_object_per_failed_line_and_goes_on(
    workspace: Path, fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_llm(monkeypatch, fake.url)
    monkeypatch.setenv("CAIRN_BUDGET_DAILY_USD", "0.0000001")
    batch = tmp_path / "q.jsonl"
    batch.write_text(
        json.dumps({"id": "a", "question": QUESTION})
        + "\nnot json\n"
        + json.dumps({"id": "c", "question": "How do I sort a list in place?"})
        + "\n"
    )
    result = runner.invoke(app, ["ask", "--batch", str(batch), "--no-cache", "-w", str(workspace)])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["a", 2, "c"]
    codes = [line["error"]["code"] for line in lines]
    assert codes == ["budget_exceeded", "invalid_request", "budget_exceeded"]
    assert "invalid JSON" in lines[1]["error"]["message"]


def test_missing_workspace(tmp_path: Path) -> None:
    for args in (
        ["search", "x"],
        ["ask", "x"],
        ["costs"],
    ):
        error = json_error([*args, "--json", "-w", str(tmp_path / "none")], 2)
        assert error["code"] == "workspace_unavailable", args
        assert "no workspace at" in error["message"]


def test_invalid_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_CHUNK_TARGET_TOKENS", "-5")
    for args in (
        ["doctor"],
        ["search", "x"],
        ["ingest", str(tmp_path)],
        ["costs"],
        ["keys", "list"],
    ):
        error = json_error([*args, "--json", "-w", str(tmp_path)], 2)
        assert error["code"] == "configuration_error", args
        assert "chunk.target_tokens" in error["message"]


def test_bad_filter_and_bad_arguments(workspace: Path) -> None:
    ws = ["-w", str(workspace), "--json"]
    error = json_error(["search", "json", "--source", "", *ws], 2)
    assert error["code"] == "bad_request" and "--source" in error["message"]
    error = json_error(["ask", "json", "--tag", " ", *ws], 2)
    assert error["code"] == "bad_request" and "--tag" in error["message"]
    error = json_error(["search", "json", "--mode", "fuzzy", *ws], 2)
    assert error["code"] == "bad_request" and "fuzzy" in error["message"]
    error = json_error(["search", "json", "--k", "0", *ws], 2)  # rejected by the parser
    assert error["code"] == "invalid_request" and "--k" in error["message"]
    error = json_error(["eval", "run", "--mode", "fuzzy", *ws], 2)
    assert error["code"] == "bad_request" and "fuzzy" in error["message"]


def test_an_unexpected_failure_is_a_json_error_too(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cairn.workspace import Workspace

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Workspace, "retriever", broken)
    error = json_error(["search", "json", "--json", "-w", str(workspace)], 1)
    assert error["code"] == "internal_error"


def test_without_json_failures_stay_off_stdout(tmp_path: Path) -> None:
    result = runner.invoke(app, ["search", "x", "-w", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert result.stdout == "" and "cairn ingest" in result.stderr
