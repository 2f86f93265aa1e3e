"""Background ingest jobs for uploaded documents.

Uploads are saved under `<workspace>/uploads/<tenant>/<file name>` (so re-uploading a file
of the same name replaces that document) and ingested by one worker thread, one job at a
time, with the tenant as the documents' ACL principal. Progress is written to the `jobs`
table of `server.db` after every file, so `GET /v1/jobs/{id}` reads it from any process.
Jobs left queued or running by a stopped server are marked failed when the next starts.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cairn.errors import CairnError
from cairn.server.db import ServerDB
from cairn.server.metrics import Metrics
from cairn.workspace import Workspace

log = logging.getLogger("cairn.server.jobs")

_COLUMNS = "id, tenant, status, files, done, failed, chunks, failures, error"


class JobStore:
    """The `jobs` table."""

    def __init__(self, db: ServerDB) -> None:
        self.db = db

    def create(self, tenant: str, files: list[str]) -> dict[str, Any]:
        job_id = "job_" + secrets.token_hex(8)
        now = _now()
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO jobs (id, tenant, status, files, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?)",
                (job_id, tenant, "queued", json.dumps(files), now, now),
            )
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str, tenant: str | None = None) -> dict[str, Any] | None:
        """The job, or None when absent or (with `tenant`) another tenant's."""
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
            "failures": json.loads(row[7]),
            "error": row[8],
        }

    def update(self, job_id: str, **fields: Any) -> None:
        values = {k: json.dumps(v) if k in ("files", "failures") else v for k, v in fields.items()}
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self.db.transaction() as db:
            db.execute(
                f"UPDATE jobs SET {assignments}, updated_at = ? WHERE id = ?",
                (*values.values(), _now(), job_id),
            )

    def fail_interrupted(self) -> int:
        """Mark jobs a previous server left unfinished as failed; how many."""
        with self.db.transaction() as db:
            cur = db.execute(
                "UPDATE jobs SET status = 'failed', error = ?, updated_at = ? "
                "WHERE status IN ('queued', 'running')",
                ("the server stopped before this job finished; upload the files again", _now()),
            )
        return cur.rowcount


class IngestJobs:
    """Runs ingest jobs on one worker thread."""

    def __init__(self, store: JobStore, workspace: Workspace, metrics: Metrics) -> None:
        self.store = store
        self.workspace = workspace
        self.metrics = metrics
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cairn-ingest")
        self._pending: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    def upload_dir(self, tenant: str) -> Path:
        return self.workspace.root / "uploads" / tenant

    def submit(self, tenant: str, saved: dict[str, Path]) -> dict[str, Any]:
        """Queue the ingest of `saved` (uploaded name -> saved path); the job as JSON."""
        job = self.store.create(tenant, list(saved))
        future = self._pool.submit(self._run, job["id"], tenant, saved)
        with self._lock:
            self._pending[job["id"]] = future
        future.add_done_callback(lambda _: self._forget(job["id"]))
        return job

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._pending.pop(job_id, None)

    def _run(self, job_id: str, tenant: str, saved: dict[str, Path]) -> None:
        from cairn.ingest.pipeline import IngestReport, ingest

        names = {str(path.resolve()): name for name, path in saved.items()}
        self.store.update(job_id, status="running")

        def progress(source: str, report: IngestReport) -> None:
            self.store.update(
                job_id,
                done=report.ingested + report.unchanged,
                failed=report.failed,
                chunks=report.chunks,
                failures=[
                    {"path": names.get(p, Path(p).name), "reason": r} for p, r in report.failures
                ],
            )

        ws = self.workspace
        try:
            report = ingest(
                list(saved.values()),
                store=ws.store,
                embedder=ws.embedder,
                tokenizer=ws.embedder.tokenizer,
                settings=ws.settings,
                acl=(tenant,),
                progress=progress,
            )
        except CairnError as exc:
            self.store.update(job_id, status="failed", error=str(exc))
            return
        except Exception as exc:
            log.exception("ingest job %s failed", job_id)
            self.store.update(
                job_id, status="failed", error=f"internal error: {type(exc).__name__}"
            )
            return
        progress("", report)
        self.metrics.cache_hits.labels(cache="embedding").inc(report.reused)
        self.metrics.cache_misses.labels(cache="embedding").inc(report.embedded)
        status = "failed" if report.failed and not (report.ingested + report.unchanged) else "done"
        self.store.update(job_id, status=status)

    def wait(self, timeout_s: float | None = None) -> None:
        """Wait for the jobs queued so far (tests, shutdown)."""
        with self._lock:
            futures = list(self._pending.values())
        for future in futures:
            future.result(timeout=timeout_s)

    def close(self) -> None:
        with self._lock:
            queued = [job_id for job_id, f in self._pending.items() if f.cancel()]
        for job_id in queued:
            self.store.update(
                job_id, status="failed", error="the server stopped before this job ran; retry"
            )
        self._pool.shutdown(wait=True)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
