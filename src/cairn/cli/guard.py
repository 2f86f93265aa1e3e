"""`cairn guard scan` and `cairn guard quarantine list|release`: poisoned documents.

Every chunk is scanned for planted instructions at ingest (`guard.ingest`); `scan` rescans a
workspace with the current detector, stores the new risks and lists the flagged chunks
(under `guard.ingest = "quarantine"` it also quarantines the newly flagged ones);
`quarantine list` shows what is kept out of search and `quarantine release CHUNK_ID` puts a
chunk an admin has checked back. See docs/guard.md.
"""

from typing import Annotated, Any

import typer

from cairn.cli.common import (
    JsonOption,
    WorkspaceOption,
    emit,
    errors_reported,
    fail,
    open_workspace,
)

app = typer.Typer(
    help="Prompt injection in the workspace's documents: scan, quarantine, release.",
    no_args_is_help=True,
)
quarantine_app = typer.Typer(
    help="Chunks kept out of search as possible prompt injection.", no_args_is_help=True
)
app.add_typer(quarantine_app, name="quarantine")


@app.command("scan")
def scan(json_out: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """Rescan every chunk with the current detector; list the flagged ones.

    Exit status: 0 done (flagged chunks are listed, not an error).
    """
    from cairn.guard.scan import rescan

    with errors_reported():
        ws = open_workspace(workspace)
        detector = ws.injection_detector
        report = rescan(
            ws.store,
            lambda text: detector.scan(text, kind="chunk"),
            quarantine=ws.settings.guard.ingest == "quarantine",
        )
        ws.close()
    if json_out:
        emit(report.as_dict())
        return
    for found in report.found:
        typer.echo(
            f"{found.state:<11} {found.risk.score:.2f}  {found.chunk_id}  {found.source}"
            f"{' > ' + found.section if found.section else ''}\n"
            f"            {', '.join(found.risk.reasons)}: {found.preview}"
        )
    typer.echo(
        f"{report.chunks} chunks in {report.documents} documents scanned: {report.flagged} "
        f"flagged, {report.changed} risks updated, {report.quarantined} newly quarantined, "
        f"{report.held} quarantined in all",
        err=True,
    )


@quarantine_app.command("list")
def quarantine_list(json_out: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """The quarantined chunks, with their risk."""
    with errors_reported():
        ws = open_workspace(workspace)
        held = ws.store.quarantined()
        ws.close()
    rows = [_row(c) for c in held]
    if json_out:
        emit({"quarantined": rows})
        return
    for row in rows:
        risk = row["risk"] or {"score": 0.0, "reasons": []}
        typer.echo(
            f"{risk['score']:.2f}  {row['chunk_id']}  {row['source']}  "
            f"{', '.join(risk['reasons'])}: {row['preview']}"
        )
    typer.echo(f"{len(rows)} chunks quarantined", err=True)


@quarantine_app.command("release")
def quarantine_release(
    chunk_ids: Annotated[list[str], typer.Argument(help="The chunks to put back in search.")],
    json_out: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Put quarantined chunks back in search (a rescan will not quarantine them again).

    Exit status: 0 released; 4 an id is not a quarantined chunk (the others are released).
    """
    with errors_reported():
        ws = open_workspace(workspace)
        released = ws.store.release(chunk_ids)
        ws.close()
    unknown = [c for c in chunk_ids if c not in released]
    if json_out and not unknown:
        emit({"released": released})
    elif not json_out:
        for chunk_id in released:
            typer.echo(f"released {chunk_id}")
    if unknown:
        raise fail(
            f"not a quarantined chunk: {', '.join(unknown)} (see `cairn guard quarantine list`)",
            4,
            error="not_found",
        )


def _row(chunk: Any) -> dict[str, Any]:
    return {
        "chunk_id": chunk.id,
        "source": chunk.source,
        "section": chunk.section_path,
        "risk": None if chunk.risk is None else chunk.risk.to_dict(),
        "preview": " ".join(chunk.text.split())[:160],
    }
