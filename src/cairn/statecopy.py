"""Copying a workspace's own SQLite files to Postgres (`cairn migrate --to postgresql://...`,
after the store and the ledger): API keys, ingest jobs and feedback (`server.db`), traces
(`traces.db`), the agent's runs, approvals and audit log (`agent.db`), conversations
(`conversations.db`), row for row, each file in one transaction, and the evaluation runs of
`evals/runs/`; counts read back from both sides and compared.

Running it again is safe: a row already in Postgres (the same primary key, or the same
rating of a trace by a user) is left as it is, so a rerun writes only what is new; a target
that holds rows the source does not have shows up as a count that differs.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.pg import PgDatabase
from cairn.sql import SqlConnection
from cairn.sqlite import SQLiteFile

_BATCH = 500


@dataclass(slots=True)
class CopiedState:
    """What one file's tables hold on each side after the copy."""

    part: str
    source: dict[str, int] = field(default_factory=dict)
    target: dict[str, int] = field(default_factory=dict)
    written: int = 0
    """Rows this run wrote (0 on a rerun with nothing new)."""

    @property
    def matches(self) -> bool:
        return self.source == self.target

    @property
    def skipped(self) -> bool:
        return self.written == 0 and self.matches

    def as_dict(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "source": self.source,
            "target": self.target,
            "matches": self.matches,
            "already_copied": self.skipped,
        }


@dataclass(frozen=True, slots=True)
class _Part:
    name: str
    file: str
    tables: tuple[str, ...]
    """In an order that keeps foreign keys satisfied."""
    serial: tuple[tuple[str, str], ...] = ()
    """(table, column) whose Postgres sequence must continue after the copied ids."""


def _server(target: str | Path) -> Iterator[SQLiteFile | PgDatabase]:
    from cairn.server.db import ServerDB
    from cairn.server.pgstate import open_server_db

    return _opened(ServerDB(target) if isinstance(target, Path) else open_server_db(target))


def _traces(target: str | Path) -> Iterator[SQLiteFile | PgDatabase]:
    from cairn.trace.postgres import PostgresTraceStore
    from cairn.trace.sqlite import SQLiteTraceStore

    store = SQLiteTraceStore(target) if isinstance(target, Path) else PostgresTraceStore(target)
    return _opened(store.database)


def _agent(target: str | Path) -> Iterator[SQLiteFile | PgDatabase]:
    from cairn.agent.store import AgentStore

    return _opened(AgentStore(target).database)


def _conversations(target: str | Path) -> Iterator[SQLiteFile | PgDatabase]:
    from cairn.conversation.store import ConversationStore

    return _opened(ConversationStore(target).db)


def _opened(db: SQLiteFile | PgDatabase) -> Iterator[SQLiteFile | PgDatabase]:
    try:
        yield db
    finally:
        db.close()


Opener = Callable[[str | Path], Iterator[SQLiteFile | PgDatabase]]

PARTS: tuple[tuple[_Part, Opener], ...] = (
    (_Part("server", "server.db", ("keys", "jobs", "job_inputs", "feedback")), _server),
    (_Part("traces", "traces.db", ("traces", "spans")), _traces),
    (
        _Part(
            "agent",
            "agent.db",
            ("agent_runs", "agent_messages", "agent_calls", "agent_approvals", "agent_audit"),
            serial=(("agent_approvals", "id"),),
        ),
        _agent,
    ),
    (
        _Part("chats", "conversations.db", ("turns",), serial=(("turns", "seq"),)),
        _conversations,
    ),
)
"""Each file of the workspace's own state, and how to open it (migrated) on either side."""


def copy_state(
    workspace: Path, url: str, *, progress: Callable[[str], None] | None = None
) -> list[CopiedState]:
    """Copy each of the workspace's state files that exists into the Postgres database
    `url`; what each holds on both sides afterwards."""
    say = progress or (lambda _: None)
    results = []
    for part, opener in PARTS:
        path = workspace / part.file
        if not path.is_file():
            continue
        with contextmanager(opener)(path):
            pass  # migrate the file to this cairn's schema before reading it
        with contextmanager(opener)(url) as target:
            assert isinstance(target, PgDatabase)
            say(f"{part.name}: copying {path.name}")
            results.append(_copy(part, path, target))
    runs = workspace / "evals" / "runs"
    if runs.is_dir():
        say("evals: copying evals/runs/*.json")
        results.append(_copy_eval_runs(runs, url))
    return results


def _copy_eval_runs(runs_dir: Path, url: str) -> CopiedState:
    """The done runs of `runs_dir` (those the server lists) into `eval_runs`; a run already
    there is left alone."""
    from cairn.server.evalruns import PostgresEvalRunStore

    result = CopiedState("evals")
    done: dict[str, dict[str, Any]] = {}
    for path in sorted(runs_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not a run file (the server does not list it either)
        if isinstance(data, dict) and "cases" in data:
            done[path.stem] = data
    target = PostgresEvalRunStore(url)
    try:
        for run_id, record in done.items():
            if target.get(run_id) is None:
                target.finish(run_id, record)
                result.written += 1
        result.source = {"eval_runs": len(done)}
        result.target = {"eval_runs": len(target.runs())}
    finally:
        target.close()
    return result


def _copy(part: _Part, path: Path, target: PgDatabase) -> CopiedState:
    result = CopiedState(part.name)
    uri = f"file:{path}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as src:
        with target.transaction(lock=False) as db:
            before = _counts(db, part.tables)
            for table in part.tables:
                cur = src.execute(f"SELECT * FROM {table}")
                columns = ", ".join(f'"{c[0]}"' for c in cur.description)
                marks = ", ".join("?" for _ in cur.description)
                insert = f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING"
                while rows := cur.fetchmany(_BATCH):
                    db.executemany(insert, rows)
            after = _counts(db, part.tables)
            result.written = sum(after.values()) - sum(before.values())
            for table, column in part.serial:
                db.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                    f"(SELECT COALESCE(MAX({column}), 0) + 1 FROM {table}), false)"
                )
        result.source = _counts(src, part.tables)
    with target.reading() as db:
        result.target = _counts(db, part.tables)
    return result


def _counts(db: SqlConnection, tables: Sequence[str]) -> dict[str, int]:
    return {t: int(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables}
