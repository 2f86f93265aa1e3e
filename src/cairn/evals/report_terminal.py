"""Rich terminal tables for runs, comparisons and gate results."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cairn.evals.gate import GateResult, MetricComparison
from cairn.evals.records import MetricSummary, RunRecord
from cairn.evals.scorers import LOWER_IS_BETTER

TAG_METRICS: tuple[str, ...] = (
    "doc.hit@5",
    "doc.mrr@10",
    "checkpoints",
    "groundedness",
    "abstention_accuracy",
    "pass",
)
"""The columns of the per-tag table (those present in the run)."""


def _ci(s: MetricSummary) -> str:
    return f"{s.mean:.2f} [dim][{s.low:.2f}–{s.high:.2f}][/]"


def describe_config(run: RunRecord) -> str:
    c = run.config
    parts = [
        f"workspace {c.get('workspace', '?')}",
        f"mode {c.get('mode') or 'default'}",
        f"k {c.get('k') or 'default'}",
        f"epochs {c.get('epochs', 1)}",
        f"{len(run.cases)} cases",
    ]
    if c.get("judge"):
        parts.append(f"judge {c['judge']}")
    return " · ".join(str(p) for p in parts)


def print_run(run: RunRecord, console: Console | None = None) -> None:
    console = console or Console()
    console.print(f"[bold]eval run {escape(run.id)}[/] [dim]{escape(describe_config(run))}[/]")
    table = Table(title="aggregates (mean, 95% bootstrap CI)", title_justify="left")
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("n", justify="right")
    for name, s in run.aggregates.items():
        arrow = " ↓" if name in LOWER_IS_BETTER else ""
        table.add_row(name + arrow, f"{s.mean:.3f}", f"[{s.low:.3f}, {s.high:.3f}]", str(s.n))
    console.print(table)
    print_tags(run, console)
    print_failures(run, console)


def print_tags(run: RunRecord, console: Console) -> None:
    if not run.by_tag:
        return
    columns = [m for m in TAG_METRICS if m in run.aggregates]
    table = Table(title="by tag (mean [95% CI])", title_justify="left")
    table.add_column("tag", no_wrap=True)
    table.add_column("n", justify="right")
    for m in columns:
        table.add_column(m, justify="right", no_wrap=True)
    for tag, summaries in run.by_tag.items():
        count = sum(1 for c in run.cases if tag in c.tags)
        cells = [_ci(summaries[m]) if m in summaries else "—" for m in columns]
        table.add_row(escape(tag), str(count), *cells)
    console.print(table)


def print_failures(run: RunRecord, console: Console) -> None:
    passed = sum(1 for c in run.cases if c.failure is None)
    console.print(f"[bold]{passed}/{len(run.cases)}[/] cases passed")
    if not run.failures:
        return
    table = Table(title="failures", title_justify="left")
    table.add_column("category")
    table.add_column("cases", justify="right")
    table.add_column("ids")
    for category, ids in sorted(run.failures.items(), key=lambda item: -len(item[1])):
        shown = ", ".join(ids[:6]) + (f", … (+{len(ids) - 6})" if len(ids) > 6 else "")
        table.add_row(category, str(len(ids)), escape(shown))
    console.print(table)


def print_comparison(
    comparisons: Sequence[MetricComparison],
    run: RunRecord,
    baseline: RunRecord,
    console: Console | None = None,
) -> None:
    console = console or Console()
    console.print(
        f"[bold]{escape(run.id)}[/] vs baseline [bold]{escape(baseline.id)}[/] "
        "[dim](paired on shared cases; Δ = run − baseline)[/]"
    )
    table = Table()
    table.add_column("metric", no_wrap=True)
    table.add_column("baseline", justify="right")
    table.add_column("run", justify="right")
    table.add_column("Δ [95% CI of Δ]", justify="right", no_wrap=True)
    table.add_column("p (worse)", justify="right")
    table.add_column("d_z", justify="right")
    table.add_column("−/+/=", justify="right", no_wrap=True)
    for m in comparisons:
        c = m.comparison
        colour = "red" if m.drop > 0 and m.p_worse < 0.05 else "green" if m.drop < 0 else "white"
        effect = "—" if c.effect_size is None else f"{c.effect_size:+.2f}"
        table.add_row(
            m.metric,
            f"{c.mean_b:.3f}",
            f"{c.mean_a:.3f}",
            f"[{colour}]{c.diff:+.3f}[/] [dim][{c.low:+.3f}, {c.high:+.3f}][/]",
            f"{m.p_worse:.4f}",
            effect,
            f"{c.worse}/{c.better}/{c.ties}",
        )
    console.print(table)


def print_gate(result: GateResult, console: Console | None = None) -> None:
    console = console or Console()
    for verdict in result.verdicts:
        mark = "[red]✗[/]" if verdict.regressed else "[green]✓[/]"
        console.print(f"{mark} [bold]{verdict.metric}[/] {escape(verdict.reason)}")
    for note in result.notes:
        console.print(f"[dim]note: {escape(note)}[/]")
    if result.passed:
        console.print(
            f"[bold green]gate passed[/]: no metric dropped beyond its tolerance with "
            f"significance ({result.shared_cases} shared cases)"
        )
    else:
        names = ", ".join(v.metric for v in result.regressions)
        console.print(f"[bold red]gate failed[/]: significant regression in {names}")
