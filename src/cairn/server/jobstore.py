"""Ingest jobs' progress, readable from any process: the `JobStore` contract and its SQL
implementation (`server.db`, or the same tables on Postgres).

Each job is leased to the process that runs it: the row records its `owner` and a
`lease_until` time that the owner's heartbeat pushes forward while the job is queued or
running. A process that stops (or dies) stops renewing; once the lease has expired, another
process takes the job over (`claim`) when the job's uploaded files were stored with it
(`create(..., inputs=...)`), and runs it again from those files (re-ingesting a file already
done changes nothing: the content hash is the same). A job without stored files, or one
already started `MAX_ATTEMPTS` times, is marked failed instead (`fail_abandoned`). A second
server starting on the same database therefore leaves the first one's live jobs alone.

On Postgres `claim` is a `SELECT ... FOR UPDATE SKIP LOCKED` queue: replicas claiming at once
never get the same job and never wait for each other; on SQLite the file's write lock
serialises them.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from cairn.pg import PgDatabase
from cairn.server.db import StateDB, writing

LEASE_S = 60.0
"""How long a job stays its owner's without a heartbeat."""

ABANDONED = "the server running this job stopped before it finished; upload the files again"
MAX_ATTEMPTS = 3
"""Processes that may start one job (its owner, then those taking it over): a job whose
files kill every process that runs them is failed rather than passed on forever."""

_COLUMNS = (
    "id, tenant, status, files, done, failed, chunks, failures, error, owner, lease_until, "
    "flagged, quarantined"
)


@runtime_checkable
class JobStore(Protocol):
    """Ingest jobs, leased to the process (`owner`) that runs them."""

    owner: str
    """This process's identity, recorded on the jobs it creates."""

    def create(
        self, tenant: str, files: list[str], inputs: Mapping[str, bytes] | None = None
    ) -> dict[str, Any]:
        """A new queued job owned by this process, as JSON (`id`, `status`, `files`, ...).
        `inputs`: the uploaded files' bytes by name, kept until the job ends so another
        process can take it over."""
        ...

    def inputs(self, job_id: str) -> dict[str, bytes]:
        """The stored files of a queued or running job, by name (none once it ended)."""
        ...

    def claim(self) -> dict[str, Any] | None:
        """Take over one job whose owner's lease has expired and whose files are stored
        (oldest first): it becomes this owner's, leased anew. The job as JSON with its
        `tenant`, or None. Two processes claiming at once never get the same job."""
        ...

    def release(self, job_id: str) -> bool:
        """Give one of this owner's live jobs up (the process is stopping): another process
        may claim it at once. False when it is not this owner's live job."""
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
        and that cannot be taken over (no stored files, or started `MAX_ATTEMPTS` times);
        this owner's jobs are alive while it runs. How many."""
        ...


class SQLiteJobStore:
    """`JobStore` on the `jobs` table of `server.db`, or of Postgres (`StateDB`): one SQL
    for both."""

    def __init__(
        self,
        db: StateDB,
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
        # Postgres: rows another claimer holds are skipped, not waited for
        self._skip_locked = " FOR UPDATE SKIP LOCKED" if isinstance(db, PgDatabase) else ""

    def create(
        self, tenant: str, files: list[str], inputs: Mapping[str, bytes] | None = None
    ) -> dict[str, Any]:
        job_id = "job_" + secrets.token_hex(8)
        now = _now()
        with writing(self.db, serial=False) as db:
            db.execute(
                "INSERT INTO jobs (id, tenant, status, files, created_at, updated_at, owner, "
                "lease_until, attempts) VALUES (?,?,?,?,?,?,?,?,1)",
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
            if inputs:
                db.executemany(
                    "INSERT INTO job_inputs (job_id, name, data) VALUES (?,?,?)",
                    [(job_id, name, bytes(data)) for name, data in inputs.items()],
                )
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str, tenant: str | None = None) -> dict[str, Any] | None:
        with self.db.reading() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or (tenant is not None and row[1] != tenant):
            return None
        return _job(row)

    def inputs(self, job_id: str) -> dict[str, bytes]:
        with self.db.reading() as db:
            rows = db.execute(
                "SELECT name, data FROM job_inputs WHERE job_id = ? ORDER BY name", (job_id,)
            ).fetchall()
        return {str(r[0]): bytes(r[1]) for r in rows}

    def update(self, job_id: str, **fields: Any) -> bool:
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise ValueError(f"cannot update job field(s) {sorted(unknown)}: use {UPDATABLE}")
        values = {k: json.dumps(v) if k in ("files", "failures") else v for k, v in fields.items()}
        assignments = ", ".join(f"{k} = ?" for k in values)
        with writing(self.db, serial=False) as db:
            cur = db.execute(
                f"UPDATE jobs SET {assignments}, updated_at = ? WHERE id = ? AND owner = ? "
                "AND status IN ('queued', 'running')",
                (*values.values(), _now(), job_id, self.owner),
            )
            changed = cur.rowcount == 1
            if changed and fields.get("status") not in (None, "queued", "running"):
                db.execute("DELETE FROM job_inputs WHERE job_id = ?", (job_id,))
        return changed

    def renew(self) -> int:
        with writing(self.db, serial=False) as db:
            cur = db.execute(
                "UPDATE jobs SET lease_until = ? WHERE owner = ? "
                "AND status IN ('queued', 'running')",
                (self.clock() + self.lease_s, self.owner),
            )
        return cur.rowcount

    def claim(self) -> dict[str, Any] | None:
        with writing(self.db, serial=False) as db:
            row = db.execute(
                f"SELECT id FROM jobs WHERE {_ABANDONED} AND attempts < ? "
                "AND EXISTS (SELECT 1 FROM job_inputs WHERE job_inputs.job_id = jobs.id) "
                f"ORDER BY created_at, id LIMIT 1{self._skip_locked}",
                (self.owner, self.clock(), MAX_ATTEMPTS),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET owner = ?, lease_until = ?, attempts = attempts + 1, "
                "updated_at = ? WHERE id = ?",
                (self.owner, self.clock() + self.lease_s, _now(), row[0]),
            )
            found = db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (row[0],)).fetchone()
        return _job(found) | {"tenant": found[1]}

    def release(self, job_id: str) -> bool:
        # not a failed attempt: the next process to claim it starts it as this one's attempt
        with writing(self.db, serial=False) as db:
            cur = db.execute(
                "UPDATE jobs SET owner = NULL, lease_until = 0, attempts = attempts - 1, "
                "updated_at = ? WHERE id = ? AND owner = ? AND status IN ('queued', 'running')",
                (_now(), job_id, self.owner),
            )
        return cur.rowcount == 1

    def fail_abandoned(self) -> int:
        # jobs written before leases existed have none: nobody can be running them
        with writing(self.db, serial=False) as db:
            cur = db.execute(
                f"UPDATE jobs SET status = 'failed', error = ?, updated_at = ? WHERE {_ABANDONED} "
                "AND (attempts >= ? "
                "OR NOT EXISTS (SELECT 1 FROM job_inputs WHERE job_inputs.job_id = jobs.id))",
                (ABANDONED, _now(), self.owner, self.clock(), MAX_ATTEMPTS),
            )
            if cur.rowcount:
                db.execute(
                    "DELETE FROM job_inputs WHERE job_id IN (SELECT id FROM jobs "
                    "WHERE status NOT IN ('queued', 'running'))"
                )
        return cur.rowcount


_ABANDONED = (
    "status IN ('queued', 'running') AND COALESCE(owner, '') != ? "
    "AND (lease_until IS NULL OR lease_until < ?)"
)
"""A live job of another owner (or of none) whose lease has expired (parameters: this
owner, now)."""


def _job(row: Any) -> dict[str, Any]:
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


UPDATABLE = frozenset(
    {"status", "files", "done", "failed", "chunks", "flagged", "quarantined", "failures", "error"}
)
"""The job fields `JobStore.update` may set."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
