"""Query latency of `search` and `ask` in one warm process on a real workspace.

Questions: the hand-written ones in bench/data/abstention_pydocs.jsonl plus questions
phrased from the documented API names found in the workspace (e.g. "How do I use
json.dumps?", "What does pathlib.Path.glob return?"), sampled with a fixed seed.

    .venv/bin/python bench/latency.py --workspace bench/.cache/pydocs-ingest [--n 300]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import time
from contextlib import closing
from pathlib import Path

from cairn.config import load_settings
from cairn.store.base import LexicalIndexWarmup
from cairn.store.open import open_store_at
from cairn.types import Filters
from cairn.workspace import Workspace

TEMPLATES = (
    "How do I use {name}?",
    "What does {name} return?",
    "What arguments does {name} take?",
    "Example of {name}",
    "{name} default value",
    "When should I use {name} instead of something else?",
)


def questions(workspace: Path, n: int) -> list[str]:
    handwritten = [
        json.loads(line)["question"]
        for line in (Path(__file__).parent / "data" / "abstention_pydocs.jsonl")
        .read_text()
        .splitlines()
    ]
    with closing(sqlite3.connect(workspace / "cairn.db")) as db:
        anchors = [
            r[0]
            for r in db.execute(
                "SELECT DISTINCT anchor FROM chunks WHERE anchor LIKE '%.%' "
                "AND anchor NOT LIKE '%-%' ORDER BY anchor"
            )
        ]
    rng = random.Random(11)
    names = rng.sample(anchors, min(len(anchors), max(0, n - len(handwritten))))
    templated = [rng.choice(TEMPLATES).format(name=name) for name in names]
    return handwritten + templated


def percentiles(ms: list[float]) -> dict[str, float]:
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "p50": round(q[49], 1),
        "p95": round(q[94], 1),
        "p99": round(q[98], 1),
        "mean": round(statistics.fmean(ms), 1),
    }


def compare_bm25(ws: Workspace, qs: list[str]) -> dict[str, dict[str, float]]:
    """The in-memory BM25 index against FTS5 on the same database: questions whose top 100
    differ (ids or order), the largest score difference, and ms per ranking."""
    fts = open_store_at(ws.db_path, create=False)
    out: dict[str, dict[str, float]] = {}
    for name, filters in (
        ("no filter", None),
        ("tenant ACL", Filters(principals=("tenant:bench",))),
        ("source glob", Filters(source_globs=("library/*",))),
    ):
        differ, max_diff, memory_s, fts_s = 0, 0.0, 0.0, 0.0
        for q in qs:
            t0 = time.perf_counter()
            got = ws.store.lexical_ranking(q, 100, filters)
            t1 = time.perf_counter()
            expected = fts.lexical_ranking(q, 100, filters)
            fts_s += time.perf_counter() - t1
            memory_s += t1 - t0
            differ += [r.chunk_id for r in got] != [r.chunk_id for r in expected]
            diffs = [abs(a.score - b.score) for a, b in zip(got, expected, strict=False)]
            max_diff = max([max_diff, *diffs])
        out[name] = {
            "questions_differing": differ,
            "max_score_diff": max_diff,
            "memory_ms": round(memory_s / len(qs) * 1000, 3),
            "fts5_ms": round(fts_s / len(qs) * 1000, 3),
        }
    fts.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=Path("bench/.cache/pydocs-ingest"))
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--json-out", type=Path, default=Path("bench/results/latency.json"))
    args = parser.parse_args()
    qs = questions(args.workspace, args.n)
    t0 = time.perf_counter()
    ws = Workspace(load_settings(workspace=args.workspace))
    ws.pipeline().ask("How do I open a file?")
    results: dict[str, object] = {
        "questions": len(qs),
        "first_answer_after_start_s": round(time.perf_counter() - t0, 2),
    }
    # First with FTS5 ranking every lexical query (what one-shot CLI commands do), then
    # with the in-memory BM25 index the server keeps (same scores, measured side by side).
    for bm25 in ("fts5", "memory"):
        if bm25 == "memory":
            t1 = time.perf_counter()
            assert isinstance(ws.store, LexicalIndexWarmup), "the in-memory index is SQLite's"
            ws.store.keep_bm25_in_memory(wait=True)
            results["bm25_in_memory_build_s"] = round(time.perf_counter() - t1, 2)
        for mode in ("lexical", "dense", "hybrid"):
            if bm25 == "memory" and mode == "dense":
                continue  # no lexical ranking involved
            pipeline = ws.pipeline(mode)
            pipeline.search("warm up", 5)
            search_ms, ask_ms = [], []
            for q in qs:
                ws.embedder._recent.clear()
                s = time.perf_counter()
                pipeline.search(q, 5)
                search_ms.append((time.perf_counter() - s) * 1000)
            for q in qs:
                ws.embedder._recent.clear()
                s = time.perf_counter()
                pipeline.ask(q)
                ask_ms.append((time.perf_counter() - s) * 1000)
            label = mode if mode == "dense" else f"{mode}_{bm25}"
            results[f"search_{label}"] = percentiles(search_ms)
            results[f"ask_{label}"] = percentiles(ask_ms)
    results["bm25_memory_vs_fts5"] = compare_bm25(ws, qs)
    for key, value in results.items():
        print(f"{key:>26}: {value}")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(results, indent=2) + "\n")
    ws.close()


if __name__ == "__main__":
    main()
