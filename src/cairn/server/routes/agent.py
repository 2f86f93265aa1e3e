"""`/v1/agent/runs`: start agent runs, read them, follow their events, approve or reject
their calls (scope `agent`; a tenant sees only its own runs).

    POST /v1/agent/runs                                    start (returns when it ends or waits)
    GET  /v1/agent/runs                                    the caller's recent runs
    GET  /v1/agent/runs/{run_id}                           one run with its calls
    GET  /v1/agent/runs/{run_id}/events                    its timeline as SSE (follows it live)
    POST /v1/agent/runs/{run_id}/calls/{call_id}/approve   approve one call, carry the run on
    POST /v1/agent/runs/{run_id}/calls/{call_id}/reject    reject one call, carry the run on
    POST /v1/agent/runs/{run_id}/calls/{call_id}/edit      new arguments (needs its own approval)

A run's JSON is the CLI's (`cairn agent run --json`) plus its `calls`. A run is offered
only the tools the key's scopes allow (`cairn.agent.scopes`: `agent:write`, `agent:send`);
a key cannot approve or edit a call to a tool it may not use (403). The MCP servers of
`[[agent.mcp_servers]]` are opened on the first run and held until the app closes.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from cairn.server.auth import Caller
from cairn.server.deps import StateDep, scoped
from cairn.server.errors import ApiError, not_found
from cairn.server.sse import SSE_HEADERS, sse_event
from cairn.server.state import AppState
from cairn.server.threads import run_sync

if TYPE_CHECKING:
    from cairn.agent import Agent, AgentStore, CallRecord, RunRecord
    from cairn.agent.mcp import McpToolset
    from cairn.llm.base import Provider

router = APIRouter(tags=["agent"])
AgentCaller = Annotated[Caller, Depends(scoped("agent"))]
_PROVIDERS: weakref.WeakKeyDictionary[AppState, Provider] = weakref.WeakKeyDictionary()
_MCP: weakref.WeakKeyDictionary[AppState, McpToolset] = weakref.WeakKeyDictionary()
_MCP_LOCK = threading.Lock()
_SHARED_STORES: weakref.WeakKeyDictionary[AppState, AgentStore] = weakref.WeakKeyDictionary()
TERMINAL = ("done", "failed", "stopped")


class RunRequest(BaseModel):
    task: str = Field(min_length=1, max_length=20_000)
    workflow: Literal["triage", "booking"] | None = None
    dry_run: bool = False


class ApproveRequest(BaseModel):
    args_digest: str | None = Field(
        None, description="The digest reviewed; the call must still have these arguments."
    )


class EditRequest(BaseModel):
    args: dict[str, Any] = Field(description="The call's new arguments (the tool's schema).")


class RejectRequest(BaseModel):
    reason: str = Field("", max_length=2000)


def _provider(state: AppState) -> Provider:
    provider = _PROVIDERS.get(state)
    if provider is None:
        found = state.workspace.provider("agent")
        if found is None:
            raise ApiError(
                409,
                "the agent needs a model: set [llm] provider in cairn.toml or CAIRN_LLM_*",
            )
        provider = _PROVIDERS[state] = found
    return provider


@contextmanager
def _store(state: AppState) -> Iterator[AgentStore]:
    """`agent.db`, opened per request; on Postgres (following `store.url`) one store, and
    its connection pool, per app."""
    from cairn.agent import AgentStore
    from cairn.pg import follows_store

    url = follows_store(state.settings.store.url)
    if url is not None:
        with _MCP_LOCK:
            shared = _SHARED_STORES.get(state)
            if shared is None:
                shared = _SHARED_STORES[state] = AgentStore(url)
                state.on_close(shared.close)
        yield shared
        return
    store = AgentStore.in_workspace(state.workspace.root)
    try:
        yield store
    finally:
        store.close()


def _mcp(state: AppState) -> McpToolset:
    """The tools of `[[agent.mcp_servers]]`, opened once per app (ConfigError if one fails)."""
    from cairn.agent.mcp import McpToolset, open_mcp_tools

    with _MCP_LOCK:
        toolset = _MCP.get(state)
        if toolset is None:
            servers = state.workspace.settings.agent.mcp_servers
            toolset = McpToolset()
            if servers:
                stack = ExitStack()
                toolset = stack.enter_context(open_mcp_tools(servers))
                state.on_close(stack.close)
            _MCP[state] = toolset
        return toolset


def _key_scopes(caller: Caller) -> tuple[str, ...] | None:
    return None if caller.local or "admin" in caller.scopes else caller.scopes


def _agent(
    state: AppState, store: AgentStore, caller: Caller, workflow: str | None, *, narrow: bool = True
) -> Agent:
    """The caller's agent: with `narrow`, only the tools its key's scopes allow."""
    from cairn.agent.configured import configured_agent

    principal = caller.principal
    mcp = _mcp(state)
    return configured_agent(
        state.workspace,
        _provider(state),
        store,
        workflow_name=workflow,
        principals=None if principal is None else (principal,),
        tenant=caller.tenant,
        user=caller.user,
        tracer=state.tracer,
        pipeline=state.pipeline(),
        extra_tools=mcp.tools,
        extra_policies=mcp.policies,
        key_scopes=_key_scopes(caller) if narrow else None,
    )


def _may_use(agent: Agent, caller: Caller, call: CallRecord) -> None:
    """403 unless the caller's key may use the call's tool; then narrow `agent` to its key."""
    from cairn.agent.scopes import allows, key_scope_needed, narrowed

    tool = agent.registry.find(call.tool)
    scopes = _key_scopes(caller)
    if tool is not None and not allows(tool, scopes):
        need = key_scope_needed(tool)
        raise ApiError(
            403,
            f"this API key may not use {call.tool} (it needs the '{need}' scope); approve "
            f"it with a key that has it ('cairn keys create --tenant {caller.tenant} "
            f"--scope agent --scope {need}')",
        )
    agent.offered = narrowed(agent.registry, scopes)


def _own(store: AgentStore, run_id: str, caller: Caller) -> RunRecord:
    from cairn.agent import RunNotFound

    try:
        run = store.run(run_id)
    except RunNotFound:
        raise not_found(f"agent run {run_id!r}") from None
    if caller.owner is not None and run.tenant != caller.tenant:
        raise not_found(f"agent run {run_id!r}")  # another tenant's: not even its existence
    return run


def _json(store: AgentStore, run_id: str, note: str | None = None) -> dict[str, Any]:
    from cairn.agent import RunView

    view = RunView(run=store.run(run_id), calls=tuple(store.calls(run_id)), note=note)
    return view.as_json() | {
        "task": view.run.task,
        "tenant": view.run.tenant,
        "created_at": view.run.created_at,
        "calls": [c.as_json() for c in view.calls],
    }


def _config_error(exc: Exception) -> ApiError:
    return ApiError(409, str(exc))


@router.post("/v1/agent/runs", status_code=201)
async def create_run(body: RunRequest, state: StateDep, caller: AgentCaller) -> JSONResponse:
    """Start a run; it returns when the run ends or waits for approval."""
    from cairn.errors import ConfigError

    def start() -> dict[str, Any]:
        with _store(state) as store:
            try:
                agent = _agent(state, store, caller, body.workflow)
            except ConfigError as exc:
                raise _config_error(exc) from None
            view = agent.start(
                body.task,
                tenant=caller.tenant,
                user=caller.user,
                dry_run=body.dry_run,
                workflow=body.workflow,
            )
            return _json(store, view.id, view.note)

    out = await run_sync(start, limiter=state.threads)
    return JSONResponse(out, status_code=201)


@router.get("/v1/agent/runs")
async def list_runs(state: StateDep, caller: AgentCaller, limit: int = 50) -> JSONResponse:
    """The caller's recent runs, newest first, with their waiting calls."""

    def load() -> list[dict[str, Any]]:
        with _store(state) as store:
            runs = [
                r
                for r in store.runs(limit=max(1, min(limit, 200)) * 4)
                if caller.owner is None or r.tenant == caller.tenant
            ][:limit]
            return [_json(store, r.id) for r in runs]

    return JSONResponse({"runs": await run_sync(load, limiter=state.threads)})


@router.get("/v1/agent/runs/{run_id}")
async def get_run(run_id: str, state: StateDep, caller: AgentCaller) -> JSONResponse:
    def load() -> dict[str, Any]:
        with _store(state) as store:
            _own(store, run_id, caller)
            return _json(store, run_id)

    return JSONResponse(await run_sync(load, limiter=state.threads))


def _call_and_agent(
    state: AppState, store: AgentStore, caller: Caller, run_id: str, call_id: str
) -> tuple[CallRecord, Agent]:
    """The caller's run's call (404 for another tenant's or an unknown one) and the agent that
    run was started with (all its tools: the caller's scopes are checked by the route)."""
    from cairn.agent import ApprovalError
    from cairn.errors import ConfigError

    run = _own(store, run_id, caller)
    try:
        call = store.call(run_id, call_id)
    except ApprovalError:
        raise not_found(f"call {call_id!r} of run {run_id!r}") from None
    try:
        agent = _agent(state, store, caller, run.workflow, narrow=False)
    except ConfigError as exc:
        raise _config_error(exc) from None
    return call, agent


def _decide(
    state: AppState, caller: Caller, run_id: str, call_id: str, decision: str, value: str | None
) -> dict[str, Any]:
    from cairn.agent import ApprovalError
    from cairn.agent.scopes import narrowed

    with _store(state) as store:
        call, agent = _call_and_agent(state, store, caller, run_id, call_id)
        if decision == "approve":
            _may_use(agent, caller, call)
        else:
            agent.offered = narrowed(agent.registry, _key_scopes(caller))
        actor = caller.user or caller.tenant
        try:
            if decision == "approve":
                _, note = store.approve(run_id, call_id, actor=actor, args_digest=value)
            else:
                _, note = store.reject(run_id, call_id, actor=actor, reason=value or "")
        except ApprovalError as exc:
            raise ApiError(409, str(exc)) from None
        if note:
            return _json(store, run_id, note)
        view = agent.resume(run_id)
        return _json(store, run_id, view.note)


@router.post("/v1/agent/runs/{run_id}/calls/{call_id}/approve")
async def approve(
    run_id: str,
    call_id: str,
    state: StateDep,
    caller: AgentCaller,
    body: ApproveRequest | None = None,
) -> JSONResponse:
    """Approve one waiting call (bound to its argument digest), then carry the run on;
    approving twice is a no-op that says so (`note`)."""
    digest = body.args_digest if body else None
    out = await run_sync(
        lambda: _decide(state, caller, run_id, call_id, "approve", digest), limiter=state.threads
    )
    return JSONResponse(out)


@router.post("/v1/agent/runs/{run_id}/calls/{call_id}/reject")
async def reject(
    run_id: str,
    call_id: str,
    state: StateDep,
    caller: AgentCaller,
    body: RejectRequest | None = None,
) -> JSONResponse:
    """Reject one waiting call (the model is told), then carry the run on."""
    reason = body.reason if body else ""
    out = await run_sync(
        lambda: _decide(state, caller, run_id, call_id, "reject", reason), limiter=state.threads
    )
    return JSONResponse(out)


@router.post("/v1/agent/runs/{run_id}/calls/{call_id}/edit")
async def edit(
    run_id: str, call_id: str, body: EditRequest, state: StateDep, caller: AgentCaller
) -> JSONResponse:
    """Replace a waiting call's arguments (validated by its tool, 422 otherwise); the edited
    call has a new digest and needs its own approval."""
    from cairn.agent import ApprovalError, validate_call
    from cairn.agent.tools import ToolFailure

    def apply() -> dict[str, Any]:
        with _store(state) as store:
            call, agent = _call_and_agent(state, store, caller, run_id, call_id)
            _may_use(agent, caller, call)
            checked = validate_call(agent.registry, call.tool, body.args)
            if isinstance(checked, ToolFailure):
                raise ApiError(422, checked.message.removeprefix("error: "))
            try:
                store.edit(
                    run_id, call_id, checked.arguments, checked.args_digest,
                    actor=caller.user or caller.tenant,
                )  # fmt: skip
            except ApprovalError as exc:
                raise ApiError(409, str(exc)) from None
            return _json(store, run_id)

    return JSONResponse(await run_sync(apply, limiter=state.threads))


@router.get(
    "/v1/agent/runs/{run_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    run_id: str, state: StateDep, caller: AgentCaller, follow_s: float = 30.0
) -> StreamingResponse:
    """The run's timeline as Server-Sent Events: one `record` event per audit record (model
    calls, tool calls, approvals, results; each with `seq`, `kind`, `at`, `payload`), then
    `status` whenever the status changes; it follows a running run for up to `follow_s`
    seconds and ends with `end`."""

    def snapshot(after: int) -> tuple[list[dict[str, Any]], str]:
        with _store(state) as store:
            _own(store, run_id, caller)
            records = [r.as_json() for r in store.audit(run_id) if r.seq > after]
            return records, store.run(run_id).status

    await run_sync(lambda: snapshot(0)[1], limiter=state.threads)  # 404 before streaming
    limit = max(0.0, min(follow_s, 300.0))

    async def stream() -> AsyncIterator[str]:
        seen, last_status = 0, ""
        deadline = time.monotonic() + limit
        while True:
            records, status = await run_sync(snapshot, seen, limiter=state.threads)
            for record in records:
                seen = max(seen, int(record["seq"]))
                yield sse_event("record", record)
            if status != last_status:
                last_status = status
                yield sse_event("status", {"run_id": run_id, "status": status})
            if status != "running" or time.monotonic() >= deadline:
                break
            await anyio.sleep(0.2)
        yield sse_event("end", {"run_id": run_id, "status": last_status})

    return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)
