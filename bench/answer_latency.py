"""Time of the extractive answer stage against retrieval, in one warm process.

Questions as in bench/latency.py (hand-written plus templated from the workspace's API
names). For each: `search` (hybrid, top 5), then the answerer on those hits, then a whole
`ask` (cache off); wall time and the process's CPU time. Run it once per code version on
the same workspace to compare; the answer/search ratio is the peer comparison within a run.

    .venv/bin/python bench/answer_latency.py --workspace .cairn [--n 150]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cairn.config import load_settings
from cairn.workspace import Workspace
from latency import percentiles, questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--n", type=int, default=150)
    args = parser.parse_args()
    qs = questions(args.workspace, args.n)
    settings = load_settings(workspace=args.workspace)
    settings = settings.model_copy(
        update={"cache": settings.cache.model_copy(update={"exact": False, "semantic": False})}
    )
    ws = Workspace(settings)
    pipeline = ws.pipeline()
    pipeline.ask("How do I open a file?")
    search_ms, answer_ms, ask_ms = [], [], []
    cpu: dict[str, list[float]] = {"search": [], "answer": [], "ask": []}
    abstained = 0
    for q in qs:
        s, cs = time.perf_counter(), time.process_time()
        hits = pipeline.search(q, 5)
        a, ca = time.perf_counter(), time.process_time()
        draft = pipeline.answerer.answer(q, hits)
        e, ce = time.perf_counter(), time.process_time()
        pipeline.ask(q)
        f, cf = time.perf_counter(), time.process_time()
        search_ms.append((a - s) * 1000)
        answer_ms.append((e - a) * 1000)
        ask_ms.append((f - e) * 1000)
        cpu["search"].append((ca - cs) * 1000)
        cpu["answer"].append((ce - ca) * 1000)
        cpu["ask"].append((cf - ce) * 1000)
        abstained += draft.abstained
    ws.close()
    print(f"{len(qs)} questions, {abstained} abstained")
    print(f"{'stage':<8} {'p50':>7} {'p95':>7} {'p99':>7} {'mean':>7}  (ms)")
    for name, ms in (("search", search_ms), ("answer", answer_ms), ("ask", ask_ms)):
        p = percentiles(ms)
        print(f"{name:<8} {p['p50']:>7} {p['p95']:>7} {p['p99']:>7} {p['mean']:>7}")
    print("CPU time of this process (all its threads), less sensitive to other load:")
    for name, ms in cpu.items():
        p = percentiles(ms)
        print(f"{name:<8} {p['p50']:>7} {p['p95']:>7} {p['p99']:>7} {p['mean']:>7}")
    ratio = percentiles(answer_ms)["p95"] / max(percentiles(search_ms)["p95"], 1e-9)
    print(f"answer/search p95 ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
