"""The two workflows end to end through `cairn agent run --workflow`: the fake
OpenAI-compatible server driven by a scripted model, the real workspace and retriever, and
real servers on 127.0.0.1 (SMTP, CalDAV, the Roundup tracker). A human approves each side
effect in a later command; each happens exactly once, and the final answer's citations are
checked by the verifier."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from cairn.agent.calendar import EventIn, event_ics
from cairn.cli import app
from cairn.llm.fake_server import FakeLLMServer
from cairn.llm.replies import Responder
from tests.agent.servers import CalDAVServer, RoundupServer, SmtpServer
from tests.agent.workflow_models import honest_booking, honest_triage

pytestmark = pytest.mark.integration
runner = CliRunner()

TICKET = """From: carol@example.com
Subject: dataclass field default list raises ValueError

Since upgrading, defining a dataclass with a list as a field default fails with
ValueError: mutable default. What should we do? Our release is blocked."""


@pytest.fixture(scope="module")
def workspace(docs_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("ws-workflows")
    result = runner.invoke(app, ["ingest", str(docs_corpus), "--workspace", str(ws), "--json"])
    assert result.exit_code == 0, result.output
    return ws


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLMServer]:
    with FakeLLMServer(responder=Responder()) as server:
        for key, value in {
            "PROVIDER": "openai", "BASE_URL": server.url, "MODEL": "fake-model",
            "API_KEY": "test-key", "PRICE_INPUT_PER_MTOK": "1.0", "PRICE_OUTPUT_PER_MTOK": "2.0",
        }.items():  # fmt: skip
            monkeypatch.setenv(f"CAIRN_LLM_{key}", value)
        yield server


def cli(workspace: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["agent", *args, "--json", "--workspace", str(workspace)])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def approve_all(workspace: Path, view: dict[str, Any]) -> dict[str, Any]:
    for call in view["pending"]:
        view = cli(workspace, "approve", view["run_id"], call["call_id"], "--as", "dana")
    return view


def test_triage_classifies_drafts_a_cited_reply_and_acts_only_once_approved(
    workspace: Path,
    llm: FakeLLMServer,
    smtp_server: SmtpServer,
    roundup_server: RoundupServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    llm.responder.default = honest_triage
    monkeypatch.setenv("CAIRN_AGENT_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("CAIRN_AGENT_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("CAIRN_AGENT_SMTP_SENDER", "support@example.org")
    monkeypatch.setenv("CAIRN_AGENT_TRACKER_URL", roundup_server.url)
    monkeypatch.setenv("CAIRN_AGENT_TRACKER_USERNAME", roundup_server.username)
    monkeypatch.setenv("CAIRN_AGENT_TRACKER_PASSWORD", roundup_server.password)

    started = cli(workspace, "run", TICKET, "--workflow", "triage")
    assert started["status"] == "awaiting_approval", json.dumps(started)
    assert started["workflow"] == "triage"
    pending = {p["tool"]: p for p in started["pending"]}
    assert set(pending) == {"send_email", "create_issue"}
    email = pending["send_email"]["args"]
    assert email["to"] == ["carol@example.com"]
    # the reply went through draft_reply: numbered, verified citations and its sources
    assert "[1]" in email["body"] and "\n\nSources:\n[1] " in email["body"]
    assert smtp_server.mailbox.messages == []  # nothing went out before approval

    # the model saw only the workflow's tools; its classification was validated and recorded
    assert {t.name for t in llm.requests[0].tools} == {
        "classify_ticket", "search_docs", "read_chunk", "ask_docs", "draft_reply", "send_email",
        "create_issue",
    }  # fmt: skip
    shown = cli(workspace, "show", started["run_id"])
    [triage] = [c for c in shown["calls"] if c["tool"] == "classify_ticket"]
    assert triage["state"] == "done" and triage["result"]["triage"]["urgency"] == "high"
    [draft] = [c for c in shown["calls"] if c["tool"] == "draft_reply"]
    assert draft["result"]["all_verified"] is True

    done = approve_all(workspace, started)
    assert done["status"] == "done", done
    assert len(smtp_server.mailbox.messages) == 1
    assert smtp_server.mailbox.messages[0]["Subject"].startswith("Re: dataclass field")
    issues = httpx.get(
        roundup_server.url + "rest/data/issue",
        auth=(roundup_server.username, roundup_server.password),
        headers={"X-Requested-With": "rest", "Origin": roundup_server.url.rstrip("/")},
    ).json()["data"]["collection"]
    assert len(issues) == 1

    # the final answer cites the chunk it quoted, renumbered [1] and verified
    assert "[1]" in done["answer"]
    [citation] = done["citations"]
    assert citation["verified"] is True and citation["chunk_id"]
    audit = cli(workspace, "audit", done["run_id"], "--verify")
    assert audit["verify"]["ok"]


def test_triage_needs_its_tools_configured(workspace: Path, llm: FakeLLMServer) -> None:
    result = runner.invoke(
        app, ["agent", "run", TICKET, "--workflow", "triage", "--workspace", str(workspace)]
    )
    assert result.exit_code != 0
    assert "agent.smtp_host" in result.output and "send_email" in result.output


def test_booking_finds_a_slot_creates_the_event_and_sends_invitations(
    workspace: Path,
    llm: FakeLLMServer,
    smtp_server: SmtpServer,
    caldav_server: CalDAVServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import caldav

    llm.responder.default = honest_booking
    monkeypatch.setenv("CAIRN_AGENT_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("CAIRN_AGENT_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("CAIRN_AGENT_CALDAV_URL", caldav_server.calendar_url)
    monkeypatch.setenv("CAIRN_AGENT_CALDAV_USERNAME", caldav_server.username)
    monkeypatch.setenv("CAIRN_AGENT_CALDAV_PASSWORD", caldav_server.password)
    calendar = caldav.DAVClient(
        url=caldav_server.base, username="alice", password="secret"
    ).calendar(url=caldav_server.calendar_url)
    busy = EventIn(
        title="Already busy",
        start=datetime.fromisoformat("2026-12-07T09:00:00+01:00"),
        end=datetime.fromisoformat("2026-12-07T10:30:00+01:00"),
    )
    calendar.save_event(event_ics(busy, "busy-1").replace("METHOD:REQUEST\r\n", ""))

    task = (
        "Book a one-hour project sync with bob@example.com and eve@example.com between "
        "2026-12-07T08:00:00+01:00 and 2026-12-07T18:00:00+01:00"
    )
    started = cli(workspace, "run", task, "--workflow", "booking")
    assert started["status"] == "awaiting_approval"
    [event] = started["pending"]
    assert event["tool"] == "create_event"
    assert event["args"]["start"].startswith("2026-12-07T10:30:00")  # after the busy hour

    after_event = approve_all(workspace, started)
    assert after_event["status"] == "awaiting_approval"
    [invite] = after_event["pending"]
    assert invite["tool"] == "send_email" and "BEGIN:VCALENDAR" in invite["args"]["ics"]
    assert smtp_server.mailbox.messages == []

    done = approve_all(workspace, after_event)
    assert done["status"] == "done", done
    events = calendar.search(
        event=True,
        start=datetime.fromisoformat("2026-12-07T00:00:00+01:00"),
        end=datetime.fromisoformat("2026-12-08T00:00:00+01:00"),
    )
    assert sorted(str(e.icalendar_component["SUMMARY"]) for e in events) == [
        "Already busy", "Project sync"
    ]  # fmt: skip
    [mail] = smtp_server.mailbox.messages
    assert mail["To"] == "bob@example.com, eve@example.com"
    assert any(p.get_content_type() == "text/calendar" for p in mail.walk())
