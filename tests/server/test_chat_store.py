"""`conversations.db`: turns kept per tenant, user and conversation, capped, and kept across
restarts."""

from __future__ import annotations

from pathlib import Path

from cairn.conversation import ConversationStore, Turn


def test_turns_are_kept_per_tenant_user_and_conversation(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "conversations.db")
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
    again = ConversationStore(tmp_path / "conversations.db")
    try:
        assert [t.text for t in again.turns("acme", "ada", "c1")] == ["q1", "a1", "q2"]
    finally:
        again.close()


def test_a_long_conversation_keeps_its_newest_turns(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "conversations.db", max_turns=5)
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
