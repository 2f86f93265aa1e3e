"""Durable agent runs (`agent.db` in the workspace): runs, their messages, tool calls,
approvals and the audit log, in one SQLite file so a state change and its audit record
commit together.

A call moves through these states:

    awaiting_approval ──approve──▶ ready ──▶ executing ──▶ done
         │  └──reject──▶ rejected              └──────▶ failed
    (policy always) ──────────────▶ ready
    (policy deny) ──▶ denied      (bad arguments) ──▶ invalid

`begin_execution` commits `executing` with the call's idempotency key (sha256 of run id, call
id and argument digest) before the tool runs; `finish_execution` commits `done` with the
result's digest after. A call found `executing` on resume crashed mid-way: the loop re-invokes
an idempotent tool with the same key (it de-duplicates) and fails a non-idempotent one for a
human to check (`recover`). An approval is one row bound to the digest of the exact
arguments, used once, by the execution it allowed.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from cairn.agent import audit
from cairn.agent.audit import GENESIS, AuditRecord, Verification
from cairn.agent.tools import digest
from cairn.errors import StoreError, UserError
from cairn.llm.base import Message, ToolCall
from cairn.pg import PgDatabase, is_postgres_url
from cairn.sql import SqlConnection
from cairn.sqlite import SQLiteFile

AGENT_DB = "agent.db"

RunStatus = Literal["running", "awaiting_approval", "done", "failed", "stopped"]
CallState = Literal[
    "awaiting_approval", "ready", "executing", "done", "failed", "rejected", "denied", "invalid"
]
Policy = Literal["always", "ask", "deny"]
TERMINAL_CALL_STATES = frozenset({"done", "failed", "rejected", "denied", "invalid"})

MIGRATIONS = [
    f"""
    CREATE TABLE agent_runs (
        id TEXT PRIMARY KEY,
        task TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        answer TEXT,
        tenant TEXT,
        user_id TEXT,
        trace_id TEXT NOT NULL,
        dry_run INTEGER NOT NULL DEFAULT 0,
        steps INTEGER NOT NULL DEFAULT 0,
        tool_calls INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        cost_usd TEXT NOT NULL DEFAULT '0',
        started_s REAL NOT NULL,
        paused_s REAL NOT NULL DEFAULT 0,
        paused_at REAL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        tokens INTEGER NOT NULL DEFAULT 0,
        driver TEXT,
        driver_until REAL,
        audit_seq INTEGER NOT NULL DEFAULT 0,
        audit_head TEXT NOT NULL DEFAULT '{GENESIS}'
    );
    CREATE TABLE agent_messages (
        run_id TEXT NOT NULL REFERENCES agent_runs(id),
        seq INTEGER NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    CREATE TABLE agent_calls (
        run_id TEXT NOT NULL REFERENCES agent_runs(id),
        call_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        model_call_id TEXT NOT NULL,
        tool TEXT NOT NULL,
        args TEXT NOT NULL,
        args_digest TEXT NOT NULL,
        policy TEXT NOT NULL,
        state TEXT NOT NULL,
        idempotency_key TEXT,
        result TEXT,
        result_digest TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (run_id, call_id)
    );
    CREATE TABLE agent_approvals (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        args_digest TEXT NOT NULL,
        decision TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL,
        used_at TEXT
    );
    CREATE TABLE agent_audit (
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        at TEXT NOT NULL,
        payload TEXT NOT NULL,
        prev TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    CREATE TRIGGER agent_audit_no_update BEFORE UPDATE ON agent_audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER agent_audit_no_delete BEFORE DELETE ON agent_audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    """,
    # the final answer's citations, checked by the verifier (cairn.agent.answers), and the
    # workflow a run follows (its tools and prompt are rebuilt from it on resume)
    """
    ALTER TABLE agent_runs ADD COLUMN citations TEXT;
    ALTER TABLE agent_runs ADD COLUMN workflow TEXT;
    """,
]


def _postgres_migrations() -> list[str]:
    """`MIGRATIONS` in Postgres: the same tables (`cairn.pg.from_sqlite`), the append-only
    rule of the audit log as a trigger function."""
    from cairn.pg import from_sqlite

    tables = MIGRATIONS[0].split("CREATE TRIGGER")[0]
    return [
        from_sqlite(tables)
        + """
        CREATE FUNCTION agent_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
        CREATE TRIGGER agent_audit_append_only BEFORE UPDATE OR DELETE ON agent_audit
        FOR EACH ROW EXECUTE FUNCTION agent_audit_append_only();
        """,
        *(from_sqlite(step) for step in MIGRATIONS[1:]),
    ]


class RunNotFound(UserError):
    """No agent run with that id."""


class ApprovalError(UserError):
    """An approval, rejection or edit that cannot apply (wrong state, changed arguments)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RunRecord:
    id: str
    task: str
    status: RunStatus
    reason: str | None
    answer: str | None
    tenant: str | None
    user: str | None
    trace_id: str
    dry_run: bool
    steps: int
    tool_calls: int
    failures: int
    """Consecutive failed calls (bad arguments, tool errors); reset by a call that works."""
    cost_usd: Decimal
    started_s: float
    paused_s: float
    created_at: str
    updated_at: str
    tokens: int = 0
    """Input plus output tokens of every model call so far."""
    citations: tuple[dict[str, Any], ...] = ()
    """The final answer's `[n]` citations with `chunk_id`, `verified` and `support`."""
    workflow: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class CallRecord:
    run_id: str
    call_id: str
    seq: int
    model_call_id: str
    tool: str
    args: dict[str, Any]
    args_digest: str
    policy: str
    state: CallState
    idempotency_key: str | None
    result: Any
    result_digest: str | None
    error: str | None

    def pending_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "tool": self.tool,
            "args": self.args,
            "args_digest": self.args_digest,
        }

    def as_json(self) -> dict[str, Any]:
        return self.pending_json() | {
            "state": self.state,
            "policy": self.policy,
            "idempotency_key": self.idempotency_key,
            "result": self.result,
            "result_digest": self.result_digest,
            "error": self.error,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class NewCall:
    """A call the model just made, with its policy decided and arguments validated."""

    model_call_id: str
    tool: str
    args: dict[str, Any]
    args_digest: str
    policy: str
    state: CallState
    error: str | None = None
    """For `denied` and `invalid`: the message for the model."""


def driver_id() -> str:
    """This process, as a run's driver: `host:pid:token`."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _alive(driver: str) -> bool:
    """False when `driver` names a process of this host that has ended."""
    host, _, rest = driver.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another host's: only its lease expiring frees the run
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def idempotency_key(run_id: str, call_id: str, args_digest: str) -> str:
    return hashlib.sha256(f"{run_id}:{call_id}:{args_digest}".encode()).hexdigest()[:32]


def message_json(message: Message) -> dict[str, Any]:
    return {
        "role": message.role,
        "content": message.content,
        "tool_calls": [
            {"id": c.id, "name": c.name, "arguments": dict(c.arguments)} for c in message.tool_calls
        ],
        "tool_call_id": message.tool_call_id,
    }


def message_of(data: dict[str, Any]) -> Message:
    return Message(
        role=data["role"],
        content=data["content"],
        tool_calls=tuple(
            ToolCall(id=c["id"], name=c["name"], arguments=c["arguments"])
            for c in data["tool_calls"]
        ),
        tool_call_id=data["tool_call_id"],
    )


_RUN_COLUMNS = (
    "id, task, status, reason, answer, tenant, user_id, trace_id, dry_run, steps, tool_calls, "
    "failures, cost_usd, started_s, paused_s, created_at, updated_at, tokens, citations, workflow"
)
_CALL_COLUMNS = (
    "run_id, call_id, seq, model_call_id, tool, args, args_digest, policy, state, "
    "idempotency_key, result, result_digest, error"
)


def _run(r: Any) -> RunRecord:
    return RunRecord(
        id=r[0], task=r[1], status=r[2], reason=r[3], answer=r[4], tenant=r[5], user=r[6],
        trace_id=r[7], dry_run=bool(r[8]), steps=int(r[9]), tool_calls=int(r[10]),
        failures=int(r[11]), cost_usd=Decimal(r[12]), started_s=float(r[13]),
        paused_s=float(r[14]), created_at=r[15], updated_at=r[16], tokens=int(r[17]),
        citations=tuple(json.loads(r[18])) if r[18] else (), workflow=r[19],
    )  # fmt: skip


def _call(r: Any) -> CallRecord:
    return CallRecord(
        run_id=r[0], call_id=r[1], seq=int(r[2]), model_call_id=r[3], tool=r[4],
        args=json.loads(r[5]), args_digest=r[6], policy=r[7], state=r[8], idempotency_key=r[9],
        result=None if r[10] is None else json.loads(r[10]), result_digest=r[11], error=r[12],
    )  # fmt: skip


class AgentStore:
    """The agent's tables in `agent.db`, or in a Postgres database shared by replicas (a
    `postgresql://` URL: the same SQL, each write transaction serialised across replicas by
    an advisory lock as SQLite serialises writers of the file). `clock` gives seconds since
    the epoch (injected in tests); every timestamp and the wall-time limit read it."""

    def __init__(
        self, path: Path | str, *, clock: Callable[[], float] = time.time, durable: bool = True
    ) -> None:
        """`durable=False` commits without fsync (WAL, `synchronous=NORMAL`): a killed process
        loses nothing, a power cut may lose the last commits (Postgres: its own settings)."""
        self.clock = clock
        self.durable = durable
        self._file: SQLiteFile | PgDatabase
        if isinstance(path, str) and is_postgres_url(path):
            self.path: Path | None = None
            self._file = PgDatabase(
                path,
                _postgres_migrations(),
                component="agent",
                what="the agent database",
                error=StoreError,
                max_size=4,
            )
            return
        self.path = Path(path)
        self._file = SQLiteFile(
            self.path,
            MIGRATIONS,
            what="the agent database",
            damaged_hint="move it away (runs, approvals and the audit log in it are lost)",
            error=StoreError,
            durable=durable,
        )

    @classmethod
    def in_workspace(cls, root: Path, *, url: str | None = None, **kwargs: Any) -> AgentStore:
        """`agent.db` under `root`, or the Postgres database `url` names (see
        `cairn.pg.follows_store`)."""
        if url is not None and is_postgres_url(url):
            return cls(url, **kwargs)
        return cls(root / AGENT_DB, **kwargs)

    @property
    def database(self) -> SQLiteFile | PgDatabase:
        """The database the tables are in (`cairn migrate` copies them from it)."""
        return self._file

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> AgentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).isoformat()

    @contextmanager
    def _transaction(self, relaxed: bool) -> Iterator[SqlConnection]:
        """A write transaction; `relaxed` skips its fsync (`synchronous=NORMAL` for this
        commit only). For records that may be lost to a power cut and redone without harm (a
        read's result, a turn that asked for reads only): the next fsynced commit makes them
        durable too, since the write-ahead log is flushed in order. Never for approvals,
        executions or their results."""
        if not relaxed or not self.durable or not isinstance(self._file, SQLiteFile):
            with self._file.transaction() as db:
                yield db
            return
        with self._file.lock:
            self._file.connection.execute("PRAGMA synchronous=NORMAL")
            try:
                with self._file.transaction() as db:
                    yield db
            finally:
                self._file.connection.execute("PRAGMA synchronous=FULL")

    # runs ------------------------------------------------------------------------------

    def create_run(
        self,
        task: str,
        messages: Iterable[Message],
        *,
        trace_id: str,
        tenant: str | None = None,
        user: str | None = None,
        dry_run: bool = False,
        workflow: str | None = None,
    ) -> RunRecord:
        run_id = "run_" + uuid.uuid4().hex[:16]
        now = self.now()
        with self._file.transaction() as db:
            db.execute(
                "INSERT INTO agent_runs (id, task, status, tenant, user_id, trace_id, dry_run, "
                "started_s, created_at, updated_at, workflow) "
                "VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, task, tenant, user, trace_id, int(dry_run), self.clock(), now, now,
                 workflow),
            )  # fmt: skip
            self._append_messages(db, run_id, messages)
            audit.append(
                db,
                run_id,
                "run_started",
                {"task": task, "tenant": tenant, "user": user, "dry_run": dry_run},
                now,
            )
        return self.run(run_id)

    def run(self, run_id: str) -> RunRecord:
        with self._file.reading() as db:
            row = db.execute(f"SELECT {_RUN_COLUMNS} FROM agent_runs WHERE id = ?", (run_id,))
            found = row.fetchone()
        if found is None:
            raise RunNotFound(f"no agent run {run_id!r}: list runs with 'cairn agent show'")
        return _run(found)

    def runs(self, limit: int = 50) -> list[RunRecord]:
        with self._file.reading() as db:
            rows = db.execute(
                f"SELECT {_RUN_COLUMNS} FROM agent_runs ORDER BY created_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [_run(r) for r in rows]

    def messages(self, run_id: str) -> list[Message]:
        with self._file.reading() as db:
            rows = db.execute(
                "SELECT message FROM agent_messages WHERE run_id = ? ORDER BY seq", (run_id,)
            ).fetchall()
        return [message_of(json.loads(r[0])) for r in rows]

    def set_status(
        self,
        run_id: str,
        status: RunStatus,
        *,
        reason: str | None = None,
        answer: str | None = None,
        citations: list[dict[str, Any]] | None = None,
    ) -> RunRecord:
        """`citations`: the answer's, as `CheckedAnswer.citations_json` gives them."""
        with self._file.transaction() as db:
            if citations is not None:
                db.execute(
                    "UPDATE agent_runs SET citations = ? WHERE id = ?",
                    (json.dumps(citations), run_id),
                )
            self._set_status(db, run_id, status, reason=reason, answer=answer)
        return self.run(run_id)

    def _set_status(
        self,
        db: SqlConnection,
        run_id: str,
        status: RunStatus,
        *,
        reason: str | None = None,
        answer: str | None = None,
    ) -> None:
        row = db.execute(
            "SELECT status, paused_at FROM agent_runs WHERE id = ?", (run_id,)
        ).fetchone()
        if row is None:
            raise RunNotFound(f"no agent run {run_id!r}")
        old, paused_at = row[0], row[1]
        if old == status:
            return
        now_s = self.clock()
        if status == "awaiting_approval":
            db.execute("UPDATE agent_runs SET paused_at = ? WHERE id = ?", (now_s, run_id))
        elif paused_at is not None:  # time spent waiting for a human does not count
            db.execute(
                "UPDATE agent_runs SET paused_s = paused_s + ?, paused_at = NULL WHERE id = ?",
                (max(0.0, now_s - float(paused_at)), run_id),
            )
        db.execute(
            "UPDATE agent_runs SET status = ?, reason = COALESCE(?, reason), "
            "answer = COALESCE(?, answer), updated_at = ? WHERE id = ?",
            (status, reason, answer, self.now(), run_id),
        )
        if status in ("done", "failed", "stopped"):
            audit.append(
                db, run_id, "run_finished", {"status": status, "reason": reason}, self.now()
            )

    def _append_messages(self, db: SqlConnection, run_id: str, messages: Iterable[Message]) -> None:
        row = db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM agent_messages WHERE run_id = ?", (run_id,)
        ).fetchone()
        seq = int(row[0])
        for message in messages:
            seq += 1
            db.execute(
                "INSERT INTO agent_messages (run_id, seq, message) VALUES (?, ?, ?)",
                (run_id, seq, json.dumps(message_json(message))),
            )

    # who drives a run ----------------------------------------------------------------

    def claim(self, run_id: str, driver: str, lease_s: float) -> str | None:
        """Make `driver` (`host:pid:token`) the only process driving the run for `lease_s`
        seconds (renewable). Returns None when claimed, else the driver holding it. A lease
        held by a process of this host that no longer exists is taken over at once."""
        with self._file.transaction() as db:
            row = db.execute(
                "SELECT driver, driver_until FROM agent_runs WHERE id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise RunNotFound(f"no agent run {run_id!r}")
            holder, until = row[0], row[1]
            free = (
                holder is None
                or holder == driver
                or until is None
                or self.clock() > float(until)
                or not _alive(holder)
            )
            if not free:
                return str(holder)
            db.execute(
                "UPDATE agent_runs SET driver = ?, driver_until = ? WHERE id = ?",
                (driver, self.clock() + lease_s, run_id),
            )
            return None

    def release(self, run_id: str, driver: str) -> None:
        with self._file.transaction() as db:
            db.execute(
                "UPDATE agent_runs SET driver = NULL, driver_until = NULL "
                "WHERE id = ? AND driver = ?",
                (run_id, driver),
            )

    # model turns -----------------------------------------------------------------------

    def record_model_turn(
        self,
        run_id: str,
        message: Message,
        calls: list[NewCall],
        *,
        model: str,
        usage: dict[str, Any],
        cost_usd: Decimal,
        tool_replies: dict[str, str],
        relaxed: bool = False,
    ) -> list[CallRecord]:
        """One model call: its reply, the calls it made (with their policy decisions) and the
        replies of calls settled at once (`denied`, `invalid`: keyed by model call id).
        `relaxed`: commit without fsync (see `_transaction`)."""
        now = self.now()
        with self._transaction(relaxed) as db:
            self._append_messages(db, run_id, [message])
            row = db.execute(
                "SELECT COUNT(*) FROM agent_calls WHERE run_id = ?", (run_id,)
            ).fetchone()
            seq = int(row[0])
            db.execute(
                "UPDATE agent_runs SET steps = steps + 1, tool_calls = tool_calls + ?, "
                "tokens = tokens + ?, cost_usd = ?, updated_at = ? WHERE id = ?",
                (
                    len(calls),
                    int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0)),
                    str(self._cost(db, run_id) + cost_usd),
                    now,
                    run_id,
                ),
            )
            audit.append(
                db,
                run_id,
                "model_call",
                {
                    "model": model,
                    "usage": usage,
                    "cost_usd": str(cost_usd),
                    "text_digest": hashlib.sha256(message.content.encode()).hexdigest(),
                    "tool_calls": len(calls),
                },
                now,
            )
            for call in calls:
                seq += 1
                call_id = f"c{seq}"
                db.execute(
                    f"INSERT INTO agent_calls ({_CALL_COLUMNS}, created_at, updated_at) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?, ?)",
                    (
                        run_id, call_id, seq, call.model_call_id, call.tool,
                        json.dumps(call.args), call.args_digest, call.policy, call.state,
                        call.error, now, now,
                    ),
                )  # fmt: skip
                audit.append(
                    db,
                    run_id,
                    "tool_call",
                    {
                        "call_id": call_id,
                        "tool": call.tool,
                        "args_digest": call.args_digest,
                        "policy": call.policy,
                        "state": call.state,
                    },
                    now,
                )
                if call.model_call_id in tool_replies:
                    self._append_messages(
                        db,
                        run_id,
                        [Message.tool(call.model_call_id, tool_replies[call.model_call_id])],
                    )
        return self.calls(run_id)

    def _cost(self, db: SqlConnection, run_id: str) -> Decimal:
        row = db.execute("SELECT cost_usd FROM agent_runs WHERE id = ?", (run_id,)).fetchone()
        return Decimal(row[0])

    def set_failures(self, run_id: str, failures: int) -> None:
        with self._file.transaction() as db:
            db.execute("UPDATE agent_runs SET failures = ? WHERE id = ?", (failures, run_id))

    # calls -----------------------------------------------------------------------------

    def calls(self, run_id: str) -> list[CallRecord]:
        with self._file.reading() as db:
            rows = db.execute(
                f"SELECT {_CALL_COLUMNS} FROM agent_calls WHERE run_id = ? ORDER BY seq",
                (run_id,),
            ).fetchall()
        return [_call(r) for r in rows]

    def call(self, run_id: str, call_id: str) -> CallRecord:
        with self._file.reading() as db:
            return self._one_call(db, run_id, call_id)

    def _one_call(self, db: SqlConnection, run_id: str, call_id: str) -> CallRecord:
        row = db.execute(
            f"SELECT {_CALL_COLUMNS} FROM agent_calls WHERE run_id = ? AND call_id = ?",
            (run_id, call_id),
        ).fetchone()
        if row is None:
            raise ApprovalError(
                f"run {run_id} has no call {call_id!r}: see its calls with "
                f"'cairn agent show {run_id}'"
            )
        return _call(row)

    def _set_call(self, db: SqlConnection, run_id: str, call_id: str, **columns: Any) -> None:
        sets = ", ".join(f"{c} = ?" for c in columns)
        db.execute(
            f"UPDATE agent_calls SET {sets}, updated_at = ? WHERE run_id = ? AND call_id = ?",
            (*columns.values(), self.now(), run_id, call_id),
        )

    def approve(
        self, run_id: str, call_id: str, *, actor: str, args_digest: str | None = None
    ) -> tuple[CallRecord, str | None]:
        """Approve the call's exact arguments (`args_digest`, when given, must still match:
        the call was not edited since the approver looked). Returns the call and, when it
        was already decided, a note saying so (approving twice changes nothing)."""
        now = self.now()
        with self._file.transaction() as db:
            call = self._one_call(db, run_id, call_id)
            if call.state != "awaiting_approval":
                prior = db.execute(
                    "SELECT decision, actor, at FROM agent_approvals WHERE run_id = ? "
                    "AND call_id = ? ORDER BY id DESC LIMIT 1",
                    (run_id, call_id),
                ).fetchone()
                if prior is not None and prior[0] == "rejected":
                    raise ApprovalError(
                        f"call {call_id} was rejected by {prior[1]} at {prior[2]}; "
                        "a rejected call cannot be approved"
                    )
                who = f" by {prior[1]} at {prior[2]}" if prior is not None else " by policy"
                return call, f"call {call_id} was already approved{who} (state {call.state})"
            if args_digest is not None and args_digest != call.args_digest:
                raise ApprovalError(
                    f"call {call_id}'s arguments changed (digest {call.args_digest[:12]}, "
                    f"you approved {args_digest[:12]}): review them again with "
                    f"'cairn agent show {run_id}'"
                )
            db.execute(
                "INSERT INTO agent_approvals (run_id, call_id, args_digest, decision, actor, at) "
                "VALUES (?, ?, ?, 'approved', ?, ?)",
                (run_id, call_id, call.args_digest, actor, now),
            )
            self._set_call(db, run_id, call_id, state="ready")
            audit.append(
                db,
                run_id,
                "approval",
                {"call_id": call_id, "args_digest": call.args_digest, "actor": actor},
                now,
            )
            self._resume_if_decided(db, run_id)
            return self._one_call(db, run_id, call_id), None

    def reject(
        self, run_id: str, call_id: str, *, actor: str, reason: str = ""
    ) -> tuple[CallRecord, str | None]:
        now = self.now()
        with self._file.transaction() as db:
            call = self._one_call(db, run_id, call_id)
            if call.state == "rejected":
                return call, f"call {call_id} was already rejected"
            if call.state != "awaiting_approval":
                raise ApprovalError(
                    f"call {call_id} is {call.state}, not awaiting approval: it cannot be "
                    "rejected now"
                )
            db.execute(
                "INSERT INTO agent_approvals (run_id, call_id, args_digest, decision, actor, at) "
                "VALUES (?, ?, ?, 'rejected', ?, ?)",
                (run_id, call_id, call.args_digest, actor, now),
            )
            text = f"error: a human ({actor}) rejected this call" + (
                f": {reason}" if reason else ""
            )
            text += ". Do not repeat it; continue without it or explain what you needed."
            self._set_call(db, run_id, call_id, state="rejected", error=text)
            self._append_messages(db, run_id, [Message.tool(call.model_call_id, text)])
            audit.append(
                db,
                run_id,
                "rejection",
                {"call_id": call_id, "args_digest": call.args_digest, "actor": actor,
                 "reason": reason},
                now,
            )  # fmt: skip
            self._resume_if_decided(db, run_id)
            return self._one_call(db, run_id, call_id), None

    def edit(
        self, run_id: str, call_id: str, args: dict[str, Any], args_digest: str, *, actor: str
    ) -> CallRecord:
        """Replace a waiting call's arguments (validated by the caller); it needs its own
        approval, since approvals bind to the digest of the exact arguments."""
        with self._file.transaction() as db:
            call = self._one_call(db, run_id, call_id)
            if call.state != "awaiting_approval":
                raise ApprovalError(
                    f"call {call_id} is {call.state}: only waiting calls can be edited"
                )
            self._set_call(db, run_id, call_id, args=json.dumps(args), args_digest=args_digest)
            audit.append(
                db,
                run_id,
                "edit",
                {"call_id": call_id, "from_digest": call.args_digest, "to_digest": args_digest,
                 "actor": actor},
                self.now(),
            )  # fmt: skip
            return self._one_call(db, run_id, call_id)

    def _resume_if_decided(self, db: SqlConnection, run_id: str) -> None:
        waiting = db.execute(
            "SELECT COUNT(*) FROM agent_calls WHERE run_id = ? AND state = 'awaiting_approval'",
            (run_id,),
        ).fetchone()
        status = db.execute("SELECT status FROM agent_runs WHERE id = ?", (run_id,)).fetchone()
        if int(waiting[0]) == 0 and status[0] == "awaiting_approval":
            self._set_status(db, run_id, "running")

    def begin_execution(self, run_id: str, call_id: str) -> CallRecord:
        """Commit `executing` with the idempotency key before the tool runs; an `ask` call
        uses up its approval, which must be for these exact arguments."""
        now = self.now()
        with self._file.transaction() as db:
            call = self._one_call(db, run_id, call_id)
            if call.state == "executing":
                return call  # resumed after a crash: same key
            if call.state != "ready":
                raise ApprovalError(f"call {call_id} is {call.state}, not ready to execute")
            approval_id = None
            dry: Any = db.execute(
                "SELECT dry_run FROM agent_runs WHERE id = ?", (run_id,)
            ).fetchone()
            if call.policy == "ask" and not dry[0]:  # a dry run changes nothing: no approval
                row = db.execute(
                    "SELECT id FROM agent_approvals WHERE run_id = ? AND call_id = ? AND "
                    "args_digest = ? AND decision = 'approved' AND used_at IS NULL "
                    "ORDER BY id LIMIT 1",
                    (run_id, call_id, call.args_digest),
                ).fetchone()
                if row is None:
                    raise ApprovalError(
                        f"call {call_id} has no unused approval for its exact arguments "
                        f"(digest {call.args_digest[:12]}): approve it again"
                    )
                approval_id = int(row[0])
                db.execute(
                    "UPDATE agent_approvals SET used_at = ? WHERE id = ?", (now, approval_id)
                )
            key = idempotency_key(run_id, call_id, call.args_digest)
            self._set_call(db, run_id, call_id, state="executing", idempotency_key=key)
            audit.append(
                db,
                run_id,
                "execution",
                {"call_id": call_id, "tool": call.tool, "args_digest": call.args_digest,
                 "idempotency_key": key, "approval": approval_id},
                now,
            )  # fmt: skip
            return self._one_call(db, run_id, call_id)

    def finish_call(
        self,
        run_id: str,
        call_id: str,
        *,
        state: Literal["done", "failed", "invalid", "denied"],
        reply: str,
        result: Any = None,
        error: str | None = None,
        key: str | None = None,
        reset_failures: bool = False,
        relaxed: bool = False,
    ) -> CallRecord:
        """Settle a call: its result (or error), its digest, and the reply the model gets
        (`key`: the idempotency key it ran with; `reset_failures`: it worked, so the run's
        count of failed calls in a row starts again; `relaxed`: a read's result, committed
        without fsync, see `_transaction`)."""
        now = self.now()
        with self._transaction(relaxed) as db:
            call = self._one_call(db, run_id, call_id)
            if call.state in TERMINAL_CALL_STATES:
                return call
            result_text = None if result is None else json.dumps(result)
            result_digest = None if result is None else digest(result)
            self._set_call(
                db, run_id, call_id, state=state, result=result_text,
                result_digest=result_digest, error=error,
                idempotency_key=key or call.idempotency_key,
            )  # fmt: skip
            if reset_failures:
                db.execute("UPDATE agent_runs SET failures = 0 WHERE id = ?", (run_id,))
            self._append_messages(db, run_id, [Message.tool(call.model_call_id, reply)])
            audit.append(
                db,
                run_id,
                "execution_done" if state == "done" else "execution_failed",
                {"call_id": call_id, "state": state, "result_digest": result_digest,
                 "error": error, "idempotency_key": key or call.idempotency_key},
                now,
            )  # fmt: skip
            return self._one_call(db, run_id, call_id)

    # audit -----------------------------------------------------------------------------

    def audit(self, run_id: str) -> list[AuditRecord]:
        self.run(run_id)
        with self._file.reading() as db:
            return audit.records(db, run_id)

    def verify(self, run_id: str) -> Verification:
        with self._file.reading() as db:
            row = db.execute(
                "SELECT audit_seq, audit_head FROM agent_runs WHERE id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise RunNotFound(f"no agent run {run_id!r}")
            chain = audit.records(db, run_id)
        return audit.verify(chain, str(row[1]), int(row[0]))
