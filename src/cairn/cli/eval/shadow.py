"""`cairn eval shadow`: the paired comparison of the answers and their shadow (candidate)
answers stored by the shadow stage (`shadow.fraction`), with confidence intervals and what
each side cost."""

from __future__ import annotations

from typing import Annotated

import typer

from cairn.cli.common import JsonOption, WorkspaceOption, emit, errors_reported
from cairn.cli.eval.options import app


@app.command("shadow")
def shadow_command(
    since: Annotated[
        str | None,
        typer.Option(help="From this UTC day or time (YYYY-MM-DD, ISO 8601, or 7d / 12h ago)."),
    ] = None,
    json_out: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Compare the candidate model with the answering one on the shadowed requests."""
    from cairn.budget.summary import parse_bound
    from cairn.config import load_settings
    from cairn.errors import UserError
    from cairn.shadow import SHADOW_FILE, ShadowStore, compare

    with errors_reported():
        settings = load_settings(workspace=workspace)
        path = settings.workspace / SHADOW_FILE
        if not path.exists():
            raise UserError(
                f"no shadow comparisons at {path}: set shadow.fraction (and an "
                "[llm.routes.shadow] model) in cairn.toml, then serve some requests"
            )
        start = None if since is None else parse_bound(since, end=False)
        store = ShadowStore(path)
        try:
            report = compare(store.pairs(since=start))
        finally:
            store.close()
    if json_out:
        emit(report.as_json())
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not report.pairs:
        console.print("No shadowed requests yet.")
        return
    n = report.pairs - report.failed
    console.print(
        f"[bold]{n}[/] paired requests ({report.failed} candidate failures left out): "
        f"{', '.join(report.primary_models)} (answered) vs "
        f"{', '.join(report.candidate_models)} (candidate)"
    )
    table = Table(title_justify="left")
    for name in ("metric", "n", "answered", "candidate", "diff", "95% CI", "p"):
        table.add_column(name, justify="left" if name == "metric" else "right")
    for m in report.metrics:
        table.add_row(
            m.name,
            str(m.n),
            f"{m.primary:.3f}",
            f"{m.candidate:.3f}",
            f"{m.diff:+.3f}",
            f"[{m.low:+.3f}, {m.high:+.3f}]",
            f"{m.p:.4f}",
        )
    console.print(table)
    per = max(1, n)
    console.print(
        f"cost: answered ${report.primary_cost_usd:.6f} (${report.primary_cost_usd / per:.6f} "
        f"per request), candidate ${report.candidate_cost_usd:.6f} "
        f"(${report.candidate_cost_usd / per:.6f} per request)"
    )
