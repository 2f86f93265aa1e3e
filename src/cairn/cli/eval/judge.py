"""`cairn eval calibrate-judge`: agreement of the LLM judge with human labels."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, cast

import typer

from cairn.cli.common import JsonOption, WorkspaceOption, errors_reported, fail
from cairn.cli.eval.options import (
    app,
)


@app.command("calibrate-judge")
def calibrate_judge_command(
    dataset: Annotated[
        Path, typer.Option(help="RAGChecker meta-evaluation folder (human pairwise labels).")
    ] = Path("../shared/datasets/ragchecker_meta_eval"),
    judge: Annotated[
        str,
        typer.Option(
            help="auto (the configured LLM, else the baseline), provider, scripted or baseline."
        ),
    ] = "auto",
    label: Annotated[str, typer.Option(help="overall, correctness or completeness.")] = "overall",
    margin: Annotated[
        float, typer.Option(min=0.0, help="Score difference below which a pair is a tie.")
    ] = 0.125,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N questions.")] = None,
    json_out: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Agreement and Cohen's kappa of a judge with human pairwise preferences."""
    from dataclasses import asdict

    from rich.console import Console
    from rich.table import Table

    from cairn.config import load_settings
    from cairn.evals.calibration import Label, calibrate, load_pairs, load_reference_scores
    from cairn.evals.judge import OverlapJudge, build_grader

    if label not in ("overall", "correctness", "completeness"):
        raise fail(f"unknown --label {label!r}: use overall, correctness or completeness")
    with errors_reported():
        settings = load_settings(workspace=workspace)
        grader = build_grader(judge, settings) or OverlapJudge()
        items = load_pairs(dataset, cast(Label, label))
        if limit is not None:
            items = items[:limit]
        results = calibrate(
            items,
            grader,
            margin=margin,
            reference_scores=load_reference_scores(dataset, cast(Label, label)),
        )
    if grader.description.startswith("scripted"):
        honest = "no language model ran: the scripted model answered with the overlap rule"
    elif "no model" in grader.description:
        honest = "no language model ran: these are the deterministic overlap baseline's numbers"
    else:
        honest = f"judge model: {grader.description}"
    if json_out:
        payload = {
            "dataset": str(dataset),
            "label": label,
            "margin": margin,
            "judge": grader.description,
            "note": honest,
            "questions": len(items),
            "results": [asdict(r) for r in results],
        }
        sys.stdout.write(json.dumps(payload) + "\n")
        return
    console = Console()
    table = Table(
        title=f"judge calibration on {len(items)} questions × annotators ({label} label, "
        f"tie margin {margin})",
        title_justify="left",
    )
    for column in ("who", "rows", "agreement", "95% CI", "Cohen's κ", "decisive agr.", "n dec."):
        table.add_column(column, justify="left" if column == "who" else "right")
    for r in results:
        table.add_row(
            r.name,
            str(r.rows),
            f"{r.agreement:.3f}",
            f"[{r.low:.3f}, {r.high:.3f}]",
            f"{r.kappa:.3f}",
            f"{r.decisive_agreement:.3f}",
            str(r.decisive_rows),
        )
    console.print(table)
    console.print(f"[bold]{honest}[/]")
