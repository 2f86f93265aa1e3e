"""Judges: graders that score an answer against a reference, and the scorer that uses them.

A `Grader` has one method, `grade(question, reference, answer, key_points) -> Score`, whose
value is in [0, 1] and whose explanation is the judge's reason. Two kinds ship:

- `ModelJudge(provider)`: an LLM-as-judge over any `cairn.llm.Provider`. The prompt is made
  of named parts (`JUDGE_ROLE`, `JUDGE_RUBRIC`, `JUDGE_FORMAT`) that can be replaced one at
  a time; the model replies `{"score": 0-4, "reason": "..."}` (structured output when the
  provider supports it, else parsed from the text).
- `OverlapJudge()`: deterministic, no model: F1 of the stemmed content words of the answer
  and the reference. A baseline to calibrate real judges against, and the honest fallback
  when no model is configured.

`JudgeScorer` turns a grader into a `Scorer` named `judge` for `cairn eval run --judge`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cairn.errors import UserError
from cairn.evals.cases import Case
from cairn.evals.records import CaseOutput, Score

if TYPE_CHECKING:
    import httpx

    from cairn.budget.base import CostBudget
    from cairn.config import Settings
    from cairn.llm.base import Provider
    from cairn.llm.replies import Request

JUDGE_ROLE = (
    "You grade answers written by a documentation assistant. You are strict, consistent and brief."
)
JUDGE_RUBRIC = """Score the ANSWER to the QUESTION against the REFERENCE answer:
4 = correct and complete: it makes every key point of the reference and contradicts nothing
3 = correct with minor omissions
2 = partly correct: some key points are missing, or there is one error
1 = mostly wrong or off-topic: little of the reference
0 = wrong, contradicts the reference, or does not answer
Judge the content, not the style or the length. Extra correct detail is fine; a claim that
contradicts the reference is an error."""
JUDGE_FORMAT = (
    'Reply with one JSON object only: {"score": <integer 0-4>, "reason": "<one sentence>"}'
)

SCALE = 4
"""The rubric's top score; values are reported as score / SCALE."""

_CITATION = re.compile(r"\[\d+\]")
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_SCORE = re.compile(r"score\W{0,5}([0-4](?:\.\d+)?)", re.IGNORECASE)


@runtime_checkable
class Grader(Protocol):
    """Scores an answer against a reference; value in [0, 1], explanation = the reason."""

    @property
    def description(self) -> str:
        """Which judge this is, for run configs and reports (be specific: model, kind)."""
        ...

    def grade(
        self, question: str, reference: str, answer: str, key_points: Sequence[str] = ()
    ) -> Score: ...


def judge_prompt(question: str, reference: str, answer: str, key_points: Sequence[str] = ()) -> str:
    points = "".join(f"\n- {p}" for p in key_points)
    return (
        f"{JUDGE_RUBRIC}\n\nQUESTION:\n{question}\n\nREFERENCE:\n{reference}\n"
        + (f"\nKEY POINTS:{points}\n" if points else "")
        + f"\nANSWER:\n{answer}\n\n{JUDGE_FORMAT}"
    )


def parse_verdict(text: str, parsed: Any = None) -> tuple[float, str] | None:
    """`(score 0-4, reason)` from a structured reply or from text; None if there is none."""
    data = parsed
    if not isinstance(data, dict):
        match = _JSON_OBJECT.search(text)
        if match:
            try:
                data = json.loads(match.group(0))
            except json.JSONDecodeError:
                data = None
    if isinstance(data, dict) and isinstance(data.get("score"), int | float):
        score = float(data["score"])
        if 0 <= score <= SCALE:
            return score, str(data.get("reason", "")).strip()
    found = _SCORE.search(text)
    if found:
        return float(found.group(1)), text.strip()
    return None


class ModelJudge:
    """LLM-as-judge over a `cairn.llm` provider, with the rubric prompt above."""

    def __init__(self, provider: Provider, *, kind: str = "model") -> None:
        self.provider = provider
        self.kind = kind

    @property
    def description(self) -> str:
        if self.kind == "scripted":
            return "scripted judge (ScriptedModel answering with the overlap rule, no model)"
        return f"LLM judge {self.provider.name}:{self.provider.model}"

    def grade(
        self, question: str, reference: str, answer: str, key_points: Sequence[str] = ()
    ) -> Score:
        from cairn.llm.base import JsonSchema, Message, ModelSettings

        schema = JsonSchema(
            name="verdict",
            schema={
                "type": "object",
                "properties": {
                    "score": {"type": "integer", "minimum": 0, "maximum": SCALE},
                    "reason": {"type": "string"},
                },
                "required": ["score", "reason"],
                "additionalProperties": False,
            },
        )
        settings = ModelSettings(
            temperature=0.0,
            max_tokens=200,
            json_schema=schema if self.provider.capabilities.json_schema else None,
        )
        messages = [
            Message.system(JUDGE_ROLE),
            Message.user(judge_prompt(question, reference, answer, key_points)),
        ]
        from cairn.llm.errors import LLMError

        try:
            response = self.provider.generate(messages, settings=settings)
        except LLMError as exc:
            return Score(
                value=None,
                explanation=f"judge request failed: {exc}",
                metadata={"judge": self.description},
            )
        verdict = parse_verdict(response.text, response.parsed)
        if verdict is None:
            return Score(
                value=None,
                explanation=f"judge reply had no score: {response.text[:120]!r}",
                metadata={"judge": self.description},
            )
        score, reason = verdict
        return Score(
            value=score / SCALE,
            explanation=f"{score:g}/{SCALE}: {reason}",
            metadata={"judge": self.description, "score": score},
        )


@dataclass(frozen=True)
class OverlapJudge:
    """Deterministic baseline: F1 of stemmed content words, answer vs reference."""

    description: str = "deterministic overlap judge (content-word F1, no model)"

    def grade(
        self, question: str, reference: str, answer: str, key_points: Sequence[str] = ()
    ) -> Score:
        f1, precision, recall = overlap_f1(reference, answer)
        return Score(
            value=f1,
            explanation=(
                f"content-word F1 {f1:.2f} (precision {precision:.2f}, recall {recall:.2f}) "
                "against the reference"
            ),
            metadata={"judge": self.description},
        )


def overlap_f1(reference: str, answer: str) -> tuple[float, float, float]:
    from cairn.answer.terms import content_terms

    answer = _CITATION.sub(" ", answer)
    ref, ans = set(content_terms(reference)), set(content_terms(answer))
    shared = len(ref & ans)
    if not ref or not ans or not shared:
        return 0.0, 0.0, 0.0
    precision, recall = shared / len(ans), shared / len(ref)
    return 2 * precision * recall / (precision + recall), precision, recall


def overlap_rule(request: Request) -> str | None:
    """A `ScriptedModel` rule answering judge prompts with the overlap score, as JSON.

    It lets the full judge path (prompt, provider, parsing) run without a language model;
    its scores are the overlap baseline rounded to the rubric, not a model's judgement.
    """
    text = request.last_user
    if "REFERENCE:" not in text or "ANSWER:" not in text:
        return None
    reference = text.split("REFERENCE:", 1)[1].split("\n\n", 1)[0]
    answer = text.split("ANSWER:", 1)[1].rsplit(JUDGE_FORMAT, 1)[0]
    f1, _, recall = overlap_f1(reference, answer)
    score = round(f1 * SCALE)
    reason = f"scripted: content-word F1 {f1:.2f}, recall {recall:.2f}"
    return json.dumps({"score": score, "reason": reason})


def scripted_judge() -> ModelJudge:
    from cairn.llm.scripted import ScriptedModel

    return ModelJudge(ScriptedModel(rules=[overlap_rule], name="scripted"), kind="scripted")


class JudgeScorer:
    """The `judge` score: a grader's verdict on answered cases that have a reference."""

    name = "judge"

    def __init__(self, grader: Grader) -> None:
        self.grader = grader

    @property
    def description(self) -> str:
        return self.grader.description

    def score(self, case: Case, output: CaseOutput) -> Score:
        answer = output.answer
        if case.expect != "answer" or not case.reference:
            return Score(value=None, explanation="not applicable: no reference answer")
        if answer is None or answer.abstained:
            return Score(value=0.0, explanation="no answer to judge (abstained)")
        return self.grader.grade(case.question, case.reference, answer.text, case.checkpoints)


JUDGE_FEATURE = "eval-judge"
"""The feature the judge's model calls are recorded under in the cost ledger."""


def build_grader(
    kind: str,
    settings: Settings | None = None,
    *,
    budget: CostBudget | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Grader | None:
    """`none`, `baseline` (overlap), `scripted`, `auto` / `provider` (the configured LLM).

    The LLM judge is metered like every model call: its reservations go to `budget` (the
    workspace's, `<workspace>/ledger.db`, when not given) as feature `eval-judge`.
    `transport` is handed to the model's HTTP adapter (tests pass a mock)."""
    if kind == "none":
        return None
    if kind == "baseline":
        return OverlapJudge()
    if kind == "scripted":
        return scripted_judge()
    if kind in ("auto", "provider"):
        from cairn.llm.routing import resolve_routes

        provider = None
        if settings is not None and resolve_routes(settings.llm, "judge"):
            from cairn.budget.base import open_budget
            from cairn.budget.providers import metered_provider

            provider = metered_provider(
                settings.llm,
                "judge",
                budget if budget is not None else open_budget(settings),
                feature=JUDGE_FEATURE,
                transport=transport,
            )
        if provider is None:
            if kind == "auto":
                return None
            raise UserError(
                "--judge provider needs an LLM: set CAIRN_LLM_PROVIDER and CAIRN_LLM_MODEL "
                "(or use --judge baseline / scripted)"
            )
        return ModelJudge(provider)
    raise UserError(f"unknown judge {kind!r}: use none, auto, provider, scripted or baseline")


def judge_scorer(
    kind: str, settings: Settings | None = None, *, budget: CostBudget | None = None
) -> JudgeScorer | None:
    """The judge as a scorer; its model calls spend against `budget` (the workspace's)."""
    grader = build_grader(kind, settings, budget=budget)
    return JudgeScorer(grader) if grader is not None else None
