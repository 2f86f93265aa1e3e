"""What contextual chunk text buys: each chunk embedded and indexed with its document title
(and section path) against the chunk's text alone.

cairn embeds `embedding_text(title, section, text)` ("Title > Section\\ntext") and indexes the
title and section in FTS5's heading column. This script builds every dataset twice, once that
way ("contextual") and once with the text alone (empty title, so the heading column is empty
too, "plain"), and reports the top-20 retrieval failure rate (1 - recall@20; for the
multi-hop sets, the share of questions whose supporting passages are not all in the top 20)
for lexical, dense and hybrid retrieval with the configured fusion, and the share of failures
contextual text removes. The published point of comparison: contextual embeddings plus
contextual BM25 cut top-20 retrieval failures by about half (with model-written context).

Datasets are read in place from `--datasets`; stores are cached under `--cache-dir` (the
contextual ones are the same stores `bench/retrieval.py` builds). Evaluation splits only.

Run (from the repository root):

    .venv/bin/python bench/contextual.py --datasets ../shared/datasets \
        [--only anthropic,hotpotqa,musique,scifact,xquad] [--cache-dir bench/.cache]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import corpora
import metrics
import retrieval
from cairn.config import load_settings
from cairn.embed.minilm import MiniLMEmbedder

K = 20
METRIC = {"hotpotqa": "all_recall", "musique": "all_recall"}
"""The multi-hop sets need every supporting passage; the others any relevant one (recall)."""

console = Console(width=130)


def plain(dataset: corpora.Dataset) -> corpora.Dataset:
    """The same dataset with every passage's title removed (text alone is embedded and indexed)."""
    passages = [dataclasses.replace(p, title="") for p in dataset.passages]
    return dataclasses.replace(dataset, name=f"{dataset.name}-plain", passages=passages)


def failures(prep: retrieval.Prepared, mode: str | retrieval.Fusion, name: str) -> float:
    """Mean top-K failure over the evaluation splits' queries."""
    metric = f"{METRIC.get(name, 'recall')}@{K}"
    values = [
        1.0 - metrics.score(metric, prep.ranking(mode, q, K), q.relevant)
        for split in prep.dataset.eval_splits
        for q in prep.dataset.splits[split]
    ]
    return sum(values) / len(values)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--datasets", type=Path, required=True, help="the shared datasets folder")
    parser.add_argument("--only", default="anthropic,hotpotqa,musique,scifact,xquad")
    parser.add_argument("--cache-dir", type=Path, default=Path("bench/.cache"))
    parser.add_argument("--json-out", type=Path, default=Path("bench/results/contextual.json"))
    args = parser.parse_args(argv)

    settings = load_settings()
    embedder = MiniLMEmbedder(
        settings.model_dir,
        max_tokens=settings.embed.max_tokens,
        batch_size=settings.embed.batch_size,
        threads=settings.embed.threads,
        precision=settings.embed.precision,
    )
    embedder.warm_up()
    defaults = settings.retrieve
    fusion = retrieval.Fusion(
        defaults.fusion,
        defaults.candidates,
        defaults.alpha if defaults.fusion == "convex" else None,
    )
    modes: dict[str, str | retrieval.Fusion] = {
        "lexical": "lexical",
        "dense": "dense",
        "hybrid": fusion,
    }
    depth = max(K, fusion.candidates)

    results: dict[str, Any] = {}
    table = Table(title=f"Top-{K} retrieval failure rate: plain text vs contextual text")
    for column in ("dataset", "queries", "mode", "plain", "contextual", "failures removed"):
        table.add_column(column, justify="left" if column in ("dataset", "mode") else "right")
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        dataset = corpora.LOADERS[name](args.datasets)
        titled = sum(1 for p in dataset.passages if p.title)
        by_variant: dict[str, dict[str, float]] = {}
        variants = (
            ("plain", plain(dataset), args.cache_dir / "plain"),
            ("contextual", dataset, args.cache_dir),
        )
        for variant, data, cache in variants:
            store, _ = retrieval.open_store(data, embedder, cache, 1.0)
            prep = retrieval.Prepared(dataset=data, store=store, build={})
            retrieval.gather_candidates(prep, embedder, depth)
            by_variant[variant] = {m: failures(prep, mode, name) for m, mode in modes.items()}
            store.close()
        queries = sum(len(dataset.splits[s]) for s in dataset.eval_splits)
        results[name] = {
            "queries": queries,
            "passages": len(dataset.passages),
            "passages_with_title": titled,
            "failure_rate": by_variant,
        }
        for m in modes:
            before, after = by_variant["plain"][m], by_variant["contextual"][m]
            removed = (before - after) / before if before else 0.0
            table.add_row(name, str(queries), m, f"{before:.3f}", f"{after:.3f}", f"{removed:+.0%}")
        print(f"  [{name}] done ({titled}/{len(dataset.passages)} titled)", file=sys.stderr)
    console.print(table)
    report = {
        "k": K,
        "model": embedder.name,
        "fusion": fusion.label,
        "command": " ".join([".venv/bin/python", *sys.argv]),
        "datasets": results,
    }
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(report, indent=1) + "\n")
    console.print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
