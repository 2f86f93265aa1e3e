"""Degraded mode's added latency: what an answer costs while the model's circuit is open,
against the extractive pipeline answering the same questions (the peer, same run).

Both pipelines come from the same workspace (a throw-away copy: the ledger is written).
The degraded one is configured for an OpenAI-compatible endpoint that refuses connections
(127.0.0.1:9); its first requests fail after their retries and open the circuit breaker, and
from then on every request is refused by the breaker at once and answered by the extractive
fallback. Each question is asked of both pipelines in turn (alternating which goes first),
and the table gives each one's latency and the per-question difference.

    .venv/bin/python bench/degraded.py --workspace WS [--n 200]

Target (issue: "the fallback adds under 50 ms"): the difference's p95 under 50 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cairn.config import LLMSettings, load_settings
from cairn.llm.breaker import BREAKERS
from cairn.llm.routing import resolve_routes
from cairn.workspace import Workspace
from latency import questions


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cairn-degraded-") as tmp:
        root = Path(tmp) / "ws"
        shutil.copytree(args.workspace, root)
        qs = questions(root, args.n)
        base = load_settings(workspace=root)
        llm = LLMSettings(
            provider="openai",
            base_url="http://127.0.0.1:9/v1",
            model="bench-unreachable",
            api_key="unused",
            price_input_per_mtok=1.0,
            price_output_per_mtok=2.0,
            retry_base_delay_s=0.01,
        )
        extractive_ws = Workspace(base)
        degraded_ws = Workspace(base.model_copy(update={"llm": llm}))
        try:
            extractive = extractive_ws.pipeline()
            degraded = degraded_ws.pipeline()
            breaker = BREAKERS.get(resolve_routes(llm)[0].key)
            opened = 0
            while breaker.state != "open":  # the outage: retries, then the breaker opens
                degraded.ask(qs[0])
                opened += 1
            for q in qs[:5]:  # warm both (query embeddings, SQLite pages)
                extractive.ask(q)
                degraded.ask(q)
            base_ms: list[float] = []
            fallback_ms: list[float] = []
            reasons: set[str] = set()
            for i, q in enumerate(qs):
                order = [(extractive, base_ms), (degraded, fallback_ms)]
                for pipeline, into in order if i % 2 == 0 else order[::-1]:
                    started = time.perf_counter()
                    answer = pipeline.ask(q)
                    into.append((time.perf_counter() - started) * 1000)
                    if answer.degraded is not None:
                        reasons.add(answer.degraded.reason)
        finally:
            extractive_ws.close()
            degraded_ws.close()
    added = [f - b for f, b in zip(fallback_ms, base_ms, strict=True)]
    print(f"# {dt.date.today()}, {len(qs)} questions, {args.workspace}")
    print(f"# requests to open the circuit: {opened}; degraded reasons seen: {sorted(reasons)}")
    print("| pipeline | p50 ms | p95 ms | mean ms |")
    print("|---|---|---|---|")
    for name, values in (
        ("extractive (no model configured)", base_ms),
        ("model configured, circuit open, extractive fallback", fallback_ms),
        ("difference, per question", added),
    ):
        print(
            f"| {name} | {_pct(values, 0.5):.2f} | {_pct(values, 0.95):.2f} "
            f"| {statistics.fmean(values):.2f} |"
        )
    ok = _pct(added, 0.95) < 50
    print(f"\nfallback adds under 50 ms at p95: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
