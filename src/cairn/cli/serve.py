"""`cairn serve`: the HTTP API, the OpenAI-compatible endpoint and the web UI."""

from typing import Annotated

import typer

from cairn.cli.common import WorkspaceOption, errors_reported, fail


def command(
    host: Annotated[str | None, typer.Option(help="Address to bind (default server.host).")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default server.port, 8321).")
    ] = None,
    auth: Annotated[
        str | None, typer.Option(help="local (one user, no key) or keys (API keys).")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(help="Allow local mode on a non-loopback address (a proxy authenticates)."),
    ] = False,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    workspace: WorkspaceOption = None,
) -> None:
    """Serve the workspace over HTTP; the web UI is at the printed URL."""
    if auth not in (None, "local", "keys"):
        raise fail(f"unknown --auth {auth!r}: use local or keys")
    with errors_reported():
        import uvicorn

        from cairn.config import ServerSettings, load_settings
        from cairn.server.app import create_app
        from cairn.server.auth import check_bind

        settings = load_settings(workspace=workspace)
        given = {"host": host, "port": port, "auth": auth}
        server = ServerSettings.model_validate(
            settings.server.model_dump() | {k: v for k, v in given.items() if v is not None}
        )
        settings = settings.model_copy(update={"server": server})
        check_bind(server.host, server.auth, force=force)
        app = create_app(settings)
        shown = f"[{server.host}]" if ":" in server.host else server.host
        url = f"http://{shown}:{server.port}/"
        typer.echo(
            f"cairn: serving {settings.workspace} on {url} (web UI; API docs at {url}docs) "
            f"· auth {server.auth}",
            err=True,
        )
        uvicorn.run(
            app,
            host=server.host,
            port=server.port,
            log_level=log_level,
            access_log=access_log,
            timeout_graceful_shutdown=10,
        )
