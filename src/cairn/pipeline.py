"""The request path as one explicit list of stages, run top to bottom.

    input guard -> cache -> retrieve -> rerank -> context guard -> answer -> verify
      -> output guard -> settle

Every stage is injected (`cairn.stages` holds the pluggable ones and their no-op defaults);
tests swap any of them, and guardrails, a reranker or an agent plug in by supplying a stage.
`ask` and `ask_stream` share one run of the stages (`_run`).
"""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field

from cairn.answer.base import Answerer, Draft, StreamingAnswerer
from cairn.answer.events import (
    AnswerDoneEvent,
    AnswerEvent,
    CitationEvent,
    DoneEvent,
    PipelineEvent,
    TokenEvent,
    VerifiedEvent,
)
from cairn.answer.verify import Verifier
from cairn.budget.reservations import Budget
from cairn.cache import AnswerCache, CacheHit, CacheRequest
from cairn.context import RequestContext, request_context
from cairn.retrieve.base import Retriever
from cairn.stages import (
    ContextGuard,
    InputGuard,
    KeepOrder,
    LedgerSettler,
    NoContextGuard,
    NoInputGuard,
    NoOutputGuard,
    OutputGuard,
    Reranker,
    Settler,
    refusal_draft,
)
from cairn.trace.base import NullTracer, Span, Tracer
from cairn.types import Answer, Filters, Hit

_PIECE = re.compile(r"\S+\s*|\s+")


@dataclass
class Pipeline:
    retriever: Retriever
    answerer: Answerer
    verifier: Verifier
    k: int = 5
    tracer: Tracer = field(default_factory=NullTracer)
    budget: Budget | None = None
    """When set (and `settler` is not given), every request leaves a ledger entry (model
    calls are metered by the provider wrapper; a request that made none is recorded at $0
    as `extractive`)."""
    cache: AnswerCache | None = None
    """Answers reused across requests (`cairn.cache.open_answer_cache`); None = no cache."""
    generation: Callable[[], int] = field(default=lambda: 0)
    """The corpus generation (`store.generation`), read once per request for the cache key."""
    cache_config: str = ""
    """`cairn.cache.config_fingerprint(settings, mode=..., model=...)` of this pipeline."""
    input_guard: InputGuard = field(default_factory=NoInputGuard)
    reranker: Reranker = field(default_factory=KeepOrder)
    context_guard: ContextGuard = field(default_factory=NoContextGuard)
    output_guard: OutputGuard = field(default_factory=NoOutputGuard)
    settler: Settler | None = None
    """Closes the request's books; `LedgerSettler(budget)` when not given."""

    def __post_init__(self) -> None:
        if self.settler is None:
            self.settler = LedgerSettler(self.budget)

    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        with self.tracer.trace("search", uuid.uuid4().hex, query=query):
            return self._retrieve(query, k or self.k, filters)

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Filters | None = None,
        user: str | None = None,
        tenant: str | None = None,
    ) -> Answer:
        """Answer `question` through every stage. See `ask_stream` for the events."""
        for event in self._run(question, k, filters, user, tenant, stream=False):
            if isinstance(event, AnswerDoneEvent):
                return event.answer
        raise AssertionError("the pipeline ended without an answer")  # pragma: no cover

    def ask_stream(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Filters | None = None,
        user: str | None = None,
        tenant: str | None = None,
    ) -> Iterator[PipelineEvent]:
        """`ask`, as events. A `StreamingAnswerer` streams for real; other answerers are
        replayed word by word from their complete draft."""
        return self._run(question, k, filters, user, tenant, stream=True)

    def _run(
        self,
        question: str,
        k: int | None,
        filters: Filters | None,
        user: str | None,
        tenant: str | None,
        *,
        stream: bool,
    ) -> Iterator[PipelineEvent]:
        started = time.perf_counter()
        trace_id = uuid.uuid4().hex
        request = None
        fresh = False
        with (
            request_context(trace_id, user=user, tenant=tenant) as ctx,
            self.tracer.trace(
                "ask", trace_id, question=question, stream=stream, user=user, tenant=tenant
            ) as root,
        ):
            hits: list[Hit] = []
            verdict = self.input_guard.check(question)  # 1 input guard
            root.set(guard_input=verdict.status)
            hit = None
            if verdict.blocked:
                root.set(guard_input_reason=verdict.reason)
                draft = refusal_draft(verdict)
                yield from self._replay(draft, stream)
            else:
                request = self._cache_request(question, filters, tenant, k)  # 2 cache
                hit = self.cache.get(request) if request and self.cache else None
            if hit is not None:
                answer = yield from self._serve_cached(hit, started, trace_id, root, stream)
            else:
                if not verdict.blocked:
                    if request is not None:
                        root.set(cache="miss")
                    hits = self._retrieve(question, k or self.k, filters)  # 3 retrieve
                    hits = self.reranker.rerank(question, hits)  # 4 rerank
                    screened = self.context_guard.screen(question, hits)  # 5 context guard
                    hits = screened.hits
                    root.set(guard_context=screened.verdict.status)
                    draft = yield from self._answer(question, hits, stream)  # 6 answer
                    draft = self._verify(draft, hits)  # 7 verify
                    yield VerifiedEvent(citations=draft.citations)
                    checked = self.output_guard.check(draft, hits)  # 8 output guard
                    root.set(guard_output=checked.status)
                    if checked.blocked:
                        root.set(guard_output_reason=checked.reason)
                        draft = refusal_draft(checked)
                    fresh = True
                answer = self._finish(draft, hits, ctx, started, trace_id, root)
            self._settle(ctx)  # 9 settle
        if fresh and request is not None and self.cache is not None:
            self.cache.put(request, answer)
        yield AnswerDoneEvent(answer=answer)

    def _finish(
        self,
        draft: Draft,
        hits: list[Hit],
        ctx: RequestContext,
        started: float,
        trace_id: str,
        root: Span,
    ) -> Answer:
        latency_ms = (time.perf_counter() - started) * 1000
        root.set(
            abstained=draft.abstained,
            latency_ms=round(latency_ms, 2),
            cost_usd=float(ctx.cost_usd),
        )
        return Answer(
            text=draft.text,
            citations=draft.citations,
            abstained=draft.abstained,
            usage=draft.usage,
            cost_usd=float(ctx.cost_usd),
            latency_ms=latency_ms,
            trace_id=trace_id,
            hits=tuple(hits),
        )

    def _cache_request(
        self, question: str, filters: Filters | None, tenant: str | None, k: int | None
    ) -> CacheRequest | None:
        if self.cache is None:
            return None
        return CacheRequest.build(
            question,
            generation=self.generation(),
            config=self.cache_config,
            filters=filters,
            tenant=tenant,
            k=k or self.k,
        )

    def _serve_cached(
        self, hit: CacheHit, started: float, trace_id: str, root: Span, stream: bool
    ) -> Generator[PipelineEvent, None, Answer]:
        """A cache hit: the stored answer replayed under this request's trace, at $0."""
        latency_ms = (time.perf_counter() - started) * 1000
        answer = dataclasses.replace(
            hit.served(trace_id=trace_id, latency_ms=latency_ms), cached=True
        )
        root.set(
            cache=hit.kind,
            cache_similarity=round(hit.similarity, 4),
            cache_question=hit.question,
            cache_source_trace_id=hit.answer.trace_id,
            abstained=answer.abstained,
            latency_ms=round(latency_ms, 2),
            cost_usd=0.0,
        )
        if stream:
            for piece in _PIECE.findall(answer.text):
                yield TokenEvent(text=piece)
            for citation in answer.citations:
                yield CitationEvent(citation=citation)
            yield VerifiedEvent(citations=answer.citations)
        return answer

    def _replay(self, draft: Draft, stream: bool) -> Iterator[PipelineEvent]:
        """A refusal, as the events a client expects."""
        if stream:
            for piece in _PIECE.findall(draft.text):
                yield TokenEvent(text=piece)
        yield VerifiedEvent(citations=())

    def _settle(self, ctx: RequestContext) -> None:
        assert self.settler is not None
        self.settler.settle(ctx)

    def _answer(
        self, question: str, hits: list[Hit], stream: bool
    ) -> Generator[PipelineEvent, None, Draft]:
        with self.tracer.span("answer", answerer=type(self.answerer).__name__) as span:
            draft = None
            for event in self._answer_events(question, hits, stream):
                if isinstance(event, DoneEvent):
                    draft = event.draft
                else:
                    yield event
            assert draft is not None, "an answerer stream must end with a done event"
            span.set(
                abstained=draft.abstained,
                reason=draft.reason,
                citations=[c.chunk_id for c in draft.citations],
            )
        return draft

    def _answer_events(self, question: str, hits: list[Hit], stream: bool) -> Iterator[AnswerEvent]:
        if stream and isinstance(self.answerer, StreamingAnswerer):
            yield from self.answerer.stream(question, hits)
            return
        draft = self.answerer.answer(question, hits)
        if not stream:
            yield DoneEvent(draft=draft)
            return
        for piece in _PIECE.findall(draft.text):
            yield TokenEvent(text=piece)
        for citation in draft.citations:
            yield CitationEvent(citation=citation)
        yield DoneEvent(draft=draft)

    def _verify(self, draft: Draft, hits: list[Hit]) -> Draft:
        with self.tracer.span("verify") as span:
            draft = self.verifier.verify(draft, hits)
            span.set(
                verified=[c.verified for c in draft.citations],
                support=[c.support for c in draft.citations],
            )
        return draft

    def _retrieve(self, query: str, k: int, filters: Filters | None) -> list[Hit]:
        with self.tracer.span("retrieve", k=k, retriever=type(self.retriever).__name__) as span:
            hits = self.retriever.retrieve(query, k, filters)
            span.set(chunk_ids=[h.chunk.id for h in hits], scores=[round(h.score, 4) for h in hits])
        return hits
