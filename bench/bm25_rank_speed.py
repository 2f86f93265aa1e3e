"""Ranking time of the in-memory BM25 index, for comparing two versions of the code on the
same store: each run builds the index in a fresh process and ranks bench/latency.py's
questions (their FTS5 terms, as the store asks), printing p50 / p95 ms.

    PYTHONPATH=<checkout>/src .venv/bin/python bench/bm25_rank_speed.py DB [--workspace .cairn]

Run the two checkouts alternately, a few times each, on the same machine: the ratio is the
result, not the absolute times.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    from cairn.store.bm25 import BM25Index
    from cairn.store.fts import query_terms
    from latency import questions  # type: ignore[import-not-found]

    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("--workspace", type=Path, default=Path(".cairn"))
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    index = BM25Index.build(args.db, "chunks_fts", (1.0, 1.0))
    queries = [query_terms(q) for q in questions(args.workspace, args.n)]
    for phrases in queries[:10]:  # warm the tokenizer's cache
        index.rank(phrases, 100)
    times = []
    for phrases in queries:
        started = time.perf_counter()
        index.rank(phrases, 100)
        times.append((time.perf_counter() - started) * 1000)
    p50, p95 = np.percentile(times, 50), np.percentile(times, 95)
    label = args.label or args.db.name
    print(f"{label}: {len(queries)} queries, p50 {p50:.2f} ms, p95 {p95:.2f} ms")


if __name__ == "__main__":
    main()
