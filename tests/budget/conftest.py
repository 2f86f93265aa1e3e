"""Fixtures for the budget tests: a budget on a real SQLite ledger in a temporary folder, a
controllable clock, and a real HTTP receiver on 127.0.0.1 for alert webhooks."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cairn.budget import AlertDispatcher, Budget, Limits, MetricsRegistry, PriceBook

PRICES = PriceBook.fixed({"test-model": ("1", "2"), "cheap": ("0.075", "0.3")})
"""test-model: $1 / $2 per million input / output tokens."""

T0 = 1_767_225_600.0
"""2026-01-01T00:00:00Z"""


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry() -> MetricsRegistry:
    return MetricsRegistry()


BudgetFactory = Callable[..., Budget]


@pytest.fixture
def make_budget(tmp_path: Path, clock: Clock, registry: MetricsRegistry) -> Iterator[BudgetFactory]:
    made: list[Budget] = []

    def make(limits: Limits | None = None, **options: Any) -> Budget:
        options.setdefault("clock", clock)
        options.setdefault("registry", registry)
        options.setdefault("prices", PRICES)
        budget = Budget(tmp_path / "ledger.db", limits=limits, **options)
        made.append(budget)
        return budget

    yield make
    for budget in made:
        budget.close()


class Receiver:
    """A webhook receiver: records each JSON body; `delay` makes it answer late."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.received = threading.Event()
        self.release = threading.Event()
        self.delay = 0.0
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                receiver.bodies.append(body)
                receiver.received.set()
                if receiver.delay:
                    receiver.release.wait(receiver.delay)
                try:
                    self.send_response(receiver.status)
                    self.end_headers()
                except OSError:
                    pass  # the client gave up (timeout): expected in the slow tests

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/budget"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.close()


@pytest.fixture
def dispatcher_for(registry: MetricsRegistry) -> Iterator[Callable[..., AlertDispatcher]]:
    made: list[AlertDispatcher] = []

    def make(**options: Any) -> AlertDispatcher:
        options.setdefault("registry", registry)
        d = AlertDispatcher(**options)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close(timeout_s=5)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Webhook posts to 127.0.0.1 must not be routed through a proxy from the environment."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
