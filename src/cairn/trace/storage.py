"""Where recorded traces are kept and read back: the `TraceStore` contract, and
`open_trace_store`, which picks the backend by URL.

    store = open_trace_store(settings.workspace)          # traces.db in the workspace
    store.write(trace)                                      # a sink of the RecordingTracer
    store.recent(tenant="acme")                             # what GET /v1/traces serves

Backends: `SQLiteTraceStore` (`traces.db`, the default), `PostgresTraceStore`
(`postgresql://...`, shared by replicas; `build_tracer` puts traces there when `store.url` is
one) and `MemoryTraceStore` (`memory://`, this process only). Another backend adds a
module and a branch here, and runs `cairn.testing.traces.TraceStoreConformance`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cairn.errors import ConfigError
from cairn.sqlite import sqlite_url_path
from cairn.trace.records import TraceRecord

TRACES_FILE = "traces.db"


@runtime_checkable
class TraceStore(Protocol):
    """Keeps finished traces (it is a `TraceSink`) and serves them back per tenant.

    A trace read back is `{"trace_id", "name", "started_at" (ISO 8601), "duration_ms",
    "status" ("error" when any span failed), "attributes" (the root span's)}`; `get` adds
    `"spans"`, oldest first, each `{"span_id", "parent_id", "name", "start_ms" (from the start
    of the trace), "duration_ms", "status", "attributes"}`. Writing a trace id again replaces
    that trace. `tenant=None` reads the traces without a tenant (local mode);
    `all_tenants=True` reads every trace."""

    def write(self, trace: TraceRecord) -> None: ...

    def recent(
        self, *, limit: int = 50, tenant: str | None = None, all_tenants: bool = False
    ) -> list[dict[str, Any]]:
        """The latest traces, newest first: all of them, or one tenant's."""
        ...

    def get(
        self, trace_id: str, *, tenant: str | None = None, all_tenants: bool = False
    ) -> dict[str, Any] | None:
        """One trace with its spans, or None when absent or not the tenant's."""
        ...

    def close(self) -> None: ...


def open_trace_store(root: Path, *, url: str | None = None) -> TraceStore:
    """The store `url` names (`sqlite:///PATH`, `postgresql://...`, `memory://`), or
    `root/traces.db`."""
    from cairn.pg import is_postgres_url

    if url is not None and is_postgres_url(url):
        from cairn.trace.postgres import PostgresTraceStore

        return PostgresTraceStore(url)
    if url == "memory://":
        from cairn.trace.memory import MemoryTraceStore

        return MemoryTraceStore()
    from cairn.trace.sqlite import SQLiteTraceStore

    path = root / TRACES_FILE if not url else sqlite_url_path(url, root)
    if path is not None:
        return SQLiteTraceStore(path)
    raise ConfigError(
        f"no trace-store backend for {url!r}: use sqlite:///PATH, postgresql://..., "
        "memory://, or leave it "
        f"unset for {root / TRACES_FILE}"
    )
