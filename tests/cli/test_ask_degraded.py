"""`cairn ask --json` in degraded mode: refused by the budget or with the model down, it
prints a cited answer from the documents marked `degraded` (before: nothing on stdout)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.cli import app
from cairn.llm.fake_server import FakeLLMServer

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture(scope="module")
def workspace(docs_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("ws-degraded")
    result = runner.invoke(app, ["ingest", str(docs_corpus), "--workspace", str(ws), "--json"])
    assert result.exit_code == 0, result.output
    return ws


def _use_model(monkeypatch: pytest.MonkeyPatch, base_url: str, model: str) -> None:
    monkeypatch.setenv("CAIRN_LLM_PROVIDER", "openai")
    monkeypatch.setenv("CAIRN_LLM_BASE_URL", base_url)
    monkeypatch.setenv("CAIRN_LLM_MODEL", model)
    monkeypatch.setenv("CAIRN_LLM_API_KEY", "test-key")
    monkeypatch.setenv("CAIRN_LLM_PRICE_INPUT_PER_MTOK", "1.0")
    monkeypatch.setenv("CAIRN_LLM_PRICE_OUTPUT_PER_MTOK", "2.0")
    monkeypatch.setenv("CAIRN_LLM_RETRIES", "0")


def _ask(workspace: Path) -> dict[str, object]:
    result = runner.invoke(
        app, ["ask", "How do I parse JSON?", "--json", "--workspace", str(workspace)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, dict) and data["citations"] and not data["abstained"]
    assert data["cost_usd"] == 0.0
    return data


def test_a_spent_budget_answers_degraded(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeLLMServer() as fake:
        _use_model(monkeypatch, fake.url, "fake-model")
        monkeypatch.setenv("CAIRN_BUDGET_DAILY_USD", "0.0000001")
        data = _ask(workspace)
        assert fake.requests == []  # refused before any call
    degraded = data["degraded"]
    assert isinstance(degraded, dict) and degraded["reason"] == "budget_exhausted"
    assert "budget.daily_usd" in str(degraded["detail"])


def test_an_unreachable_model_answers_degraded(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_model(monkeypatch, "http://127.0.0.1:9/v1", "cli-unreachable")
    degraded = _ask(workspace)["degraded"]
    assert isinstance(degraded, dict) and degraded["reason"] == "unavailable"
