"""Running cases through a pipeline in-process and recording what happened.

For each case and epoch: `search(question, k)` for the retrieval metrics, then (unless the
run is retrieval-only) `ask(question, k=answer_k)` for the answer metrics; every scorer
scores the output. A turn of a conversation (a case with `history`) is searched by its
standalone query (`ConversationTarget.standalone`) and asked with the earlier questions.
Epochs are reduced per case by the mean, then every metric is aggregated over cases with a
bootstrap interval, overall and per tag.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from cairn.conversation import Turn
from cairn.errors import CairnError
from cairn.evals.cases import Case
from cairn.evals.failures import classify
from cairn.evals.records import (
    AnswerRecord,
    CaseOutput,
    CaseResult,
    CitedChunk,
    Failure,
    MetricSummary,
    RetrievedChunk,
    RunRecord,
    Score,
)
from cairn.evals.scorers import Scorer, default_scorers
from cairn.evals.stats import bootstrap_ci
from cairn.types import Answer, Filters, Hit

DEFAULT_SEARCH_K = 10
"""Retrieval depth for the ranking metrics when `--k` is not given."""


class Target(Protocol):
    """What the runner needs: `cairn.pipeline.Pipeline` has exactly this shape."""

    def search(
        self, query: str, k: int | None = None, filters: Filters | None = None
    ) -> list[Hit]: ...

    def ask(
        self, question: str, *, k: int | None = None, filters: Filters | None = None
    ) -> Answer: ...


@runtime_checkable
class ConversationTarget(Target, Protocol):
    """A target that can answer a turn of a conversation (a case with `history`)."""

    def standalone(self, question: str, history: Sequence[Turn]) -> str: ...

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Filters | None = None,
        history: Sequence[Turn] = (),
    ) -> Answer: ...


Progress = Callable[[int, int, Case], None]


def retrieved(hits: Sequence[Hit]) -> list[RetrievedChunk]:
    return [
        RetrievedChunk(
            rank=rank,
            chunk_id=h.chunk.id,
            source=h.chunk.source,
            anchor=h.chunk.anchor,
            section=h.chunk.section_path,
            score=round(h.score, 6),
        )
        for rank, h in enumerate(hits, start=1)
    ]


def answer_record(answer: Answer) -> AnswerRecord:
    chunks = {h.chunk.id: h.chunk for h in answer.hits}
    citations = []
    texts: dict[int, str] = {}
    for c in answer.citations:
        chunk = chunks.get(c.chunk_id)
        anchor = chunk.anchor if chunk else (c.uri.partition("#")[2] or None)
        citations.append(
            CitedChunk(
                n=c.n,
                chunk_id=c.chunk_id,
                source=c.source,
                anchor=anchor,
                section=c.section,
                quote=c.quote,
                verified=c.verified,
                support=c.support,
            )
        )
        if chunk is not None:
            texts[c.n] = chunk.text
    return AnswerRecord(
        text=answer.text,
        abstained=answer.abstained,
        citations=citations,
        read=retrieved(answer.hits),
        cited_texts=texts,
        latency_ms=round(answer.latency_ms, 2),
    )


def run_case(
    case: Case, target: Target, *, search_k: int, answer_k: int | None, answers: bool
) -> CaseOutput:
    """One epoch of one case; a `CairnError` is recorded, not raised."""
    output = CaseOutput(search_k=search_k)
    try:
        if case.history:
            return _run_turn(case, target, output, answer_k=answer_k, answers=answers)
        output.retrieved = retrieved(target.search(case.question, search_k))
        if answers:
            output.answer = answer_record(target.ask(case.question, k=answer_k))
    except CairnError as exc:
        output.error = f"{type(exc).__name__}: {exc}"
    return output


def _run_turn(
    case: Case, target: Target, output: CaseOutput, *, answer_k: int | None, answers: bool
) -> CaseOutput:
    """A turn of a conversation: retrieval ranks the standalone query, and the answer is
    asked with the earlier questions as history (user turns only: no answer is replayed)."""
    if not isinstance(target, ConversationTarget):
        output.error = f"{type(target).__name__} cannot answer a conversation's turn (history)"
        return output
    history = [Turn.user(q) for q in case.history]
    query = target.standalone(case.question, history)
    output.retrieved = retrieved(target.search(query, output.search_k))
    if answers:
        output.answer = answer_record(target.ask(case.question, k=answer_k, history=history))
    return output


def score_case(case: Case, outputs: Sequence[CaseOutput], scorers: Sequence[Scorer]) -> CaseResult:
    """Score every epoch's output and reduce each metric by the mean over epochs."""
    scores: dict[str, Score] = {}
    epoch_values: dict[str, list[float | None]] = {}
    for scorer in scorers:
        per_epoch = [scorer.score(case, output) for output in outputs]
        values = [s.value for s in per_epoch]
        present = [v for v in values if v is not None]
        first = per_epoch[0]
        if len(outputs) > 1 and present:
            mean = sum(present) / len(present)
            varied = len(set(present)) > 1
            note = (
                f" [mean of {len(present)} epochs: {', '.join(f'{v:.2f}' for v in present)}]"
                if varied
                else f" [same in all {len(present)} epochs]"
            )
            scores[scorer.name] = Score(
                value=mean, explanation=first.explanation + note, metadata=first.metadata
            )
        else:
            scores[scorer.name] = first
        epoch_values[scorer.name] = values
    failure: Failure | None = classify(case, outputs[0])
    return CaseResult(
        id=case.id,
        question=case.question,
        expect=case.expect,
        tags=list(case.tags),
        file=case.file,
        reference=case.reference,
        gold=[g.key for g in case.gold_sources],
        output=outputs[0],
        scores=scores,
        epoch_values=epoch_values,
        failure=failure,
    )


def summarize(
    values: Sequence[float], *, resamples: int, seed: int, confidence: float = 0.95
) -> MetricSummary:
    ci = bootstrap_ci(values, resamples=resamples, seed=seed, confidence=confidence)
    return MetricSummary(mean=ci.mean, low=ci.low, high=ci.high, n=ci.n)


def aggregate(
    results: Sequence[CaseResult], metrics: Sequence[str], *, resamples: int, seed: int
) -> dict[str, MetricSummary]:
    out: dict[str, MetricSummary] = {}
    for name in metrics:
        values = [
            s.value
            for r in results
            if (s := r.scores.get(name)) is not None and s.value is not None
        ]
        if values:
            out[name] = summarize(values, resamples=resamples, seed=seed)
    return out


def build_record(
    results: list[CaseResult],
    metrics: Sequence[str],
    config: dict[str, Any],
    *,
    resamples: int = 2000,
    seed: int = 0,
    run_id: str | None = None,
) -> RunRecord:
    by_tag: dict[str, dict[str, MetricSummary]] = {}
    for tag in sorted({t for r in results for t in r.tags}):
        tagged = [r for r in results if tag in r.tags]
        by_tag[tag] = aggregate(tagged, metrics, resamples=resamples, seed=seed)
    failures: dict[str, list[str]] = {}
    for r in results:
        if r.failure is not None:
            failures.setdefault(r.failure.category, []).append(r.id)
    created = datetime.now(UTC)
    return RunRecord(
        id=run_id or f"{created:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}",
        created=created.isoformat(timespec="seconds"),
        config={**config, "resamples": resamples, "seed": seed},
        cases=results,
        aggregates=aggregate(results, metrics, resamples=resamples, seed=seed),
        by_tag=by_tag,
        failures=failures,
    )


def run_eval(
    cases: Sequence[Case],
    target: Target,
    *,
    scorers: Sequence[Scorer] | None = None,
    epochs: int = 1,
    k: int | None = None,
    answers: bool = True,
    config: dict[str, Any] | None = None,
    resamples: int = 2000,
    seed: int = 0,
    progress: Progress | None = None,
) -> RunRecord:
    """Run `cases` through `target` `epochs` times and return the scored run.

    `k` sets both the retrieval depth of the ranking metrics (default 10) and the number
    of chunks the answerer reads (default: the pipeline's own `k`).
    """
    if epochs < 1:
        raise ValueError("epochs must be at least 1")
    scorers = list(scorers) if scorers is not None else default_scorers(answers=answers)
    search_k = k or DEFAULT_SEARCH_K
    results = []
    for index, case in enumerate(cases, start=1):
        if progress:
            progress(index, len(cases), case)
        outputs = [
            run_case(case, target, search_k=search_k, answer_k=k, answers=answers)
            for _ in range(epochs)
        ]
        results.append(score_case(case, outputs, scorers))
    full_config = {
        **(config or {}),
        "k": k,
        "search_k": search_k,
        "epochs": epochs,
        "answers": answers,
        "scorers": [s.name for s in scorers],
        "cases": len(cases),
    }
    return build_record(
        results, [s.name for s in scorers], full_config, resamples=resamples, seed=seed
    )
