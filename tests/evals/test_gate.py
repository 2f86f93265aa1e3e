"""The gate must not flake: unchanged configurations pass, degraded ones fail, and it says why.

Two systems: the real pipeline (SQLite store, hybrid retrieval, extractive answerer,
verifier) on a synthetic corpus, which is deterministic; and `NoisyTarget`, a system whose
every run differs by chance, as an LLM-backed configuration would.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.evals.gate import GateConfig, GateError, evaluate_gate, load_gate_config
from cairn.evals.records import RunRecord
from cairn.evals.runner import run_eval
from cairn.store.sqlite import SQLiteStore
from cairn.testing.evalcorpus import build_store, cases, pipeline
from cairn.testing.noisy import NoisyTarget

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SQLiteStore:
    return build_store(tmp_path_factory.mktemp("ws") / "cairn.db")


@pytest.fixture(scope="module")
def config() -> GateConfig:
    """The committed gate config: what CI uses."""
    return load_gate_config(REPO / "evals" / "gate.toml")


@pytest.fixture(scope="module")
def baseline(store: SQLiteStore) -> RunRecord:
    return run_eval(cases(), pipeline(store))


def test_ten_reruns_of_the_unchanged_pipeline_pass(
    store: SQLiteStore, baseline: RunRecord, config: GateConfig
) -> None:
    for _ in range(10):
        result = evaluate_gate(run_eval(cases(), pipeline(store)), baseline, config)
        assert result.passed, [v.reason for v in result.regressions]
        assert all("within tolerance" in v.reason for v in result.verdicts)


def test_k_1_fails_with_a_significant_drop(
    store: SQLiteStore, baseline: RunRecord, config: GateConfig
) -> None:
    degraded = run_eval(cases(), pipeline(store), k=1)
    result = evaluate_gate(degraded, baseline, config)
    assert not result.passed
    regressed = {v.metric: v for v in result.regressions}
    assert "doc.recall@5" in regressed  # multi-hop cases can no longer find both documents
    verdict = regressed["doc.recall@5"]
    assert verdict.result.drop > verdict.rule.tolerance
    assert verdict.p_adjusted < config.alpha
    assert verdict.reason.startswith("REGRESSION") and "Holm-adjusted" in verdict.reason
    assert verdict.result.comparison.high < 0  # the whole interval is below zero


def test_an_improvement_never_fails(store: SQLiteStore, config: GateConfig) -> None:
    worse = run_eval(cases(), pipeline(store), k=1)
    better = run_eval(cases(), pipeline(store))
    result = evaluate_gate(better, worse, config)
    assert result.passed
    assert any(v.reason.startswith("improved") for v in result.verdicts)


def test_noisy_system_ten_reruns_pass_and_degraded_fails(config: GateConfig) -> None:
    # Non-deterministic configuration: every seed is a different run of the same system.
    # Three epochs per run (reduced by the mean) keep the noise down, as `--epochs 3` does.
    base = run_eval(cases(), NoisyTarget(0.85, seed=0), epochs=3)
    reruns = [
        evaluate_gate(run_eval(cases(), NoisyTarget(0.85, seed=s), epochs=3), base, config)
        for s in range(1, 11)
    ]
    assert all(r.passed for r in reruns), [v.reason for r in reruns for v in r.regressions]
    # ...and the reruns really did differ: the gate passed on noise, not on identical runs.
    assert any(v.result.comparison.ties < v.result.comparison.n for v in reruns[0].verdicts)
    degraded = run_eval(cases(), NoisyTarget(0.5, seed=11), epochs=3)
    result = evaluate_gate(degraded, base, config)
    assert not result.passed
    assert "doc.hit@5" in {v.metric for v in result.regressions}


def test_large_but_insignificant_drop_is_reported_as_noise(config: GateConfig) -> None:
    base = run_eval(cases()[:8], NoisyTarget(1.0, seed=0))
    run = run_eval(cases()[:8], NoisyTarget(0.75, seed=3))
    loose = config.model_copy(update={"correction": "none"})
    result = evaluate_gate(run, base, loose)
    hit = next(v for v in result.verdicts if v.metric == "doc.hit@5")
    assert hit.result.drop > hit.rule.tolerance
    assert not hit.regressed and hit.reason.startswith("not significant")


def test_significant_drop_within_tolerance_passes(
    store: SQLiteStore, baseline: RunRecord, config: GateConfig
) -> None:
    degraded = run_eval(cases(), pipeline(store), k=1)
    lenient = config.model_copy(
        update={
            "metrics": {
                m: r.model_copy(update={"tolerance": 0.9}) for m, r in config.metrics.items()
            }
        }
    )
    result = evaluate_gate(degraded, baseline, lenient)
    assert result.passed


def test_config_file_forms(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text(
        '[gate]\nalpha = 0.01\n[metrics]\n"doc.hit@5" = 0.1\nfalse_abstention = 0.02\n'
        '"pass" = { tolerance = 0.0 }\n'
    )
    config = load_gate_config(path)
    assert config.alpha == 0.01 and config.correction == "holm"
    assert config.metrics["doc.hit@5"].tolerance == 0.1
    assert config.metrics["false_abstention"].higher_is_better is False  # known direction
    assert config.metrics["pass"].tolerance == 0.0
    path.write_text("[gate]\nalpah = 0.01\n[metrics]\n")
    with pytest.raises(GateError, match="alpah"):
        load_gate_config(path)
    with pytest.raises(GateError, match="no gate config"):
        load_gate_config(tmp_path / "missing.toml")


def test_gate_refuses_runs_it_cannot_compare(baseline: RunRecord, config: GateConfig) -> None:
    other = baseline.model_copy(update={"cases": baseline.cases[:2]})
    with pytest.raises(GateError, match="share 2 case"):
        evaluate_gate(other, baseline, config)
    unknown = config.model_copy(update={"metrics": {"doc.map@5": config.metrics["pass"]}})
    with pytest.raises(GateError, match=r"doc.map@5 are missing"):
        evaluate_gate(baseline, baseline, unknown)


def test_new_cases_are_noted_not_gated(baseline: RunRecord, config: GateConfig) -> None:
    fewer = baseline.model_copy(update={"cases": baseline.cases[:-3]})
    result = evaluate_gate(baseline, fewer, config)
    assert result.passed and result.shared_cases == 27
    assert any("3 case(s) not in the baseline" in note for note in result.notes)
