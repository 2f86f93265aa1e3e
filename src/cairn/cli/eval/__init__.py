"""`cairn eval ...`: run the golden cases, compare runs, gate changes, draft cases.

cairn eval run [--cases evals/golden] [--mode M] [--k K] [--epochs N] [--html R.html]
cairn eval compare RUN BASELINE
cairn eval gate --baseline evals/baseline.json [--run RUN | run options]
cairn eval baseline [RUN] [--to evals/baseline.json]
cairn eval report RUN [--baseline B] --html R.html
cairn eval add-case "QUESTION" [--to evals/golden/drafts.yaml]
cairn eval calibrate-judge --dataset ../shared/datasets/ragchecker_meta_eval
cairn eval dataset {scifact,xquad,anthropic,hotpotqa,musique} --path ../shared/datasets
cairn eval shadow [--since 7d]
cairn eval security [--suite S] [--answerer A] [--split held-out|all] [--limit N] [--max-leaks 0]
                    [--max-false-refusals R] [--cases evals/golden] [--json]
"""

from __future__ import annotations

from cairn.cli.eval import (  # noqa: F401  (register commands)
    cases,
    dataset,
    judge,
    reports,
    run,
    security,
    shadow,
)
from cairn.cli.eval.options import app

__all__ = ["app"]
