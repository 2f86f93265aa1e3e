"""Routing by difficulty on the golden set: cost per request and the gate's metrics for
always-strong, always-cheap and routed answering, with scripted models at two price levels.

The two models are `ScriptedModel`s answering cairn's RAG prompt from the passages
(`cairn.llm.replies.RagReply`), priced at list prices through the real budget (a throw-away
ledger): the strong one as `gpt-4o` (up to three sentences, each sharing at least 25% of the
question's content words), the cheap one as `gpt-4o-mini` with a modelled quality gap, two
of them (`GAPS`): `mild` (one sentence: it synthesises less) and `harsh` (one sentence, 40%
overlap needed: it also abstains about three times as often). The pipeline is
cairn's own (the workspace's retriever, guards and verifier); only the models are
scripted. Routed = `DifficultyRouter` with the default `[router]` policy. The gate compares
routed and always-cheap against always-strong exactly as `cairn eval gate` does
(evals/gate.toml: tolerance, one-sided paired sign-flip test, Holm).

    .venv/bin/python bench/routing.py --workspace WS [--cases evals/golden]

WS: a workspace holding the golden set's documents (docs/benchmarks.md says how it was
built). Target (issue 15): routed cuts the modelled cost per request by >= 40% against
always-strong with no significant drop in the gate's metrics.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import shutil
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

from cairn.answer.generative import GenerativeAnswerer
from cairn.answer.router import DifficultyRouter, FixedRouter, Router
from cairn.answer.verify import CitationVerifier
from cairn.budget.metered import MeteredProvider
from cairn.budget.reservations import Budget
from cairn.config import RouterSettings, load_settings
from cairn.context import request_context
from cairn.conversation import build_rewriter
from cairn.evals.cases import load_cases
from cairn.evals.gate import evaluate_gate, load_gate_config
from cairn.evals.runner import run_eval
from cairn.llm.replies import RagReply
from cairn.llm.scripted import ScriptedModel
from cairn.pipeline import Pipeline
from cairn.workspace import Workspace

STRONG, CHEAP = "gpt-4o", "gpt-4o-mini"
GAPS = {
    "mild": RagReply(max_sentences=1),
    "harsh": RagReply(max_sentences=1, min_coverage=0.4),
}
"""The cheap model's modelled quality gap: `mild` writes one sentence where the strong model
writes up to three; `harsh` also needs 40% of the question's words in a sentence (it
abstains about three times as often)."""
DECIDED: collections.Counter[str] = collections.Counter()
REASONS: dict[str, dict[str, int]] = {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--cases", type=Path, default=Path("evals/golden"))
    parser.add_argument("--gate", type=Path, default=Path("evals/gate.toml"))
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()

    cases = load_cases(args.cases)
    gate = load_gate_config(args.gate)
    with tempfile.TemporaryDirectory(prefix="cairn-routing-") as tmp:
        root = Path(tmp) / "ws"
        shutil.copytree(args.workspace, root)
        settings = load_settings(workspace=root)
        ws = Workspace(settings)
        budget = Budget(root / "bench-ledger.db", prices=ws.budget.prices)
        strong = GenerativeAnswerer(
            MeteredProvider(ScriptedModel(default=RagReply(max_sentences=3), model=STRONG), budget)
        )
        cheaps = {
            gap: GenerativeAnswerer(
                MeteredProvider(ScriptedModel(default=reply, model=CHEAP), budget)
            )
            for gap, reply in GAPS.items()
        }
        verifier = CitationVerifier(
            ws.embedder, store=ws.store, policy=settings.answer.verify_policy
        )
        from cairn.answer.extractive import ExtractiveAnswerer

        extractive = ExtractiveAnswerer(ws.store, ws.embedder, settings.answer)
        input_guard, output_guard = ws.guards()
        retriever = ws.retriever()
        routed = DifficultyRouter(
            RouterSettings(mode="difficulty"), extractive=extractive, verifier=verifier
        )
        variants: dict[str, tuple[Router, str]] = {"always-strong": (FixedRouter("strong"), "mild")}
        for gap in GAPS:
            variants[f"always-cheap ({gap} gap)"] = (FixedRouter("cheap"), gap)
            variants[f"routed ({gap} gap)"] = (routed, gap)
        runs = {}
        costs: dict[str, Decimal] = {}
        routes: dict[str, collections.Counter[str]] = {}
        for name, (router, gap) in variants.items():
            pipeline = Pipeline(
                retriever,
                strong,
                verifier,
                k=settings.retrieve.k,
                input_guard=input_guard,
                output_guard=output_guard,
                rewriter=build_rewriter(None),
                router=router,
                answerers={"cheap": cheaps[gap]},
            )
            seen: collections.Counter[str] = collections.Counter()
            spent = Decimal(0)
            with request_context(feature=f"bench-{name}") as ctx:
                run = run_eval(cases, _Counting(pipeline, seen), config={"variant": name})
                spent = ctx.cost_usd
            runs[name] = run
            routes[name] = seen
            REASONS[name] = dict(DECIDED)
            DECIDED.clear()
            costs[name] = sum(
                (e.cost_usd for e in budget.entries() if e.feature == f"bench-{name}"),
                Decimal(0),
            )
            assert spent >= 0
        budget.close()
        ws.close()

    n = len(cases)
    base = costs["always-strong"]
    print(f"Golden set: {n} cases ({args.cases}), {dt.date.today()}")
    print()
    print("| variant | cost / 1,000 requests | vs always-strong | routes | gate vs always-strong |")
    print("|---|---:|---:|---|---|")
    out: dict[str, object] = {"cases": n, "variants": {}}
    metrics = list(gate.metrics)
    for name, run in runs.items():
        per_k = costs[name] / n * 1000
        saving = 1 - costs[name] / base if base else Decimal(0)
        if name == "always-strong":
            verdict = "(baseline)"
            regressions: list[str] = []
        else:
            result = evaluate_gate(run, runs["always-strong"], gate)
            regressions = [v.metric for v in result.regressions]
            verdict = "pass" if result.passed else "FAIL: " + ", ".join(regressions)
        mix = ", ".join(f"{k or 'none'} {v}" for k, v in sorted(routes[name].items()))
        print(f"| {name} | ${per_k:.4f} | {-saving:+.1%} | {mix} | {verdict} |")
        out["variants"][name] = {  # type: ignore[index]
            "cost_usd": float(costs[name]),
            "cost_per_1000_usd": float(per_k),
            "saving_vs_strong": float(saving),
            "routes": dict(routes[name]),
            "reasons": REASONS.get(name, {}),
            "regressions": regressions,
            "metrics": {m: run.aggregates[m].mean for m in metrics if m in run.aggregates},
        }
    print()
    print("| metric | " + " | ".join(runs) + " |")
    print("|---|" + "---:|" * len(runs))
    for m in metrics:
        values = [runs[r].aggregates[m].mean if m in runs[r].aggregates else None for r in runs]
        print(f"| {m} | " + " | ".join("-" if v is None else f"{v:.3f}" for v in values) + " |")
    print()
    for name, reasons in REASONS.items():
        if name.startswith("routed"):
            print(f"{name} decisions: " + ", ".join(f"{k} {v}" for k, v in reasons.items()))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


class _Counting:
    """The pipeline, counting the route of each answer."""

    def __init__(self, pipeline: Pipeline, seen: collections.Counter[str]) -> None:
        self.pipeline = pipeline
        self.seen = seen

    def search(self, query, k=None, filters=None):  # type: ignore[no-untyped-def]
        return self.pipeline.search(query, k, filters)

    def standalone(self, question, history):  # type: ignore[no-untyped-def]
        return self.pipeline.standalone(question, history)

    def ask(self, question, *, k=None, filters=None, history=()):  # type: ignore[no-untyped-def]
        answer = self.pipeline.ask(question, k=k, filters=filters, history=history)
        self.seen[answer.route.route if answer.route else "refused/cached"] += 1
        if answer.route:
            DECIDED[answer.route.reason.split(";")[0]] += 1
        return answer


if __name__ == "__main__":
    sys.exit(main())
