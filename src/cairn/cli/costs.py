"""`cairn costs`: what the model calls cost, from the workspace's ledger, by day, feature,
user, tenant, model and route decision (a table, or JSON with `--json`)."""

from typing import TYPE_CHECKING, Annotated

import typer

from cairn.cli.common import JsonOption, WorkspaceOption, emit, errors_reported

if TYPE_CHECKING:
    from cairn.budget.summary import CostRow, CostSummary

SinceOption = Annotated[
    str | None,
    typer.Option(help="From this UTC day or time (YYYY-MM-DD, ISO 8601, or 7d / 12h ago)."),
]
UntilOption = Annotated[
    str | None,
    typer.Option(help="Up to this UTC day (included) or time (excluded)."),
]


def command(
    since: SinceOption = None,
    until: UntilOption = None,
    json_out: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Summarise the cost ledger by day, feature, user, tenant, model and route."""
    from cairn.budget.ledger import LEDGER_FILE, Ledger
    from cairn.budget.summary import GROUPINGS, CostRow, CostSummary, parse_bound, summarise
    from cairn.config import load_settings
    from cairn.errors import WorkspaceNotFound

    with errors_reported():
        start = None if since is None else parse_bound(since, end=False)
        end = None if until is None else parse_bound(until, end=True)
        settings = load_settings(workspace=workspace)
        if not settings.workspace.is_dir():
            raise WorkspaceNotFound(
                f"no workspace at {settings.workspace}: pass --workspace DIR or set CAIRN_WORKSPACE"
            )
        path = settings.workspace / LEDGER_FILE
        if path.exists():
            with Ledger(path, create=False) as ledger:
                summary = summarise(ledger, since=start, until=end)
        else:  # nothing spent yet: do not create a ledger just to read it
            empty = CostRow(
                key=None,
                requests=0,
                refused=0,
                input_tokens=0,
                output_tokens=0,
                cost_nanos=0,
                estimated=0,
            )
            summary = CostSummary(
                since=start,
                until=end,
                total=empty,
                groups={g: [] for g in GROUPINGS},
                in_flight=0,
                in_flight_usd=empty.cost_usd,
            )
    if json_out:
        emit(summary.as_json())
        return
    _print(summary)


def _print(summary: "CostSummary") -> None:
    from rich.console import Console
    from rich.table import Table

    from cairn.budget.money import format_usd

    console = Console()
    span = f"{summary.since or 'the beginning'} to {summary.until or 'now'}"
    total = summary.total
    if not total.requests and not total.refused:
        console.print(f"No model calls recorded from {span}.")
        return
    console.print(
        f"[bold]{format_usd(total.cost_usd)}[/] over {total.requests} requests "
        f"({total.refused} refused) from {span}"
    )
    if summary.in_flight:
        console.print(
            f"{summary.in_flight} in flight, {format_usd(summary.in_flight_usd)} reserved",
            style="dim",
        )
    for grouping, rows in summary.groups.items():
        table = Table(title=f"By {grouping}", title_justify="left")
        table.add_column(grouping)
        for name in (
            "requests",
            "refused",
            "input tokens",
            "cached",
            "output tokens",
            "cost",
            "estimated",
        ):
            table.add_column(name, justify="right")
        for row in rows:
            table.add_row(*_cells(row))
        console.print(table)


def _cells(row: "CostRow") -> list[str]:
    from rich.markup import escape

    from cairn.budget.money import format_usd

    return [
        escape(row.key) if row.key is not None else "[dim](none)[/]",
        f"{row.requests:,}",
        f"{row.refused:,}",
        f"{row.input_tokens:,}",
        f"{row.cached_share:.0%}" if row.input_tokens else "-",
        f"{row.output_tokens:,}",
        format_usd(row.cost_usd),
        f"{row.estimated:,}",
    ]
