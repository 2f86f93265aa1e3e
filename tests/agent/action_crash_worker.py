"""`python -m tests.agent.action_crash_worker DB CONFIG_JSON RUN_ID`: resume one run whose
calls are the real action tools (SMTP, CalDAV, Roundup) in a fresh process and print its JSON.
With `CAIRN_TEST_KILL_AT=<before|after>:<n>` it SIGKILLs itself before the n-th tool call
of this process, or after that call's effect and before its result is recorded."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from cairn.agent import Agent, AgentStore, FunctionTool, Tool, ToolRegistry
from cairn.agent.calendar import CalDAVConfig, create_event
from cairn.agent.mail import Outbox, SmtpConfig, send_email
from cairn.agent.tracker import TrackerConfig, create_issue
from cairn.llm.scripted import ScriptedModel

CALLS = {"n": 0}


def killing(tool: Tool) -> FunctionTool:
    spec = os.environ.get("CAIRN_TEST_KILL_AT", "")
    where, _, n = spec.partition(":")

    def run(args: Any, key: str, dry_run: bool) -> Any:
        CALLS["n"] += 1
        if where == "before" and int(n) == CALLS["n"]:
            os.kill(os.getpid(), signal.SIGKILL)
        out = tool.call(args, idempotency_key=key, dry_run=dry_run)
        if where == "after" and int(n) == CALLS["n"]:
            os.kill(os.getpid(), signal.SIGKILL)
        return out

    return FunctionTool(
        name=tool.name, description=tool.description, input_model=tool.input_model,
        output_model=tool.output_model, fn=run, side_effect=tool.side_effect,
        idempotent=tool.idempotent, supports_dry_run=tool.supports_dry_run, scopes=tool.scopes,
    )  # fmt: skip


def tools(config: dict[str, Any], folder: Path) -> ToolRegistry:
    return ToolRegistry.of(
        [
            killing(t)
            for t in (
                send_email(SmtpConfig(**config["smtp"]), Outbox(folder / "outbox.db")),
                create_event(CalDAVConfig(**config["caldav"])),
                create_issue(TrackerConfig(**config["tracker"])),
            )
        ]
    )


def main(argv: list[str]) -> None:
    db, config, run_id = Path(argv[0]), json.loads(Path(argv[1]).read_text()), argv[2]
    with AgentStore(db) as store:
        agent = Agent(ScriptedModel(default=lambda r: "All done."), tools(config, db.parent), store)
        sys.stdout.write(json.dumps(agent.resume(run_id).as_json()) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
