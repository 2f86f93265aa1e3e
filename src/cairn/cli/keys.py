"""`cairn keys create|list|revoke`: API keys for `cairn serve` in keys mode.

Keys live hashed in `<workspace>/server.db`; a new key is printed once and never again.
"""

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cairn.cli.common import JsonOption, WorkspaceOption, errors_reported, fail

if TYPE_CHECKING:
    from cairn.server.keys import KeyStore

app = typer.Typer(help="API keys for the HTTP server (server.auth = keys).", no_args_is_help=True)


@contextmanager
def _keys(workspace: Path | None) -> Iterator["KeyStore"]:
    from cairn.config import load_settings
    from cairn.server.stores import open_server_stores, state_url

    settings = load_settings(workspace=workspace)
    stores = open_server_stores(settings.workspace, url=state_url(settings))
    try:
        yield stores.keys
    finally:
        stores.close()


@app.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="The tenant the key acts for (its ACL principal).")],
    scope: Annotated[
        list[str],
        typer.Option(
            help="ask, search, documents, traces, costs, evals, metrics, agent, agent:write, "
            "agent:send or admin (repeatable).",
        ),
    ],
    name: Annotated[str | None, typer.Option(help="Who uses it (the user in traces).")] = None,
    json_out: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Create a key; it is shown once."""
    with errors_reported(), _keys(workspace) as store:
        key, secret = store.create(tenant=tenant, scopes=scope, name=name)
    if json_out:
        sys.stdout.write(json.dumps(key.as_json() | {"key": secret}) + "\n")
        return
    typer.echo(secret)
    typer.echo(
        f"{key.id}: tenant {key.tenant}, scopes {', '.join(key.scopes)}. "
        "Store the key now: it is shown only once.",
        err=True,
    )


@app.command("list")
def list_keys(json_out: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """List keys (ids, tenants, scopes; never the keys themselves)."""
    with errors_reported(), _keys(workspace) as store:
        keys = store.keys()
    if json_out:
        sys.stdout.write(json.dumps([k.as_json() for k in keys]) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "key", "tenant", "name", "scopes", "created", "revoked")
    for k in keys:
        table.add_row(
            k.id,
            k.prefix + "…",
            k.tenant,
            k.name or "",
            " ".join(k.scopes),
            k.created_at,
            k.revoked_at or "",
        )
    Console().print(table)


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from 'cairn keys list').")],
    workspace: WorkspaceOption = None,
) -> None:
    """Revoke a key (servers stop accepting it within seconds)."""
    with errors_reported(), _keys(workspace) as store:
        revoked = store.revoke(key_id)
    if not revoked:
        raise fail(f"no active key {key_id!r} (see 'cairn keys list')", code=1, error="not_found")
    typer.echo(f"revoked {key_id}", err=True)
