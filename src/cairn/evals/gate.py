"""The regression gate: fail only on drops that are both large and statistically real.

For every metric named in the gate config (`evals/gate.toml`), the run and the baseline are
paired on the cases they share. The metric regresses when

    drop = mean(baseline - run)   (reversed for lower-is-better metrics)
    drop > tolerance   AND   one-sided paired sign-flip p < alpha

where p is Holm-adjusted across the gated metrics (`correction = "holm"`, the default), so
testing twenty metrics does not give twenty chances to fail on noise. A drop inside the
tolerance never fails, however significant; a large drop that the cases do not support
(p >= alpha) is reported as noise and does not fail either.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from cairn.errors import UserError
from cairn.evals.records import RUN_FORMAT, RunRecord
from cairn.evals.scorers import LOWER_IS_BETTER
from cairn.evals.stats import PairedComparison, holm, paired_compare


class GateError(UserError):
    """The gate cannot be evaluated: a bad config, run or baseline file."""


class MetricRule(BaseModel):
    model_config = {"extra": "forbid"}

    tolerance: float = Field(0.05, ge=0.0)
    """The largest drop (in the metric's own units) that is accepted without question."""
    higher_is_better: bool = True


class GateConfig(BaseModel):
    model_config = {"extra": "forbid"}

    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    correction: Literal["holm", "none"] = "holm"
    permutations: int = Field(10000, ge=100)
    resamples: int = Field(2000, ge=100)
    seed: int = 0
    min_cases: int = Field(5, ge=1)
    """Fewer shared cases than this is an error: there is nothing to test."""
    metrics: dict[str, MetricRule]

    @field_validator("metrics", mode="before")
    @classmethod
    def _bare_tolerance(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                name: {"tolerance": rule} if isinstance(rule, int | float) else rule
                for name, rule in value.items()
            }
        return value


def load_gate_config(path: Path) -> GateConfig:
    """Read `[gate]` settings and the `[metrics]` table (metric = tolerance, or a table)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GateError(f"no gate config at {path}: create it (see docs/evals.md)") from None
    except tomllib.TOMLDecodeError as exc:
        raise GateError(f"{path}: invalid TOML ({exc})") from None
    settings = dict(data.get("gate", {}))
    metrics = data.get("metrics", {})
    for name in metrics:
        if name in LOWER_IS_BETTER and isinstance(metrics[name], int | float):
            metrics[name] = {"tolerance": metrics[name], "higher_is_better": False}
    try:
        return GateConfig(**settings, metrics=metrics)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise GateError(f"{path}: {problems}") from None


def load_run(path: Path) -> RunRecord:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GateError(
            f"no run file at {path}: write one with 'cairn eval run --out {path}'"
        ) from None
    try:
        run = RunRecord.model_validate_json(text)
    except ValidationError as exc:
        raise GateError(f"{path} is not a cairn eval run ({exc.error_count()} problems)") from None
    if run.format != RUN_FORMAT:
        raise GateError(f"{path}: run format {run.format!r}, expected {RUN_FORMAT!r}")
    return run


@dataclass(frozen=True, slots=True)
class MetricComparison:
    metric: str
    comparison: PairedComparison
    higher_is_better: bool

    @property
    def drop(self) -> float:
        """How much worse the run is than the baseline (negative: it improved)."""
        diff = self.comparison.diff
        return -diff if self.higher_is_better else diff

    @property
    def p_worse(self) -> float:
        """One-sided p-value for 'the run is worse than the baseline'."""
        c = self.comparison
        return c.p_less if self.higher_is_better else c.p_greater


def compare_runs(
    run: RunRecord,
    baseline: RunRecord,
    metrics: list[str] | None = None,
    *,
    resamples: int = 2000,
    permutations: int = 10000,
    seed: int = 0,
) -> list[MetricComparison]:
    """Paired comparison of every metric (or `metrics`) on the cases both runs scored."""
    names = metrics or [m for m in baseline.aggregates if m in run.aggregates]
    out = []
    for name in names:
        a, b = run.values(name), baseline.values(name)
        shared = [case_id for case_id in b if case_id in a]
        comparison = paired_compare(
            [a[i] for i in shared],
            [b[i] for i in shared],
            resamples=resamples,
            permutations=permutations,
            seed=seed,
        )
        out.append(MetricComparison(name, comparison, name not in LOWER_IS_BETTER))
    return out


@dataclass(frozen=True, slots=True)
class Verdict:
    metric: str
    rule: MetricRule
    result: MetricComparison
    p_adjusted: float
    regressed: bool
    reason: str


@dataclass(slots=True)
class GateResult:
    passed: bool
    verdicts: list[Verdict]
    shared_cases: int
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.regressed]


def evaluate_gate(run: RunRecord, baseline: RunRecord, config: GateConfig) -> GateResult:
    """Apply the gate's rules; `passed` is False only for significant drops past tolerance."""
    notes: list[str] = []
    run_ids = {c.id for c in run.cases}
    base_ids = {c.id for c in baseline.cases}
    shared = run_ids & base_ids
    if len(shared) < config.min_cases:
        raise GateError(
            f"the run and the baseline share {len(shared)} case(s), fewer than min_cases="
            f"{config.min_cases}: was the baseline written from the same case files?"
        )
    if run_ids - base_ids:
        notes.append(
            f"{len(run_ids - base_ids)} case(s) not in the baseline are not gated "
            "(update the baseline with 'cairn eval baseline' to include them)"
        )
    if base_ids - run_ids:
        notes.append(f"{len(base_ids - run_ids)} baseline case(s) were not run")
    missing = [m for m in config.metrics if m not in run.aggregates or m not in baseline.aggregates]
    if missing:
        raise GateError(
            f"gated metric(s) {', '.join(missing)} are missing from the run or the baseline; "
            "fix evals/gate.toml or re-create the baseline"
        )
    comparisons = compare_runs(
        run,
        baseline,
        list(config.metrics),
        resamples=config.resamples,
        permutations=config.permutations,
        seed=config.seed,
    )
    comparisons = [
        MetricComparison(c.metric, c.comparison, config.metrics[c.metric].higher_is_better)
        for c in comparisons
    ]
    raw = [c.p_worse for c in comparisons]
    adjusted = holm(raw) if config.correction == "holm" else raw
    verdicts = [
        _verdict(c, config.metrics[c.metric], p, config)
        for c, p in zip(comparisons, adjusted, strict=True)
    ]
    return GateResult(
        passed=not any(v.regressed for v in verdicts),
        verdicts=verdicts,
        shared_cases=len(shared),
        notes=notes,
    )


def _verdict(c: MetricComparison, rule: MetricRule, p_adj: float, config: GateConfig) -> Verdict:
    cmp = c.comparison
    change = (
        f"{cmp.mean_b:.3f} -> {cmp.mean_a:.3f} (diff {cmp.diff:+.3f}, "
        f"95% CI [{cmp.low:+.3f}, {cmp.high:+.3f}], n={cmp.n})"
    )
    p_text = f"p={c.p_worse:.4f}" + (
        f", Holm-adjusted {p_adj:.4f}" if config.correction == "holm" else ""
    )
    if cmp.n == 0:
        return Verdict(c.metric, rule, c, 1.0, False, "no shared cases with a value")
    if c.drop <= rule.tolerance:
        word = "improved" if c.drop < 0 else "within tolerance"
        reason = f"{word}: {change}; drop {c.drop:+.3f} <= tolerance {rule.tolerance:.3f}"
        return Verdict(c.metric, rule, c, p_adj, False, reason)
    if p_adj >= config.alpha:
        reason = (
            f"not significant: {change}; drop {c.drop:.3f} > tolerance {rule.tolerance:.3f} "
            f"but {p_text} >= {config.alpha} (consistent with noise)"
        )
        return Verdict(c.metric, rule, c, p_adj, False, reason)
    reason = (
        f"REGRESSION: {change}; drop {c.drop:.3f} > tolerance {rule.tolerance:.3f} and "
        f"{p_text} < {config.alpha}; {cmp.worse} case(s) worse, {cmp.better} better"
    )
    return Verdict(c.metric, rule, c, p_adj, True, reason)
