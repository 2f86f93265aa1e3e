"""Ingest jobs' progress, readable from any process: the `JobStore` contract and its
`server.db` implementation.

Each job is leased to the process that runs it: the row records its `owner` and a
`lease_until` time that the owner's heartbeat pushes forward while the job is queued or
running. A process that stops (or dies) stops renewing; once the lease has expired, any
other process marks the job failed (`fail_abandoned`). A second server starting on the same
workspace therefore leaves the first one's live jobs alone.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from cairn.server.db import ServerDB

LEASE_S = 60.0
"""How long a job stays its owner's without a heartbeat."""

ABANDONED = "the server running this job stopped before it finished; upload the files again"

_COLUMNS = (
    "id, tenant, status, files, done, failed, chunks, failures, error, owner, lease_until, "
    "flagged, quarantined"
)


@runtime_checkable
class JobStore(Protocol):
    """Ingest jobs, leased to the process (`owner`) that runs them."""

    owner: str
    """This process's identity, recorded on the jobs it creates."""

    def create(self, tenant: str, files: list[str]) -> dict[str, Any]:
        """A new queued job owned by this process, as JSON (`id`, `status`, `files`, ...)."""
        ...

    def get(self, job_id: str, tenant: str | None = None) -> dict[str, Any] | None:
        """The job, or None when absent or (with `tenant`) another tenant's."""
        ...

    def update(self, job_id: str, **fields: Any) -> bool:
        """Set some of `status`, `done`, `failed`, `chunks`, `flagged`, `quarantined`,
        `failures`, `error` of one of this owner's queued or running jobs. False when the job
        is not (or no longer) one: a job another server failed as abandoned stays failed."""
        ...

    def renew(self) -> int:
        """Extend the lease of this owner's queued and running jobs; how many."""
        ...

    def fail_abandoned(self) -> int:
        """Mark failed the queued or running jobs of other owners whose lease has expired
        (this owner's jobs are alive while it runs); how many."""
        ...


class SQLiteJobStore:
    """`JobStore` on the `jobs` table of `server.db`."""

    def __init__(
        self,
        db: ServerDB,
        *,
        owner: str | None = None,
        lease_s: float = LEASE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        self.db = db
        self.owner = owner or f"proc_{uuid.uuid4().hex[:12]}"
        self.lease_s = lease_s
        self.clock = clock

    def create(self, tenant: str, files: list[str]) -> dict[str, Any]:
        job_id = "job_" + secrets.token_hex(8)
        now = _now()
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO jobs (id, tenant, status, files, created_at, updated_at, owner, "
                "lease_until) VALUES (?,?,?,?,?,?,?,?)",
                (
                    job_id,
                    tenant,
                    "queued",
                    json.dumps(files),
                    now,
                    now,
                    self.owner,
                    self.clock() + self.lease_s,
                ),
            )
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str, tenant: str | None = None) -> dict[str, Any] | None:
        with self.db.reading() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or (tenant is not None and row[1] != tenant):
            return None
        return {
            "id": row[0],
            "status": row[2],
            "files": json.loads(row[3]),
            "done": row[4],
            "failed": row[5],
            "chunks": row[6],
            "flagged": row[11],
            "quarantined": row[12],
            "failures": json.loads(row[7]),
            "error": row[8],
        }

    def update(self, job_id: str, **fields: Any) -> bool:
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise ValueError(f"cannot update job field(s) {sorted(unknown)}: use {UPDATABLE}")
        values = {k: json.dumps(v) if k in ("files", "failures") else v for k, v in fields.items()}
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self.db.transaction() as db:
            cur = db.execute(
                f"UPDATE jobs SET {assignments}, updated_at = ? WHERE id = ? AND owner = ? "
                "AND status IN ('queued', 'running')",
                (*values.values(), _now(), job_id, self.owner),
            )
        return cur.rowcount == 1

    def renew(self) -> int:
        with self.db.transaction() as db:
            cur = db.execute(
                "UPDATE jobs SET lease_until = ? WHERE owner = ? "
                "AND status IN ('queued', 'running')",
                (self.clock() + self.lease_s, self.owner),
            )
        return cur.rowcount

    def fail_abandoned(self) -> int:
        # jobs written before leases existed have none: nobody can be running them
        with self.db.transaction() as db:
            cur = db.execute(
                "UPDATE jobs SET status = 'failed', error = ?, updated_at = ? "
                "WHERE status IN ('queued', 'running') AND IFNULL(owner, '') != ? "
                "AND (lease_until IS NULL OR lease_until < ?)",
                (ABANDONED, _now(), self.owner, self.clock()),
            )
        return cur.rowcount


UPDATABLE = frozenset(
    {"status", "files", "done", "failed", "chunks", "flagged", "quarantined", "failures", "error"}
)
"""The job fields `JobStore.update` may set."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
