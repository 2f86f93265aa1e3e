"""The behaviour every backend of the agent's durable state (`AgentStore`: runs, messages,
calls, approvals, the audit log and who drives a run) must have. A backend's test module
subclasses `AgentStoreConformance` and provides `make_agent_store`, a factory of stores on
one fresh database (two stores from one test share it, as two processes do)::

    class TestMyAgentStore(AgentStoreConformance):
        @pytest.fixture
        def make_agent_store(self, tmp_path):
            return lambda clock: AgentStore(tmp_path / "agent.db", clock=clock)
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from cairn.agent.store import AgentStore, ApprovalError, NewCall, RunNotFound
from cairn.agent.tools import digest
from cairn.llm.base import Message, ToolCall
from cairn.testing.clock import Clock

__all__ = ["AgentStoreConformance", "MakeAgentStore"]

MakeAgentStore = Callable[[Clock], AgentStore]

T0 = 1_780_000_000.0


def _call(model_call_id: str, tool: str, args: dict[str, object], policy: str) -> NewCall:
    state = {"ask": "awaiting_approval", "always": "ready", "deny": "denied"}[policy]
    return NewCall(
        model_call_id=model_call_id,
        tool=tool,
        args=dict(args),
        args_digest=digest(args),
        policy=policy,
        state=state,  # type: ignore[arg-type]
        error="denied by policy" if policy == "deny" else None,
    )


class AgentStoreConformance:
    @pytest.fixture
    def clock(self) -> Clock:
        return Clock(T0)

    @pytest.fixture
    def store(self, make_agent_store: MakeAgentStore, clock: Clock) -> AgentStore:
        return make_agent_store(clock)

    def _turn(self, store: AgentStore, run_id: str) -> list[str]:
        """One model turn calling `send` (ask), `search` (always) and `wipe` (deny)."""
        calls = [
            _call("m1", "send", {"to": "ann", "text": "hi"}, "ask"),
            _call("m2", "search", {"q": "x"}, "always"),
            _call("m3", "wipe", {}, "deny"),
        ]
        message = Message.assistant(
            "working", [ToolCall(id=c.model_call_id, name=c.tool, arguments=c.args) for c in calls]
        )
        recorded = store.record_model_turn(
            run_id,
            message,
            calls,
            model="scripted",
            usage={"input_tokens": 10, "output_tokens": 5},
            cost_usd=Decimal("0.25"),
            tool_replies={"m3": "error: denied"},
        )
        return [c.call_id for c in recorded]

    def test_a_run_reads_back_with_its_messages(self, store: AgentStore) -> None:
        run = store.create_run(
            "book a room",
            [Message.system("be brief"), Message.user("book a room")],
            trace_id="t" * 32,
            tenant="acme",
            user="ann",
            dry_run=True,
            workflow="booking",
        )
        got = store.run(run.id)
        assert (got.task, got.status, got.tenant, got.user, got.dry_run, got.workflow) == (
            "book a room",
            "running",
            "acme",
            "ann",
            True,
            "booking",
        )
        assert got.started_s == pytest.approx(T0) and got.cost_usd == Decimal("0")
        assert [(m.role, m.content) for m in store.messages(run.id)] == [
            ("system", "be brief"),
            ("user", "book a room"),
        ]
        with pytest.raises(RunNotFound):
            store.run("run_missing")

    def test_runs_are_listed_newest_first(self, store: AgentStore, clock: Clock) -> None:
        ids = []
        for n in range(3):
            ids.append(store.create_run(f"task {n}", [], trace_id=f"{n}" * 32).id)
            clock.advance(1)
        assert [r.id for r in store.runs()] == ids[::-1]
        assert len(store.runs(limit=2)) == 2

    def test_a_model_turn_records_calls_costs_and_replies(self, store: AgentStore) -> None:
        run = store.create_run("t", [Message.user("t")], trace_id="a" * 32)
        ids = self._turn(store, run.id)
        calls = store.calls(run.id)
        assert [c.call_id for c in calls] == ids and len(ids) == 3
        assert [c.state for c in calls] == ["awaiting_approval", "ready", "denied"]
        assert calls[0].args == {"to": "ann", "text": "hi"}
        got = store.run(run.id)
        assert (got.steps, got.tool_calls, got.tokens, got.cost_usd) == (1, 3, 15, Decimal("0.25"))
        roles = [(m.role, m.tool_call_id) for m in store.messages(run.id)]
        assert roles == [("user", None), ("assistant", None), ("tool", "m3")]
        assert store.messages(run.id)[1].tool_calls[0].arguments == {"to": "ann", "text": "hi"}

    def test_an_approval_binds_to_the_exact_arguments_and_is_used_once(
        self, store: AgentStore
    ) -> None:
        run = store.create_run("t", [], trace_id="a" * 32)
        send, search, _ = self._turn(store, run.id)
        with pytest.raises(ApprovalError, match="not ready"):
            store.begin_execution(run.id, send)
        with pytest.raises(ApprovalError, match="changed"):
            store.approve(run.id, send, actor="ann", args_digest="0" * 64)
        call, note = store.approve(run.id, send, actor="ann")
        assert call.state == "ready" and note is None
        again, note = store.approve(run.id, send, actor="bob")
        assert again.state == "ready" and note is not None and "ann" in note
        started = store.begin_execution(run.id, send)
        assert started.state == "executing" and started.idempotency_key
        assert store.begin_execution(run.id, send).idempotency_key == started.idempotency_key
        done = store.finish_call(
            run.id, send, state="done", reply="sent", result={"ok": True}, reset_failures=True
        )
        assert done.state == "done" and done.result == {"ok": True} and done.result_digest
        assert store.finish_call(run.id, send, state="failed", reply="x").state == "done"
        assert store.begin_execution(run.id, search).state == "executing"  # policy: always

    def test_an_edited_call_needs_its_own_approval_and_a_rejected_one_none(
        self, store: AgentStore
    ) -> None:
        run = store.create_run("t", [], trace_id="a" * 32)
        send, _, _ = self._turn(store, run.id)
        edited = store.edit(run.id, send, {"to": "bob"}, digest({"to": "bob"}), actor="ann")
        assert edited.args == {"to": "bob"} and edited.state == "awaiting_approval"
        rejected, _ = store.reject(run.id, send, actor="ann", reason="no")
        assert rejected.state == "rejected" and rejected.error and "rejected" in rejected.error
        assert store.reject(run.id, send, actor="ann")[1] is not None  # already rejected
        with pytest.raises(ApprovalError, match="rejected"):
            store.approve(run.id, send, actor="bob")
        with pytest.raises(ApprovalError, match="only waiting calls"):
            store.edit(run.id, send, {}, digest({}), actor="ann")

    def test_waiting_for_a_human_pauses_the_clock(self, store: AgentStore, clock: Clock) -> None:
        run = store.create_run("t", [], trace_id="a" * 32)
        send, _, _ = self._turn(store, run.id)
        store.set_status(run.id, "awaiting_approval")
        clock.advance(30)
        store.approve(run.id, send, actor="ann")  # the last decision resumes the run
        got = store.run(run.id)
        assert got.status == "running" and got.paused_s == pytest.approx(30)
        store.set_status(run.id, "done", answer="booked", citations=[{"chunk_id": "c1"}])
        finished = store.run(run.id)
        assert (finished.status, finished.answer) == ("done", "booked")
        assert finished.citations == ({"chunk_id": "c1"},)

    def test_the_audit_chain_verifies(self, store: AgentStore) -> None:
        run = store.create_run("t", [], trace_id="a" * 32)
        send, _, _ = self._turn(store, run.id)
        store.approve(run.id, send, actor="ann")
        store.begin_execution(run.id, send)
        store.finish_call(run.id, send, state="done", reply="ok", result=[1])
        store.set_status(run.id, "done")
        records = store.audit(run.id)
        assert [r.kind for r in records] == [
            "run_started",
            "model_call",
            "tool_call",
            "tool_call",
            "tool_call",
            "approval",
            "execution",
            "execution_done",
            "run_finished",
        ]
        assert [r.seq for r in records] == list(range(1, 10))
        assert records[5].payload["actor"] == "ann"
        verified = store.verify(run.id)
        assert verified.ok and verified.records == 9

    def test_one_driver_at_a_time_until_its_lease_expires(
        self, make_agent_store: MakeAgentStore, store: AgentStore, clock: Clock
    ) -> None:
        other = make_agent_store(clock)  # a second process on the same database
        run = store.create_run("t", [], trace_id="a" * 32)
        a, b = "elsewhere:1:aaaa", "elsewhere:2:bbbb"  # another host's: only leases free them
        assert store.claim(run.id, a, 60) is None
        assert other.claim(run.id, b, 60) == a
        clock.advance(30)
        assert store.claim(run.id, a, 60) is None  # renewed
        clock.advance(45)
        assert other.claim(run.id, b, 60) == a
        clock.advance(16)
        assert other.claim(run.id, b, 60) is None  # expired: taken over
        store.release(run.id, a)  # not a's any more: nothing changes
        assert store.claim(run.id, a, 60) == b
        other.release(run.id, b)
        assert store.claim(run.id, a, 60) is None
        with pytest.raises(RunNotFound):
            store.claim("run_missing", a, 60)
