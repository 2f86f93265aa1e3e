"""HNSW settings at a million chunks: recall@10 against the exact scan and search time for
each number of links (M) and search beam (ef), on bench/million.py's set and queries, with
the index built as cairn builds it (usearch, float16, inner product, efConstruction 128,
vectors added in rowid order, 50,000 at a time). Also why the misses are missed: how many
distinct source chunks the exact top 10 holds (the set copies each source chunk with noise),
and how much better than the worst returned row the best missed one scores.

    nice -n 5 .venv/bin/python bench/ann_params.py --db bench/.cache/million/n1000000-0.02.db \\
        --connectivity 16 32 --ef 512 1024 2048 4096

Needs a finished `bench/million.py --db DB` run (its exact top 10 per query, and the query
vectors, in bench/.cache/million/run-<db name>/).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from pathlib import Path

import numpy as np


def main() -> None:
    import onnxruntime  # noqa: F401  (before usearch: cairn.store.ann says why)
    from usearch.index import Index

    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--connectivity", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--ef", type=int, nargs="+", default=[512, 1024, 2048, 4096])
    parser.add_argument("--expansion-add", type=int, default=128)
    args = parser.parse_args()
    run = args.db.parent / f"run-{args.db.stem}"
    exact = json.loads((run / "exact.json").read_text())["dense_all"]["ids"]
    queries = np.load(run / "vectors.npy")
    db = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    rowid = {i: r for r, i in db.execute("SELECT rowid, id FROM chunks")}
    source = {  # bench/million.py's chunk hash: <source hash>~<source>~<copy>
        r: h.split("~")[0] for r, h in db.execute("SELECT rowid, hash FROM chunks")
    }
    truth = [[rowid[i] for i in ids] for ids in exact]
    print(
        f"distinct source chunks in the exact top 10: mean "
        f"{np.mean([len({source[r] for r in t}) for t in truth]):.2f}"
    )
    [model] = [r[0] for r in db.execute("SELECT DISTINCT model FROM embeddings")]
    cursor = db.execute(
        "SELECT c.rowid, e.vector FROM chunks c JOIN embeddings e ON e.hash = c.hash "
        "AND e.model = ? WHERE c.dup_of IS NULL AND c.quarantine != 1",
        (model,),
    )
    keys_parts, vector_parts = [], []
    while rows := cursor.fetchmany(50_000):
        keys_parts.append(np.array([r[0] for r in rows], dtype=np.uint64))
        blob = b"".join(r[1] for r in rows)
        vector_parts.append(np.frombuffer(blob, dtype=np.float32).reshape(len(rows), -1))
    keys, vectors = np.concatenate(keys_parts), np.concatenate(vector_parts)
    del keys_parts, vector_parts
    position = {int(k): i for i, k in enumerate(keys)}
    print(f"{len(keys):,} vectors")
    print(f"{'M':>3} {'ef':>6} {'recall@10':>9} {'p50 ms':>7} {'p95 ms':>7} {'miss gap':>9}")
    for links in args.connectivity:
        index = Index(
            ndim=vectors.shape[1],
            metric="ip",
            dtype="f16",
            connectivity=links,
            expansion_add=args.expansion_add,
        )
        started = time.perf_counter()
        for at in range(0, len(keys), 50_000):
            index.add(keys[at : at + 50_000], vectors[at : at + 50_000])
        built = time.perf_counter() - started
        print(f"M={links}: built in {built:.0f} s, {index.memory_usage / 1e6:,.0f} MB (usearch)")
        for ef in args.ef:
            index.expansion_search = ef
            times, recalls, gaps = [], [], []
            for query, want in zip(queries, truth, strict=True):
                t = time.perf_counter()
                got = [int(k) for k in index.search(query, 10, threads=1).keys]
                times.append((time.perf_counter() - t) * 1000)
                recalls.append(len(set(got) & set(want)) / len(want))
                missed = [r for r in want if r not in got]
                if missed:
                    best_missed = max(float(vectors[position[r]] @ query) for r in missed)
                    worst_got = min(float(vectors[position[r]] @ query) for r in got)
                    gaps.append(best_missed - worst_got)
            gap = f"{np.median(gaps):9.4f}" if gaps else f"{'-':>9}"
            print(
                f"{links:3d} {ef:6d} {np.mean(recalls):9.3f} {np.percentile(times, 50):7.2f} "
                f"{np.percentile(times, 95):7.2f} {gap}",
                flush=True,
            )
        del index


if __name__ == "__main__":
    main()
