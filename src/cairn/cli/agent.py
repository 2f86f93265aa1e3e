"""`cairn agent run|show|approve|reject|audit`: agent runs with tools and human approval.

Runs live in `<workspace>/agent.db`; a run that needs approval stops as `awaiting_approval`
and any later `cairn agent approve RUN CALL_ID` (another process, another day) carries it on.
The model is the workspace's configured one (`[llm]`, or `CAIRN_LLM_*`; try it with
`cairn fake-llm`), metered against the budgets like every other call.
"""

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cairn.cli.common import JsonOption, WorkspaceOption, emit, errors_reported, fail

if TYPE_CHECKING:
    from cairn.agent import Agent, AgentStore, RunView

app = typer.Typer(
    help="Agent runs: tools, approvals, audit log (docs/agents.md).", no_args_is_help=True
)

ActorOption = Annotated[
    str | None, typer.Option("--as", help="Who decides (recorded in the audit log).")
]


@contextmanager
def _store(workspace: Path | None) -> Iterator["AgentStore"]:
    from cairn.agent import AgentStore
    from cairn.config import load_settings
    from cairn.pg import follows_store

    settings = load_settings(workspace=workspace)
    store = AgentStore.in_workspace(settings.workspace, url=follows_store(settings.store.url))
    try:
        yield store
    finally:
        store.close()


@contextmanager
def _agent(
    workspace: Path | None, *, workflow: str | None = None, run_id: str | None = None
) -> Iterator["Agent"]:
    """The configured agent; for `run_id`, the one that run was started with (its workflow)."""
    from cairn.agent import AgentStore
    from cairn.agent.configured import configured_agent
    from cairn.agent.mcp import open_mcp_tools
    from cairn.cli.common import open_workspace
    from cairn.server.auth import LOCAL_TENANT
    from cairn.trace import build_tracer

    ws = open_workspace(workspace)
    tracer = build_tracer(ws.settings)
    store = None
    try:
        provider = ws.provider("agent")
        if provider is None:
            raise fail(
                "the agent needs a model: set [llm] provider in cairn.toml or CAIRN_LLM_* "
                "(to try it, run 'cairn fake-llm' and point CAIRN_LLM_BASE_URL at it)"
            )
        from cairn.pg import follows_store

        store = AgentStore.in_workspace(ws.root, url=follows_store(ws.settings.store.url))
        tenant: str | None = None
        user: str | None = None
        if run_id is not None:  # resumed as the caller who started it: its documents only
            run = store.run(run_id)
            workflow, tenant, user = run.workflow, run.tenant, run.user
            if tenant == LOCAL_TENANT:  # started by a local caller: no ACL, as then
                tenant = None
        with open_mcp_tools(ws.settings.agent.mcp_servers) as mcp:  # docs/mcp.md
            yield configured_agent(
                ws,
                provider,
                store,
                workflow_name=workflow,
                principals=None if tenant is None else (tenant,),
                tenant=tenant,
                user=user,
                tracer=tracer,
                extra_tools=mcp.tools,
                extra_policies=mcp.policies,
            )
    finally:
        if store is not None:
            store.close()
        tracer.close()
        ws.close()


def _print(view: "RunView", json_out: bool) -> None:
    if json_out:
        emit(view.as_json())
        return
    run = view.run
    typer.echo(f"{run.id}: {run.status} ({run.steps} steps, ${float(run.cost_usd):.6f})")
    if view.note:
        typer.echo(view.note)
    if run.reason and run.status != "done":
        typer.echo(f"reason: {run.reason}")
    for call in view.calls:
        typer.echo(f"  {call.call_id} {call.tool} {json.dumps(call.args)} [{call.state}]")
    for call in view.pending:
        typer.echo(
            f"approve with: cairn agent approve {run.id} {call.call_id} "
            f"--digest {call.args_digest[:16]}"
        )
    if run.answer:
        typer.echo(run.answer)


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@app.command("run")
def run(
    task: Annotated[str, typer.Argument(help="What the agent should do.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what side effects would do; do none.")
    ] = False,
    user: Annotated[str | None, typer.Option(help="Who the run is for.")] = None,
    workflow: Annotated[
        str | None,
        typer.Option(help="Follow a workflow: triage (a support ticket) or booking (a meeting)."),
    ] = None,
    json_out: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Start a run; it ends done, failed or stopped, or waits for approval."""
    with errors_reported(), _agent(workspace, workflow=workflow) as agent:
        view = agent.start(task, user=user, dry_run=dry_run, workflow=workflow)
    _print(view, json_out)


@app.command("show")
def show(
    run_id: Annotated[
        str | None, typer.Argument(help="The run (default: list recent runs).")
    ] = None,
    json_out: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Show a run with its calls, or list recent runs."""
    from cairn.agent import RunView

    with errors_reported(), _store(workspace) as store:
        if run_id is None:
            runs = store.runs()
            if json_out:
                emit({"runs": [{"run_id": r.id, "status": r.status, "task": r.task} for r in runs]})
                return
            for r in runs:
                typer.echo(f"{r.id} {r.status:<18} {r.task[:60]}")
            return
        view = RunView(run=store.run(run_id), calls=tuple(store.calls(run_id)))
    if json_out:
        emit(view.as_json() | {"calls": [c.as_json() for c in view.calls]})
        return
    _print(view, json_out)


@app.command("approve")
def approve(
    run_id: Annotated[str, typer.Argument(help="The run.")],
    call_id: Annotated[str, typer.Argument(help="The call to approve.")],
    digest: Annotated[
        str | None,
        typer.Option(help="The argument digest you reviewed (a prefix is enough)."),
    ] = None,
    actor: ActorOption = None,
    json_out: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Approve one call's exact arguments, then carry the run on."""
    with errors_reported(), _agent(workspace, run_id=run_id) as agent:
        full = _full_digest(agent.store.call(run_id, call_id).args_digest, digest)
        _, note = agent.store.approve(run_id, call_id, actor=_actor(actor), args_digest=full)
        view = agent.view(run_id, note) if note else agent.resume(run_id)
    _print(view, json_out)


def _full_digest(current: str, given: str | None) -> str | None:
    if given is None:
        return None
    if len(given) < 8:
        raise fail("--digest needs at least 8 characters of the digest shown by 'show'")
    return current if current.startswith(given) else given


@app.command("edit")
def edit(
    run_id: Annotated[str, typer.Argument(help="The run.")],
    call_id: Annotated[str, typer.Argument(help="The waiting call to edit.")],
    args: Annotated[str, typer.Option("--args", help="The new arguments, a JSON object.")],
    actor: ActorOption = None,
    json_out: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Replace a waiting call's arguments; the edited call needs its own approval."""
    from cairn.agent import validate_call
    from cairn.agent.tools import ToolFailure

    try:
        new_args = json.loads(args)
    except json.JSONDecodeError as exc:
        raise fail(
            f'--args is not JSON ({exc}): give an object such as \'{{"name": "x"}}\''
        ) from None
    if not isinstance(new_args, dict):
        raise fail("--args must be a JSON object")
    with errors_reported(), _agent(workspace, run_id=run_id) as agent:
        call = agent.store.call(run_id, call_id)
        checked = validate_call(agent.registry, call.tool, new_args)
        if isinstance(checked, ToolFailure):
            raise fail(checked.message.removeprefix("error: "))
        agent.store.edit(
            run_id, call_id, checked.arguments, checked.args_digest, actor=_actor(actor)
        )
        view = agent.view(run_id)
    _print(view, json_out)


@app.command("reject")
def reject(
    run_id: Annotated[str, typer.Argument(help="The run.")],
    call_id: Annotated[str, typer.Argument(help="The call to reject.")],
    reason: Annotated[str, typer.Option(help="Why (the model is told).")] = "",
    actor: ActorOption = None,
    json_out: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Reject one call (the model is told), then carry the run on."""
    with errors_reported(), _agent(workspace, run_id=run_id) as agent:
        _, note = agent.store.reject(run_id, call_id, actor=_actor(actor), reason=reason)
        view = agent.view(run_id, note) if note else agent.resume(run_id)
    _print(view, json_out)


@app.command("audit")
def audit(
    run_id: Annotated[str, typer.Argument(help="The run.")],
    verify: Annotated[
        bool, typer.Option("--verify", help="Check the hash chain; exit 1 if it is broken.")
    ] = False,
    json_out: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Print a run's audit log (and check it with --verify)."""
    with errors_reported(), _store(workspace) as store:
        records = store.audit(run_id)
        result = store.verify(run_id) if verify else None
    if json_out:
        out: dict[str, Any] = {"run_id": run_id, "records": [r.as_json() for r in records]}
        if result is not None:
            out["verify"] = result.as_json()
        emit(out)
    else:
        for r in records:
            sys.stdout.write(f"{r.seq:>4} {r.at} {r.kind:<16} {json.dumps(r.payload)}\n")
        if result is not None:
            typer.echo(
                f"audit log intact ({result.records} records)"
                if result.ok
                else "audit log BROKEN:\n  " + "\n  ".join(result.problems)
            )
    if result is not None and not result.ok:
        raise typer.Exit(1)
