"""The JSON payloads cairn prints and serves, as pydantic models: one definition each.

`cairn ask --json`, `/v1/ask` (and its SSE `done` event), the batch lines of `cairn ask
--batch` and the `cairn` extension of `/v1/chat/completions` are `AnswerOut`; `cairn search
--json` and `/v1/search` are `SearchOut`. The API declares these models as its response
models, so `/openapi.json` describes exactly what is sent.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from cairn.types import Answer, Citation, Degraded, Hit, Risk, Route, Usage


class RiskOut(BaseModel):
    """How likely a chunk carries a prompt injection (docs/guard.md): `score` in [0, 1]
    (0.5 at the detector's threshold), `flagged`, and the `reasons` (rules, `model:injection`,
    evasions). Null when the chunk was never scanned (`guard.ingest` and `guard.context`
    off)."""

    score: float
    flagged: bool
    reasons: list[str]

    @classmethod
    def of(cls, risk: Risk | None) -> RiskOut | None:
        if risk is None:
            return None
        return cls(score=risk.score, flagged=risk.flagged, reasons=list(risk.reasons))


class CitationOut(BaseModel):
    n: int
    chunk_id: str
    source: str
    uri: str
    section: str
    quote: str
    verified: bool | None
    support: float | None
    risk: RiskOut | None = None

    @classmethod
    def of(cls, c: Citation) -> CitationOut:
        return cls(
            n=c.n,
            chunk_id=c.chunk_id,
            source=c.source,
            uri=c.uri,
            section=c.section,
            quote=c.quote,
            verified=c.verified,
            support=c.support,
            risk=RiskOut.of(c.risk),
        )


class UsageOut(BaseModel):
    input_tokens: int
    output_tokens: int
    estimated: bool

    @classmethod
    def of(cls, usage: Usage) -> UsageOut:
        return cls(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            estimated=usage.estimated,
        )


class DegradedOut(BaseModel):
    """Why the model did not write this answer (degraded mode, `answer.fallback`)."""

    reason: str
    """`unavailable`, `circuit_open`, `budget_exhausted` or `rate_limited`."""
    detail: str
    retry_after_s: float | None = None
    """Seconds after which the model may serve again, where known."""

    @classmethod
    def of(cls, d: Degraded) -> DegradedOut:
        return cls(reason=d.reason, detail=d.detail, retry_after_s=d.retry_after)


class GuardOut(BaseModel):
    """What each guard stage decided: `off`, `pass`, `flagged` or `blocked`."""

    input: str = "off"
    context: str = "off"
    output: str = "off"


class RouteOut(BaseModel):
    """The router's decision (`router.mode = "difficulty"`): which route answered and why."""

    route: str
    """`extractive` (no model call), `cheap` or `strong`."""
    reason: str
    signals: dict[str, float]
    """What the decision read: best fused score, best dense similarity, near-top sources..."""

    @classmethod
    def of(cls, r: Route) -> RouteOut:
        return cls(route=r.route, reason=r.reason, signals=dict(r.signals))


class AnswerOut(BaseModel):
    answer: str
    """The text, with `[n]` markers matching `citations[].n`."""
    abstained: bool
    citations: list[CitationOut]
    usage: UsageOut
    cost_usd: float
    latency_ms: float
    trace_id: str
    cached: bool = False
    degraded: DegradedOut | None = None
    """Set when the model could not serve and the extractive answerer answered instead."""
    refused: bool = False
    """A guard blocked the request (then `abstained` too, and `reason` says which)."""
    reason: str | None = None
    """The reason code of a guard that blocked or flagged, e.g. `input:rule:ignore-instructions`."""
    guard: GuardOut = GuardOut()
    route: RouteOut | None = None
    """The router's decision; absent without a router."""

    @classmethod
    def of(cls, answer: Answer) -> AnswerOut:
        return cls(
            answer=answer.text,
            abstained=answer.abstained,
            citations=[CitationOut.of(c) for c in answer.citations],
            usage=UsageOut.of(answer.usage),
            cost_usd=answer.cost_usd,
            latency_ms=round(answer.latency_ms, 2),
            trace_id=answer.trace_id,
            cached=answer.cached,
            degraded=DegradedOut.of(answer.degraded) if answer.degraded else None,
            refused=answer.guard.refused,
            reason=answer.guard.reason or None,
            guard=GuardOut(
                input=answer.guard.input, context=answer.guard.context, output=answer.guard.output
            ),
            route=RouteOut.of(answer.route) if answer.route else None,
        )


class SearchResultOut(BaseModel):
    rank: int
    chunk_id: str
    doc_id: str
    source: str
    """The path relative to the ingest root."""
    uri: str
    title: str
    section: str
    score: float
    text: str
    risk: RiskOut | None = None

    @classmethod
    def of(cls, rank: int, hit: Hit) -> SearchResultOut:
        c = hit.chunk
        return cls(
            rank=rank,
            chunk_id=c.id,
            doc_id=c.doc_id,
            source=c.source,
            uri=c.anchored_uri,
            title=c.title,
            section=c.section_path,
            score=round(hit.score, 6),
            text=c.text,
            risk=RiskOut.of(hit.risk),
        )


class SearchOut(BaseModel):
    query: str
    results: list[SearchResultOut]

    @classmethod
    def of(cls, query: str, hits: list[Hit]) -> SearchOut:
        return cls(
            query=query,
            results=[SearchResultOut.of(rank, h) for rank, h in enumerate(hits, start=1)],
        )


def answer_json(answer: Answer) -> dict[str, Any]:
    """`AnswerOut` of `answer`, as JSON-ready data."""
    return AnswerOut.of(answer).model_dump(mode="json")


def search_json(query: str, hits: list[Hit]) -> dict[str, Any]:
    """`SearchOut` of a query's hits, as JSON-ready data."""
    return SearchOut.of(query, hits).model_dump(mode="json")


def citation_json(c: Citation) -> dict[str, Any]:
    """One citation, as in `answer_json`."""
    return CitationOut.of(c).model_dump(mode="json")


def degraded_json(d: Degraded) -> dict[str, Any]:
    """Why an answer is degraded, as in `answer_json`."""
    return DegradedOut.of(d).model_dump(mode="json")
