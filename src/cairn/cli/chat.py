"""`cairn chat`: a conversation with the workspace, one question a line.

Questions are read from standard input (typed at a `you>` prompt, or piped: `printf
'What is a set?\\nhow do I make an empty one?\\n' | cairn chat`). Each answer cites its
passages; follow-up questions lean on the earlier turns (`cairn.conversation`: the model's
rewrite when one is configured, else the term rewrite), and the history is kept within
`answer.history_tokens`. An empty line is skipped; `exit`, `quit` or the end of input ends
the conversation. `--json` prints one JSON object per turn: the answer's JSON (as `cairn ask
--json`) with `turn`, `question`, `query` (the standalone query answered) and `rewritten`.
A turn that fails prints its error (with `--json`, `{"turn", "question", "error"}`) and the
conversation goes on; the exit status is then 1.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from cairn.cli.common import (
    JsonOption,
    WorkspaceOption,
    emit,
    error_json_of,
    errors_reported,
    fail,
    open_workspace,
)
from cairn.cli.filters import SourceOption, TagOption, TypeOption, build_filters
from cairn.errors import CairnError
from cairn.payloads import answer_json

ENDS = frozenset({"exit", "quit", ":q"})


def command(
    k: Annotated[int | None, typer.Option("--k", "-k", min=1, help="Chunks to read.")] = None,
    mode: Annotated[str | None, typer.Option(help="lexical, dense or hybrid retrieval.")] = None,
    model: Annotated[
        str | None, typer.Option(help="Model to answer with (overrides CAIRN_LLM_MODEL).")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Answer afresh, ignoring the answer cache.")
    ] = False,
    source: SourceOption = None,
    doc_type: TypeOption = None,
    tag: TagOption = None,
    json_out: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Hold a conversation: questions from stdin, one a line; follow-ups use the history."""
    if mode not in (None, "lexical", "dense", "hybrid"):
        raise fail(f"unknown --mode {mode!r}: use lexical, dense or hybrid")
    filters = build_filters(source, doc_type, tag)
    interactive = sys.stdin.isatty()
    failed = 0
    with errors_reported():
        from cairn.conversation import Turn, fit_history
        from cairn.trace import build_tracer

        ws = open_workspace(workspace)
        tracer = build_tracer(ws.settings)
        try:
            pipeline = ws.pipeline(mode, model=model, cache=not no_cache)
            pipeline.tracer = tracer
            history: list[Turn] = []
            turn = 0
            while (question := _read(interactive)) is not None:
                if not question:
                    continue
                if question.lower() in ENDS:
                    break
                turn += 1
                try:
                    answer = pipeline.ask(question, k=k, filters=filters, history=history)
                except CairnError as exc:
                    failed += 1
                    _failed(turn, question, exc, json_out)
                    continue
                query = answer.query or question
                if json_out:
                    out: dict[str, Any] = {"turn": turn, "question": question}
                    out |= {"query": query, "rewritten": query != question}
                    emit({**out, **answer_json(answer)})
                else:
                    from cairn.cli.ask import print_answer

                    if query != question:
                        typer.echo(f"(searched for: {query})", err=True)
                    print_answer(answer)
                history = fit_history(
                    [*history, Turn.user(question), Turn.assistant(answer.text)],
                    pipeline.history_tokens,
                )
        finally:
            tracer.close()
            ws.close()
    if failed:
        raise typer.Exit(1)


def _read(interactive: bool) -> str | None:
    """The next question (stripped), or None at the end of input."""
    if interactive:
        try:
            return input("you> ").strip()
        except EOFError:
            return None
    line = sys.stdin.readline()
    return line.strip() if line else None


def _failed(turn: int, question: str, exc: CairnError, json_out: bool) -> None:
    body = error_json_of(exc)
    typer.echo(f"error: {body['error']['message']}", err=True)
    if json_out:
        emit({"turn": turn, "question": question, **body})
