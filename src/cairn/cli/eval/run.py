"""`cairn eval run`, `gate` and `baseline`: the commands that run the golden cases."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cairn.cli.common import JsonOption, WorkspaceOption, errors_reported, fail, open_workspace
from cairn.cli.eval.options import (
    CaseFilter,
    CasesOption,
    DraftsOption,
    EpochsOption,
    HtmlOption,
    JudgeOption,
    KOption,
    ModeOption,
    SeedOption,
    TagFilter,
    app,
    write_html,
    write_run,
)

if TYPE_CHECKING:
    from cairn.evals.records import RunRecord


def _evaluate(
    cases_path: Path,
    workspace: Path | None,
    mode: str | None,
    k: int | None,
    epochs: int,
    tags: list[str] | None,
    ids: list[str] | None,
    include_drafts: bool,
    seed: int,
    judge: str = "none",
) -> RunRecord:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from cairn.evals.drafts import DRAFT_TAG
    from cairn.evals.judge import judge_scorer
    from cairn.evals.runs import evaluate, run_config, select_cases
    from cairn.evals.scorers import default_scorers

    if mode not in (None, "lexical", "dense", "hybrid"):
        raise fail(f"unknown --mode {mode!r}: use lexical, dense or hybrid")
    cases, drafts = select_cases(
        cases_path, tags=tags or (), ids=ids or (), include_drafts=include_drafts
    )
    if drafts:
        typer.echo(
            f"note: skipped {drafts} draft case(s) (confirm them and remove the "
            f"'{DRAFT_TAG}' tag, or pass --include-drafts)",
            err=True,
        )
    ws = open_workspace(workspace)
    try:
        scorers = default_scorers()
        extra = judge_scorer(judge, ws.settings, budget=ws.budget)
        if extra is not None:
            scorers.append(extra)
        config = run_config(
            ws.settings,
            cases_path=cases_path,
            mode=mode,
            generation=ws.store.generation(),
            judge=extra.description if extra is not None else "none",
        )
        console = Console(stderr=True)
        with Progress(
            TextColumn("[bold]eval[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[dim]{task.description}[/]"),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("", total=len(cases))

            def progress(index: int, total: int, case: Any) -> None:
                bar.update(task, completed=index - 1, description=case.id)

            run = evaluate(
                cases,
                ws.pipeline(mode, fallback=False, shadow=False),  # a model failure fails the case
                scorers=scorers,
                epochs=epochs,
                k=k,
                config=config,
                seed=seed,
                progress=progress,
            )
    finally:
        ws.close()
    return run


@app.command("run")
def run_command(
    cases: CasesOption = Path("evals/golden"),
    mode: ModeOption = None,
    k: KOption = None,
    epochs: EpochsOption = 1,
    tag: TagFilter = None,
    case: CaseFilter = None,
    out: Annotated[
        Path | None, typer.Option(help="Where to write the run (default evals/runs/ID.json).")
    ] = None,
    html: HtmlOption = None,
    baseline: Annotated[
        Path | None, typer.Option(help="Show the diff against this run in the HTML report.")
    ] = None,
    include_drafts: DraftsOption = False,
    judge: JudgeOption = "auto",
    seed: SeedOption = 0,
    json_out: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Run the cases through the pipeline and write a scored run (JSON)."""
    from cairn.cli.eval.reports import report_html
    from cairn.evals.report_terminal import print_run

    with errors_reported():
        run = _evaluate(cases, workspace, mode, k, epochs, tag, case, include_drafts, seed, judge)
        path = out or Path("evals/runs") / f"{run.id}.json"
        write_run(run, path)
        if html is not None:
            report_html(run, html, baseline)
    if json_out:
        sys.stdout.write(run.model_dump_json(indent=1) + "\n")
    else:
        from rich.console import Console

        print_run(run, Console())
    typer.echo(f"wrote {path}", err=True)


@app.command("gate")
def gate_command(
    baseline: Annotated[Path, typer.Option(help="The committed baseline run.")] = Path(
        "evals/baseline.json"
    ),
    run: Annotated[
        Path | None, typer.Option("--run", help="Gate this run instead of running the eval.")
    ] = None,
    config: Annotated[Path, typer.Option(help="Tolerances per metric.")] = Path("evals/gate.toml"),
    cases: CasesOption = Path("evals/golden"),
    mode: ModeOption = None,
    k: KOption = None,
    epochs: EpochsOption = 1,
    out: Annotated[Path | None, typer.Option(help="Also write the fresh run here.")] = None,
    html: HtmlOption = None,
    include_drafts: DraftsOption = False,
    json_out: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Exit 1 only when a metric drops beyond its tolerance with statistical significance."""
    from cairn.evals.gate import compare_runs, evaluate_gate, load_gate_config, load_run
    from cairn.evals.report_html import render_html
    from cairn.evals.report_terminal import print_gate

    with errors_reported():
        rules = load_gate_config(config)
        base = load_run(baseline)
        if run is not None:
            record = load_run(run)
        else:
            record = _evaluate(
                cases, workspace, mode, k, epochs, None, None, include_drafts, rules.seed
            )
            if out is not None:
                write_run(record, out)
        result = evaluate_gate(record, base, rules)
        if html is not None:
            comparisons = compare_runs(record, base, seed=rules.seed)
            page = render_html(record, baseline=base, comparisons=comparisons, gate=result)
            write_html(html, page)
    if json_out:
        verdicts = [
            {
                "metric": v.metric,
                "regressed": v.regressed,
                "drop": v.result.drop,
                "tolerance": v.rule.tolerance,
                "p": v.result.p_worse,
                "p_adjusted": v.p_adjusted,
                "reason": v.reason,
            }
            for v in result.verdicts
        ]
        payload = {"passed": result.passed, "verdicts": verdicts, "notes": result.notes}
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        print_gate(result)
    raise typer.Exit(0 if result.passed else 1)


@app.command("baseline")
def baseline_command(
    run: Annotated[
        Path | None, typer.Argument(help="The run to adopt (default: run the eval now).")
    ] = None,
    to: Annotated[Path, typer.Option(help="The baseline file to write.")] = Path(
        "evals/baseline.json"
    ),
    cases: CasesOption = Path("evals/golden"),
    mode: ModeOption = None,
    k: KOption = None,
    epochs: EpochsOption = 1,
    include_drafts: DraftsOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Write the committed baseline from a run. Do this deliberately, and commit it."""
    from rich.console import Console

    from cairn.evals.gate import load_run
    from cairn.evals.report_terminal import print_run

    with errors_reported():
        if run is not None:
            record = load_run(run)
        else:
            record = _evaluate(cases, workspace, mode, k, epochs, None, None, include_drafts, 0)
        write_run(record, to)
    print_run(record, Console())
    typer.echo(f"wrote baseline {to} from run {record.id}; commit it with the change", err=True)
