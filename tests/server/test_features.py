"""The cost ledger records which feature each request served: `ask`, `chat`."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from cairn.budget.ledger import LEDGER_FILE
from tests.server.conftest import app_client, settings_for

pytestmark = pytest.mark.integration

QUESTION = "How do I give a dataclass field a default list?"


def features(workspace: Path) -> list[str]:
    with closing(sqlite3.connect(workspace / LEDGER_FILE)) as db:
        rows = db.execute("SELECT feature FROM ledger ORDER BY seq").fetchall()
    return [str(r[0]) for r in rows]


@pytest.mark.parametrize("stream", [False, True])
def test_chat_and_ask_are_recorded_under_their_own_feature(workspace: Path, stream: bool) -> None:
    with app_client(settings_for(workspace)) as client:
        chat = client.post(
            "/v1/chat/completions",
            json={
                "model": "cairn",
                "stream": stream,
                "messages": [{"role": "user", "content": QUESTION}],
            },
        )
        assert chat.status_code == 200
        assert client.post("/v1/ask", json={"question": "What is a dataclass?"}).status_code == 200
    assert features(workspace) == ["chat", "ask"]
