"""Real third-party servers on 127.0.0.1 for the action tools' tests: an SMTP server
(aiosmtpd), a CalDAV server (Radicale, its own process) and an issue tracker (Roundup, its
WSGI application in its own process). Each fixture skips with the install hint when the
package is missing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest

STARTUP_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], **kwargs: Any) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=2.0, **kwargs)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {STARTUP_S} s")


@dataclass
class Mailbox:
    """What the SMTP server received."""

    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]


@dataclass
class SmtpServer:
    host: str
    port: int
    mailbox: Mailbox


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    controller_mod = pytest.importorskip(
        "aiosmtpd.controller", reason="pip install aiosmtpd (in the dev extra)"
    )
    mailbox = Mailbox()
    controller = controller_mod.Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpServer(host="127.0.0.1", port=controller.port, mailbox=mailbox)
    finally:
        controller.stop()


@dataclass
class CalDAVServer:
    base: str
    calendar_url: str
    username: str = "alice"
    password: str = "secret"


@pytest.fixture
def caldav_server(tmp_path: Path) -> Iterator[CalDAVServer]:
    pytest.importorskip("radicale", reason="pip install radicale (in the dev extra)")
    caldav = pytest.importorskip("caldav", reason="pip install caldav (in the dev extra)")
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "radicale",
            "--server-hosts", f"127.0.0.1:{port}",
            "--storage-filesystem-folder", str(tmp_path / "radicale"),
            "--auth-type", "none",
            "--rights-type", "owner_only",
            "--logging-level", "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}/"
        wait_http(base, proc)
        client = caldav.DAVClient(url=base, username="alice", password="secret")
        calendar = client.principal().make_calendar(name="work", cal_id="work")
        yield CalDAVServer(base=base, calendar_url=str(calendar.url))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@dataclass
class RoundupServer:
    url: str
    username: str
    password: str


_ROUNDUP_WSGI = """
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server
from roundup.cgi.wsgi_handler import RequestDispatcher

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

make_server("127.0.0.1", int(sys.argv[2]), RequestDispatcher(sys.argv[1]),
            handler_class=Quiet).serve_forever()
"""


@pytest.fixture
def roundup_server(tmp_path: Path) -> Iterator[RoundupServer]:
    pytest.importorskip("roundup", reason="pip install roundup (in the dev extra)")
    port = free_port()
    home = tmp_path / "tracker"
    web = f"http://127.0.0.1:{port}/"
    admin = [sys.executable, "-m", "roundup.scripts.roundup_admin", "-i", str(home)]
    env = os.environ | {"PYTHONWARNINGS": "ignore"}
    subprocess.run(
        [*admin, "install", "classic", "sqlite",
         f"tracker_web={web},mail_domain=example.org,mail_host=localhost"],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    subprocess.run([*admin, "initialise", "s3cret"], check=True, capture_output=True, env=env)
    proc = subprocess.Popen(
        [sys.executable, "-c", _ROUNDUP_WSGI, str(home), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        wait_http(web, proc)
        yield RoundupServer(url=web, username="admin", password="s3cret")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
