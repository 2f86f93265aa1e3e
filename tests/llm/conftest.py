from __future__ import annotations

from collections.abc import Iterator

import pytest

from cairn.llm.breaker import CircuitBreaker
from cairn.llm.fake_server import FakeLLMServer
from cairn.llm.http import Timeouts
from cairn.llm.openai import OpenAIProvider

FAST = Timeouts(connect=5.0, read=1.0, total=10.0)
"""Short enough that a hang costs a test a second, long enough for a loopback reply on a busy
machine (two CPU-bound processes on two cores: `make test-busy`)."""

HANG_LIMIT = 30.0
"""How long the fake server's `hang` and `stall` faults last."""

NEVER_A_HANG = 10.0
"""A call that ends before this ended through a timeout or a deadline, not by waiting out a
hang; the margin to `HANG_LIMIT` keeps the check true on a busy machine."""


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(hang_limit=HANG_LIMIT) as fake:
        yield fake


@pytest.fixture
def provider(server: FakeLLMServer) -> Iterator[OpenAIProvider]:
    with OpenAIProvider("fake-model", base_url=server.url, api_key="", timeouts=FAST) as p:
        yield p


@pytest.fixture
def breaker() -> CircuitBreaker:
    return CircuitBreaker(threshold=100, reset_after=60.0)


@pytest.fixture(autouse=True)
def _no_provider_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
