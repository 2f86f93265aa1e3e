"""Traces kept in the workspace: `traces.db`, a SQLite file of its own.

Why a file of its own rather than tables in `cairn.db`: every request writes a trace, and
the corpus database serialises writers (an ingest holds its write lock per document), so
request tracing would queue behind ingestion; traces are also the one thing people want to
prune or delete wholesale, and a separate file is removed without touching the corpus.

    traces(trace_id, name, tenant, user_id, started_at, duration_ms, status, attributes)
    spans(trace_id, span_id, parent_id, name, start_ms, duration_ms, status, attributes)

`start_ms` is relative to the start of the trace (a waterfall needs nothing else). The root
span is stored in both tables. Attributes are JSON, already filtered by `trace.prompts`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.sql import SqlConnection
from cairn.sqlite import SQLiteFile
from cairn.trace.recorder import RecordingTracer, SpanHook, TraceSink
from cairn.trace.records import TraceRecord, iso
from cairn.trace.redact import PromptPolicy
from cairn.trace.storage import TRACES_FILE

if TYPE_CHECKING:  # cairn.pg imports cairn.trace.redact: no import at load time
    from cairn.pg import PgDatabase

__all__ = ["TRACES_FILE", "SQLTraceStore", "SQLiteTraceStore", "SQLiteTracer"]

_SCHEMA = (
    """CREATE TABLE traces (
        trace_id TEXT PRIMARY KEY, name TEXT NOT NULL, tenant TEXT, user_id TEXT,
        started_at REAL NOT NULL, duration_ms REAL NOT NULL, status TEXT NOT NULL,
        attributes TEXT NOT NULL)""",
    "CREATE INDEX traces_started ON traces (started_at DESC)",
    "CREATE INDEX traces_tenant_started ON traces (tenant, started_at DESC)",
    """CREATE TABLE spans (
        trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_id TEXT, name TEXT NOT NULL,
        start_ms REAL NOT NULL, duration_ms REAL NOT NULL, status TEXT NOT NULL,
        attributes TEXT NOT NULL, PRIMARY KEY (trace_id, span_id)) WITHOUT ROWID""",
)


class SQLTraceStore:
    """`TraceStore` on the `traces` and `spans` tables of a database: the SQL that
    `SQLiteTraceStore` (`traces.db`) and `cairn.trace.postgres.PostgresTraceStore` share.
    Thread-safe."""

    def __init__(self, file: SQLiteFile | PgDatabase) -> None:
        self._file = file

    @property
    def database(self) -> SQLiteFile | PgDatabase:
        """The database the tables are in (`cairn migrate` copies them from it)."""
        return self._file

    @contextmanager
    def _writing(self) -> Iterator[SqlConnection]:
        if isinstance(self._file, SQLiteFile):
            with self._file.transaction() as db:
                yield db
            return
        # Postgres: no lock shared by every writer (a trace's rows are its own), and no wait
        # for the commit's flush on the request path: a server crash may lose the last
        # traces, as a power cut may lose SQLite's (`synchronous=NORMAL`), nothing else
        with self._file.transaction(lock=False) as db:
            db.execute("SET LOCAL synchronous_commit = off")
            yield db

    # -- sink ---------------------------------------------------------------------------

    def write(self, trace: TraceRecord) -> None:
        root = trace.root
        rows = [
            (
                trace.trace_id,
                s.span_id,
                s.parent_id,
                s.name,
                round((s.start - root.start) * 1000, 3),
                round(s.duration_ms, 3),
                s.status,
                _json(s.attributes),
            )
            for s in trace.spans
        ]
        status = "error" if any(s.status == "error" for s in trace.spans) else "ok"
        with self._writing() as db:
            db.execute(
                "INSERT INTO traces VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (trace_id) DO UPDATE "
                "SET name = excluded.name, tenant = excluded.tenant, user_id = excluded.user_id, "
                "started_at = excluded.started_at, duration_ms = excluded.duration_ms, "
                "status = excluded.status, attributes = excluded.attributes",
                (
                    trace.trace_id,
                    trace.name,
                    trace.tenant,
                    trace.user,
                    root.start,
                    round(root.duration_ms, 3),
                    status,
                    _json(root.attributes),
                ),
            )
            db.execute("DELETE FROM spans WHERE trace_id = ?", (trace.trace_id,))
            db.executemany("INSERT INTO spans VALUES (?,?,?,?,?,?,?,?)", rows)

    def close(self) -> None:
        self._file.close()

    # -- reads --------------------------------------------------------------------------

    def recent(
        self, *, limit: int = 50, tenant: str | None = None, all_tenants: bool = False
    ) -> list[dict[str, Any]]:
        where, params = _tenant_filter(tenant, all_tenants)
        with self._file.reading() as db:
            rows = db.execute(
                "SELECT trace_id, name, started_at, duration_ms, status, attributes FROM traces "
                f"{where} ORDER BY started_at DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [_summary(r) for r in rows]

    def get(
        self, trace_id: str, *, tenant: str | None = None, all_tenants: bool = False
    ) -> dict[str, Any] | None:
        where, params = _tenant_filter(tenant, all_tenants)
        clause = f"{where} AND trace_id = ?" if where else "WHERE trace_id = ?"
        with self._file.reading() as db:
            row = db.execute(
                "SELECT trace_id, name, started_at, duration_ms, status, attributes FROM traces "
                f"{clause}",
                (*params, trace_id),
            ).fetchone()
            if row is None:
                return None
            spans = db.execute(
                "SELECT span_id, parent_id, name, start_ms, duration_ms, status, attributes "
                "FROM spans WHERE trace_id = ? ORDER BY start_ms, parent_id IS NOT NULL",
                (trace_id,),
            ).fetchall()
        return _summary(row) | {
            "spans": [
                {
                    "span_id": s[0],
                    "parent_id": s[1],
                    "name": s[2],
                    "start_ms": s[3],
                    "duration_ms": s[4],
                    "status": s[5],
                    "attributes": json.loads(s[6]),
                }
                for s in spans
            ]
        }


class SQLiteTraceStore(SQLTraceStore):
    """`TraceStore` in `traces.db`: a trace sink, and the reads the HTTP API serves."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            SQLiteFile(
                path,
                [_SCHEMA],
                what="the trace store",
                damaged_hint="move it aside and restart (traces can be thrown away)",
            )
        )


class SQLiteTracer(RecordingTracer):
    """A recording tracer whose traces land in `traces.db` (and in any extra sinks, such as
    the OTLP exporter)."""

    def __init__(
        self,
        path: Path,
        *,
        prompts: PromptPolicy = "redacted",
        exporters: Sequence[TraceSink] = (),
        hooks: Sequence[SpanHook] = (),
    ) -> None:
        super().__init__(exporters, store=SQLiteTraceStore(path), prompts=prompts, hooks=hooks)


def _tenant_filter(tenant: str | None, all_tenants: bool) -> tuple[str, tuple[str, ...]]:
    if all_tenants:
        return "", ()
    if tenant is None:
        return "WHERE tenant IS NULL", ()
    return "WHERE tenant = ?", (tenant,)


def _summary(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "trace_id": row[0],
        "name": row[1],
        "started_at": iso(row[2]),
        "duration_ms": row[3],
        "status": row[4],
        "attributes": json.loads(row[5]),
    }


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
