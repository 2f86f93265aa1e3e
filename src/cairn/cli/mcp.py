"""`cairn mcp serve|tools`: cairn as an MCP server, and the MCP servers the agent uses.

    cairn mcp serve                          # stdio (a local client starts this process)
    cairn mcp serve --tenant acme            # stdio, only acme's and public documents
    cairn mcp serve --transport http         # streamable HTTP at server.host:server.port/mcp
    cairn mcp tools                          # the tools of [[agent.mcp_servers]]

See docs/mcp.md.
"""

from typing import TYPE_CHECKING, Annotated

import typer

from cairn.cli.common import JsonOption, WorkspaceOption, emit, errors_reported, fail

if TYPE_CHECKING:
    from cairn.config import Settings

app = typer.Typer(
    help="MCP: serve cairn, inspect the agent's MCP servers (docs/mcp.md).", no_args_is_help=True
)


@app.command("serve")
def serve(
    transport: Annotated[str, typer.Option(help="stdio or http (streamable HTTP).")] = "stdio",
    tenant: Annotated[
        str | None,
        typer.Option(help="stdio: answer as this tenant (its and public documents only)."),
    ] = None,
    host: Annotated[str | None, typer.Option(help="http: address (default server.host).")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="http: port (default server.port).")
    ] = None,
    auth: Annotated[
        str | None, typer.Option(help="http: local (no key, loopback) or keys (API keys).")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="http: allow local mode on a non-loopback address.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
    workspace: WorkspaceOption = None,
) -> None:
    """Serve search, ask and read_chunk (and the documents) to MCP clients."""
    if transport not in ("stdio", "http"):
        raise fail(f"unknown --transport {transport!r}: use stdio or http")
    if auth not in (None, "local", "keys"):
        raise fail(f"unknown --auth {auth!r}: use local or keys")
    with errors_reported():
        from cairn.config import ServerSettings, load_settings
        from cairn.mcp import require_mcp

        require_mcp()
        settings = load_settings(workspace=workspace)
        if transport == "stdio":
            if host or port or auth or force:
                raise fail("--host, --port, --auth and --force are for --transport http")
            _serve_stdio(settings, tenant)
            return
        if tenant is not None:
            raise fail("--tenant is for stdio; over HTTP the API key names the tenant")
        import uvicorn

        from cairn.mcp.http import mcp_app
        from cairn.server.auth import check_bind

        given = {"host": host, "port": port, "auth": auth}
        server = ServerSettings.model_validate(
            settings.server.model_dump() | {k: v for k, v in given.items() if v is not None}
        )
        settings = settings.model_copy(update={"server": server})
        check_bind(server.host, server.auth, force=force)
        shown = f"[{server.host}]" if ":" in server.host else server.host
        typer.echo(
            f"cairn: MCP for {settings.workspace} at http://{shown}:{server.port}/mcp "
            f"(streamable HTTP, stateless) · auth {server.auth}",
            err=True,
        )
        uvicorn.run(
            mcp_app(settings),
            host=server.host,
            port=server.port,
            log_level=log_level,
            timeout_graceful_shutdown=10,
        )


def _serve_stdio(settings: "Settings", tenant: str | None) -> None:
    from cairn.mcp.server import CairnMCP, DocsSource
    from cairn.server.auth import LOCAL_CALLER, Caller
    from cairn.server.keys import SCOPES, check_tenant
    from cairn.workspace import Workspace

    caller = LOCAL_CALLER
    if tenant is not None:
        check_tenant(tenant)
        scopes = tuple(s for s in SCOPES if s != "admin")
        caller = Caller(tenant=tenant, user=tenant, key_id=None, scopes=scopes)
    ws = Workspace(settings)
    try:
        pipeline = ws.pipeline(cache=True)
        source = DocsSource(pipeline=lambda: pipeline, store=ws.store)
        CairnMCP(lambda: source, caller=caller, loopback_only=True).run("stdio")
    finally:
        ws.close()


@app.command("tools")
def tools(json_out: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """List the tools of the MCP servers in cairn.toml, with side effects and policies."""
    with errors_reported():
        from cairn.agent.mcp import open_mcp_tools
        from cairn.config import load_settings

        settings = load_settings(workspace=workspace)
        if not settings.agent.mcp_servers:
            raise fail("no MCP servers configured: add [[agent.mcp_servers]] to cairn.toml")
        with open_mcp_tools(settings.agent.mcp_servers) as toolset:
            rows = [
                {
                    "name": t.name,
                    "server": t.server,
                    "mcp_name": t.mcp_name,
                    "side_effect": t.side_effect,
                    "idempotent": t.idempotent,
                    "policy": toolset.policies[t.name],
                    "description": t.description,
                }
                for t in toolset.tools
            ]
    if json_out:
        emit({"tools": rows})
        return
    for r in rows:
        typer.echo(f"{r['name']:<32} {r['side_effect']:<9} {r['policy']:<7} {r['description']}")
