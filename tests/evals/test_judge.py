from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from cairn.budget import Budget, PriceBook
from cairn.config import Settings
from cairn.errors import UserError
from cairn.evals.judge import (
    JUDGE_RUBRIC,
    Grader,
    JudgeScorer,
    ModelJudge,
    OverlapJudge,
    build_grader,
    parse_verdict,
    scripted_judge,
)
from cairn.evals.records import AnswerRecord, CaseOutput
from cairn.llm.scripted import ScriptedModel
from tests.evals.test_scorers import case

REFERENCE = "Use field(default_factory=list) so each instance gets its own list."
JUDGE_REPLY = '{"score": 3, "reason": "misses why"}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"score": 3, "reason": "close"}', (3.0, "close")),
        ('Sure! {"score": 4, "reason": "all there"} Hope this helps.', (4.0, "all there")),
        ("SCORE: 2\nREASON: half of it", (2.0, "SCORE: 2\nREASON: half of it")),
        ('{"score": 9, "reason": "out of range"}', None),
        ("I cannot grade this.", None),
    ],
)
def test_parse_verdict(text: str, expected: tuple[float, str] | None) -> None:
    assert parse_verdict(text) == expected


def test_model_judge_sends_the_rubric_and_reads_the_verdict() -> None:
    model = ScriptedModel('{"score": 3, "reason": "misses why"}')
    judge = ModelJudge(model)
    assert isinstance(judge, Grader)
    score = judge.grade("How?", REFERENCE, "Use default_factory.", ["default_factory"])
    assert score.value == 0.75 and score.explanation == "3/4: misses why"
    assert score.metadata["judge"] == "LLM judge scripted:scripted"
    sent = model.history[-1]
    assert JUDGE_RUBRIC in sent.last_user and REFERENCE in sent.last_user
    assert "KEY POINTS:\n- default_factory" in sent.last_user
    assert sent.settings.temperature == 0.0


def test_model_judge_without_a_score_is_not_a_zero() -> None:
    judge = ModelJudge(ScriptedModel("I would rather not say."))
    score = judge.grade("How?", REFERENCE, "Use default_factory.")
    assert score.value is None and "judge" in score.explanation
    plain = ModelJudge(ScriptedModel("I would rather not say."))
    plain.provider.capabilities = type(plain.provider.capabilities)()  # no structured output
    score = plain.grade("How?", REFERENCE, "Use default_factory.")
    assert score.value is None and "no score" in score.explanation


def test_overlap_judge_and_its_scripted_twin() -> None:
    overlap = OverlapJudge()
    assert overlap.grade("q", REFERENCE, REFERENCE).value == pytest.approx(1.0)
    assert overlap.grade("q", REFERENCE, "Bananas are yellow.").value == 0.0
    scripted = scripted_judge()
    full = scripted.grade("q", REFERENCE, REFERENCE)
    assert full.value == 1.0 and "scripted" in full.explanation
    assert scripted.description.startswith("scripted judge")


def test_judge_scorer_applies_to_answered_cases_with_a_reference() -> None:
    scorer = JudgeScorer(OverlapJudge())
    answered = CaseOutput(answer=AnswerRecord(text=REFERENCE + " [1]", abstained=False))
    abstained = CaseOutput(answer=AnswerRecord(text="I could not find", abstained=True))
    with_reference = case(reference=REFERENCE)
    assert scorer.score(with_reference, answered).value == pytest.approx(1.0)
    assert scorer.score(with_reference, abstained).value == 0.0
    assert scorer.score(case(), answered).value is None  # no reference
    abstain_case = case(id="a", expect="abstain", gold=None, checkpoints=[])
    assert scorer.score(abstain_case, abstained).value is None


def test_build_grader() -> None:
    settings = Settings()
    assert build_grader("none", settings) is None
    assert build_grader("auto", settings) is None  # extractive: no LLM configured
    assert isinstance(build_grader("baseline", settings), OverlapJudge)
    with pytest.raises(UserError, match="needs an LLM"):
        build_grader("provider", settings)
    with pytest.raises(UserError, match="unknown judge"):
        build_grader("oracle", settings)


def test_the_llm_judge_is_metered_as_eval_judge(tmp_path: Path) -> None:
    """With an LLM configured, every judge call reserves in the budget and is recorded
    under its own feature, not `ask`."""

    def openai(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "id": "x",
                "model": "gpt-test",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": JUDGE_REPLY},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 120, "completion_tokens": 12, "total_tokens": 132},
            },
        )

    settings = Settings(
        workspace=tmp_path,
        llm={
            "provider": "openai",
            "model": "gpt-test",
            "base_url": "http://llm.test/v1",
            "api_key": "sk-test",
        },
    )
    budget = Budget(tmp_path / "ledger.db", prices=PriceBook.fixed({"gpt-test": ("1", "2")}))
    try:
        grader = build_grader(
            "provider", settings, budget=budget, transport=httpx.MockTransport(openai)
        )
        assert grader is not None
        score = grader.grade("Why?", REFERENCE, "Use a default factory.")
        assert score.value is not None
        [entry] = budget.ledger.entries()
        assert (entry.feature, entry.model, entry.status) == ("eval-judge", "gpt-test", "settled")
        assert entry.cost_usd > 0
    finally:
        budget.close()
