"""Abstention on evidence for a model's answer: does what it cites answer the question?

Post-hoc attribution (`cairn.answer.attribute`) keeps a model's sentence when a passage
supports it; it cannot tell that the supported sentences answer another question. A fluent
answer built from passages about something else ("The kestrel service keeps its ledger in
Redis. [1]" to "What is the kestrel timeout?") is supported sentence by sentence and still
no answer. The evidence check (after attribute, before verify, on the model's path only)
applies the extractive answerer's answerability model (`cairn.answer.features`, calibrated
on training data, `answer.answerable_threshold`) to an answer whose sentences attribution
supported: the passages' units are scored against the question, with the question's specific
terms missing from them, exactly as the extractive answerer judges its own evidence. Below
the threshold, the answer is withheld under the attribution's policy
(`answer.withhold_unsupported`) with the reason and the probability; otherwise the draft goes
on, the probability added to its reason.

Which passages are judged (`answer.evidence_scope`): `given` (the default), every passage
the model was given; `cited`, only those the supported sentences cite (stricter: a fluent
answer citing a passage beside the point is withheld even when another passage answers,
at the price of withholding more correct answers; on the golden set 12 of 73 kept honest
answers against 3 of 73, docs/benchmarks.md). An answer that cites nothing (attribution
off, or every sentence unsupported and withholding off) is left to the verify stage.

    check = AnswerabilityCheck.of(ExtractiveAnswerer(store, embedder, settings.answer))
    draft = check.check(question, draft, hits)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from cairn.answer.base import NOT_FOUND, Draft
from cairn.types import Hit

if TYPE_CHECKING:
    from cairn.answer.extractive import ExtractiveAnswerer


@runtime_checkable
class EvidenceCheck(Protocol):
    """The draft as it stands, or withheld when its evidence does not answer `question`."""

    def check(self, question: str, draft: Draft, hits: list[Hit]) -> Draft: ...


class KeepAnswer:
    """The no-op check: every answer stands (the extractive path judges its own evidence)."""

    def check(self, question: str, draft: Draft, hits: list[Hit]) -> Draft:
        return draft


class AnswerabilityCheck:
    """Withholds a model's answer whose cited passages do not answer the question."""

    def __init__(
        self,
        answerability: Callable[[str, Sequence[Hit]], float],
        threshold: float,
        *,
        withhold: bool = True,
        scope: str = "given",
    ) -> None:
        self.answerability = answerability
        self.threshold = threshold
        self.withhold = withhold
        self.scope = scope

    @classmethod
    def of(
        cls, answerer: ExtractiveAnswerer, *, withhold: bool = True, scope: str = "given"
    ) -> AnswerabilityCheck:
        """The check with `answerer`'s model and threshold."""
        return cls(answerer.answerability, answerer.threshold, withhold=withhold, scope=scope)

    def check(self, question: str, draft: Draft, hits: list[Hit]) -> Draft:
        if draft.abstained or draft.degraded is not None or not draft.citations:
            return draft
        cited = {c.chunk_id for c in draft.citations}
        if not any(h.chunk.id in cited for h in hits):
            return draft  # citations of nothing given: the verify stage reports them
        passages = [h for h in hits if self.scope == "given" or h.chunk.id in cited]
        p = self.answerability(question, passages)
        verdict = f"answerability of the {self.scope} passages {p:.2f}"
        if p >= self.threshold or not self.withhold:
            return replace(draft, reason=f"{draft.reason}; {verdict}" if draft.reason else verdict)
        return Draft(
            text=NOT_FOUND,
            citations=(),
            abstained=True,
            usage=draft.usage,
            reason=(
                f"withheld: the evidence does not answer the question ({verdict}"
                f" < {self.threshold:.2f}; {draft.reason}); answer was "
                f"{draft.text.strip()[:200]!r}"
            ),
        )
