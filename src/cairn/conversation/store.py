"""`conversations.db`: conversations kept by the server, per tenant and user.

A client of `/v1/chat/completions` that names a conversation (`"cairn": {"conversation_id":
"..."}`) need not resend its history: the server keeps the turns and reads them back as the
next question's history. A conversation belongs to one tenant and one user: the same id
used by another user (or tenant) is another conversation. Each keeps its newest
`MAX_TURNS` turns; what the rewriter reads of them is kept to `answer.history_tokens`.

On Postgres (a `postgresql://` URL: the store's database when `store.url` is one) the same
table is shared by every replica, so a conversation continues on whichever replica the next
question reaches.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from cairn.conversation.history import Turn
from cairn.errors import StoreError
from cairn.pg import PgDatabase, from_sqlite, is_postgres_url
from cairn.sql import SqlConnection
from cairn.sqlite import SQLiteFile

CONVERSATIONS_FILE = "conversations.db"
MAX_TURNS = 200
"""Turns kept per conversation (the oldest go first)."""

_MIGRATIONS = (
    (
        """CREATE TABLE turns (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            tenant TEXT NOT NULL, user TEXT NOT NULL, conversation TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'summary')),
            text TEXT NOT NULL,
            created REAL NOT NULL
        )""",
        "CREATE INDEX turns_by_conversation ON turns (tenant, user, conversation, seq)",
    ),
)
# in Postgres `user` is a keyword (the current role): the column is always written quoted
_PG_MIGRATIONS = tuple(
    from_sqlite(";\n".join(step))
    .replace(" user TEXT", ' "user" TEXT')
    .replace("(tenant, user,", '(tenant, "user",')
    for step in _MIGRATIONS
)


class ConversationStore:
    """Turns of conversations, keyed by (tenant, user, conversation id); thread-safe."""

    def __init__(self, path: Path | str, *, max_turns: int = MAX_TURNS) -> None:
        """`path`: `conversations.db`, or a `postgresql://` URL."""
        self.db: SQLiteFile | PgDatabase
        if isinstance(path, str) and is_postgres_url(path):
            self.db = PgDatabase(
                path,
                _PG_MIGRATIONS,
                component="conversations",
                what="the conversation store",
                error=StoreError,
                max_size=4,
            )
        else:
            self.db = SQLiteFile(Path(path), _MIGRATIONS, what="the conversation store")
        self.max_turns = max_turns

    @classmethod
    def in_workspace(cls, root: Path, *, url: str | None = None) -> ConversationStore:
        """`conversations.db` under `root`, or the Postgres database `url` names (see
        `cairn.pg.follows_store`)."""
        return cls(url if url is not None and is_postgres_url(url) else root / CONVERSATIONS_FILE)

    @contextmanager
    def _writing(self) -> Iterator[SqlConnection]:
        if isinstance(self.db, SQLiteFile):
            with self.db.transaction() as db:
                yield db
            return
        # a conversation's rows are its own: no shared lock; and, as for traces, no wait for
        # the commit's flush on the request path (a server crash may lose the last turns)
        with self.db.transaction(lock=False) as db:
            db.execute("SET LOCAL synchronous_commit = off")
            yield db

    def turns(self, tenant: str | None, user: str | None, conversation: str) -> list[Turn]:
        """The conversation's kept turns, oldest first (none for an unknown id)."""
        with self.db.reading() as db:
            rows = db.execute(
                'SELECT role, text FROM turns WHERE tenant = ? AND "user" = ? '
                "AND conversation = ? ORDER BY seq DESC LIMIT ?",
                (tenant or "", user or "", conversation, self.max_turns),
            ).fetchall()
        return [Turn(role=r[0], text=r[1]) for r in reversed(rows)]

    def append(
        self, tenant: str | None, user: str | None, conversation: str, turns: Sequence[Turn]
    ) -> None:
        """Add `turns` to the conversation; turns beyond `max_turns` are dropped, oldest
        first."""
        key = (tenant or "", user or "", conversation)
        now = time.time()
        with self._writing() as db:
            db.executemany(
                'INSERT INTO turns (tenant, "user", conversation, role, text, created)'
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(*key, t.role, t.text, now) for t in turns],
            )
            db.execute(
                'DELETE FROM turns WHERE tenant = ? AND "user" = ? AND conversation = ? AND seq <='
                ' (SELECT seq FROM turns WHERE tenant = ? AND "user" = ? AND conversation = ?'
                "  ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (*key, *key, self.max_turns),
            )

    def close(self) -> None:
        self.db.close()
