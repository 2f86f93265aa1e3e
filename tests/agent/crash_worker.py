"""`python -m tests.agent.crash_worker DB LOG RUN_ID [--not-idempotent]`: resume one run in a
fresh process and print its JSON (the crash tests kill it with `CAIRN_TEST_KILL_AT`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cairn.agent import Agent, AgentStore, ToolRegistry
from cairn.llm.scripted import ScriptedModel
from tests.agent.tooling import append_line_tool, final_answer


def main(argv: list[str]) -> None:
    db, log, run_id = Path(argv[0]), Path(argv[1]), argv[2]
    idempotent = "--not-idempotent" not in argv
    with AgentStore(db) as store:
        registry = ToolRegistry.of([append_line_tool(log, idempotent=idempotent)])
        agent = Agent(ScriptedModel(default=final_answer), registry, store)
        sys.stdout.write(json.dumps(agent.resume(run_id).as_json()) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
