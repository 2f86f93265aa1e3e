"""Evaluation: golden cases, metrics, scorers and judges, statistics, the gate, reports.

The public surface; modules hold the details (see docs/evals.md).
"""

from cairn.evals.cases import Case, CaseError, Gold, GoldSource, load_cases
from cairn.evals.gate import GateConfig, GateResult, compare_runs, evaluate_gate, load_gate_config
from cairn.evals.records import CaseOutput, CaseResult, RunRecord, Score
from cairn.evals.runner import Target, run_eval
from cairn.evals.scorers import Scorer, build_scorer, default_scorers

__all__ = [
    "Case",
    "CaseError",
    "CaseOutput",
    "CaseResult",
    "GateConfig",
    "GateResult",
    "Gold",
    "GoldSource",
    "RunRecord",
    "Score",
    "Scorer",
    "Target",
    "build_scorer",
    "compare_runs",
    "default_scorers",
    "evaluate_gate",
    "load_cases",
    "load_gate_config",
    "run_eval",
]
