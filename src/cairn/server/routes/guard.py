"""Quarantined chunks, for an admin (`admin` scope): `GET /v1/guard/quarantine` lists the
chunks kept out of search as possible prompt injection (`guard.ingest = "quarantine"`,
`cairn guard scan`), `POST /v1/guard/quarantine/{chunk_id}/release` puts one back in search.
The same as `cairn guard quarantine list|release` (docs/guard.md)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from cairn.payloads import RiskOut
from cairn.server.deps import AdminCaller, StateDep
from cairn.server.errors import not_found
from cairn.server.schemas import QuarantinedOut, ReleasedOut
from cairn.server.threads import run_sync

router = APIRouter(tags=["guard"])


@router.get("/v1/guard/quarantine", response_model=list[QuarantinedOut])
async def quarantine(state: StateDep, caller: AdminCaller) -> Response:
    """Every quarantined chunk, with its risk."""

    def listed() -> list[dict[str, object]]:
        return [
            QuarantinedOut(
                chunk_id=c.id,
                doc_id=c.doc_id,
                source=c.source,
                section=c.section_path,
                text=c.text,
                risk=RiskOut.of(c.risk),
            ).model_dump(mode="json")
            for c in state.store.quarantined()
        ]

    return JSONResponse(await run_sync(listed, limiter=state.threads))


@router.post("/v1/guard/quarantine/{chunk_id}/release", response_model=ReleasedOut)
async def release(chunk_id: str, state: StateDep, caller: AdminCaller) -> Response:
    """Put a quarantined chunk back in search; a rescan will not quarantine it again."""
    released = await run_sync(state.store.release, [chunk_id], limiter=state.threads)
    if not released:
        raise not_found(f"quarantined chunk {chunk_id!r}")
    return JSONResponse({"chunk_id": chunk_id, "released": True})
