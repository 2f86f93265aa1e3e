"""The action tools against real servers on 127.0.0.1: SMTP (aiosmtpd), CalDAV (Radicale),
an issue tracker (Roundup). Each honours its idempotency key and its dry run."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from cairn.agent import ToolRegistry, validate_call
from cairn.agent.calendar import (
    CalDAVConfig,
    EventIn,
    SlotsIn,
    create_event,
    free_slots,
    free_slots_in,
)
from cairn.agent.mail import EmailIn, Outbox, SmtpConfig, send_email
from cairn.agent.tools import ToolError, ToolFailure
from cairn.agent.tracker import IssueIn, TrackerConfig, create_issue
from tests.agent.servers import CalDAVServer, RoundupServer, SmtpServer

pytestmark = pytest.mark.integration

CET = timezone(timedelta(hours=1))


def _mail(server: SmtpServer, tmp_path: Path):  # type: ignore[no-untyped-def]
    config = SmtpConfig(host=server.host, port=server.port, sender="desk@example.org")
    return send_email(config, Outbox(tmp_path / "outbox.db"))


def test_email_is_sent_once_per_key(smtp_server: SmtpServer, tmp_path: Path) -> None:
    tool = _mail(smtp_server, tmp_path)
    args = EmailIn(to=["bob@example.com"], subject="Hello", body="The reply.")
    first = tool.call(args, idempotency_key="k1")
    again = tool.call(args, idempotency_key="k1")
    other = tool.call(args, idempotency_key="k2")
    assert (first.sent, again.sent, other.sent) == (True, False, True)  # type: ignore[attr-defined]
    assert smtp_server.mailbox.message_ids() == ["<k1@example.org>", "<k2@example.org>"]
    msg = smtp_server.mailbox.messages[0]
    assert msg["To"] == "bob@example.com" and msg["Subject"] == "Hello"
    assert "The reply." in msg.get_payload()


def test_email_dry_run_sends_nothing(smtp_server: SmtpServer, tmp_path: Path) -> None:
    tool = _mail(smtp_server, tmp_path)
    out = tool.call(
        EmailIn(to=["bob@example.com"], subject="S", body="B"), idempotency_key="k", dry_run=True
    )
    assert out.dry_run and not out.sent  # type: ignore[attr-defined]
    assert out.headers["Message-ID"] == "<k@example.org>"  # type: ignore[attr-defined]
    assert smtp_server.mailbox.messages == []


def test_email_interrupted_after_sending_resends_the_same_message_id(
    smtp_server: SmtpServer, tmp_path: Path
) -> None:
    """A crash between the server's 250 and the outbox's `sent`: the resume sends again
    under the same Message-ID, which receivers de-duplicate."""
    outbox = Outbox(tmp_path / "outbox.db")
    tool = send_email(
        SmtpConfig(host=smtp_server.host, port=smtp_server.port, sender="d@example.org"), outbox
    )
    args = EmailIn(to=["bob@example.com"], subject="S", body="B")
    tool.call(args, idempotency_key="k")
    outbox.mark("k", "<k@example.org>", ["bob@example.com"], "sending")  # as if cut short
    tool.call(args, idempotency_key="k")
    tool.call(args, idempotency_key="k")
    assert set(smtp_server.mailbox.message_ids()) == {"<k@example.org>"}
    assert len(smtp_server.mailbox.messages) == 2
    assert outbox.state("k") == "sent"


def test_email_server_down_is_a_tool_error(tmp_path: Path) -> None:
    from tests.agent.servers import free_port

    tool = send_email(SmtpConfig(host="127.0.0.1", port=free_port()), Outbox(tmp_path / "o.db"))
    with pytest.raises(ToolError, match="could not send"):
        tool.call(EmailIn(to=["a@b.example"], subject="s", body="b"), idempotency_key="k")


def test_email_arguments_are_validated_before_any_call(tmp_path: Path) -> None:
    tool = send_email(SmtpConfig(host="127.0.0.1", port=1), Outbox(tmp_path / "o.db"))
    bad = validate_call(
        ToolRegistry.of([tool]),
        "send_email",
        {"to": ["not an address"], "subject": "a\r\nBcc: x@evil.example", "body": "b"},
    )
    assert isinstance(bad, ToolFailure) and bad.kind == "invalid_arguments"
    assert "to.0" in bad.message and "subject" in bad.message


def test_free_slots_skip_busy_time_and_keep_working_hours() -> None:
    day = datetime(2026, 12, 7, 0, 0, tzinfo=CET)
    args = SlotsIn(start=day, end=day + timedelta(days=2), duration_minutes=60, max_slots=50)
    busy = [(day.replace(hour=9), day.replace(hour=10, minute=30))]
    slots = free_slots_in(args, busy)
    assert slots[0] == (day.replace(hour=10, minute=30), day.replace(hour=11, minute=30))
    assert all(s.hour >= 9 and e <= s.replace(hour=17) for s, e in slots)
    assert all(not (s < be and e > bs) for s, e in slots for bs, be in busy)
    assert slots[len([s for s in slots if s[0].day == 7])][0] == day.replace(day=8, hour=9)


def test_calendar_event_is_created_once_per_key_and_blocks_its_slot(
    caldav_server: CalDAVServer,
) -> None:
    config = CalDAVConfig(url=caldav_server.calendar_url, username="alice", password="secret")
    make, find = create_event(config, organizer="desk@example.org"), free_slots(config)
    start = datetime(2026, 12, 7, 9, 0, tzinfo=CET)
    window = SlotsIn(start=start, end=start.replace(hour=12), duration_minutes=60)
    before = find.call(window, idempotency_key="r")
    assert [s.start for s in before.slots][:3] == [  # type: ignore[attr-defined]
        start,
        start.replace(hour=9, minute=30),
        start.replace(hour=10),
    ]
    event = EventIn(
        title="Kick-off", start=start, end=start.replace(hour=10), attendees=["bob@example.com"]
    )
    dry = make.call(event, idempotency_key="e1", dry_run=True)
    assert dry.dry_run and "ATTENDEE:mailto:bob@example.com" in dry.ics  # type: ignore[attr-defined]
    assert find.call(window, idempotency_key="r").busy == []  # type: ignore[attr-defined]
    first = make.call(event, idempotency_key="e1")
    again = make.call(event, idempotency_key="e1")
    assert (first.created, again.created) == (True, False)  # type: ignore[attr-defined]
    after = find.call(window, idempotency_key="r")
    assert len(after.busy) == 1  # type: ignore[attr-defined]
    assert after.slots[0].start == start.replace(hour=10)  # type: ignore[attr-defined]


def test_tracker_issue_is_opened_once_per_key(roundup_server: RoundupServer) -> None:
    tool = create_issue(
        TrackerConfig(
            url=roundup_server.url,
            username=roundup_server.username,
            password=roundup_server.password,
        )
    )
    args = IssueIn(title="Login fails after upgrade", body="Customer reports...", priority="urgent")
    dry = tool.call(args, idempotency_key="abcdef0123456789", dry_run=True)
    first = tool.call(args, idempotency_key="abcdef0123456789")
    again = tool.call(args, idempotency_key="abcdef0123456789")
    assert dry.dry_run and not dry.created  # type: ignore[attr-defined]
    assert first.created and not again.created  # type: ignore[attr-defined]
    assert first.issue_id == again.issue_id  # type: ignore[attr-defined]
    issues = httpx.get(
        roundup_server.url + "rest/data/issue",
        params={"@fields": "title,priority"},
        auth=(roundup_server.username, roundup_server.password),
        headers={"X-Requested-With": "rest", "Origin": roundup_server.url.rstrip("/")},
    ).json()["data"]["collection"]
    assert len(issues) == 1
    assert issues[0]["title"].startswith("Login fails after upgrade [cairn-abcdef012345]")
