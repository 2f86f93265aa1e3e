"""`cairn ingest PATH...`: add or update documents in the workspace."""

from pathlib import Path
from typing import Annotated, Any

import typer

from cairn.cli.common import JsonOption, WorkspaceOption, emit, errors_reported, open_workspace


def command(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    include: Annotated[
        list[str] | None,
        typer.Option(
            help="Only files matching this glob (repeatable; overrides default excludes)."
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Skip files matching this glob (repeatable).")
    ] = None,
    prune: Annotated[
        bool, typer.Option(help="Remove documents whose files are gone from these folders.")
    ] = False,
    tag: Annotated[list[str] | None, typer.Option(help="Tag the documents (repeatable).")] = None,
    force: Annotated[
        bool,
        typer.Option(
            help="Ingest unchanged files again, so new chunking or ingest rules apply to them "
            "(their embeddings are reused)."
        ),
    ] = False,
    json_out: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Parse, chunk, embed and index documents. Unchanged files are skipped.

    Every file not ingested is listed with its reason (docs/ingest.md).

    Exit status: 0 done; 1 a file failed, or nothing was ingestible; 3 unsupported files left out.
    """
    from cairn.ingest.pipeline import ingest

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        typer.echo(f"error: no such file or folder: {', '.join(missing)}", err=True)
        raise typer.Exit(2)
    with errors_reported():
        ws = open_workspace(workspace, create=True)
        with _progress(enabled=not json_out) as on_progress:
            report = ingest(
                paths,
                store=ws.store,
                embedder=ws.embedder,
                tokenizer=ws.embedder.tokenizer,
                settings=ws.settings,
                includes=include or (),
                excludes=exclude or (),
                prune=prune,
                tags=tag or (),
                progress=on_progress,
                force=force,
            )
        ws.close()
    if json_out:
        emit(report.as_dict())
    else:
        _summary(report)
    if include and report.files == 0:  # a typo in a pattern must not read as success
        typer.echo(f"error: no file matches --include {' '.join(include)}", err=True)
        raise typer.Exit(EXIT_FAILED)
    raise typer.Exit(exit_status(report))


class _progress:
    """A rich progress bar on stderr: files, chunks, rate and ETA."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]ingest[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files · {task.fields[chunks]} chunks · {task.fields[rate]:.1f} files/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("[dim]{task.fields[current]}[/]"),
            console=Console(stderr=True),
            transient=False,
        )
        self._bar.__enter__()
        self._task = self._bar.add_task("ingest", total=None, chunks=0, rate=0.0, current="")
        return self._update

    def _update(self, source: str, report: Any) -> None:
        done = report.ingested + report.unchanged + report.failed
        elapsed = self._bar.tasks[0].elapsed or 1e-9
        self._bar.update(
            self._task,
            total=report.files,
            completed=done,
            chunks=report.chunks,
            rate=done / elapsed,
            current=source[-40:],
        )

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


_EXAMPLES = 3
"""Paths shown per skip reason in the summary (`--json` lists them all)."""


def _summary(report: Any) -> None:
    from rich.console import Console
    from rich.markup import escape

    from cairn.ingest.readers import SUPPORTED_SUFFIXES

    console = Console(stderr=True)
    for path, reason in report.failures:
        console.print(f"[red]failed[/] {escape(path)}: {escape(reason)}")
    for path, message in report.warnings:
        console.print(f"[yellow]partly read[/] {escape(path)}: {escape(message)}", soft_wrap=True)
    for reason, paths in report.skipped_by_reason().items():
        shown = ", ".join(escape(p) for p in paths[:_EXAMPLES])
        more = (
            f", ... ({len(paths) - _EXAMPLES} more; --json lists all)"
            if len(paths) > _EXAMPLES
            else ""
        )
        count = f"{len(paths)} file{'s' if len(paths) != 1 else ''}"
        console.print(
            f"[yellow]skipped[/] {count}: {escape(reason)}: {shown}{more}", soft_wrap=True
        )
    if report.left_out:
        console.print(
            f"[yellow]left out[/] {len(report.left_out)} "
            f"{'file' if len(report.left_out) == 1 else 'files'} of an unsupported type; "
            f"supported: {' '.join(sorted(SUPPORTED_SUFFIXES))}",
            soft_wrap=True,
        )
    if report.files == 0 and report.left_out:
        console.print(
            "[red]nothing to ingest[/]: no file of a supported type was found "
            "(convert the files to a supported format, or point at another folder)",
            soft_wrap=True,
        )
    console.print(
        f"[bold]{report.files}[/] files: {report.ingested} ingested, {report.unchanged} unchanged,"
        f" {report.failed} failed, {report.removed} removed, {len(report.skipped)} skipped · "
        f"{report.chunks} chunks indexed, {report.duplicates} duplicates skipped · "
        f"{report.embedded} embedded, {report.reused} from cache · {report.seconds:.1f} s"
    )
    if report.flagged:
        held = f", {report.quarantined} quarantined" if report.quarantined else ""
        console.print(
            f"[yellow]flagged[/] {report.flagged} chunks as possible prompt injection{held}: "
            "see `cairn guard scan`",
            soft_wrap=True,
        )


EXIT_FAILED = 1
"""Some file failed to read or parse, or nothing could be ingested at all."""
EXIT_LEFT_OUT = 3
"""Done, but files of an unsupported type were left out (listed in the summary)."""


def exit_status(report: Any) -> int:
    """0 when every file found was ingested (or unchanged) or skipped by a rule (exclude
    pattern, `.gitignore`, vendored, generated); 1 when some file failed, or when nothing was
    ingestible because every file found had an unsupported type; 3 when the rest went well
    but files of an unsupported type were left out."""
    if report.failed or (report.files == 0 and report.left_out):
        return EXIT_FAILED
    if report.left_out:
        return EXIT_LEFT_OUT
    return 0
