"""`cairn eval ...`: run the golden cases, compare runs, gate changes, draft cases.

cairn eval run [--cases evals/golden] [--mode M] [--k K] [--epochs N] [--html R.html]
cairn eval compare RUN BASELINE
cairn eval gate --baseline evals/baseline.json [--run RUN | run options]
cairn eval baseline [RUN] [--to evals/baseline.json]
cairn eval report RUN [--baseline B] --html R.html
cairn eval add-case "QUESTION" [--to evals/golden/drafts.yaml]
cairn eval calibrate-judge --dataset ../shared/datasets/ragchecker_meta_eval
cairn eval dataset {scifact,xquad,anthropic,hotpotqa,musique} --path ../shared/datasets
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from cairn.cli.common import JsonOption, WorkspaceOption, errors_reported, fail, open_workspace

if TYPE_CHECKING:
    from cairn.evals.records import RunRecord

app = typer.Typer(
    help="Evaluate retrieval and answers on golden cases; gate regressions.",
    no_args_is_help=True,
)

CasesOption = Annotated[
    Path, typer.Option("--cases", help="Case file or folder of *.yaml case files.")
]
ModeOption = Annotated[
    str | None, typer.Option(help="lexical, dense or hybrid (default from config).")
]
KOption = Annotated[
    int | None,
    typer.Option(
        "--k", "-k", min=1, help="Retrieval depth and chunks read (default 10 / the config's k)."
    ),
]
EpochsOption = Annotated[
    int, typer.Option(min=1, help="Repeat every case N times (non-deterministic configs).")
]
TagFilter = Annotated[list[str] | None, typer.Option("--tag", help="Only cases with this tag.")]
CaseFilter = Annotated[list[str] | None, typer.Option("--case", help="Only this case id.")]
HtmlOption = Annotated[Path | None, typer.Option("--html", help="Also write an HTML report.")]
DraftsOption = Annotated[
    bool, typer.Option("--include-drafts", help="Also run cases still tagged 'draft'.")
]
SeedOption = Annotated[int, typer.Option(help="Seed of the bootstrap resampling.")]
JudgeOption = Annotated[
    str,
    typer.Option(
        help="Add an LLM-as-judge score: 'none', 'auto' (when a provider is configured) "
        "or 'scripted' (the in-process fake model, for trying the plumbing)."
    ),
]


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

    from cairn.evals.cases import filter_cases, load_cases
    from cairn.evals.drafts import DRAFT_TAG
    from cairn.evals.judge import judge_scorer
    from cairn.evals.runner import run_eval
    from cairn.evals.scorers import default_scorers

    if mode not in (None, "lexical", "dense", "hybrid"):
        raise fail(f"unknown --mode {mode!r}: use lexical, dense or hybrid")
    cases = filter_cases(load_cases(cases_path), tags=tags or (), ids=ids or ())
    drafts = [c for c in cases if DRAFT_TAG in c.tags]
    if drafts and not include_drafts:
        cases = [c for c in cases if DRAFT_TAG not in c.tags]
        typer.echo(
            f"note: skipped {len(drafts)} draft case(s) (confirm them and remove the "
            f"'{DRAFT_TAG}' tag, or pass --include-drafts)",
            err=True,
        )
    if not cases:
        raise fail(f"no cases to run in {cases_path} (check --tag / --case)")
    ws = open_workspace(workspace)
    pipeline = ws.pipeline(mode)
    scorers = default_scorers()
    judge_name = "none"
    extra = judge_scorer(judge, ws.settings)
    if extra is not None:
        scorers.append(extra)
        judge_name = extra.description
    settings = ws.settings
    config: dict[str, Any] = {
        "workspace": str(ws.root.resolve()),
        "cases_path": str(cases_path),
        "mode": mode or settings.retrieve.mode,
        "retrieve": settings.retrieve.model_dump(mode="json"),
        "answer": settings.answer.model_dump(mode="json"),
        "llm_provider": settings.llm.provider,
        "corpus_generation": ws.store.generation(),
        "judge": judge_name,
    }
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

        run = run_eval(
            cases,
            pipeline,
            scorers=scorers,
            epochs=epochs,
            k=k,
            config=config,
            seed=seed,
            progress=progress,
        )
    ws.close()
    return run


def _write(run: RunRecord, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run.model_dump_json(indent=1) + "\n", encoding="utf-8")


def _write_html(path: Path, html: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    typer.echo(f"wrote {path}", err=True)


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
    from cairn.evals.report_terminal import print_run

    with errors_reported():
        run = _evaluate(cases, workspace, mode, k, epochs, tag, case, include_drafts, seed, judge)
        path = out or Path("evals/runs") / f"{run.id}.json"
        _write(run, path)
        if html is not None:
            _report(run, html, baseline)
    if json_out:
        sys.stdout.write(run.model_dump_json(indent=1) + "\n")
    else:
        from rich.console import Console

        print_run(run, Console())
    typer.echo(f"wrote {path}", err=True)


def _report(run: RunRecord, html: Path, baseline_path: Path | None) -> None:
    from cairn.evals.gate import compare_runs, load_run
    from cairn.evals.report_html import render_html

    baseline = load_run(baseline_path) if baseline_path else None
    comparisons = compare_runs(run, baseline) if baseline else []
    _write_html(html, render_html(run, baseline=baseline, comparisons=comparisons))


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
            _report(record, html, baseline)


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
            _write_html(html, render_html(a, baseline=b, comparisons=comparisons))
    if json_out:
        rows = [
            {"metric": c.metric, "drop": c.drop, "p_worse": c.p_worse, **asdict(c.comparison)}
            for c in comparisons
        ]
        sys.stdout.write(json.dumps({"run": a.id, "baseline": b.id, "metrics": rows}) + "\n")
        return
    print_comparison(comparisons, a, b)


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
                _write(record, out)
        result = evaluate_gate(record, base, rules)
        if html is not None:
            comparisons = compare_runs(record, base, seed=rules.seed)
            page = render_html(record, baseline=base, comparisons=comparisons, gate=result)
            _write_html(html, page)
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
        _write(record, to)
    print_run(record, Console())
    typer.echo(f"wrote baseline {to} from run {record.id}; commit it with the change", err=True)


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
            raise fail(f"case id {case_id!r} is already used; pick another --id")
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


@app.command("dataset")
def dataset_command(
    name: Annotated[str, typer.Argument(help="scifact, xquad, anthropic, hotpotqa or musique.")],
    path: Annotated[Path, typer.Option(help="The shared datasets folder.")] = Path(
        "../shared/datasets"
    ),
    split: Annotated[
        str | None, typer.Option(help="Query split (default: the dataset's first eval split).")
    ] = None,
    mode: ModeOption = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N queries.")] = None,
    metric: Annotated[
        list[str] | None, typer.Option(help="Extra metric, e.g. doc.recall@100 (repeatable).")
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the built workspace here and reuse it (default: throwaway)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the run here.")] = None,
    html: HtmlOption = None,
    seed: SeedOption = 0,
    json_out: JsonOption = False,
) -> None:
    """Score retrieval on an external dataset, in a throwaway workspace of its passages."""
    import tempfile

    from rich.console import Console

    from cairn.config import load_settings
    from cairn.embed.minilm import MiniLMEmbedder
    from cairn.evals.benchmarks import (
        SearchTarget,
        dataset_cases,
        fingerprint,
        metric_names,
        open_store,
    )
    from cairn.evals.datasets import load_dataset
    from cairn.evals.report_terminal import print_run
    from cairn.evals.runner import run_eval
    from cairn.evals.scorers import PassScorer, build_scorer
    from cairn.retrieve.hybrid import build_retriever

    if mode not in (None, "lexical", "dense", "hybrid"):
        raise fail(f"unknown --mode {mode!r}: use lexical, dense or hybrid")
    console = Console(stderr=True)
    with errors_reported():
        settings = load_settings()
        data = load_dataset(name, path)
        chosen = split or data.eval_splits[0]
        cases = dataset_cases(data, chosen, limit)
        scorers = [build_scorer(m) for m in metric_names(name, metric or ())] + [PassScorer()]
        depth = max(int(s.name.rsplit("@", 1)[1]) for s in scorers if "@" in s.name)
        e = settings.embed
        embedder = MiniLMEmbedder(
            settings.model_dir,
            max_tokens=e.max_tokens,
            batch_size=e.batch_size,
            threads=e.threads,
            precision=e.precision,
        )
        with tempfile.TemporaryDirectory(prefix=f"cairn-{name}-") as scratch:
            base = cache_dir if cache_dir is not None else Path(scratch)
            folder = base / f"{name}-{fingerprint(data, embedder)}"
            store = open_store(data, embedder, folder, progress=lambda m: console.print(m))
            retriever = build_retriever(store, embedder, settings.retrieve, mode)
            run = run_eval(
                cases,
                SearchTarget(retriever),
                scorers=scorers,
                k=depth,
                answers=False,
                seed=seed,
                config={
                    "dataset": name,
                    "split": chosen,
                    "passages": len(data.passages),
                    "workspace": str(folder) if cache_dir else "throwaway",
                    "mode": mode or settings.retrieve.mode,
                    "retrieve": settings.retrieve.model_dump(mode="json"),
                    "model": embedder.name,
                },
            )
            store.close()
        if out is not None:
            _write(run, out)
        if html is not None:
            _report(run, html, None)
    if json_out:
        sys.stdout.write(run.model_dump_json(indent=1) + "\n")
    else:
        print_run(run, Console())
