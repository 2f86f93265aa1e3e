"""Does the extractive answerer's trained sentence scorer help as a reranker? (tried)

    cd bench && ../.venv/bin/python rerank_answer_model.py --datasets ../../shared/datasets \\
        --cache-dir .cache [--depth 20]

A backend that runs without a model: each of the hybrid's top `--depth` candidates is
scored by its best unit under the answerer's sentence scorer (`cairn.answer.features`,
trained on SciFact `train` and XQuAD `tune` only, so the evaluation splits here are held
out), and the candidates are ordered by the hybrid's fused score (standardised per query)
plus `w` times that best unit's logit (standardised per query), for several `w` (`inf`:
the scorer alone). Hybrid and every `w` on the same candidates, in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

import corpora
import metrics
import retrieval
from cairn.answer.extractive import ExtractiveAnswerer
from cairn.config import AnswerSettings, load_settings
from cairn.embed.minilm import MiniLMEmbedder
from cairn.retrieve.fusion import convex
from cairn.retrieve.hybrid import DenseRetriever, LexicalRetriever
from cairn.types import Hit

WEIGHTS = (0.25, 0.5, 1.0, float("inf"))


def z(values: list[float]) -> np.ndarray:
    a = np.array(values, dtype=np.float64)
    return (a - a.mean()) / (a.std() + 1e-9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, default=Path("bench/.cache"))
    parser.add_argument("--only", default="scifact,anthropic,hotpotqa")
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    settings = load_settings()
    embedder = MiniLMEmbedder(
        settings.model_dir,
        max_tokens=settings.embed.max_tokens,
        batch_size=settings.embed.batch_size,
        threads=settings.embed.threads,
        precision=settings.embed.precision,
    )
    header = " | ".join(f"w={w}" for w in WEIGHTS)
    print(f"| dataset | split | metric | hybrid | {header} |")
    print("|---|---|---|---|" + "---|" * len(WEIGHTS))
    for name in args.only.split(","):
        dataset = corpora.LOADERS[name](args.datasets)
        store, _ = retrieval.open_store(dataset, embedder, args.cache_dir, 1.0)
        answerer = ExtractiveAnswerer(
            store, embedder, AnswerSettings(max_sources=(args.depth + 1) // 2)
        )
        lexical, dense = LexicalRetriever(store), DenseRetriever(store, embedder)
        split = dataset.eval_splits[0]
        queries = dataset.splits[split][: args.limit or None]
        names = retrieval.EVAL_METRICS[name]
        base: dict[str, list[float]] = {m: [] for m in names}
        rer: dict[tuple[str, float], list[float]] = {(m, w): [] for m in names for w in WEIGHTS}
        for query in queries:
            fused = convex(lexical.rank(query.text, 100), dense.rank(query.text, 100), 0.5, 100)
            top = fused[: args.depth]
            chunks = {c.id: c for c in store.get_chunks([r.chunk_id for r in top])}
            hits = [Hit(chunk=chunks[r.chunk_id], score=r.score) for r in top]
            a = answerer.assess(query.text, hits, answerer.relevance(query.text, hits))
            best = [-10.0] * len(hits)
            for unit, logit in zip(a.units, a.logits, strict=True):
                best[unit.hit] = max(best[unit.hit], logit)
            fz, bz = z([r.score for r in top]), z(best)
            hybrid = [r.chunk_id for r in fused]
            for metric in names:
                base[metric].append(metrics.score(metric, hybrid, query.relevant))
            for w in WEIGHTS:
                score = bz if w == float("inf") else fz + w * bz
                order = [top[i].chunk_id for i in np.argsort(-score, kind="stable")]
                ranked = order + hybrid[args.depth :]
                for metric in names:
                    rer[(metric, w)].append(metrics.score(metric, ranked, query.relevant))
        for metric in names:
            cells = " | ".join(f"{statistics.fmean(rer[(metric, w)]):.4f}" for w in WEIGHTS)
            print(
                f"| {name} | {split} ({len(queries)}) | {metric} "
                f"| {statistics.fmean(base[metric]):.4f} | {cells} |",
                flush=True,
            )
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
