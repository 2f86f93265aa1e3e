"""Exactly once under kill -9: a run with three approved side-effecting calls is resumed by
real subprocesses that SIGKILL themselves at chosen points (before a write, after it and
before its result is recorded, before the next model call), one or more times in a row,
then by one that finishes. Every run ends with each effect exactly once: 0 duplicated, 0 lost.
A non-idempotent tool interrupted mid-call is not retried: the run fails for a human."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cairn.agent import Agent, AgentStore, RunView, ToolRegistry
from cairn.llm.base import ToolCall
from cairn.llm.replies import Reply
from cairn.llm.scripted import ScriptedModel
from tests.agent.tooling import append_line_tool

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ("alpha", "beta", "gamma")
POINTS = ["before:1", "after:1", "before:2", "after:2", "before:3", "after:3", "model:1"]
FIXED = [[p] for p in POINTS] + [["after:1", "after:1", "before:2"], ["after:3", "model:1"]]
RANDOM = [
    random.Random(seed).sample(POINTS, k=random.Random(seed).randint(1, 3)) for seed in range(11)
]


def approved_run(db: Path, log: Path, *, idempotent: bool = True) -> RunView:
    calls = tuple(
        ToolCall(id=f"t{i}", name="append_line", arguments={"text": t}) for i, t in enumerate(TEXTS)
    )
    with AgentStore(db) as store:
        registry = ToolRegistry.of([append_line_tool(log, idempotent=idempotent)])
        view = Agent(ScriptedModel(Reply(tool_calls=calls)), registry, store).start("log three")
        assert view.status == "awaiting_approval" and len(view.pending) == 3
        for call in view.pending:
            store.approve(view.id, call.call_id, actor="alice", args_digest=call.args_digest)
    return view


def resume(
    db: Path, log: Path, run_id: str, kill_at: str | None, *extra: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    env.pop("CAIRN_TEST_KILL_AT", None)
    if kill_at:
        env["CAIRN_TEST_KILL_AT"] = kill_at
    return subprocess.run(
        [sys.executable, "-m", "tests.agent.crash_worker", str(db), str(log), run_id, *extra],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("kills", FIXED + RANDOM, ids=lambda k: "+".join(k))
def test_killed_resumes_never_duplicate_or_lose_an_effect(tmp_path: Path, kills: list[str]) -> None:
    db, log = tmp_path / "agent.db", tmp_path / "log"
    view = approved_run(db, log)
    for n, kill in enumerate(kills):
        done = resume(db, log, view.id, kill)
        assert done.returncode in (-signal.SIGKILL, 0), done.stderr
        if n == 0:  # the first process has every point ahead of it
            assert done.returncode == -signal.SIGKILL, f"no kill at {kill}"
    final = resume(db, log, view.id, None)
    assert final.returncode == 0, final.stderr
    assert json.loads(final.stdout)["status"] == "done"
    with AgentStore(db) as store:
        calls = store.calls(view.id)
        assert [c.state for c in calls] == ["done"] * 3
        keys = {c.idempotency_key: c.args["text"] for c in calls}
        assert store.verify(view.id).ok
    written = [line.split(" ", 1) for line in log.read_text().splitlines()]
    assert sorted(k for k, _ in written) == sorted(keys)  # each effect exactly once
    assert all(keys[k] == text for k, text in written)


def test_a_kill_does_happen_at_each_point(tmp_path: Path) -> None:
    db, log = tmp_path / "agent.db", tmp_path / "log"
    view = approved_run(db, log)
    killed = resume(db, log, view.id, "after:2")
    assert killed.returncode == -signal.SIGKILL and killed.stdout == ""
    with AgentStore(db) as store:
        assert [c.state for c in store.calls(view.id)] == ["done", "executing", "ready"]
    assert len(log.read_text().splitlines()) == 2  # the second effect happened, unrecorded


def test_an_interrupted_non_idempotent_call_is_not_retried(tmp_path: Path) -> None:
    db, log = tmp_path / "agent.db", tmp_path / "log"
    view = approved_run(db, log, idempotent=False)
    killed = resume(db, log, view.id, "after:1", "--not-idempotent")
    assert killed.returncode == -signal.SIGKILL
    final = resume(db, log, view.id, None, "--not-idempotent")
    assert final.returncode == 0, final.stderr
    out = json.loads(final.stdout)
    assert out["status"] == "failed" and "not idempotent" in out["reason"]
    assert len(log.read_text().splitlines()) == 1  # not repeated
    with AgentStore(db) as store:
        assert [c.state for c in store.calls(view.id)] == ["failed", "ready", "ready"]
