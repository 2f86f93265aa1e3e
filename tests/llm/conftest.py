from __future__ import annotations

from collections.abc import Iterator

import pytest

from cairn.llm.breaker import CircuitBreaker
from cairn.llm.fake_server import FakeLLMServer
from cairn.llm.http import Timeouts
from cairn.llm.openai import OpenAIProvider

FAST = Timeouts(connect=1.0, read=0.3, total=2.0)
"""Short enough that a hang costs a test a fraction of a second."""


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(hang_limit=5.0) as fake:
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
