"""Tools for the agent tests (importable by the crash-test subprocess).

`append_line` is the side effect the exactly-once tests count: it appends one line holding
the idempotency key to a file and de-duplicates by key, as an idempotent tool must. With
`CAIRN_TEST_KILL_AT=<point>:<n>` in the environment the process kills itself with SIGKILL at
that point of its n-th call (`before` the write, `after` it), to test recovery.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from pydantic import BaseModel, Field

from cairn.agent import FunctionTool, ToolError

CALLS = {"n": 0}


class LineIn(BaseModel):
    text: str = Field(min_length=1, description="The line to append.")


class LineOut(BaseModel):
    written: bool
    key: str


class EchoIn(BaseModel):
    q: str
    k: int = Field(default=3, ge=1, le=10)


class EchoOut(BaseModel):
    results: list[str]


def _kill_at(point: str) -> None:
    spec = os.environ.get("CAIRN_TEST_KILL_AT", "")
    if spec:
        where, _, n = spec.partition(":")
        if where == point and int(n or 1) == CALLS["n"]:
            os.kill(os.getpid(), signal.SIGKILL)


def append_line_tool(path: Path, *, idempotent: bool = True) -> FunctionTool:
    def run(args: LineIn, key: str, dry_run: bool) -> LineOut:
        if dry_run:
            return LineOut(written=False, key=key)
        CALLS["n"] += 1
        _kill_at("before")
        lines = path.read_text().splitlines() if path.exists() else []
        if idempotent and any(line.startswith(key + " ") for line in lines):
            return LineOut(written=False, key=key)  # already done under this key
        with path.open("a") as f:
            f.write(f"{key} {args.text}\n")
            f.flush()
            os.fsync(f.fileno())
        _kill_at("after")
        return LineOut(written=True, key=key)

    return FunctionTool(
        name="append_line",
        description="Append a line to the shared log file.",
        input_model=LineIn,
        output_model=LineOut,
        fn=run,
        side_effect="write",
        idempotent=idempotent,
        supports_dry_run=True,
        scopes=("log:write",),
    )


def echo_tool() -> FunctionTool:
    def run(args: EchoIn, key: str, dry_run: bool) -> EchoOut:
        if args.q == "boom":
            raise ToolError("the index is offline; try again later or use another query")
        return EchoOut(results=[f"{args.q}-{i}" for i in range(args.k)])

    return FunctionTool(
        name="echo",
        description="Look something up (returns k results).",
        input_model=EchoIn,
        output_model=EchoOut,
        fn=run,
    )


def final_answer(request: object) -> str:
    """The model of a resumed run: it answers once the tools have run (and can be killed
    before answering with `CAIRN_TEST_KILL_AT=model:1`)."""
    CALLS["model"] = CALLS.get("model", 0) + 1
    spec = os.environ.get("CAIRN_TEST_KILL_AT", "")
    if spec == f"model:{CALLS['model']}":
        os.kill(os.getpid(), signal.SIGKILL)
    return "All done."
