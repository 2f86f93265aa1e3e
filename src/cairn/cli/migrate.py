"""`cairn migrate --to postgresql://...`: copy a SQLite workspace's store, cost ledger and own
state (keys, jobs, feedback, traces, agent runs, conversations) to Postgres, counts
checked."""

from typing import Annotated

import typer

from cairn.cli.common import JsonOption, WorkspaceOption, emit, errors_reported


def command(
    to: Annotated[
        str, typer.Option("--to", help="The Postgres database to copy into: postgresql://...")
    ],
    json_out: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Copy the workspace's documents, chunks, vectors (nothing is re-embedded), cost
    ledger, API keys, ingest jobs, feedback, traces, agent runs (approvals and audit log
    included) and conversations into Postgres, then compare the counts on both sides.

    Safe to run again: parts already copied are left alone; a database holding another
    workspace's data is refused (the store); state rows already copied are kept as they are.
    Afterwards set CAIRN_STORE_URL (or store.url) to the URL: the ledger and the state
    follow it.

    Exit status: 0 copied and counts equal; 1 a count differs; 2 an error.
    """
    from cairn.budget.ledger import LEDGER_FILE
    from cairn.config import load_settings
    from cairn.errors import ConfigError
    from cairn.pg import is_postgres_url
    from cairn.statecopy import CopiedState, copy_state
    from cairn.store.open import DB_FILE, sqlite_path
    from cairn.store.postgres import PostgresStore
    from cairn.store.postgres.copy import Copied, copy_ledger, copy_store
    from cairn.trace.redact import safe_url

    with errors_reported():
        if not is_postgres_url(to):
            raise ConfigError(f"--to must be a postgresql:// URL, not {to!r}")
        settings = load_settings(workspace=workspace)
        source = sqlite_path(settings) or settings.workspace / DB_FILE
        results: list[Copied | CopiedState] = []
        store = PostgresStore(to)
        try:
            say = (lambda _: None) if json_out else (lambda m: typer.echo(f"  {m}", err=True))
            results.append(copy_store(source, store, progress=say))
        finally:
            store.close()
        ledger = settings.workspace / LEDGER_FILE
        if ledger.is_file():
            results.append(copy_ledger(ledger, to))
        results.extend(copy_state(settings.workspace, to, progress=say))
    ok = all(r.matches for r in results)
    if json_out:
        emit({"to": safe_url(to), "parts": [r.as_dict() for r in results], "ok": ok})
    else:
        typer.echo(f"{'part':8} {'table':15} {'source':>9} {'target':>9}")
        for r in results:
            for table, count in r.source.items():
                mark = "" if r.target.get(table) == count else "  MISMATCH"
                typer.echo(f"{r.part:8} {table:15} {count:>9} {r.target.get(table, 0):>9}{mark}")
            if r.skipped:
                typer.echo(f"{r.part:8} (already copied by an earlier run; nothing written)")
        if ok:
            typer.echo(f"\nall counts match; now: export CAIRN_STORE_URL='{safe_url(to)}'")
    if not ok:
        raise typer.Exit(1)
