"""`cairn agent` end to end: the fake OpenAI-compatible server over real HTTP, the real
workspace and retriever; a run that searches the docs, asks to write a note, waits for
approval, resumes in a later command, and leaves an intact audit log."""

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
from cairn.llm.replies import Reply
from cairn.trace import open_trace_store

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture(scope="module")
def workspace(docs_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("ws-agent")
    result = runner.invoke(app, ["ingest", str(docs_corpus), "--workspace", str(ws), "--json"])
    assert result.exit_code == 0, result.output
    return ws


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        monkeypatch.setenv("CAIRN_LLM_PROVIDER", "openai")
        monkeypatch.setenv("CAIRN_LLM_BASE_URL", server.url)
        monkeypatch.setenv("CAIRN_LLM_MODEL", "fake-model")
        monkeypatch.setenv("CAIRN_LLM_API_KEY", "test-key")
        monkeypatch.setenv("CAIRN_LLM_PRICE_INPUT_PER_MTOK", "1.0")
        monkeypatch.setenv("CAIRN_LLM_PRICE_OUTPUT_PER_MTOK", "2.0")
        yield server


def cli(workspace: Path, *args: str) -> dict[str, object]:
    result = runner.invoke(app, ["agent", *args, "--json", "--workspace", str(workspace)])
    assert result.exit_code == 0, result.output
    out: dict[str, object] = json.loads(result.stdout)
    return out


def test_run_waits_for_approval_then_resumes_exactly_once(
    workspace: Path, fake: FakeLLMServer
) -> None:
    fake.enqueue(
        Reply.call("search_docs", {"query": "dataclass field default list"}, id="s1"),
        Reply.call("write_note", {"name": "defaults", "text": "Use default_factory."}, id="w1"),
        "Wrote the note on defaults.",
    )
    started = cli(workspace, "run", "Write a note on dataclass defaults")
    assert started["status"] == "awaiting_approval"
    assert set(started) >= {"run_id", "status", "pending", "steps", "cost_usd", "trace_id"}
    [pending] = started["pending"]  # type: ignore[misc]
    assert pending["tool"] == "write_note" and pending["args"]["name"] == "defaults"
    assert len(pending["args_digest"]) == 64
    assert started["steps"] == 2 and float(started["cost_usd"]) > 0  # type: ignore[arg-type]
    note = workspace / "notes" / "defaults.md"
    assert not note.exists()

    # the model saw the tools, and the search result went back as a role "tool" message
    second = fake.requests[1]
    assert {t.name for t in second.tools} == {
        "search_docs", "read_chunk", "ask_docs", "draft_reply", "write_note"
    }  # fmt: skip
    tool_msg = second.messages[-1]
    assert tool_msg.role == "tool" and tool_msg.tool_call_id == "s1"
    assert json.loads(tool_msg.content)["passages"][0]["chunk_id"]

    run_id = str(started["run_id"])
    done = cli(
        workspace, "approve", run_id, pending["call_id"], "--digest", pending["args_digest"][:12],
        "--as", "alice",
    )  # fmt: skip
    assert done["status"] == "done" and done["pending"] == []
    assert done["answer"] == "Wrote the note on defaults."
    assert note.read_text().endswith("Use default_factory.\n")

    again = cli(workspace, "approve", run_id, pending["call_id"], "--as", "bob")
    assert again["status"] == "done" and "already approved by alice" in str(again["note"])
    assert len(fake.requests) == 3  # approving twice ran nothing

    traces = open_trace_store(workspace)
    try:
        trace = traces.get(str(started["trace_id"]), all_tenants=True)
    finally:
        traces.close()
    assert trace is not None and trace["attributes"]["run_id"] == run_id
    assert "tool" in {s["name"] for s in trace["spans"]}
    shown = cli(workspace, "show", run_id)
    assert [c["state"] for c in shown["calls"]] == ["done", "done"]  # type: ignore[union-attr,index]
    audit = cli(workspace, "audit", run_id, "--verify")
    assert audit["verify"] == {"ok": True, "records": len(audit["records"]), "problems": []}  # type: ignore[arg-type]
    approvals = [r for r in audit["records"] if r["kind"] == "approval"]  # type: ignore[union-attr,index]
    assert approvals[0]["payload"]["actor"] == "alice"

    with closing(sqlite3.connect(workspace / "agent.db")) as db:
        db.execute("DROP TRIGGER agent_audit_no_update")
        db.execute("UPDATE agent_audit SET payload = replace(payload, 'alice', 'eve')")
        db.commit()
    broken = runner.invoke(
        app, ["agent", "audit", run_id, "--verify", "--workspace", str(workspace)]
    )
    assert broken.exit_code == 1 and "BROKEN" in broken.output


def test_reject_and_errors(workspace: Path, fake: FakeLLMServer) -> None:
    fake.enqueue(Reply.call("write_note", {"name": "x", "text": "y"}), "Understood.")
    started = cli(workspace, "run", "write x")
    call_id = started["pending"][0]["call_id"]  # type: ignore[index]
    done = cli(workspace, "reject", str(started["run_id"]), call_id, "--reason", "not now")
    assert done["status"] == "done" and not (workspace / "notes" / "x.md").exists()
    missing = runner.invoke(
        app, ["agent", "show", "run_nope", "--json", "--workspace", str(workspace)]
    )
    assert (
        missing.exit_code == 2 and "no agent run" in json.loads(missing.stdout)["error"]["message"]
    )


def test_edit_needs_its_own_approval_and_dry_run_writes_nothing(
    workspace: Path, fake: FakeLLMServer
) -> None:
    fake.enqueue(Reply.call("write_note", {"name": "draft", "text": "v1"}), "Done.")
    started = cli(workspace, "run", "write a draft")
    run_id, old = str(started["run_id"]), started["pending"][0]  # type: ignore[index]
    bad = runner.invoke(
        app,
        ["agent", "edit", run_id, old["call_id"], "--args", '{"name": "draft"}', "--json",
         "--workspace", str(workspace)],
    )  # fmt: skip
    assert bad.exit_code == 2 and "text: Field required" in bad.output
    edited = cli(
        workspace, "edit", run_id, old["call_id"], "--args", '{"name": "final", "text": "v2"}'
    )
    new = edited["pending"][0]  # type: ignore[index]
    assert (
        new["args"] == {"name": "final", "text": "v2"} and new["args_digest"] != old["args_digest"]
    )
    stale = runner.invoke(
        app,
        ["agent", "approve", run_id, old["call_id"], "--digest", old["args_digest"][:12],
         "--json", "--workspace", str(workspace)],
    )  # fmt: skip
    assert stale.exit_code == 2 and "arguments changed" in stale.output
    done = cli(workspace, "approve", run_id, new["call_id"], "--digest", new["args_digest"])
    assert done["status"] == "done"
    assert (workspace / "notes" / "final.md").exists()
    assert not (workspace / "notes" / "draft.md").exists()

    fake.enqueue(Reply.call("write_note", {"name": "dry", "text": "x"}), "Would write it.")
    dry = cli(workspace, "run", "write dry", "--dry-run")
    assert dry["status"] == "done" and dry["pending"] == []
    assert not (workspace / "notes" / "dry.md").exists()


def test_run_without_a_model_says_how_to_configure_one(workspace: Path) -> None:
    result = runner.invoke(app, ["agent", "run", "x", "--json", "--workspace", str(workspace)])
    assert result.exit_code == 2
    assert "cairn fake-llm" in json.loads(result.stdout)["error"]["message"]


def test_a_run_resumed_from_the_command_line_reads_only_its_tenants_documents(
    tmp_path: Path, fake: FakeLLMServer
) -> None:
    from cairn.agent import AgentStore
    from cairn.agent.builtin import SearchIn
    from cairn.cli.agent import _agent

    corpus, private = tmp_path / "public", tmp_path / "globex"
    corpus.mkdir()
    private.mkdir()
    (corpus / "reset.md").write_text("# Reset\n\nPasswords are reset from the zephyr login page.\n")
    (private / "phones.md").write_text("# Phones\n\nThe zephyr escalation phone is 555-0100.\n")
    ws = tmp_path / "ws"
    from cairn.config import load_settings
    from cairn.ingest.pipeline import ingest
    from cairn.workspace import Workspace

    workspace = Workspace(load_settings(workspace=ws), create=True)
    try:
        for folder, acl in ((corpus, ()), (private, ("globex",))):
            report = ingest(
                [folder],
                store=workspace.store,
                embedder=workspace.embedder,
                tokenizer=workspace.embedder.tokenizer,
                settings=workspace.settings,
                acl=acl,
            )
            assert report.ingested == 1
    finally:
        workspace.close()
    store = AgentStore.in_workspace(ws)
    try:  # a run started over the API by tenant acme, now approved from the command line
        run = store.create_run("Find the zephyr page", [], trace_id="t" * 32, tenant="acme")
    finally:
        store.close()
    with _agent(ws, run_id=run.id) as agent:
        out = agent.registry.get("search_docs").call(
            SearchIn(query="zephyr escalation phone"), idempotency_key="k"
        )
    sources = {p.source for p in out.passages}  # type: ignore[attr-defined]
    assert sources == {"reset.md"}  # globex's document stays out
