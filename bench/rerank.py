"""Does a learned feature reranker over the hybrid candidates help? Trained on tuning splits only.

    .venv/bin/python bench/rerank.py --datasets ../shared/datasets --cache-dir bench/.cache

The stores of `bench/retrieval.py` (same cache folder, reused), the default hybrid fusion
(convex, alpha 0.5, 100 candidates per side). For every query, the top `--depth` fused
candidates get features a rerank stage can compute from a `Hit` and the question: the fused
score, the BM25 score relative to the query's best, the dense cosine, 1/rank in each list
and fused, the share of the question's content terms in the title and in the text, the
passage's length, whether it holds code. A logistic regression (scikit-learn, class
balanced) is fitted on the tuning splits only (SciFact `train`, XQuAD `tune`: the first 24
articles), and each dataset's evaluation split is scored with the hybrid order and the
reranked one, in the same run.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import corpora
import metrics
import retrieval
from cairn.answer.terms import content_terms
from cairn.config import load_settings
from cairn.embed.minilm import MiniLMEmbedder
from cairn.retrieve.fusion import convex
from cairn.types import Chunk, Ranked

FEATURES = (
    "fused",
    "lexical_rel",
    "dense",
    "inv_rank_fused",
    "inv_rank_lexical",
    "inv_rank_dense",
    "title_terms",
    "text_terms",
    "log_length",
    "code",
)


def features(
    query: str,
    fused: list[Ranked],
    lexical: list[Ranked],
    dense: list[Ranked],
    chunks: dict[str, Chunk],
) -> np.ndarray:
    q = set(content_terms(query))
    top_lex = max((r.score for r in lexical), default=1.0) or 1.0
    lex_rank = {r.chunk_id: i for i, r in enumerate(lexical)}
    den_rank = {r.chunk_id: i for i, r in enumerate(dense)}
    rows = []
    for i, r in enumerate(fused):
        chunk = chunks[r.chunk_id]
        title = set(content_terms(chunk.title))
        text = set(content_terms(chunk.text))
        rows.append(
            [
                r.score,
                (r.lexical or 0.0) / top_lex,
                r.dense or 0.0,
                1 / (i + 1),
                1 / (lex_rank[r.chunk_id] + 1) if r.chunk_id in lex_rank else 0.0,
                1 / (den_rank[r.chunk_id] + 1) if r.chunk_id in den_rank else 0.0,
                len(q & title) / len(q) if q else 0.0,
                len(q & text) / len(q) if q else 0.0,
                math.log1p(len(chunk.text.split())),
                1.0 if "```" in chunk.text or "    " in chunk.text else 0.0,
            ]
        )
    return np.array(rows, dtype=np.float64)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, default=Path("bench/.cache"))
    parser.add_argument("--depth", type=int, default=30)
    parser.add_argument("--only", default="scifact,xquad,anthropic,hotpotqa,musique")
    parser.add_argument(
        "--model", choices=("logistic", "boosted"), default="logistic", help="the learner"
    )
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression

    settings = load_settings()
    embedder = MiniLMEmbedder(
        settings.model_dir,
        max_tokens=settings.embed.max_tokens,
        batch_size=settings.embed.batch_size,
        threads=settings.embed.threads,
        precision=settings.embed.precision,
    )
    prepared = {}
    for name in args.only.split(","):
        dataset = corpora.LOADERS[name](args.datasets)
        folder = args.cache_dir / f"{name}-{retrieval._fingerprint(dataset, embedder)}"
        if not (folder / "manifest.json").is_file():
            parser.error(f"no store for {name} in {args.cache_dir}: run bench/retrieval.py first")
        store, build = retrieval.open_store(dataset, embedder, args.cache_dir, 1.0)
        prep = retrieval.Prepared(dataset, store, build)
        started = time.perf_counter()
        retrieval.gather_candidates(prep, embedder, 100)
        print(f"{name}: candidates in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        prepared[name] = prep

    def examples(prep: retrieval.Prepared, query: corpora.Query) -> tuple[list[str], np.ndarray]:
        fused = convex(prep.lexical[query.id], prep.dense[query.id], 0.5, args.depth)
        ids = [r.chunk_id for r in fused]
        chunks = {c.id: c for c in prep.store.get_chunks(ids)}
        x = features(query.text, fused, prep.lexical[query.id], prep.dense[query.id], chunks)
        return ids, x

    xs, ys = [], []
    for prep in prepared.values():
        split = prep.dataset.tune_split
        if split is None:
            continue
        for query in prep.dataset.splits[split]:
            ids, x = examples(prep, query)
            xs.append(x)
            ys.extend(1 if query.relevant.get(i, 0) > 0 else 0 for i in ids)
    x_train = np.vstack(xs)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-9
    model: Any
    if args.model == "boosted":
        from sklearn.ensemble import HistGradientBoostingClassifier

        model = HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, class_weight="balanced"
        )
    else:
        model = LogisticRegression(class_weight="balanced", max_iter=2000)
    model.fit((x_train - mean) / std, np.array(ys))
    print("trained on", len(ys), "candidates;", sum(ys), "relevant;", args.model)
    if args.model == "logistic":
        weights = zip(FEATURES, model.coef_[0], strict=True)
        print("weights:", {f: round(float(w), 3) for f, w in weights})

    print("| dataset | split | metric | hybrid | reranked |")
    print("|---|---|---|---|---|")
    for name, prep in prepared.items():
        for split in prep.dataset.eval_splits[:1]:
            queries = prep.dataset.splits[split]
            for metric in retrieval.EVAL_METRICS[name]:
                _, k = metrics.parse(metric)
                base, rer = [], []
                for query in queries:
                    ids, x = examples(prep, query)
                    scores = model.predict_proba((x - mean) / std)[:, 1]
                    order = [ids[i] for i in np.argsort(-scores, kind="stable")]
                    fused_k = [
                        r.chunk_id
                        for r in convex(prep.lexical[query.id], prep.dense[query.id], 0.5, k)
                    ]
                    base.append(metrics.score(metric, fused_k, query.relevant))
                    ranked = order[:k] if k <= args.depth else order + fused_k[args.depth :]
                    rer.append(metrics.score(metric, ranked, query.relevant))
                print(
                    f"| {name} | {split} | {metric} | {sum(base) / len(base):.4f} "
                    f"| {sum(rer) / len(rer):.4f} |"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
