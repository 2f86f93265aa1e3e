"""`cairn eval report` and `compare`: read runs back, tables and HTML."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cairn.cli.common import JsonOption, errors_reported
from cairn.cli.eval.options import (
    HtmlOption,
    SeedOption,
    app,
    write_html,
)

if TYPE_CHECKING:
    from cairn.evals.records import RunRecord


def report_html(run: RunRecord, html: Path, baseline_path: Path | None) -> None:
    from cairn.evals.gate import compare_runs, load_run
    from cairn.evals.report_html import render_html

    baseline = load_run(baseline_path) if baseline_path else None
    comparisons = compare_runs(run, baseline) if baseline else []
    write_html(html, render_html(run, baseline=baseline, comparisons=comparisons))


@app.command("report")
def report_command(
    run: Annotated[Path, typer.Argument(help="A run file.")],
    html: HtmlOption = None,
    baseline: Annotated[Path | None, typer.Option(help="Show the diff against this run.")] = None,
) -> None:
    """Print a run's tables; with --html, write the self-contained HTML report."""
    from rich.console import Console

    from cairn.evals.gate import load_run
    from cairn.evals.report_terminal import print_run

    with errors_reported():
        record = load_run(run)
        print_run(record, Console())
        if html is not None:
            report_html(record, html, baseline)


@app.command("compare")
def compare_command(
    run: Annotated[Path, typer.Argument(help="The new run.")],
    baseline: Annotated[Path, typer.Argument(help="The run to compare against.")],
    html: HtmlOption = None,
    seed: SeedOption = 0,
    json_out: JsonOption = False,
) -> None:
    """Paired differences of every metric, with intervals, p-values and effect sizes."""
    from dataclasses import asdict

    from cairn.evals.gate import compare_runs, load_run
    from cairn.evals.report_html import render_html
    from cairn.evals.report_terminal import print_comparison

    with errors_reported():
        a, b = load_run(run), load_run(baseline)
        comparisons = compare_runs(a, b, seed=seed)
        if html is not None:
            write_html(html, render_html(a, baseline=b, comparisons=comparisons))
    if json_out:
        rows = [
            {"metric": c.metric, "drop": c.drop, "p_worse": c.p_worse, **asdict(c.comparison)}
            for c in comparisons
        ]
        sys.stdout.write(json.dumps({"run": a.id, "baseline": b.id, "metrics": rows}) + "\n")
        return
    print_comparison(comparisons, a, b)
