"""Evaluation runs: list and read the workspace's run files; start a run (admin)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from cairn.server.deps import AdminCaller, EvalsCaller, StateDep, filters_for
from cairn.server.errors import ApiError, not_found
from cairn.server.schemas import EvalRunRequest
from cairn.server.threads import run_sync

router = APIRouter(tags=["evals"])


@router.get("/v1/evals/runs", response_model=list[dict[str, Any]])
async def list_runs(state: StateDep, caller: EvalsCaller) -> Response:
    """Runs in `<workspace>/evals/runs/` (newest first), after any still running."""
    return JSONResponse(await run_sync(state.evals.runs))


@router.get("/v1/evals/runs/{run_id}", response_model=dict[str, Any])
async def get_run(run_id: str, state: StateDep, caller: EvalsCaller) -> Response:
    """A run file as `cairn eval run` writes it (plus `status`), or a running run's status."""
    found = await run_sync(state.evals.get, run_id)
    if found is None:
        raise not_found(f"eval run {run_id!r}")
    return JSONResponse(found)


@router.post("/v1/evals/runs", status_code=202, response_model=dict[str, Any])
async def start_run(body: EvalRunRequest, state: StateDep, caller: AdminCaller) -> Response:
    """Run golden cases through the pipeline in the background (admin scope). The cases
    path is relative to the server's working directory and must stay inside it."""
    base = Path.cwd().resolve()
    cases = (base / body.cases).resolve()
    if not cases.is_relative_to(base):
        raise ApiError(400, "cases must be a path inside the server's working directory")
    if not cases.exists():
        raise ApiError(400, f"no case file or folder at {body.cases!r} (relative to {base})")
    status = await run_sync(
        state.evals.start,
        cases=cases,
        mode=body.mode,
        k=body.k,
        epochs=body.epochs,
        tags=body.tags,
        include_drafts=body.include_drafts,
        filters=filters_for(caller),
        tenant=caller.tenant,
        user=caller.user,
    )
    return JSONResponse(
        status, status_code=202, headers={"Location": f"/v1/evals/runs/{status['id']}"}
    )
