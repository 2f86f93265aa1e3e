from __future__ import annotations

from pathlib import Path

import pytest

from cairn.errors import UserError
from cairn.evals.benchmarks import SearchTarget, dataset_cases, metric_names, open_store
from cairn.evals.datasets import Dataset, Passage, Query, load_dataset
from cairn.evals.runner import run_eval
from cairn.evals.scorers import build_scorer
from cairn.retrieve.hybrid import LexicalRetriever
from cairn.testing.evalcorpus import EMBEDDER

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"


def tiny() -> Dataset:
    passages = [
        Passage(id="https://x.test/a#1", title="Alpha", text="Alpha stores apples in a barn."),
        Passage(id="b", title="Beta", text="Beta keeps bananas on a boat."),
        Passage(id="c", title="Gamma", text="Gamma grows grapes in a garden."),
    ]
    queries = [
        Query(id="q 1", text="where are apples stored", relevant={"https://x.test/a#1": 1}),
        Query(id="q2", text="bananas and grapes", relevant={"b": 1, "c": 1}),
        Query(id="q3", text="nothing relevant", relevant={"zzz": 1}),  # no such passage
    ]
    return Dataset(
        name="tiny",
        description="three passages",
        passages=passages,
        splits={"test": queries},
        eval_splits=("test",),
    )


def test_dataset_cases_use_safe_sources_and_match_all() -> None:
    cases = dataset_cases(tiny(), "test")
    assert [c.id for c in cases] == ["0000-q-1", "0001-q2"]  # q3 has no gold passage
    assert cases[0].gold_sources[0].source == "tiny/00000"
    assert cases[1].match == "all" and len(cases[1].gold_sources) == 2
    with pytest.raises(UserError, match="no split 'dev'"):
        dataset_cases(tiny(), "dev")


def test_throwaway_workspace_scores_retrieval(tmp_path: Path) -> None:
    dataset = tiny()
    store = open_store(dataset, EMBEDDER, tmp_path / "tiny")
    scorers = [build_scorer(m) for m in ("doc.recall@1", "doc.complete@2", "doc.mrr@10")]
    run = run_eval(
        dataset_cases(dataset, "test"),
        SearchTarget(LexicalRetriever(store)),
        scorers=scorers,
        answers=False,
    )
    values = {c.id: {m: s.value for m, s in c.scores.items()} for c in run.cases}
    assert values["0000-q-1"] == {"doc.recall@1": 1.0, "doc.complete@2": 1.0, "doc.mrr@10": 1.0}
    assert values["0001-q2"]["doc.complete@2"] == 1.0  # both passages in the top 2
    store.close()
    again = open_store(dataset, EMBEDDER, tmp_path / "tiny")  # reused: manifest present
    assert again.stats()["chunks"] == 3
    again.close()
    with pytest.raises(UserError, match="retrieval only"):
        SearchTarget(LexicalRetriever(again)).ask("x")


def test_metric_names_add_the_dataset_headline_metrics() -> None:
    names = metric_names("scifact", ["doc.hit@1"])
    assert names[:5] == [
        "doc.hit@5",
        "doc.recall@5",
        "doc.precision@5",
        "doc.mrr@10",
        "doc.ndcg@10",
    ]
    assert names[5:] == ["doc.recall@100", "doc.hit@1"]


@pytest.mark.parametrize(
    ("name", "passages", "queries"),
    [("anthropic", 232, 100), ("xquad", 240, 1190), ("hotpotqa", 994, 100)],
)
def test_shared_datasets_load(name: str, passages: int, queries: int) -> None:
    if not SHARED.is_dir():
        pytest.skip("shared datasets not available")
    dataset = load_dataset(name, SHARED)
    split = "all" if name == "xquad" else "test"
    assert len(dataset.passages) == passages and len(dataset.splits[split]) == queries
    assert len(dataset_cases(dataset, split)) == queries


def test_unknown_dataset_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown dataset 'imagenet'"):
        load_dataset("imagenet", tmp_path)
    with pytest.raises(UserError, match="missing dataset file"):
        load_dataset("anthropic", tmp_path)


def test_bench_corpora_is_a_re_export() -> None:
    import importlib.util

    from cairn.evals import datasets

    path = Path(__file__).resolve().parents[2] / "bench" / "corpora.py"
    spec = importlib.util.spec_from_file_location("bench_corpora", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.LOADERS is datasets.LOADERS and module.Dataset is datasets.Dataset
