"""`cairn eval dataset`: retrieval and answer metrics on an external benchmark."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cairn.cli.common import JsonOption, errors_reported, fail
from cairn.cli.eval.options import (
    HtmlOption,
    ModeOption,
    SeedOption,
    app,
    write_run,
)
from cairn.cli.eval.reports import report_html


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
            write_run(run, out)
        if html is not None:
            report_html(run, html, None)
    if json_out:
        sys.stdout.write(run.model_dump_json(indent=1) + "\n")
    else:
        print_run(run, Console())
