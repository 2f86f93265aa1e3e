from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.agent import AgentStore
from tests.agent.servers import caldav_server, roundup_server, smtp_server

__all__ = ["caldav_server", "roundup_server", "smtp_server"]  # fixtures of the action tools


class Clock:
    """A clock tests move by hand."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[AgentStore]:
    with AgentStore(tmp_path / "agent.db", clock=clock) as s:
        yield s
