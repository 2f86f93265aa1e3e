from __future__ import annotations

from pathlib import Path

import pytest

from cairn.errors import StoreError
from cairn.evals.records import RunRecord
from cairn.evals.runner import run_eval
from cairn.evals.scorers import build_scorer
from cairn.store.sqlite import SQLiteStore
from cairn.testing.evalcorpus import build_store, cases, pipeline
from cairn.testing.noisy import NoisyTarget
from cairn.types import Answer, Filters, Hit


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SQLiteStore:
    return build_store(tmp_path_factory.mktemp("ws") / "cairn.db")


def test_run_records_outputs_scores_and_aggregates(store: SQLiteStore) -> None:
    run = run_eval(cases(), pipeline(store), config={"workspace": "synthetic"})
    assert run.config["search_k"] == 10 and run.config["cases"] == 30
    assert len(run.cases) == 30
    first = run.cases[0]
    assert first.output.retrieved[0].source == "guide/aurora.md"
    assert first.output.answer is not None and "AURORA_TIMEOUT" in first.output.answer.text
    assert first.output.answer.cited_texts  # kept for groundedness and judges
    assert all(score.explanation for score in first.scores.values())
    summary = run.aggregates["doc.hit@5"]
    assert summary.n == 28 and summary.low <= summary.mean <= summary.high
    assert run.aggregates["abstention_accuracy"].n == 30
    assert set(run.by_tag) == {"how-to", "multi-hop", "unanswerable", "adversarial"}
    assert run.by_tag["multi-hop"]["doc.recall@5"].n == 8
    assert run.failures == {}  # the synthetic system passes all its cases


def test_run_round_trips_through_json(store: SQLiteStore, tmp_path: Path) -> None:
    run = run_eval(cases()[:3], pipeline(store))
    path = tmp_path / "run.json"
    path.write_text(run.model_dump_json())
    again = RunRecord.model_validate_json(path.read_text())
    assert again == run


def test_epochs_reduce_by_the_mean() -> None:
    scorer = build_scorer("doc.hit@5")
    run = run_eval(cases()[:20], NoisyTarget(0.5, seed=1), scorers=[scorer], epochs=4)
    values = [c.epoch_values["doc.hit@5"] for c in run.cases]
    assert all(len(v) == 4 for v in values)
    varied = [c for c in run.cases if len(set(c.epoch_values["doc.hit@5"])) > 1]
    assert varied, "the noisy target should vary between epochs"
    case = varied[0]
    epoch = [v for v in case.epoch_values["doc.hit@5"] if v is not None]
    assert case.scores["doc.hit@5"].value == pytest.approx(sum(epoch) / len(epoch))
    assert "mean of 4 epochs" in case.scores["doc.hit@5"].explanation


def test_pipeline_errors_are_recorded_not_raised() -> None:
    class Broken:
        def search(
            self, query: str, k: int | None = None, filters: Filters | None = None
        ) -> list[Hit]:
            raise StoreError("database is locked")

        def ask(
            self, question: str, *, k: int | None = None, filters: Filters | None = None
        ) -> Answer:
            raise AssertionError("not reached")

    run = run_eval(cases()[:2], Broken())
    assert run.failures == {"error": ["aurora-timeout", "basalt-timeout"]}
    assert run.cases[0].output.error == "StoreError: database is locked"


def test_k_sets_both_depths(store: SQLiteStore) -> None:
    run = run_eval(cases()[:2], pipeline(store), k=2)
    out = run.cases[0].output
    assert len(out.retrieved) == 2 and out.answer is not None and len(out.answer.read) == 2
    with pytest.raises(ValueError, match="epochs"):
        run_eval(cases()[:1], pipeline(store), epochs=0)


def test_retrieval_only_run(store: SQLiteStore) -> None:
    run = run_eval(cases()[:3], pipeline(store), answers=False)
    assert run.cases[0].output.answer is None
    assert "checkpoints" not in run.aggregates and "pass" in run.aggregates
