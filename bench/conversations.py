"""Follow-up questions with and without the term rewrite: the golden set's conversation
turns (`evals/golden/conversations.yaml`) run on one workspace, once with the pipeline's
rewriter (`TermRewriter`, the default without a model) and once with `KeepQuestion` (the
follow-up taken alone, as `/v1/chat/completions` did before), in the same run.

    .venv/bin/python bench/conversations.py --workspace WS [--cases evals/golden/conversations.yaml]

Prints, for the follow-up turns and for the first turns separately: doc.hit@5, doc.mrr@10,
checkpoints, pass, abstentions; how many follow-ups the rule detects and how many of the
single-turn golden questions it would wrongly take for follow-ups; and the rewrite's own
time per follow-up (p50/p95).
The workspace must hold the gold pages (the Python 3.11 HTML docs, or a subset of them).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from cairn.config import Settings
from cairn.conversation import KeepQuestion, QueryRewriter, TermRewriter, Turn, is_follow_up
from cairn.evals.cases import load_cases
from cairn.evals.records import CaseResult
from cairn.evals.runner import run_eval
from cairn.workspace import Workspace

METRICS = ("doc.hit@5", "doc.mrr@10", "checkpoints", "pass")


def mean(results: list[CaseResult], metric: str) -> float:
    values = [r.scores[metric].value for r in results if metric in r.scores]
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--cases", type=Path, default=Path("evals/golden/conversations.yaml"))
    parser.add_argument(
        "--standalone", type=Path, default=Path("evals/golden"), help="single-turn cases"
    )
    args = parser.parse_args()

    cases = [c for c in load_cases(args.cases) if "multi-turn" in c.tags]
    ws = Workspace(Settings(workspace=args.workspace))
    try:
        pipeline = ws.pipeline()
        rewriters: list[tuple[str, QueryRewriter]] = [
            ("follow-up alone (no rewrite)", KeepQuestion()),
            ("term rewrite", TermRewriter()),
        ]
        print(f"{len(cases)} cases, {sum(1 for c in cases if c.history)} follow-ups")
        print("| rewriter | turns | n | " + " | ".join(METRICS) + " | abstained |")
        print("|---|---|---|" + "---|" * len(METRICS) + "---|")
        for label, rewriter in rewriters:
            pipeline.rewriter = rewriter
            run = run_eval(cases, pipeline)
            by_id = {c.id: c for c in cases}
            for kind, keep in (("follow-ups", True), ("first turns", False)):
                rs = [r for r in run.cases if bool(by_id[r.id].history) == keep]
                abstained = sum(1 for r in rs if r.output.answer and r.output.answer.abstained)
                cells = " | ".join(f"{mean(rs, m):.3f}" for m in METRICS)
                print(f"| {label} | {kind} | {len(rs)} | {cells} | {abstained} |")
        standalone = [c for c in load_cases(args.standalone) if not c.history]
        flagged = sum(1 for c in standalone if is_follow_up(c.question))
        follow_ups = [c for c in cases if c.history]
        caught = sum(1 for c in follow_ups if is_follow_up(c.question))
        print(f"follow-ups detected: {caught} of {len(follow_ups)}; standalone questions taken")
        print(f"for follow-ups: {flagged} of {len(standalone)} ({args.standalone})")
        timings = []
        rewriter = TermRewriter()
        for case in cases:
            if case.history:
                history = [Turn.user(q) for q in case.history]
                for _ in range(50):
                    started = time.perf_counter()
                    rewriter.rewrite(case.question, history)
                    timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        p95 = timings[round(0.95 * (len(timings) - 1))]
        print(f"term rewrite time: p50 {statistics.median(timings):.3f} ms, p95 {p95:.3f} ms")
    finally:
        ws.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
