"""Background ingest jobs for uploaded documents.

Uploads are saved under `<workspace>/uploads/<tenant>/<file name>` (so re-uploading a file
of the same name replaces that document) and ingested by one worker thread, one job at a
time, with the tenant as the documents' ACL principal. Progress is written to the `jobs`
table of `server.db` after every file, so `GET /v1/jobs/{id}` reads it from any process.
Each job is leased to this process (see `cairn.server.jobstore`), and the uploaded files
(those within `ingest.max_file_mb`) are stored with it: a heartbeat thread renews the leases of
its jobs and, when this process has no job of its own waiting, takes over one job of a server
that stopped renewing its leases (it died) and runs it again from the stored files (files
already ingested are found unchanged by their content hash). A job that cannot be taken over
(no stored files, or already started `MAX_ATTEMPTS` times) is failed. A second server on the
same database never touches the first one's live jobs, and a server that stops gives its
queued jobs back for another to claim. Every change is also published on the event bus
(`job:<id>`), which `GET /v1/jobs/{id}/events` streams.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from cairn.errors import CairnError
from cairn.server.events import EventBus
from cairn.server.jobstore import LEASE_S, JobStore
from cairn.server.metrics import Metrics
from cairn.workspace import Workspace

log = logging.getLogger("cairn.server.jobs")


_NOT_KEPT = (
    "this server took the job over from one that stopped, and the file was not kept with the "
    "job (larger than ingest.max_file_mb): upload it again"
)


def save_files(files: Sequence[tuple[str, BinaryIO]], folder: Path) -> dict[str, Path]:
    """Write uploaded files (name, stream) into `folder`, each atomically (an ingest never
    reads half a file); their paths by name."""
    folder.mkdir(parents=True, exist_ok=True)
    saved: dict[str, Path] = {}
    for name, stream in files:
        target = folder / name
        fd, partial = tempfile.mkstemp(dir=folder, prefix=".upload-")
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(stream, out, 1024 * 1024)
        os.replace(partial, target)
        saved[name] = target
    return saved


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
        self._closing = threading.Event()
        self._sweep()
        self._heart = threading.Thread(
            target=self._beat, args=(heartbeat_s,), name="cairn-job-leases", daemon=True
        )
        self._heart.start()

    def _beat(self, every_s: float) -> None:
        while not self._stopping.wait(every_s):
            try:
                self.store.renew()
                self._sweep()
            except Exception:  # a bad beat (a locked file) must not stop the next one
                log.exception("renewing ingest job leases failed; retrying in %.0f s", every_s)

    def _sweep(self) -> None:
        """Take over an abandoned job (one at a time, when this process is idle, so jobs go
        to the replicas with time for them), then fail those that cannot be taken over."""
        with self._lock:
            idle = not self._pending
        if idle and not self._closing.is_set():
            job = self.store.claim()
            if job is not None:
                log.warning("taking over ingest job %s, abandoned by a stopped server", job["id"])
                try:
                    self._start(job["id"], lambda: self._resume(job))
                except RuntimeError:  # closed meanwhile: another server takes it
                    self.store.release(job["id"])
        abandoned = self.store.fail_abandoned()
        if abandoned:
            log.warning("%d ingest job(s) abandoned by a stopped server marked failed", abandoned)

    def _resume(self, job: dict[str, Any]) -> None:
        """Run a job taken over: its stored files are written to this process's upload
        folder for the tenant, then ingested as the first process would have."""
        tenant = str(job["tenant"])
        inputs = self.store.inputs(job["id"])
        files: list[tuple[str, BinaryIO]] = [(n, io.BytesIO(b)) for n, b in inputs.items()]
        try:
            saved = save_files(files, self.upload_dir(tenant))
        except OSError as exc:  # ended here, not renewed forever
            self._update(job["id"], status="failed", error=f"could not save the files: {exc}")
            return
        missing = [name for name in job["files"] if name not in inputs]
        self._run(job["id"], tenant, saved, missing=missing)

    def upload_dir(self, tenant: str) -> Path:
        return self.workspace.root / "uploads" / tenant

    def submit(self, tenant: str, saved: dict[str, Path]) -> dict[str, Any]:
        """Queue the ingest of `saved` (uploaded name -> saved path); the job as JSON."""
        limit = self.workspace.settings.ingest.max_file_mb * 1024 * 1024
        # a file over the limit is not kept: ingesting it fails with the reason, here or
        # on a replica taking the job over
        inputs = {n: p.read_bytes() for n, p in saved.items() if p.stat().st_size <= limit}
        job = self.store.create(tenant, list(saved), inputs)
        self._publish(job)
        self._start(job["id"], lambda: self._run(job["id"], tenant, saved))
        return job

    def _start(self, job_id: str, work: Callable[[], None]) -> None:
        future = self._pool.submit(work)
        with self._lock:
            self._pending[job_id] = future
        future.add_done_callback(lambda _: self._forget(job_id))

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._pending.pop(job_id, None)

    def _run(
        self, job_id: str, tenant: str, saved: dict[str, Path], *, missing: Sequence[str] = ()
    ) -> None:
        """Ingest one job's files (`missing`: files of the job this process does not have,
        reported failed); the job always ends `done` or `failed`, whatever raises."""
        from cairn.ingest.pipeline import IngestReport, ingest

        names = {str(path.resolve()): name for name, path in saved.items()}

        def progress(source: str, report: IngestReport) -> None:
            # An uploaded file was sent to be indexed: one skipped (empty, nothing to index)
            # is reported with the failures, by name and reason, never dropped silently.
            missed = [*report.failures, *((s.path, s.reason) for s in report.skipped)]
            missed += [(name, _NOT_KEPT) for name in missing]
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
                id_root=f"uploads/{tenant}",
            )
            progress("", report)
            self.metrics.cache_hits.labels(cache="embedding").inc(report.reused)
            self.metrics.cache_misses.labels(cache="embedding").inc(report.embedded)
            nothing = (report.failed or report.skipped or missing) and not (
                report.ingested + report.unchanged
            )
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
        self._closing.set()  # no job is taken over from now on
        try:
            with self._lock:
                queued = [job_id for job_id, f in self._pending.items() if f.cancel()]
            for job_id in queued:  # another server (or this one, restarted) runs it
                if self.store.inputs(job_id) and self.store.release(job_id):
                    continue
                self._update(
                    job_id, status="failed", error="the server stopped before this job ran; retry"
                )
            self._pool.shutdown(wait=True)
        finally:
            self._stopping.set()
            self._heart.join()
