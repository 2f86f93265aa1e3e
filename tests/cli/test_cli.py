"""The CLI end to end on the real model and a real SQLite workspace (in-process runner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.cli import app

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture(scope="module")
def workspace(docs_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("ws")
    result = runner.invoke(app, ["ingest", str(docs_corpus), "--workspace", str(ws), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["files"] == 3 and summary["ingested"] == 3 and summary["failed"] == 0
    assert summary["chunks"] > 50
    return ws


def invoke(*args: str) -> dict[str, object]:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_search_json_contract(workspace: Path) -> None:
    data = invoke(
        "search",
        "mutable default value for a dataclass field",
        "--json",
        "--workspace",
        str(workspace),
        "--k",
        "3",
    )
    assert data["query"] == "mutable default value for a dataclass field"
    results = data["results"]
    assert isinstance(results, list) and len(results) == 3
    keys = {"rank", "chunk_id", "doc_id", "source", "uri", "title", "section", "score", "text"}
    assert all(set(r) == keys | {"risk"} for r in results)
    assert all(set(r["risk"]) == {"score", "flagged", "reasons"} for r in results)  # ingest scan
    top = results[0]
    assert top["source"] == "library/dataclasses.html"
    assert "#" in top["uri"] and top["uri"].startswith("file://")
    assert [r["rank"] for r in results] == [1, 2, 3]


@pytest.mark.parametrize("mode", ["lexical", "dense", "hybrid"])
def test_every_mode_finds_the_json_module(workspace: Path, mode: str) -> None:
    data = invoke(
        "search",
        "serialize a Python object to a JSON formatted string",
        "--json",
        "--mode",
        mode,
        "--workspace",
        str(workspace),
    )
    results = data["results"]
    assert isinstance(results, list)
    assert any(r["source"] == "library/json.html" for r in results[:3])


def test_source_filter(workspace: Path) -> None:
    data = invoke(
        "search", "list", "--json", "--source", "tutorial/*", "--workspace", str(workspace)
    )
    results = data["results"]
    assert isinstance(results, list) and results
    assert {r["source"] for r in results} == {"tutorial/datastructures.html"}


def test_ask_json_contract_and_citations(workspace: Path) -> None:
    data = invoke(
        "ask",
        "How do I give a dataclass field a default list?",
        "--json",
        "--workspace",
        str(workspace),
    )
    assert set(data) >= {
        "answer",
        "abstained",
        "citations",
        "usage",
        "cost_usd",
        "latency_ms",
        "trace_id",
    }
    assert data["abstained"] is False
    answer = data["answer"]
    citations = data["citations"]
    assert isinstance(answer, str) and isinstance(citations, list) and citations
    assert "default_factory" in answer
    for c in citations:
        assert f"[{c['n']}]" in answer
        assert c["verified"] is True
        assert c["source"] and c["uri"].startswith("file://") and c["quote"]
    assert any(c["source"] == "library/dataclasses.html" for c in citations)


def test_ask_abstains_on_unrelated_question(workspace: Path) -> None:
    data = invoke(
        "ask",
        "What is the boiling point of water on Mount Everest?",
        "--json",
        "--workspace",
        str(workspace),
    )
    assert data["abstained"] is True and data["citations"] == []


def test_batch_ask_and_search(workspace: Path, tmp_path: Path) -> None:
    batch = tmp_path / "q.jsonl"
    batch.write_text(
        '{"id": "a", "question": "How do I decode JSON from a string?"}\n'
        "not json at all\n"
        '{"id": "c", "query": "list comprehension"}\n'
        '{"id": "d"}\n'
    )
    result = runner.invoke(app, ["ask", "--batch", str(batch), "--workspace", str(workspace)])
    assert result.exit_code == 1  # two bad lines, reported, the rest answered
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["a", 2, "c", "d"]
    assert "answer" in lines[0] and "answer" in lines[2]
    assert "invalid JSON" in lines[1]["error"]["message"]
    assert "question" in lines[3]["error"]["message"]
    assert lines[1]["error"]["code"] == lines[3]["error"]["code"] == "invalid_request"
    result = runner.invoke(app, ["search", "--batch", str(batch), "--workspace", str(workspace)])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[2]["query"] == "list comprehension" and lines[2]["results"]
    assert "error" in lines[0]  # search needs "query", not "question"


def test_rerun_is_incremental(workspace: Path, docs_corpus: Path) -> None:
    data = invoke("ingest", str(docs_corpus), "--workspace", str(workspace), "--json")
    assert (data["unchanged"], data["ingested"], data["embedded"]) == (3, 0, 0)


def test_force_ingests_unchanged_files_again_from_the_embedding_cache(
    workspace: Path, docs_corpus: Path
) -> None:
    """After an upgrade that changes ingest rules: every file again, no embedding redone."""
    data = invoke("ingest", str(docs_corpus), "--workspace", str(workspace), "--force", "--json")
    assert (data["unchanged"], data["ingested"], data["embedded"]) == (0, 3, 0)
    assert data["reused"] == data["chunks"] > 0
    again = invoke("ingest", str(docs_corpus), "--workspace", str(workspace), "--json")
    assert (again["unchanged"], again["ingested"]) == (3, 0)


def test_doctor_reports_config_and_workspace(workspace: Path) -> None:
    result = runner.invoke(app, ["doctor", "--json", "--workspace", str(workspace)])
    data = json.loads(result.stdout)
    assert data["config"]["retrieve"]["mode"] == "hybrid"
    assert int(data["checks"]["documents"]) == 3
    assert result.exit_code == (1 if data["problems"] else 0)


def test_missing_workspace_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["search", "x", "--workspace", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "cairn ingest" in result.stderr


def test_bad_config_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_CHUNK_TARGET_TOKENS", "-5")
    result = runner.invoke(app, ["doctor", "--workspace", str(tmp_path)])
    assert result.exit_code == 2
    assert "chunk.target_tokens" in result.stderr


def test_answer_cache_reuses_and_invalidates(workspace: Path, docs_corpus: Path) -> None:
    question = "What does json.loads do with a string?"
    first = invoke("ask", question, "--json", "--workspace", str(workspace))
    second = invoke("ask", question, "--json", "--workspace", str(workspace))
    assert first["cached"] is False and second["cached"] is True
    assert second["answer"] == first["answer"] and second["trace_id"] != first["trace_id"]
    fresh = invoke("ask", question, "--json", "--no-cache", "--workspace", str(workspace))
    assert fresh["cached"] is False
    # any change to the corpus bumps its generation: the cached answer is not served again
    extra = docs_corpus.parent / "extra-corpus"
    extra.mkdir(exist_ok=True)
    (extra / "note.md").write_text("# Note\n\nA new document about JSON decoding.\n")
    invoke("ingest", str(extra), "--workspace", str(workspace), "--json")
    after = invoke("ask", question, "--json", "--workspace", str(workspace))
    assert after["cached"] is False


def test_ask_is_traced_in_the_workspace(workspace: Path) -> None:
    from cairn.trace import SQLiteTraceStore

    data = invoke(
        "ask",
        "How do I sort a list in place?",
        "--json",
        "--no-cache",
        "--workspace",
        str(workspace),
    )
    store = SQLiteTraceStore(workspace / "traces.db")
    try:
        trace = store.get(str(data["trace_id"]), all_tenants=True)
    finally:
        store.close()
    assert trace is not None
    assert {s["name"] for s in trace["spans"]} >= {"retrieve", "answer", "verify"}
