"""What the router and the shadow stage add to the request path: the same pipeline with and
without them, on the same questions, in the same run (alternating which goes first).

All variants answer with the same in-process scripted model (no network), so the difference
is the stages' own work: the router's decision (signals from the hits and the question) and
the shadow offer (a draw and a queue put; the candidate runs on a background thread, and at
`--fraction` of requests it competes for the same cores). The extractive try (the extractive
answerer and the verifier run by the router on confident single-source questions) is
measured as its own variant: it is work done instead of a model call, not overhead on one.

    .venv/bin/python bench/route_overhead.py --workspace WS [--rounds 2] [--fraction 0.1]

Target (issue 15): router and shadow add <= 1 ms p50 to the request path.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cairn.answer.extractive import ExtractiveAnswerer
from cairn.answer.generative import GenerativeAnswerer
from cairn.answer.router import DifficultyRouter, NoRouter, Router
from cairn.answer.verify import CitationVerifier
from cairn.config import RouterSettings, load_settings
from cairn.evals.cases import load_cases
from cairn.llm.scripted import ScriptedModel
from cairn.pipeline import Pipeline
from cairn.shadow import ShadowStage, ShadowStore
from cairn.workspace import Workspace


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--cases", type=Path, default=Path("evals/golden"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    questions = [c.question for c in load_cases(args.cases) if "adversarial" not in c.tags]
    with tempfile.TemporaryDirectory(prefix="cairn-route-overhead-") as tmp:
        root = Path(tmp) / "ws"
        shutil.copytree(args.workspace, root)
        settings = load_settings(workspace=root)
        ws = Workspace(settings)
        retriever = ws.retriever()
        verifier = CitationVerifier(ws.embedder, store=ws.store)
        answerer = GenerativeAnswerer(ScriptedModel(model="model"))
        extractive = ExtractiveAnswerer(ws.store, ws.embedder, settings.answer)
        policy = RouterSettings(mode="difficulty", extractive=False, escalate=False)
        shadows = ShadowStore(root / "shadow.db")
        stage = ShadowStage(
            GenerativeAnswerer(ScriptedModel(model="candidate")),
            verifier,
            shadows,
            fraction=args.fraction,
            candidate_model="candidate",
            primary_model="model",
            seed=0,
        )

        def build(router: Router, shadow: ShadowStage | None = None) -> Pipeline:
            return Pipeline(
                retriever,
                answerer,
                verifier,
                k=settings.retrieve.k,
                router=router,
                answerers={"cheap": answerer},  # one model: only the stages differ
                shadow=shadow,
            )

        variants = {
            "baseline": build(NoRouter()),
            "router": build(DifficultyRouter(policy)),
            f"router + shadow {args.fraction:g}": build(DifficultyRouter(policy), stage),
            "router with extractive try": build(
                DifficultyRouter(
                    RouterSettings(mode="difficulty", escalate=False),
                    extractive=extractive,
                    verifier=verifier,
                )
            ),
        }
        for q in questions[:5]:  # warm every variant (query embeddings, SQLite pages)
            for p in variants.values():
                p.ask(q)
        times: dict[str, list[float]] = {name: [] for name in variants}
        order = list(variants.items())
        i = 0
        for _ in range(args.rounds):
            for q in questions:
                turn = order[i % len(order) :] + order[: i % len(order)]
                i += 1
                for name, pipeline in turn:
                    started = time.perf_counter()
                    pipeline.ask(q)
                    times[name].append((time.perf_counter() - started) * 1000)
        # the stages alone, on the same hits: the decision and the offer, per call
        router = DifficultyRouter(policy)
        sample = [(q, retriever.retrieve(q, settings.retrieve.k)) for q in questions[:50]]
        answer = variants["baseline"].ask(questions[0])
        idle = ShadowStage(
            answerer, verifier, shadows, fraction=0.0, candidate_model="c", primary_model="m"
        )
        stage_us: dict[str, list[float]] = {"router.route": [], "shadow.offer (not drawn)": []}
        for _ in range(20):
            for q, hits in sample:
                started = time.perf_counter()
                router.route(q, hits)
                stage_us["router.route"].append((time.perf_counter() - started) * 1e6)
                started = time.perf_counter()
                idle.offer(q, hits, answer)
                stage_us["shadow.offer (not drawn)"].append((time.perf_counter() - started) * 1e6)
        stage.close()
        queued = len(shadows.pairs())
        shadows.close()
        ws.close()

    base = times["baseline"]
    print(
        f"{len(base)} requests per variant ({len(questions)} golden questions x {args.rounds}), "
        f"in-process scripted model, {dt.date.today()}"
    )
    print()
    print("| variant | p50 ms | p95 ms | p50 of the per-request difference ms | vs baseline p50 |")
    print("|---|---:|---:|---:|---:|")
    out: dict[str, object] = {"requests": len(base), "shadowed": queued}
    for name, values in times.items():
        diffs = [v - b for v, b in zip(values, base, strict=True)]
        p50 = statistics.median(values)
        d50 = statistics.median(diffs)
        print(
            f"| {name} | {p50:.2f} | {_pct(values, 0.95):.2f} | "
            f"{d50:+.3f} | {p50 / statistics.median(base):.3f}x |"
        )
        out[name] = {"p50_ms": p50, "p95_ms": _pct(values, 0.95), "diff_p50_ms": d50}
    print()
    print(f"shadowed requests compared in the background: {queued}")
    print()
    print("| stage alone | p50 us | p95 us |")
    print("|---|---:|---:|")
    for name, values in stage_us.items():
        print(f"| {name} | {statistics.median(values):.1f} | {_pct(values, 0.95):.1f} |")
        out[name] = {"p50_us": statistics.median(values), "p95_us": _pct(values, 0.95)}
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
