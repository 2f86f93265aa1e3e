"""Scorers: one method, `score(case, output) -> Score`, and a value that carries its reason.

Deterministic scorers are the default; they need no model and give the same score every
time. A judge (`cairn.evals.judge.JudgeScorer`) is added when a provider is configured.
Scorers are built by name (`build_scorer("doc.recall@5")`), so run files and the gate's
config can name them.

- `{doc|section}.{hit|recall|precision|mrr|ndcg|complete}@k` (answer cases): ranking
  metrics over the retrieved chunks (metrics.py);
- `checkpoints` (answer cases): share of checkpoints found in the answer;
- `citation_precision` (answered): share of citations verified against their chunk;
- `citation_precision_gold` (answered): share of citations pointing into a gold source;
- `citation_recall` (answer cases): share of gold sources cited (`match: any`: 1 if one is;
  an abstention cites none);
- `groundedness` (answered): share of answer sentences supported by a cited chunk;
- `abstention_accuracy` (every case): 1 when it answered / abstained / refused as expected;
- `false_abstention` (answer cases, lower is better): 1 when it abstained;
- `pass` (every case): 1 when the case passed (failures.py says why not).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cairn.errors import UserError
from cairn.evals.cases import Case
from cairn.evals.failures import classify, complied
from cairn.evals.metrics import (
    RETRIEVAL_METRICS,
    Level,
    checkpoint_hits,
    grounded_sentences,
    relevance_keys,
)
from cairn.evals.records import CaseOutput, Score

LOWER_IS_BETTER: frozenset[str] = frozenset({"false_abstention"})


@runtime_checkable
class Scorer(Protocol):
    """Scores one case's output. `name` keys the score in runs, reports and the gate."""

    @property
    def name(self) -> str: ...

    def score(self, case: Case, output: CaseOutput) -> Score: ...


def _na(why: str) -> Score:
    return Score(value=None, explanation=f"not applicable: {why}")


@dataclass(frozen=True)
class RetrievalScorer:
    """A ranking metric over the retrieved chunks, by document or by section."""

    metric: str
    k: int
    level: Level = "doc"

    @property
    def name(self) -> str:
        return f"{self.level}.{self.metric}@{self.k}"

    def score(self, case: Case, output: CaseOutput) -> Score:
        if case.expect != "answer" or not case.gold_sources:
            return _na(f"expect={case.expect} has no gold sources")
        if output.error is not None:
            return Score(value=0.0, explanation=f"error: {output.error}")
        items = [(r.source, r.anchor) for r in output.retrieved]
        keys, relevant = relevance_keys(
            items, case.gold_sources, level=self.level, match=case.match
        )
        value = RETRIEVAL_METRICS[self.metric](keys, relevant, self.k)
        ranks = [i for i, key in enumerate(keys[: self.k], start=1) if key is not None]
        where = f"gold at rank(s) {ranks}" if ranks else f"no gold in the top {self.k}"
        return Score(
            value=value,
            explanation=f"{where} ({case.match} of {len(case.gold_sources)} gold, {self.level})",
            metadata={"gold_ranks": ranks},
        )


class CheckpointScorer:
    name = "checkpoints"

    def score(self, case: Case, output: CaseOutput) -> Score:
        if case.expect != "answer" or not case.checkpoints:
            return _na("no checkpoints")
        answer = output.answer
        text = "" if answer is None or answer.abstained else answer.text
        hits = checkpoint_hits(text, case.checkpoints)
        marks = {c: h for c, h in zip(case.checkpoints, hits, strict=True)}
        missed = [c for c, h in marks.items() if not h]
        explanation = f"{sum(hits)}/{len(hits)} checkpoints found" + (
            f"; missed: {', '.join(missed)}" if missed else ""
        )
        if not text:
            explanation += " (no answer)"
        return Score(
            value=sum(hits) / len(hits), explanation=explanation, metadata={"checkpoints": marks}
        )


class CitationPrecisionScorer:
    """Share of citations whose chunk supports the sentence (the verifier's `verified`)."""

    name = "citation_precision"

    def score(self, case: Case, output: CaseOutput) -> Score:
        answer = output.answer
        if case.expect != "answer" or answer is None or answer.abstained:
            return _na("no answer to check")
        if not answer.citations:
            return Score(value=0.0, explanation="the answer cites nothing")
        ok = [c.n for c in answer.citations if c.verified]
        bad = [c.n for c in answer.citations if not c.verified]
        return Score(
            value=len(ok) / len(answer.citations),
            explanation=f"{len(ok)}/{len(answer.citations)} citations verified"
            + (f"; unverified: {bad}" if bad else ""),
        )


class GoldCitationPrecisionScorer:
    """Stricter: share of citations that point into a gold source."""

    name = "citation_precision_gold"

    def score(self, case: Case, output: CaseOutput) -> Score:
        answer = output.answer
        if case.expect != "answer" or answer is None or answer.abstained:
            return _na("no answer to check")
        if not answer.citations:
            return Score(value=0.0, explanation="the answer cites nothing")
        gold = {g.source for g in case.gold_sources}
        off = sorted({c.source for c in answer.citations if c.source not in gold})
        good = sum(1 for c in answer.citations if c.source in gold)
        return Score(
            value=good / len(answer.citations),
            explanation=f"{good}/{len(answer.citations)} citations into gold sources"
            + (f"; others: {', '.join(off)}" if off else ""),
        )


class CitationRecallScorer:
    """Gold sources cited; an abstention on an answerable case cites none (0)."""

    name = "citation_recall"

    def score(self, case: Case, output: CaseOutput) -> Score:
        answer = output.answer
        if case.expect != "answer" or answer is None:
            return _na("no answer to check")
        if answer.abstained:
            return Score(value=0.0, explanation="abstained: cites no gold source")
        gold = sorted({g.source for g in case.gold_sources})
        cited = {c.source for c in answer.citations}
        found = [g for g in gold if g in cited]
        value = (1.0 if found else 0.0) if case.match == "any" else len(found) / len(gold)
        return Score(
            value=value,
            explanation=f"cites {len(found)} of {len(gold)} gold source(s) (match {case.match})"
            + (f"; not cited: {', '.join(g for g in gold if g not in cited)}" if value < 1 else ""),
        )


class GroundednessScorer:
    name = "groundedness"

    def score(self, case: Case, output: CaseOutput) -> Score:
        answer = output.answer
        if answer is None or answer.abstained:
            return _na("no answer to check")
        claims = grounded_sentences(answer.text, answer.cited_texts)
        if not claims:
            return Score(value=0.0, explanation="no sentences found in the answer")
        bad = [s for s, _, ok in claims if not ok]
        explanation = f"{len(claims) - len(bad)}/{len(claims)} sentences supported"
        if bad:
            explanation += f"; e.g. unsupported: {' '.join(bad[0].split())[:100]!r}"
        return Score(value=(len(claims) - len(bad)) / len(claims), explanation=explanation)


class AbstentionScorer:
    """1 when the behaviour matches `expect`: answered, abstained, or did not comply."""

    name = "abstention_accuracy"

    def score(self, case: Case, output: CaseOutput) -> Score:
        answer = output.answer
        if answer is None:
            return _na("no answer (retrieval-only run)")
        if case.expect == "answer":
            ok = not answer.abstained
            return Score(
                value=float(ok), explanation="answered" if ok else "abstained on an answerable case"
            )
        if case.expect == "abstain":
            return Score(
                value=float(answer.abstained),
                explanation="abstained as expected"
                if answer.abstained
                else "answered; expected an abstention",
            )
        did, why = complied(output)
        return Score(value=float(not did), explanation=("complied: " if did else "refused: ") + why)


class FalseAbstentionScorer:
    """1 when it abstained on an answerable case (lower is better)."""

    name = "false_abstention"

    def score(self, case: Case, output: CaseOutput) -> Score:
        if case.expect != "answer" or output.answer is None:
            return _na("not an answerable case")
        abstained = output.answer.abstained
        return Score(
            value=float(abstained),
            explanation="abstained on an answerable case" if abstained else "answered",
        )


class PassScorer:
    """1 when the case passed; the explanation is the failure's category and cause."""

    name = "pass"

    def score(self, case: Case, output: CaseOutput) -> Score:
        failure = classify(case, output)
        if failure is None:
            return Score(value=1.0, explanation="passed")
        return Score(
            value=0.0,
            explanation=f"{failure.category}: {failure.explanation}",
            metadata={"category": failure.category},
        )


ANSWER_SCORERS: dict[str, Callable[[], Scorer]] = {
    "checkpoints": CheckpointScorer,
    "citation_precision": CitationPrecisionScorer,
    "citation_precision_gold": GoldCitationPrecisionScorer,
    "citation_recall": CitationRecallScorer,
    "groundedness": GroundednessScorer,
    "abstention_accuracy": AbstentionScorer,
    "false_abstention": FalseAbstentionScorer,
    "pass": PassScorer,
}
"""Named answer scorers; retrieval scorers are named `{doc|section}.{metric}@{k}`."""

RETRIEVAL_DEFAULTS: tuple[str, ...] = ("hit@5", "recall@5", "precision@5", "mrr@10", "ndcg@10")

_RETRIEVAL_NAME = re.compile(r"^(doc|section)\.(hit|recall|precision|mrr|ndcg|complete)@(\d+)$")


def build_scorer(name: str) -> Scorer:
    """The scorer called `name`; a `UserError` lists the valid names otherwise."""
    match = _RETRIEVAL_NAME.match(name)
    if match:
        level: Level = "doc" if match.group(1) == "doc" else "section"
        return RetrievalScorer(match.group(2), int(match.group(3)), level)
    if name in ANSWER_SCORERS:
        return ANSWER_SCORERS[name]()
    raise UserError(
        f"unknown scorer {name!r}: use {{doc|section}}.{{{'|'.join(RETRIEVAL_METRICS)}}}@K "
        f"or one of {', '.join(ANSWER_SCORERS)}"
    )


def retrieval_scorers(levels: tuple[Level, ...] = ("doc", "section")) -> list[Scorer]:
    return [build_scorer(f"{level}.{m}") for level in levels for m in RETRIEVAL_DEFAULTS]


def default_scorers(*, answers: bool = True) -> list[Scorer]:
    """Every retrieval metric by document and section, plus the answer scorers."""
    scorers = retrieval_scorers()
    if answers:
        scorers += [factory() for factory in ANSWER_SCORERS.values()]
    else:
        scorers.append(PassScorer())
    return scorers
