"""What an evaluation run records: per-case outputs, scores with explanations, aggregates.

A run is one JSON file (`RunRecord`), written by `cairn eval run` and read back by
`compare`, `gate`, `baseline` and the reports. Scores can be recomputed from the recorded
outputs, so a run is evidence, not only a number.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

RUN_FORMAT = "cairn.eval.run/1"


class Score(BaseModel):
    """One scorer's judgement of one case: a value (None = not applicable) and why."""

    value: float | None
    explanation: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class RetrievedChunk(BaseModel):
    rank: int
    chunk_id: str
    source: str
    anchor: str | None = None
    section: str = ""
    score: float = 0.0


class CitedChunk(BaseModel):
    n: int
    chunk_id: str
    source: str
    anchor: str | None = None
    section: str = ""
    quote: str = ""
    verified: bool | None = None
    support: float | None = None


class AnswerRecord(BaseModel):
    text: str
    abstained: bool
    citations: list[CitedChunk] = Field(default_factory=list)
    read: list[RetrievedChunk] = Field(default_factory=list)
    """The chunks the answerer was given (the answer's own retrieval)."""
    cited_texts: dict[int, str] = Field(default_factory=dict)
    """Text of each cited chunk by citation number, for groundedness and judges."""
    latency_ms: float = 0.0


class CaseOutput(BaseModel):
    """What the system produced for one case in one epoch."""

    retrieved: list[RetrievedChunk] = Field(default_factory=list)
    search_k: int = 10
    answer: AnswerRecord | None = None
    error: str | None = None


class Failure(BaseModel):
    category: str
    explanation: str


class CaseResult(BaseModel):
    id: str
    question: str
    expect: Literal["answer", "abstain", "refuse"]
    tags: list[str] = Field(default_factory=list)
    file: str = ""
    reference: str = ""
    gold: list[str] = Field(default_factory=list)
    """Gold sources as `source` or `source#anchor`."""
    output: CaseOutput
    """The first epoch's output (for the drill-down)."""
    scores: dict[str, Score]
    """Reduced over epochs: the value is the mean; the explanation is the first epoch's."""
    epoch_values: dict[str, list[float | None]] = Field(default_factory=dict)
    failure: Failure | None = None

    @property
    def passed(self) -> bool:
        value = self.scores.get("pass")
        return value is not None and value.value == 1.0


class MetricSummary(BaseModel):
    """The mean of a metric over cases with its bootstrap confidence interval."""

    mean: float
    low: float
    high: float
    n: int


class RunRecord(BaseModel):
    format: str = RUN_FORMAT
    id: str
    created: str
    config: dict[str, Any]
    cases: list[CaseResult]
    aggregates: dict[str, MetricSummary]
    by_tag: dict[str, dict[str, MetricSummary]] = Field(default_factory=dict)
    failures: dict[str, list[str]] = Field(default_factory=dict)
    """Failure category -> ids of the cases that failed that way."""

    def metric_names(self) -> list[str]:
        return list(self.aggregates)

    def values(self, metric: str) -> dict[str, float]:
        """Case id -> value, for cases where the metric applies."""
        out: dict[str, float] = {}
        for case in self.cases:
            score = case.scores.get(metric)
            if score is not None and score.value is not None:
                out[case.id] = score.value
        return out
