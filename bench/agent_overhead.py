"""The agent loop's own time per step, beyond model and tool time.

Each run: a scripted model (instant) calls a read-only tool (instant) on `--steps` steps,
then answers. The model and the tool time themselves; the loop's overhead per step is the
run's wall time minus model and tool time, divided by its steps: validation, policy,
durable records (SQLite, WAL; fsync on commit by default), the audit chain, the lease,
stale-step and repeat checks. A read's result, and a turn asking for reads only, are
committed without fsync (a power cut may lose them: they are redone; the next fsynced commit
makes them durable); every other commit is fsynced. Peers in the same run: the store with
every commit fsynced, the bare loop (the same model and
tool called in a plain Python loop with the messages kept in a list, no durability), and two
fsynced SQLite commits per step alone (the disk's floor under the durable loop: a step
commits the model turn and the tool result).

    .venv/bin/python bench/agent_overhead.py [--runs 30] [--steps 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from cairn.agent import Agent, AgentStore, FunctionTool, Limits, ToolRegistry
from cairn.llm.base import Message
from cairn.llm.replies import Reply, Request
from cairn.llm.scripted import ScriptedModel


class LookIn(BaseModel):
    n: int


class LookOut(BaseModel):
    text: str


class Timed:
    """Model and tool time, summed."""

    def __init__(self) -> None:
        self.model_s = 0.0
        self.tool_s = 0.0


def build(steps: int, timed: Timed) -> tuple[Any, FunctionTool]:
    def rule(request: Request) -> Reply | str:
        done = sum(1 for m in request.messages if m.role == "tool")
        return Reply.call("look", {"n": done}) if done < steps else "Done."

    model = ScriptedModel(default=rule)
    inner = model.generate

    def generate(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            timed.model_s += time.perf_counter() - t

    model.generate = generate  # type: ignore[method-assign]

    def look(args: LookIn, key: str, dry: bool) -> LookOut:
        t = time.perf_counter()
        out = LookOut(text=f"result {args.n}")
        timed.tool_s += time.perf_counter() - t
        return out

    tool = FunctionTool(
        name="look", description="Look.", input_model=LookIn, output_model=LookOut, fn=look
    )
    return model, tool


class EveryCommitFsynced(AgentStore):
    """The store as it was before reads were committed without fsync (the peer)."""

    def _transaction(self, relaxed: bool) -> Any:
        return super()._transaction(False)


def agent_run(folder: Path, steps: int, durable: bool, store_type: type = AgentStore) -> float:
    timed = Timed()
    model, tool = build(steps, timed)
    with store_type(folder / "agent.db", durable=durable) as store:
        agent = Agent(model, ToolRegistry.of([tool]), store, limits=Limits(max_steps=steps + 2))
        t = time.perf_counter()
        view = agent.start("look around")
        wall = time.perf_counter() - t
    assert view.status == "done", view.as_json()
    return (wall - timed.model_s - timed.tool_s) / (steps + 1)


def bare_run(steps: int) -> float:
    timed = Timed()
    model, tool = build(steps, timed)
    messages = [Message.system("s"), Message.user("look around")]
    t = time.perf_counter()
    while True:
        response = model.generate(messages, tools=[])
        messages.append(response.message())
        if not response.tool_calls:
            break
        for call in response.tool_calls:
            out = tool.call(LookIn.model_validate(call.arguments), idempotency_key="k")
            messages.append(Message.tool(call.id, out.model_dump_json()))
    wall = time.perf_counter() - t
    return (wall - timed.model_s - timed.tool_s) / (steps + 1)


def fsync_floor(folder: Path, steps: int) -> float:
    """Two durable commits per step (the model turn, the tool result), nothing else: what the
    disk's fsync costs the durable loop at the least."""
    import sqlite3

    db = sqlite3.connect(folder / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (x TEXT)")
    t = time.perf_counter()
    for _ in range(2 * (steps + 1)):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t VALUES ('x')")
        db.execute("COMMIT")
    wall = time.perf_counter() - t
    db.close()
    return wall / (steps + 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {
        "agent (durable)": [],
        "agent (all fsync)": [],
        "agent (no fsync)": [],
        "bare loop": [],
        "2 fsynced commits": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            for name, durable, kind in (
                ("agent (durable)", True, AgentStore),
                ("agent (all fsync)", True, EveryCommitFsynced),
                ("agent (no fsync)", False, AgentStore),
            ):
                folder = Path(tmp) / f"{name[7:11]}{i}"
                folder.mkdir()
                rows[name].append(agent_run(folder, args.steps, durable, kind) * 1000)
            rows["bare loop"].append(bare_run(args.steps) * 1000)
            floor = Path(tmp) / f"floor{i}"
            floor.mkdir()
            rows["2 fsynced commits"].append(fsync_floor(floor, args.steps) * 1000)
    bare = statistics.median(rows["bare loop"])
    print(f"agent overhead per step, ms ({args.runs} runs x {args.steps + 1} steps)")
    print("('2 fsynced commits': the disk's floor under the durable loop, same folder)")
    print(f"{'loop':<18} {'p50':>8} {'p90':>8} {'max':>8} {'p50 / bare':>11}")
    for name, values in rows.items():
        values.sort()
        p50 = statistics.median(values)
        p90 = values[int(0.9 * (len(values) - 1))]
        ratio = p50 / bare if bare > 0 else float("nan")
        print(f"{name:<18} {p50:>8.2f} {p90:>8.2f} {values[-1]:>8.2f} {ratio:>10.1f}x")
    target = statistics.median(rows["agent (no fsync)"])
    floor = statistics.median(rows["2 fsynced commits"])
    durable = statistics.median(rows["agent (durable)"])
    print(
        f"target p50 <= 5 ms: {'met' if target <= 5 else 'NOT met'} without fsync "
        f"({target:.2f} ms); durable {durable:.2f} ms of which the fsync floor {floor:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
