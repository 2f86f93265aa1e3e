"""`cairn services up|down|status`: Postgres (with pgvector) and Redis on this machine, data
under the workspace, for replicas and the scale-out tests (see docs/deploy.md)."""

import typer

from cairn.cli.common import JsonOption, WorkspaceOption, emit, errors_reported

app = typer.Typer(help="Run Postgres and Redis for replicas on this machine.", no_args_is_help=True)


def _show(services: list["object"], json_out: bool) -> None:
    from cairn.services import Service

    items = [s for s in services if isinstance(s, Service)]
    if json_out:
        emit({s.name: s.as_json() for s in items})
        return
    for s in items:
        state = "running" if s.running else "stopped"
        typer.echo(f"{s.name:9} {state:8} {s.url or '-'}   (data: {s.data})")
    urls = {s.name: s.url for s in items if s.url}
    if "redis" in urls:
        typer.echo(f"\nexport CAIRN_REDIS_URL='{urls['redis']}'")
    if "postgres" in urls:
        typer.echo(f"export CAIRN_STORE_URL='{urls['postgres']}'   # the store and the ledger")


@app.command("up")
def up(json_out: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """Start Postgres and Redis (those not running yet) and print their URLs."""
    from cairn import services
    from cairn.config import load_settings

    with errors_reported():
        settings = load_settings(workspace=workspace)
        found = services.up(settings.workspace)
    _show(list(found), json_out)


@app.command("status")
def status(json_out: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """Whether each one runs, and its URL."""
    from cairn import services
    from cairn.config import load_settings

    with errors_reported():
        settings = load_settings(workspace=workspace)
        found = services.status(settings.workspace)
    _show(list(found), json_out)


@app.command("down")
def down(json_out: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """Stop both; their data stays under the workspace."""
    from cairn import services
    from cairn.config import load_settings

    with errors_reported():
        settings = load_settings(workspace=workspace)
        found = services.down(settings.workspace)
    _show(list(found), json_out)
