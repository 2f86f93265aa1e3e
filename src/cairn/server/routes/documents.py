"""Documents: upload (a background ingest job), list, delete; and the jobs' progress (one
reading, or a stream of events).

An upload is saved under `<workspace>/uploads/<tenant>/` and ingested with the tenant as the
documents' ACL principal, so other tenants never retrieve them. A caller lists the public
documents and its own; it deletes its own (documents other tenants can read need the
`admin` scope, or local mode); another tenant's documents do not exist for it (404).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse

from cairn.server.catalog import readable
from cairn.server.deps import DocumentsCaller, StateDep
from cairn.server.errors import ApiError, not_found
from cairn.server.events import Subscription
from cairn.server.jobs import job_topic, save_files
from cairn.server.schemas import DeletedOut, DocumentOut, JobOut
from cairn.server.sse import SSE_HEADERS, sse_event
from cairn.server.threads import run_sync

if TYPE_CHECKING:
    from cairn.server.state import AppState

router = APIRouter(tags=["documents"])

_UNSAFE = re.compile(r"[^A-Za-z0-9._\- ]+")


@router.post("/v1/documents", status_code=202, response_model=JobOut)
async def upload(
    files: Annotated[list[UploadFile], File(description="One or more documents.")],
    state: StateDep,
    caller: DocumentsCaller,
) -> Response:
    """Save the files and start ingesting them; poll `GET /v1/jobs/{id}`."""
    if not files:
        raise ApiError(422, "no files: send one or more 'files' parts (multipart/form-data)")
    names = [safe_name(f.filename or "") for f in files]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ApiError(400, f"the same file name twice in one upload: {', '.join(repeated)}")
    folder = state.jobs.upload_dir(caller.tenant)
    saved = await run_sync(_save, [(n, f.file) for n, f in zip(names, files, strict=True)], folder)
    for f in files:
        await f.close()
    job = await run_sync(state.jobs.submit, caller.tenant, saved)
    return JSONResponse(job, status_code=202, headers={"Location": f"/v1/jobs/{job['id']}"})


def safe_name(filename: str) -> str:
    """The upload's base name with anything but letters, digits, '.', '_', '-', ' ' replaced."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip(" .")[:200]
    return cleaned or "upload"


def _save(files: list[tuple[str, BinaryIO]], folder: Path) -> dict[str, Path]:
    return save_files(files, folder)


@router.get("/v1/documents", response_model=list[DocumentOut])
async def documents(state: StateDep, caller: DocumentsCaller) -> Response:
    """The documents this caller can read: public ones and its tenant's uploads."""
    return JSONResponse(await run_sync(state.catalog.documents, caller.principal))


@router.delete("/v1/documents/{doc_id}", response_model=DeletedOut)
async def delete_document(doc_id: str, state: StateDep, caller: DocumentsCaller) -> Response:
    """Remove a document and its chunks from the workspace (and its uploaded file)."""

    def remove() -> bool:
        acl = state.catalog.acl(doc_id)
        if acl is None or not readable(acl, caller.principal):
            return False  # another tenant's document does not exist for this caller
        if not (caller.local or acl == (caller.tenant,) or caller.allows("admin")):
            raise ApiError(403, "only an admin key may delete a document other tenants can read")
        document = state.store.get_document(doc_id)
        state.store.delete_documents([doc_id])
        if document is not None:
            _remove_upload(document.uri, state.jobs.upload_dir(caller.tenant))
        return True

    if not await run_sync(remove, limiter=state.threads):
        raise not_found(f"document {doc_id!r}")
    return JSONResponse({"id": doc_id, "deleted": True})


def _remove_upload(uri: str, folder: Path) -> None:
    if not uri.startswith("file://"):
        return
    from urllib.parse import unquote, urlparse

    path = Path(unquote(urlparse(uri).path))
    if path.parent.resolve() == folder.resolve() and path.is_file():
        path.unlink()


@router.get("/v1/jobs/{job_id}", response_model=JobOut)
async def job(job_id: str, state: StateDep, caller: DocumentsCaller) -> Response:
    """An ingest job's progress."""
    found = await run_sync(state.jobs.store.get, job_id, caller.owner)
    if found is None:
        raise not_found(f"job {job_id!r}")
    return JSONResponse(found)


TERMINAL = frozenset({"done", "failed"})
WAIT_S = 2.0
"""How long a stream waits for an event before it re-reads the job store (and keeps the
connection alive)."""


@router.get(
    "/v1/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def job_events(job_id: str, state: StateDep, caller: DocumentsCaller) -> Response:
    """An ingest job's progress as Server-Sent Events: `event: job` with the job (as
    `GET /v1/jobs/{id}`) each time it changes, ending once it is `done` or `failed`. Works
    across replicas sharing Redis (`CAIRN_REDIS_URL`): the job may run on another one."""
    subscription = state.events.subscribe(job_topic(job_id))
    try:
        found = await run_sync(state.jobs.store.get, job_id, caller.owner)
    except BaseException:
        subscription.close()
        raise
    if found is None:
        subscription.close()
        raise not_found(f"job {job_id!r}")
    return StreamingResponse(
        _job_stream(state, subscription, found, caller.owner),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


async def _job_stream(
    state: AppState, subscription: Subscription, job: dict[str, Any], owner: str | None
) -> AsyncIterator[str]:
    last = job
    try:
        yield sse_event("job", job)
        while last["status"] not in TERMINAL:
            event = await run_sync(subscription.get, WAIT_S, limiter=state.streams)
            if event is None:  # nothing came: the store is the truth (a missed event)
                fresh = await run_sync(state.jobs.store.get, last["id"], owner)
                if fresh is None:
                    return
                event = fresh
                if event == last:
                    yield ": waiting\n\n"
                    continue
            last = event
            yield sse_event("job", event)
    finally:
        subscription.close()
