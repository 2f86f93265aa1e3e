"""`cairn eval add-case`: draft a golden case from what the pipeline retrieves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cairn.cli.common import WorkspaceOption, errors_reported, fail, open_workspace
from cairn.cli.eval.options import (
    CasesOption,
    ModeOption,
    app,
)


@app.command("add-case")
def add_case_command(
    question: Annotated[str, typer.Argument(help="The question to draft a case for.")],
    to: Annotated[Path, typer.Option(help="Append the draft to this YAML file.")] = Path(
        "evals/golden/drafts.yaml"
    ),
    case_id: Annotated[str | None, typer.Option("--id", help="Case id (default: a slug).")] = None,
    expect: Annotated[str, typer.Option(help="answer, abstain or refuse.")] = "answer",
    tag: Annotated[list[str] | None, typer.Option(help="Tag (repeatable).")] = None,
    sources: Annotated[int, typer.Option(min=1, help="Gold sources to pre-fill.")] = 3,
    cases: CasesOption = Path("evals/golden"),
    mode: ModeOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Draft a case with the retrieved sources pre-filled, for a person to confirm."""
    from cairn.evals.drafts import append_case, draft_case, existing_ids, slug

    if expect not in ("answer", "abstain", "refuse"):
        raise fail(f"unknown --expect {expect!r}: use answer, abstain or refuse")
    with errors_reported():
        taken = existing_ids(cases, to)
        if case_id is not None and case_id in taken:
            raise fail(f"case id {case_id!r} is already used; pick another --id", error="conflict")
        ws = open_workspace(workspace)
        pipeline = ws.pipeline(mode)
        hits = pipeline.search(question, 10)
        answer = pipeline.ask(question)
        ws.close()
        if expect == "answer" and not hits:
            raise fail("nothing was retrieved: write the gold sources by hand")
        case = draft_case(
            question,
            hits,
            answer,
            case_id=case_id or slug(question, taken),
            expect=expect,
            tags=tag,
            sources=sources,
        )
        text = append_case(to, case)
    typer.echo(text)
    typer.echo(f"appended to {to}: confirm the sources and remove the 'draft' tag", err=True)
