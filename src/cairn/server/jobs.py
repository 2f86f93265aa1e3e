"""Background ingest jobs for uploaded documents.

Uploads are saved under `<workspace>/uploads/<tenant>/<file name>` (so re-uploading a file
of the same name replaces that document) and ingested by one worker thread, one job at a
time, with the tenant as the documents' ACL principal. Progress is written to the `jobs`
table of `server.db` after every file, so `GET /v1/jobs/{id}` reads it from any process.
Each job is leased to this process (see `cairn.server.jobstore`): a heartbeat thread renews
the leases of its jobs and fails the jobs of servers that stopped renewing theirs, so a second
server on the same workspace never fails the first one's running jobs. Every change is also
published on the event bus (`job:<id>`), which `GET /v1/jobs/{id}/events` streams.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cairn.errors import CairnError
from cairn.server.events import EventBus
from cairn.server.jobstore import LEASE_S, JobStore
from cairn.server.metrics import Metrics
from cairn.workspace import Workspace

log = logging.getLogger("cairn.server.jobs")


def job_topic(job_id: str) -> str:
    return f"job:{job_id}"


class IngestJobs:
    """Runs ingest jobs on one worker thread, renewing their leases on another."""

    def __init__(
        self,
        store: JobStore,
        workspace: Workspace,
        metrics: Metrics,
        *,
        events: EventBus | None = None,
        heartbeat_s: float = LEASE_S / 3,
    ) -> None:
        self.store = store
        self.events = events
        self.workspace = workspace
        self.metrics = metrics
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cairn-ingest")
        self._pending: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        abandoned = store.fail_abandoned()
        if abandoned:
            log.warning("%d ingest job(s) abandoned by a stopped server marked failed", abandoned)
        self._heart = threading.Thread(
            target=self._beat, args=(heartbeat_s,), name="cairn-job-leases", daemon=True
        )
        self._heart.start()

    def _beat(self, every_s: float) -> None:
        while not self._stopping.wait(every_s):
            try:
                self.store.renew()
                self.store.fail_abandoned()
            except Exception:  # a bad beat (a locked file) must not stop the next one
                log.exception("renewing ingest job leases failed; retrying in %.0f s", every_s)

    def upload_dir(self, tenant: str) -> Path:
        return self.workspace.root / "uploads" / tenant

    def submit(self, tenant: str, saved: dict[str, Path]) -> dict[str, Any]:
        """Queue the ingest of `saved` (uploaded name -> saved path); the job as JSON."""
        job = self.store.create(tenant, list(saved))
        self._publish(job)
        future = self._pool.submit(self._run, job["id"], tenant, saved)
        with self._lock:
            self._pending[job["id"]] = future
        future.add_done_callback(lambda _: self._forget(job["id"]))
        return job

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._pending.pop(job_id, None)

    def _run(self, job_id: str, tenant: str, saved: dict[str, Path]) -> None:
        """Ingest one job's files; the job always ends `done` or `failed`, whatever raises."""
        from cairn.ingest.pipeline import IngestReport, ingest

        names = {str(path.resolve()): name for name, path in saved.items()}

        def progress(source: str, report: IngestReport) -> None:
            # An uploaded file was sent to be indexed: one skipped (empty, nothing to index)
            # is reported with the failures, by name and reason, never dropped silently.
            missed = [*report.failures, *((s.path, s.reason) for s in report.skipped)]
            self._update(
                job_id,
                done=report.ingested + report.unchanged,
                failed=len(missed),
                chunks=report.chunks,
                flagged=report.flagged,
                quarantined=report.quarantined,
                failures=[{"path": names.get(p, Path(p).name), "reason": r} for p, r in missed],
            )

        ws = self.workspace
        end: dict[str, Any] = {"status": "failed", "error": "internal error"}
        try:
            self._update(job_id, status="running")
            report = ingest(
                list(saved.values()),
                store=ws.store,
                embedder=ws.embedder,
                tokenizer=ws.embedder.tokenizer,
                settings=ws.settings,
                acl=(tenant,),
                progress=progress,
            )
            progress("", report)
            self.metrics.cache_hits.labels(cache="embedding").inc(report.reused)
            self.metrics.cache_misses.labels(cache="embedding").inc(report.embedded)
            nothing = (report.failed or report.skipped) and not (report.ingested + report.unchanged)
            end = {"status": "failed" if nothing else "done"}
        except CairnError as exc:
            end["error"] = str(exc)
        except Exception as exc:
            log.exception("ingest job %s failed", job_id)
            end["error"] = f"internal error: {type(exc).__name__}"
        finally:
            try:
                self._update(job_id, **end)
            except Exception:  # the lease runs out and another server fails the job
                log.exception("could not record the end of ingest job %s", job_id)

    def _update(self, job_id: str, **fields: Any) -> None:
        if not self.store.update(job_id, **fields):
            log.warning(
                "ingest job %s is no longer this server's (failed as abandoned): not recording %s",
                job_id,
                sorted(fields),
            )
            return
        job = self.store.get(job_id)
        if job is not None:
            self._publish(job)

    def _publish(self, job: dict[str, Any]) -> None:
        """Tell the job's SSE streams, on any replica sharing the bus (best effort: a
        stream also re-reads the job store while it waits)."""
        if self.events is None:
            return
        try:
            self.events.publish(job_topic(job["id"]), job)
        except Exception:
            log.exception("publishing the progress of ingest job %s failed", job["id"])

    def wait(self, timeout_s: float | None = None) -> None:
        """Wait for the jobs queued so far (tests, shutdown)."""
        with self._lock:
            futures = list(self._pending.values())
        for future in futures:
            future.result(timeout=timeout_s)

    def close(self) -> None:
        try:
            with self._lock:
                queued = [job_id for job_id, f in self._pending.items() if f.cancel()]
            for job_id in queued:
                self._update(
                    job_id, status="failed", error="the server stopped before this job ran; retry"
                )
            self._pool.shutdown(wait=True)
        finally:
            self._stopping.set()
            self._heart.join()
