"""What the `cairn eval` commands share: the Typer app and the options they take."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

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


def write_html(path: Path, html: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    typer.echo(f"wrote {path}", err=True)


def write_run(run: RunRecord, path: Path) -> None:
    from cairn.evals.runs import save_run

    save_run(run, path)
