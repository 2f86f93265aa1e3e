"""Turns of a conversation in the eval runner: cases with `history` are searched by their
standalone query and asked with the earlier questions."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.conversation import TermRewriter
from cairn.evals.cases import CaseError, load_cases, parse_cases
from cairn.evals.runner import run_eval
from cairn.store.sqlite import SQLiteStore
from cairn.testing.evalcorpus import build_store, pipeline
from cairn.types import Answer, Filters, Hit

GOLDEN = Path(__file__).parents[2] / "evals" / "golden"

TURN = {
    "id": "kestrel:2",
    "history": ["How do I change the kestrel timeout?"],
    "question": "and which log are its errors written to?",
    "expect": "answer",
    "gold": {"sources": [{"source": "guide/kestrel.md"}]},
    "checkpoints": ["system log"],
    "tags": ["multi-turn"],
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SQLiteStore:
    return build_store(tmp_path_factory.mktemp("ws") / "cairn.db")


def test_a_follow_up_turn_is_searched_and_answered_with_its_history(store: SQLiteStore) -> None:
    target = pipeline(store)
    target.rewriter = TermRewriter()
    run = run_eval(parse_cases([TURN]), target)
    [result] = run.cases
    assert result.output.error is None
    assert result.output.retrieved[0].source == "guide/kestrel.md"
    assert result.output.answer is not None and "system log" in result.output.answer.text
    assert result.scores["doc.hit@5"].value == 1.0
    assert result.scores["checkpoints"].value == 1.0


def test_without_its_history_the_turn_has_no_subject(store: SQLiteStore) -> None:
    alone = {**TURN, "history": []}
    run = run_eval(parse_cases([alone]), pipeline(store))
    assert run.cases[0].scores["checkpoints"].value < 1.0


def test_a_target_that_cannot_converse_records_an_error() -> None:
    class SearchOnly:
        def search(
            self, query: str, k: int | None = None, filters: Filters | None = None
        ) -> list[Hit]:
            return []

        def ask(
            self, question: str, *, k: int | None = None, filters: Filters | None = None
        ) -> Answer:
            raise AssertionError("not reached")

    run = run_eval(parse_cases([TURN]), SearchOnly())
    assert run.cases[0].output.error == "SearchOnly cannot answer a conversation's turn (history)"


def test_an_empty_history_question_is_refused() -> None:
    with pytest.raises(CaseError, match=r"kestrel:2.*history.*must not be empty"):
        parse_cases([{**TURN, "history": ["  "]}], "turns.yaml")


def test_the_golden_conversations_have_fifteen_follow_ups_with_gold() -> None:
    cases = [c for c in load_cases(GOLDEN) if "multi-turn" in c.tags]
    follow_ups = [c for c in cases if c.history]
    assert len(follow_ups) >= 15
    assert all(c.gold_sources and c.checkpoints for c in cases)
    ids = {c.id for c in cases}
    for case in follow_ups:  # each earlier turn is a case of its own, in order
        conversation, _, turn = case.id.partition(":")
        assert len(case.history) == int(turn) - 1
        assert f"{conversation}:1" in ids
