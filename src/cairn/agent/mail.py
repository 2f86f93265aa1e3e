"""`send_email`: e-mail over SMTP, exactly once per idempotency key.

The Message-ID is made from the idempotency key (`<key@sender-domain>`), so a message sent
twice under one key is one message to every receiver that de-duplicates by Message-ID. The
tool also keeps an outbox (`<workspace>/outbox.db`): `sending` is committed before the SMTP
transaction and `sent` after it, and a call whose key is already `sent` sends nothing. A
crash after the server accepted the message and before `sent` was committed re-sends it on
resume with the same Message-ID (the outbox says `resent`). A dry run builds the message and
returns its headers without connecting.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field

from cairn.agent.tools import FunctionTool, ToolError
from cairn.errors import StoreError
from cairn.sqlite import SQLiteFile

OUTBOX_DB = "outbox.db"

Address = Annotated[
    str,
    Field(pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$", max_length=254),
]
_OUTBOX = [
    """
    CREATE TABLE outbox (
        key TEXT PRIMARY KEY,
        message_id TEXT NOT NULL,
        recipients TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0
    );
    """
]


class EmailIn(BaseModel):
    to: list[Address] = Field(min_length=1, max_length=50, description="Recipients.")
    cc: list[Address] = Field(default_factory=list, max_length=50)
    subject: str = Field(min_length=1, max_length=200, pattern=r"^[^\r\n]*$")
    body: str = Field(min_length=1, max_length=100_000, description="Plain text.")
    in_reply_to: str | None = Field(
        None, max_length=300, pattern=r"^<[^<>\s]+>$", description="Message-ID answered."
    )
    ics: str | None = Field(
        None,
        max_length=100_000,
        description="An iCalendar invitation (METHOD:REQUEST) to attach, as text.",
    )


class EmailOut(BaseModel):
    message_id: str
    recipients: list[str]
    sent: bool
    """False on a dry run, or when this key's message was already sent."""
    dry_run: bool = False
    headers: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class SmtpConfig:
    host: str
    port: int = 587
    sender: str = "cairn@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 20.0


class Outbox:
    """Which idempotency keys' messages were handed to the SMTP server."""

    def __init__(self, path: Path) -> None:
        self._file = SQLiteFile(
            path,
            _OUTBOX,
            what="the e-mail outbox",
            damaged_hint="move it away (messages sent before may then be sent again)",
            error=StoreError,
        )

    def state(self, key: str) -> str | None:
        with self._file.reading() as db:
            row = db.execute("SELECT state FROM outbox WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def mark(self, key: str, message_id: str, recipients: list[str], state: str) -> None:
        with self._file.transaction() as db:
            db.execute(
                "INSERT INTO outbox (key, message_id, recipients, state, attempts) "
                "VALUES (?, ?, ?, ?, 1) ON CONFLICT(key) DO UPDATE SET state = excluded.state, "
                "attempts = attempts + (excluded.state = 'sending')",
                (key, message_id, ",".join(recipients), state),
            )

    def close(self) -> None:
        self._file.close()


def build_message(config: SmtpConfig, args: EmailIn, key: str) -> EmailMessage:
    domain = config.sender.rpartition("@")[2] or "localhost"
    msg = EmailMessage()
    msg["From"] = config.sender
    msg["To"] = ", ".join(args.to)
    if args.cc:
        msg["Cc"] = ", ".join(args.cc)
    msg["Subject"] = args.subject
    msg["Message-ID"] = f"<{key}@{domain}>"
    msg["Date"] = formatdate(localtime=False)
    if args.in_reply_to:
        msg["In-Reply-To"] = args.in_reply_to
        msg["References"] = args.in_reply_to
    msg.set_content(args.body)
    if args.ics:
        msg.add_attachment(
            args.ics.encode(),
            maintype="text",
            subtype="calendar",
            filename="invite.ics",
            params={"method": "REQUEST"},
        )
    return msg


def send_email(
    config: SmtpConfig,
    outbox: Outbox,
    *,
    connect: Callable[[SmtpConfig], smtplib.SMTP] | None = None,
) -> FunctionTool:
    """The tool; `connect` opens the SMTP session (injected in tests)."""
    opener = connect or _connect

    def run(args: EmailIn, key: str, dry_run: bool) -> EmailOut:
        msg = build_message(config, args, key)
        message_id = str(msg["Message-ID"])
        recipients = [*args.to, *args.cc]
        headers = {k: str(v) for k, v in msg.items()}
        if dry_run:
            return EmailOut(
                message_id=message_id, recipients=recipients, sent=False, dry_run=True,
                headers=headers,
            )  # fmt: skip
        if outbox.state(key) == "sent":
            return EmailOut(message_id=message_id, recipients=recipients, sent=False)
        outbox.mark(key, message_id, recipients, "sending")
        try:
            with opener(config) as smtp:
                refused = smtp.send_message(msg, from_addr=config.sender, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            raise ToolError(
                f"the mail server refused every recipient ({', '.join(exc.recipients)}): "
                "check the addresses"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ToolError(
                f"could not send through {config.host}:{config.port} ({exc}); "
                "try again later or tell the user"
            ) from None
        outbox.mark(key, message_id, recipients, "sent")
        return EmailOut(
            message_id=message_id,
            recipients=[r for r in recipients if r not in refused],
            sent=True,
            headers=headers,
        )

    return FunctionTool(
        name="send_email",
        description="Send an e-mail (plain text, optionally with a calendar invitation).",
        input_model=EmailIn,
        output_model=EmailOut,
        fn=run,
        side_effect="external",
        idempotent=True,
        supports_dry_run=True,
        scopes=("mail:send",),
    )


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
    if config.starttls:
        smtp.starttls()
    if config.username:
        smtp.login(config.username, config.password or "")
    return smtp
