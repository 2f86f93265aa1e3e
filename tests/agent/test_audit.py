"""The audit log: append-only in the database, and `verify` finds an edited record, a
deleted record in the middle and a deleted tail."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from itertools import pairwise
from pathlib import Path

import pytest

from cairn.agent import Agent, AgentStore, ToolRegistry
from cairn.llm.replies import Reply
from cairn.llm.scripted import ScriptedModel
from tests.agent.tooling import append_line_tool, echo_tool


def finished_run(db: Path, log: Path) -> str:
    with AgentStore(db) as store:
        registry = ToolRegistry.of([echo_tool(), append_line_tool(log)])
        model = ScriptedModel(
            Reply.call("echo", {"q": "x"}), Reply.call("append_line", {"text": "y"})
        )
        agent = Agent(model, registry, store)
        view = agent.start("do it")
        store.approve(view.id, view.pending[0].call_id, actor="alice")
        agent.provider = ScriptedModel("ok")
        assert agent.resume(view.id).status == "done"
        records = store.audit(view.id)
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        assert all(r.prev == p.hash for p, r in pairwise(records))
        model_calls = [r.payload for r in records if r.kind == "model_call"]
        assert [m["model"] for m in model_calls] == ["scripted"] * 3
        assert all(m["usage"]["input_tokens"] > 0 for m in model_calls)
        done = [r.payload for r in records if r.kind == "execution_done"]
        assert all(d["result_digest"] for d in done) and len(done) == 2
        assert store.verify(view.id).ok
        return view.id


def tamper(db: Path, *statements: str) -> None:
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("DROP TRIGGER agent_audit_no_update")
        conn.execute("DROP TRIGGER agent_audit_no_delete")
        for statement in statements:
            conn.execute(statement)
        conn.commit()


def test_the_log_is_append_only_in_the_database(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    run_id = finished_run(db, tmp_path / "log")
    with closing(sqlite3.connect(db)) as conn:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE agent_audit SET payload = '{}' WHERE run_id = ?", (run_id,))
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM agent_audit WHERE run_id = ?", (run_id,))


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        (
            "UPDATE agent_audit SET payload = replace(payload, 'alice', 'mallory') "
            "WHERE kind = 'approval'",
            "was changed after it was written",
        ),
        ("DELETE FROM agent_audit WHERE seq = 4", "record 4 is missing"),
        ("DELETE FROM agent_audit WHERE seq = (SELECT MAX(seq) FROM agent_audit)", "deleted"),
    ],
    ids=["edit", "delete-middle", "delete-tail"],
)
def test_verify_detects_edits_and_deletions(tmp_path: Path, statement: str, problem: str) -> None:
    db = tmp_path / "agent.db"
    run_id = finished_run(db, tmp_path / "log")
    tamper(db, statement)
    with AgentStore(db) as store:
        result = store.verify(run_id)
    assert not result.ok
    assert any(problem in p for p in result.problems), result.problems
