"""`cairn search QUERY`: ranked chunks, as a table or as the documented JSON."""

from pathlib import Path
from typing import Annotated

import typer

from cairn.cli.common import (
    JsonOption,
    WorkspaceOption,
    emit,
    errors_reported,
    fail,
    open_workspace,
    run_batch,
)
from cairn.cli.filters import (
    DateFromOption,
    DateToOption,
    LanguageOption,
    SourceOption,
    TagOption,
    TypeOption,
    build_filters,
)
from cairn.payloads import search_json
from cairn.types import Hit


def command(
    query: Annotated[str | None, typer.Argument(help="What to look for.")] = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="How many results.")] = 5,
    mode: Annotated[
        str | None, typer.Option(help="lexical, dense or hybrid (default from config).")
    ] = None,
    batch: Annotated[
        Path | None, typer.Option(help="JSON lines {id, query}; one JSON line out per query.")
    ] = None,
    source: SourceOption = None,
    doc_type: TypeOption = None,
    tag: TagOption = None,
    language: LanguageOption = None,
    date_from: DateFromOption = None,
    date_to: DateToOption = None,
    json_out: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Search the workspace and print the best matching chunks."""
    if mode not in (None, "lexical", "dense", "hybrid"):
        raise fail(f"unknown --mode {mode!r}: use lexical, dense or hybrid")
    if (query is None) == (batch is None):
        raise fail("give a QUERY or --batch FILE (not both)")
    filters = build_filters(source, doc_type, tag, language, date_from, date_to)
    with errors_reported():
        ws = open_workspace(workspace)
        try:
            retriever = ws.retriever(mode)
            if batch is not None:
                failed = run_batch(
                    batch, ("query",), lambda q: search_json(q, retriever.retrieve(q, k, filters))
                )
                raise typer.Exit(1 if failed else 0)
            assert query is not None
            hits = retriever.retrieve(query, k, filters)
        finally:
            ws.close()
        if json_out:
            emit(search_json(query, hits))
            return
        _print(query, hits)


def _print(query: str, hits: list[Hit]) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    if not hits:
        console.print(f"No results for [bold]{escape(query)}[/].")
        return
    for rank, hit in enumerate(hits, start=1):
        c = hit.chunk
        where = escape(c.section_path or c.title)
        console.print(
            f"[bold]{rank}.[/] [cyan]{escape(c.source)}[/] — {where} [dim]({hit.score:.3f})[/]"
        )
        console.print(f"   [link={c.anchored_uri}]{escape(c.anchored_uri)}[/link]", style="dim")
        snippet = " ".join(c.text.split())
        console.print("   " + escape(snippet[:240] + ("…" if len(snippet) > 240 else "")))
