"""One evaluation run, as the CLI and the server both run it (`cairn.evals.runs`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cairn.context import current_request
from cairn.errors import UserError
from cairn.evals.gate import load_run
from cairn.evals.runs import evaluate, save_run, select_cases
from cairn.evals.scorers import default_scorers
from cairn.pipeline import Pipeline
from cairn.testing.evalcorpus import build_store, case_dicts, pipeline
from cairn.types import Answer, Filters, Hit


def _cases_file(tmp_path: Path, drafts: int = 0) -> Path:
    cases = case_dicts()[:4]
    for case in cases[:drafts]:
        case["tags"] = [*case.get("tags", []), "draft"]  # type: ignore[list-item]
    path = tmp_path / "cases.yaml"
    path.write_text(yaml.safe_dump(cases), encoding="utf-8")
    return path


def test_drafts_are_left_out_and_counted(tmp_path: Path) -> None:
    path = _cases_file(tmp_path, drafts=1)
    cases, drafts = select_cases(path)
    assert (len(cases), drafts) == (3, 1)
    cases, drafts = select_cases(path, include_drafts=True)
    assert (len(cases), drafts) == (4, 0)


def test_an_empty_selection_says_what_to_check(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="check the tags"):
        select_cases(_cases_file(tmp_path), tags=["no-such-tag"])


class _Recording:
    """The pipeline as a target, noting the feature each call ran under."""

    def __init__(self, inner: Pipeline) -> None:
        self.inner = inner
        self.features: set[str] = set()

    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        self.features.add(current_request().feature)
        return self.inner.search(query, k, filters)

    def ask(self, question: str, *, k: int | None = None, filters: Filters | None = None) -> Answer:
        self.features.add(current_request().feature)
        return self.inner.ask(question, k=k, filters=filters)


def test_a_run_is_recorded_as_eval_spend_and_saved_whole(tmp_path: Path) -> None:
    cases, _ = select_cases(_cases_file(tmp_path))
    target = _Recording(pipeline(build_store(tmp_path / "cairn.db")))
    run = evaluate(cases, target, scorers=default_scorers(), config={"source": "test"})
    assert target.features == {"eval"}
    path = tmp_path / "runs" / "run.json"
    save_run(run, path)
    assert load_run(path).id == run.id
    assert [p.name for p in path.parent.iterdir()] == ["run.json"]
