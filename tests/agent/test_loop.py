"""The loop with a scripted model: tool calls fed back as tool messages, approvals that pause
the run durably and resume from new objects, policies, limits, loop detection, bounded
retries on bad arguments and tool errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from cairn.agent import Agent, AgentStore, ApprovalError, Limits, ToolRegistry, digest
from cairn.budget.errors import BudgetExceeded
from cairn.llm.errors import ProviderUnavailable
from cairn.llm.replies import Reply
from cairn.llm.scripted import ScriptedModel
from cairn.trace import RecordingTracer
from cairn.trace.memory import MemoryTraceStore
from tests.agent.conftest import Clock
from tests.agent.tooling import append_line_tool, echo_tool


def make_agent(store: AgentStore, model: ScriptedModel, log: Path, **kwargs: object) -> Agent:
    registry = ToolRegistry.of([echo_tool(), append_line_tool(log)])
    return Agent(model, registry, store, **kwargs)  # type: ignore[arg-type]


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_read_only_calls_run_and_results_go_back_as_tool_messages(
    store: AgentStore, tmp_path: Path
) -> None:
    model = ScriptedModel(Reply.call("echo", {"q": "cats", "k": 2}, id="t1"), "Found cats-0.")
    view = make_agent(store, model, tmp_path / "log").start("find cats")
    assert view.status == "done" and view.run.answer == "Found cats-0."
    assert view.run.steps == 2 and view.run.tool_calls == 1
    second = model.history[1]
    assert [t.name for t in second.tools] == ["append_line", "echo"]
    tool_msg = second.messages[-1]
    assert tool_msg.role == "tool" and tool_msg.tool_call_id == "t1"
    assert json.loads(tool_msg.content) == {"results": ["cats-0", "cats-1"]}
    assert [c.state for c in view.calls] == ["done"]


def test_side_effect_waits_for_approval_and_resumes_in_a_fresh_process(
    tmp_path: Path, clock: Clock
) -> None:
    db, log = tmp_path / "agent.db", tmp_path / "log"
    with AgentStore(db, clock=clock) as store:
        model = ScriptedModel(Reply.call("append_line", {"text": "hello"}))
        view = make_agent(store, model, log).start("write hello")
        assert view.status == "awaiting_approval"
        [pending] = view.pending
        assert pending.tool == "append_line" and pending.args == {"text": "hello"}
        assert lines(log) == []  # nothing happened yet
    # a new process: new store, new model, new agent over the same file
    with AgentStore(db, clock=clock) as store:
        call, note = store.approve(view.id, pending.call_id, actor="alice")
        assert note is None and call.state == "ready"
        again, note = store.approve(view.id, pending.call_id, actor="bob")
        assert note is not None and "already approved by alice" in note
        assert again.state == "ready"
        model = ScriptedModel("Wrote it.")
        done = make_agent(store, model, log).resume(view.id)
        assert done.status == "done" and done.run.answer == "Wrote it."
        [call] = done.calls
        assert call.state == "done" and call.idempotency_key
        assert lines(log) == [f"{call.idempotency_key} hello"]
        kinds = [r.kind for r in store.audit(view.id)]
        assert kinds == [
            "run_started", "model_call", "tool_call", "approval", "execution",
            "execution_done", "model_call", "run_finished",
        ]  # fmt: skip
        approval = store.audit(view.id)[3].payload
        assert approval["actor"] == "alice" and approval["args_digest"] == pending.args_digest
        assert store.verify(view.id).ok


def test_rejection_tells_the_model_and_nothing_happens(store: AgentStore, tmp_path: Path) -> None:
    log = tmp_path / "log"
    model = ScriptedModel(Reply.call("append_line", {"text": "spam"}), "OK, I will not.")
    agent = make_agent(store, model, log)
    view = agent.start("write spam")
    call, _ = store.reject(view.id, view.pending[0].call_id, actor="carol", reason="no spam")
    assert call.state == "rejected"
    done = agent.resume(view.id)
    assert done.status == "done" and lines(log) == []
    assert "carol" in model.history[-1].messages[-1].content
    assert "no spam" in model.history[-1].messages[-1].content


def test_an_edited_call_needs_its_own_approval(store: AgentStore, tmp_path: Path) -> None:
    log = tmp_path / "log"
    agent = make_agent(store, ScriptedModel(Reply.call("append_line", {"text": "draft"})), log)
    view = agent.start("write")
    old = view.pending[0]
    store.edit(view.id, old.call_id, {"text": "final"}, digest({"text": "final"}), actor="dana")
    with pytest.raises(ApprovalError, match="arguments changed"):
        store.approve(view.id, old.call_id, actor="erin", args_digest=old.args_digest)
    store.approve(view.id, old.call_id, actor="erin", args_digest=digest({"text": "final"}))
    agent.provider = ScriptedModel("done")
    assert agent.resume(view.id).status == "done"
    assert [line.split(" ", 1)[1] for line in lines(log)] == ["final"]


def test_deny_policy_and_dry_run(store: AgentStore, tmp_path: Path) -> None:
    log = tmp_path / "log"
    model = ScriptedModel(Reply.call("append_line", {"text": "x"}), "Cannot.")
    denied = make_agent(store, model, log, policies={"append_line": "deny"}).start("write")
    assert denied.status == "done" and [c.state for c in denied.calls] == ["denied"]
    assert "not allowed by policy" in model.history[-1].messages[-1].content
    model = ScriptedModel(Reply.call("append_line", {"text": "x"}), "Would write.")
    dry = make_agent(store, model, log).start("write", dry_run=True)
    assert dry.status == "done" and dry.calls[0].result["written"] is False
    assert lines(log) == []


def test_bad_arguments_and_tool_errors_are_retried_a_bounded_number_of_times(
    store: AgentStore, tmp_path: Path
) -> None:
    model = ScriptedModel(
        Reply.call("echo", {"k": 2}), Reply.call("echo", {"q": "ok"}), "Done after a fix."
    )
    view = make_agent(store, model, tmp_path / "log").start("look up")
    assert view.status == "done"
    assert [c.state for c in view.calls] == ["invalid", "done"]
    assert "q: Field required" in model.history[1].messages[-1].content
    model = ScriptedModel(*(Reply.call("echo", {"q": "boom", "k": k}) for k in (1, 2, 3)))
    view = make_agent(store, model, tmp_path / "log").start("look up")
    assert view.status == "failed" and "3 tool calls in a row failed" in (view.run.reason or "")
    assert "the index is offline" in model.history[1].messages[-1].content


def test_repeating_the_same_call_stops_the_run(store: AgentStore, tmp_path: Path) -> None:
    model = ScriptedModel(*[Reply.call("echo", {"q": "same"})] * 5)
    view = make_agent(store, model, tmp_path / "log").start("loop")
    assert view.status == "stopped" and "loop detected" in (view.run.reason or "")
    assert len(model.history) == 3


def test_step_tool_call_and_wall_time_limits(
    store: AgentStore, tmp_path: Path, clock: Clock
) -> None:
    model = ScriptedModel(*(Reply.call("echo", {"q": f"q{i}"}) for i in range(10)))
    view = make_agent(store, model, tmp_path / "log", limits=Limits(max_steps=3)).start("go")
    assert view.status == "stopped" and view.run.steps == 3 and "step limit" in str(view.run.reason)
    model = ScriptedModel(*(Reply.call("echo", {"q": f"q{i}"}) for i in range(10)))
    view = make_agent(store, model, tmp_path / "log", limits=Limits(max_tool_calls=2)).start("go")
    assert view.status == "stopped" and "tool call limit" in str(view.run.reason)

    def slow(request: object) -> Reply:
        clock.advance(40)
        return Reply.call("echo", {"q": str(clock.now)})

    model = ScriptedModel(default=slow)
    view = make_agent(store, model, tmp_path / "log", limits=Limits(max_wall_s=100)).start("go")
    assert view.status == "stopped" and "wall time" in str(view.run.reason)
    assert view.run.steps == 3


def test_waiting_for_a_human_does_not_count_against_wall_time(
    store: AgentStore, tmp_path: Path, clock: Clock
) -> None:
    log = tmp_path / "log"
    agent = make_agent(
        store, ScriptedModel(Reply.call("append_line", {"text": "a"})), log,
        limits=Limits(max_wall_s=60),
    )  # fmt: skip
    view = agent.start("write")
    clock.advance(3600)  # the approver took an hour
    store.approve(view.id, view.pending[0].call_id, actor="alice")
    agent.provider = ScriptedModel("done")
    assert agent.resume(view.id).status == "done"


def test_token_and_cost_limits(store: AgentStore, tmp_path: Path) -> None:
    model = ScriptedModel(*(Reply.call("echo", {"q": f"q{i}"}) for i in range(10)))
    view = make_agent(store, model, tmp_path / "log", limits=Limits(max_tokens=1)).start("go")
    assert view.status == "stopped" and "token limit" in str(view.run.reason)
    assert view.run.steps == 1 and view.run.tokens > 1


def test_one_process_drives_a_run_at_a_time(
    store: AgentStore, tmp_path: Path, clock: Clock
) -> None:
    log = tmp_path / "log"
    agent = make_agent(store, ScriptedModel(Reply.call("append_line", {"text": "a"})), log)
    view = agent.start("write")
    store.approve(view.id, view.pending[0].call_id, actor="alice")
    agent.provider = ScriptedModel("done")
    host = socket.gethostname()
    assert store.claim(view.id, f"{host}:{os.getpid()}:other", 60) is None  # a live driver
    busy = agent.resume(view.id)
    assert busy.status == "running" and "another process" in str(busy.note) and lines(log) == []
    clock.advance(61)  # its lease ran out
    assert agent.resume(view.id).status == "done" and len(lines(log)) == 1

    view = make_agent(store, ScriptedModel(Reply.call("append_line", {"text": "b"})), log).start(
        "w"
    )
    store.approve(view.id, view.pending[0].call_id, actor="alice")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert store.claim(view.id, f"{host}:{dead.pid}:crashed", 600) is None
    agent = make_agent(store, ScriptedModel("done"), log)
    assert agent.resume(view.id).status == "done"  # a dead driver's lease is taken over


def test_each_step_and_tool_call_is_a_span_of_the_run_trace(
    store: AgentStore, tmp_path: Path
) -> None:
    traces = MemoryTraceStore()
    model = ScriptedModel(Reply.call("echo", {"q": "x"}), "ok")
    agent = make_agent(store, model, tmp_path / "log", tracer=RecordingTracer([], store=traces))
    view = agent.start("look")
    trace = traces.get(view.run.trace_id)
    assert trace is not None and trace["name"] == "agent"
    assert trace["attributes"]["status"] == "done" and trace["attributes"]["feature"] == "agent"
    spans = [(s["name"], s["attributes"]) for s in trace["spans"]]
    assert [name for name, _ in spans if name != "agent"] == [
        "model",
        "guard.tool",
        "tool",
        "model",
    ]
    guard = next(a for n, a in spans if n == "guard.tool")
    assert guard["decision"] == "pass" and guard["reason"] == "no_side_effect"
    tool = next(a for n, a in spans if n == "tool")
    assert tool["tool"] == "echo" and tool["state"] == "done"
    assert next(a for n, a in spans if n == "model")["tool_calls"] == ["echo"]


def test_model_failures_and_budget_refusals_end_the_run_with_a_reason(
    store: AgentStore, tmp_path: Path
) -> None:
    model = ScriptedModel(ProviderUnavailable("upstream 503", provider="scripted", model="m"))
    view = make_agent(store, model, tmp_path / "log").start("go")
    assert view.status == "failed" and "upstream 503" in str(view.run.reason)
    refused = BudgetExceeded(
        limit="daily", setting="budget.daily_usd", limit_usd=Decimal("1"), spent_usd=Decimal("1"),
        reserved_usd=Decimal("0"), request_usd=Decimal("0.01"),
    )  # fmt: skip
    view = make_agent(store, ScriptedModel(refused), tmp_path / "log").start("go")
    assert view.status == "stopped" and "budget" in str(view.run.reason)
    assert store.verify(view.id).ok


def test_a_tool_needing_scopes_the_caller_lacks_is_denied(
    store: AgentStore, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    model = ScriptedModel(Reply.call("append_line", {"text": "x"}), "Not allowed.")
    view = make_agent(
        store, model, log, scopes={"search"}, policies={"append_line": "always"}
    ).start("write")
    assert view.status == "done" and [c.state for c in view.calls] == ["denied"]
    assert lines(log) == []


def test_a_side_effect_whose_reply_does_not_fit_is_done_not_failed(
    store: AgentStore, tmp_path: Path
) -> None:
    """The effect happened: recording it as failed would invite the model to call again,
    with a new call id and so a new idempotency key, and repeat the effect."""
    from cairn.agent.tools import FunctionTool
    from tests.agent.tooling import LineIn, LineOut

    effects: list[str] = []

    def run(args: LineIn, key: str, dry_run: bool) -> object:
        effects.append(args.text)
        return {"unexpected": "shape"}  # not a LineOut

    sloppy = FunctionTool(
        name="append_line",
        description="Append a line.",
        input_model=LineIn,
        output_model=LineOut,
        fn=run,  # type: ignore[arg-type]
        side_effect="write",
    )
    model = ScriptedModel(Reply.call("append_line", {"text": "once"}), "Done.")
    agent = Agent(model, ToolRegistry.of([sloppy]), store, policies={"append_line": "always"})
    view = agent.start("write once")
    assert view.status == "done" and effects == ["once"]
    [call] = view.calls
    assert call.state == "done"
    reply = json.loads(model.history[1].messages[-1].content)
    assert reply["result"] == {"unexpected": "shape"} and "did not match" in reply["warning"]
