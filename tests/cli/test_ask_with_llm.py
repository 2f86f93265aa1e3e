"""`cairn ask` with a configured LLM: the fake OpenAI-compatible server over real HTTP, the
real model and workspace; verified citations, cost in the ledger, budgets refused early."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.cli import app
from cairn.llm.fake_server import FakeLLMServer

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture(scope="module")
def workspace(docs_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("ws-llm")
    result = runner.invoke(app, ["ingest", str(docs_corpus), "--workspace", str(ws), "--json"])
    assert result.exit_code == 0, result.output
    return ws


@pytest.fixture
def fake() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def llm_env(fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> FakeLLMServer:
    monkeypatch.setenv("CAIRN_LLM_PROVIDER", "openai")
    monkeypatch.setenv("CAIRN_LLM_BASE_URL", fake.url)
    monkeypatch.setenv("CAIRN_LLM_MODEL", "fake-model")
    monkeypatch.setenv("CAIRN_LLM_API_KEY", "test-key")
    monkeypatch.setenv("CAIRN_LLM_PRICE_INPUT_PER_MTOK", "1.0")
    monkeypatch.setenv("CAIRN_LLM_PRICE_OUTPUT_PER_MTOK", "2.0")
    return fake


def ledger_rows(ws: Path) -> list[tuple[str, str, int]]:
    with closing(sqlite3.connect(ws / "ledger.db")) as db:
        cols = {r[1] for r in db.execute("PRAGMA table_info(ledger)")}
        assert {"trace_id", "model", "status"} <= cols
        return list(db.execute("SELECT trace_id, model, status FROM ledger"))


def test_generated_answer_is_cited_verified_and_costed(
    workspace: Path, llm_env: FakeLLMServer
) -> None:
    result = runner.invoke(
        app,
        [
            "ask",
            "How do I give a dataclass field a default list?",
            "--json",
            "--workspace",
            str(workspace),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["abstained"] is False and data["citations"]
    for citation in data["citations"]:
        assert f"[{citation['n']}]" in data["answer"]
        assert citation["verified"] is True
    assert data["usage"]["input_tokens"] > 0 and data["cost_usd"] > 0
    assert len(llm_env.requests) == 1
    rows = [r for r in ledger_rows(workspace) if r[0] == data["trace_id"]]
    assert [(model, status) for _, model, status in rows] == [("fake-model", "settled")]


def test_budget_refuses_before_any_model_call(
    workspace: Path, llm_env: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_BUDGET_REQUEST_USD", "0.000001")
    monkeypatch.setenv("CAIRN_ANSWER_FALLBACK", "error")  # degraded answers: test_ask_degraded
    result = runner.invoke(
        app, ["ask", "How do I parse JSON?", "--json", "--workspace", str(workspace)]
    )
    assert result.exit_code == 2
    assert "request" in result.stderr and "limit" in result.stderr.lower()
    assert llm_env.requests == []  # refused before the call


def test_unknown_model_price_is_a_clear_error(
    workspace: Path, fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_LLM_PROVIDER", "openai")
    monkeypatch.setenv("CAIRN_LLM_BASE_URL", fake.url)
    monkeypatch.setenv("CAIRN_LLM_API_KEY", "k")
    result = runner.invoke(
        app,
        [
            "ask",
            "How do I parse JSON?",
            "--model",
            "no-such-model-xyz",
            "--workspace",
            str(workspace),
        ],
    )
    assert result.exit_code == 2
    assert "no-such-model-xyz" in result.stderr and "PRICE" in result.stderr.upper()
    assert fake.requests == []


def test_extractive_requests_are_recorded_at_zero_cost(workspace: Path) -> None:
    result = runner.invoke(
        app, ["ask", "How do I parse JSON?", "--json", "--workspace", str(workspace)]
    )
    data = json.loads(result.stdout)
    assert data["cost_usd"] == 0.0
    rows = [r for r in ledger_rows(workspace) if r[0] == data["trace_id"]]
    assert [(model, status) for _, model, status in rows] == [("extractive", "settled")]


def test_routing_and_shadow_from_cairn_toml(
    workspace: Path, fake: FakeLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[router]` and `[shadow]` in cairn.toml: the route on the answer and on every ledger
    line, the candidate's comparison stored and reported by `cairn eval shadow`."""
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(workspace, ws)
    (ws / "cairn.toml").write_text(
        f"""
[llm]
provider = "openai"
base_url = "{fake.url}"
model = "gpt-4o"
api_key = "test-key"

[llm.routes.cheap]
model = "gpt-4o-mini"

[llm.routes.shadow]
model = "gpt-4o-mini"

[router]
mode = "difficulty"
extractive = false
min_confidence = 0.0

[shadow]
fraction = 1.0
"""
    )
    for name in ("PROVIDER", "BASE_URL", "MODEL", "API_KEY"):
        monkeypatch.delenv(f"CAIRN_LLM_{name}", raising=False)
    routes = []
    for question in (
        "How do I give a dataclass field a default list?",
        "What is the difference between a dataclass and a namedtuple?",
    ):
        result = runner.invoke(app, ["ask", question, "--workspace", str(ws), "--json"])
        assert result.exit_code == 0, result.output
        routes.append(json.loads(result.output)["route"])
    assert routes[1]["route"] == "strong" and routes[1]["reason"] == "multi-hop question"
    assert routes[0]["route"] in ("cheap", "escalated", "strong")
    with closing(sqlite3.connect(ws / "ledger.db")) as db:
        lines = list(db.execute("SELECT feature, model, route FROM ledger ORDER BY seq"))
    answered = [(m, r) for f, m, r in lines if f == "ask"]
    assert ("gpt-4o", "strong") in answered
    shadowed = [(m, r) for f, m, r in lines if f == "shadow"]
    assert shadowed and {m for m, _ in shadowed} == {"gpt-4o-mini"}
    report = runner.invoke(app, ["eval", "shadow", "--workspace", str(ws), "--json"])
    assert report.exit_code == 0, report.output
    data = json.loads(report.output)
    # only the primary (strong) model's answers are compared with the candidate's
    strong = sum(r["route"] == "strong" for r in routes)
    assert data["pairs"] == strong >= 1 and data["candidate_models"] == ["gpt-4o-mini"]
    costs = runner.invoke(app, ["costs", "--workspace", str(ws), "--json"])
    by_route = {row["route"] for row in json.loads(costs.output)["by_route"]}
    assert "strong" in by_route
