"""`cairn ask QUESTION`: a cited answer, as readable text or as the documented JSON."""

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
from cairn.payloads import answer_json
from cairn.types import Answer


def command(
    question: Annotated[str | None, typer.Argument(help="Your question.")] = None,
    k: Annotated[int | None, typer.Option("--k", "-k", min=1, help="Chunks to read.")] = None,
    mode: Annotated[str | None, typer.Option(help="lexical, dense or hybrid retrieval.")] = None,
    model: Annotated[
        str | None, typer.Option(help="Model to answer with (overrides CAIRN_LLM_MODEL).")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Answer afresh, ignoring the answer cache.")
    ] = False,
    batch: Annotated[
        Path | None,
        typer.Option(help="JSON lines {id, query|question}; one JSON line out per question."),
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
    """Answer a question from the workspace, citing the passages used."""
    if mode not in (None, "lexical", "dense", "hybrid"):
        raise fail(f"unknown --mode {mode!r}: use lexical, dense or hybrid")
    if (question is None) == (batch is None):
        raise fail("give a QUESTION or --batch FILE (not both)")
    filters = build_filters(source, doc_type, tag, language, date_from, date_to)
    with errors_reported():
        from cairn.trace import build_tracer

        ws = open_workspace(workspace)
        tracer = build_tracer(ws.settings)
        try:
            pipeline = ws.pipeline(mode, model=model, cache=not no_cache)
            pipeline.tracer = tracer
            if batch is not None:
                failed = run_batch(
                    batch,
                    ("question", "query"),
                    lambda q: answer_json(pipeline.ask(q, k=k, filters=filters)),
                )
                raise typer.Exit(1 if failed else 0)
            assert question is not None
            answer = pipeline.ask(question, k=k, filters=filters)
        finally:
            tracer.close()
            ws.close()
        if json_out:
            emit(answer_json(answer))
            return
        print_answer(answer)


def print_answer(answer: Answer) -> None:
    from rich.console import Console
    from rich.markdown import Markdown
    from rich.markup import escape

    console = Console()
    console.print(Markdown(answer.text))
    if answer.abstained:
        console.print("[dim]No passage in the workspace answers this closely enough.[/]")
        return
    console.print()
    console.print("[bold]Sources[/]")
    for c in answer.citations:
        mark = "[green]✓ verified[/]" if c.verified else "[red]✗ unverified[/]"
        console.print(f" [bold][{c.n}][/] [cyan]{escape(c.source)}[/] — {escape(c.section)} {mark}")
        console.print(f"     [link={c.uri}]{escape(c.uri)}[/link]", style="dim")
        if c.risk is not None and c.risk.flagged:
            console.print(
                "     [bold red]⚠ warning:[/] this source may carry planted instructions "
                f"(prompt injection: {escape(', '.join(c.risk.reasons))})"
            )
    console.print(
        f"[dim]{answer.latency_ms:.0f} ms · ${answer.cost_usd:.4f} · "
        f"trace {answer.trace_id[:12]}[/]"
    )
