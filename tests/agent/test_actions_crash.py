"""Exactly once on the real servers under kill -9: a run with three approved calls
(`send_email`, `create_event`, `create_issue`) is resumed by subprocesses that SIGKILL
themselves before a call or after its effect and before its result is recorded, then by one
that finishes. Each effect happens once: one Message-ID at the SMTP server (a message cut
off after the server's 250 is re-sent under the same Message-ID, which receivers
de-duplicate), one event in the calendar, one issue in the tracker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from cairn.agent import Agent, AgentStore
from cairn.llm.base import ToolCall
from cairn.llm.replies import Reply
from cairn.llm.scripted import ScriptedModel
from tests.agent.action_crash_worker import tools
from tests.agent.servers import CalDAVServer, RoundupServer, SmtpServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SEQUENCES = [["after:1"], ["after:2"], ["after:3"], ["before:2"], ["after:1", "after:1", "after:2"]]
CALLS = (
    ("send_email", {"to": ["bob@example.com"], "subject": "Booked", "body": "See you."}),
    (
        "create_event",
        {"title": "Sync", "start": "2026-12-07T10:00:00+01:00", "end": "2026-12-07T11:00:00+01:00"},
    ),
    ("create_issue", {"title": "Follow up", "body": "From the sync.", "priority": "bug"}),
)


@pytest.mark.parametrize("kills", SEQUENCES, ids=lambda k: "+".join(k))
def test_killed_resumes_act_once_on_each_server(
    tmp_path: Path,
    kills: list[str],
    smtp_server: SmtpServer,
    caldav_server: CalDAVServer,
    roundup_server: RoundupServer,
) -> None:
    config = {
        "smtp": {"host": smtp_server.host, "port": smtp_server.port, "sender": "d@example.org"},
        "caldav": {"url": caldav_server.calendar_url, "username": "alice"},
        "tracker": {
            "url": roundup_server.url,
            "username": roundup_server.username,
            "password": roundup_server.password,
        },
    }
    config_path, db = tmp_path / "config.json", tmp_path / "agent.db"
    config_path.write_text(json.dumps(config))
    calls = tuple(ToolCall(id=f"t{i}", name=n, arguments=a) for i, (n, a) in enumerate(CALLS))
    with AgentStore(db) as store:
        view = Agent(ScriptedModel(Reply(tool_calls=calls)), tools(config, tmp_path), store).start(
            "book and tell"
        )
        for call in view.pending:
            store.approve(view.id, call.call_id, actor="alice", args_digest=call.args_digest)

    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    for kill in [*kills, None]:
        env.pop("CAIRN_TEST_KILL_AT", None)
        if kill:
            env["CAIRN_TEST_KILL_AT"] = kill
        done = subprocess.run(
            [sys.executable, "-m", "tests.agent.action_crash_worker", str(db),
             str(config_path), view.id],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
        assert done.returncode == (-signal.SIGKILL if kill else 0), done.stderr
    assert json.loads(done.stdout)["status"] == "done"
    with AgentStore(db) as store:
        assert [c.state for c in store.calls(view.id)] == ["done"] * 3
        assert store.verify(view.id).ok

    assert len(set(smtp_server.mailbox.message_ids())) == 1
    import caldav

    events = (
        caldav.DAVClient(url=caldav_server.base, username="alice")
        .calendar(url=caldav_server.calendar_url)
        .search(
            event=True,
            start=datetime.fromisoformat("2026-12-07T00:00:00+01:00"),
            end=datetime.fromisoformat("2026-12-08T00:00:00+01:00"),
        )
    )
    assert len(events) == 1
    issues = httpx.get(
        roundup_server.url + "rest/data/issue",
        auth=(roundup_server.username, roundup_server.password),
        headers={"X-Requested-With": "rest", "Origin": roundup_server.url.rstrip("/")},
    ).json()["data"]["collection"]
    assert len(issues) == 1
