"""The request path, top to bottom. Each stage is injected; tests swap any of them."""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from cairn.answer.base import Answerer
from cairn.answer.events import AnswerEvent, CitationEvent, DoneEvent, TokenEvent
from cairn.answer.verify import Verifier
from cairn.budget.reservations import Budget
from cairn.cache import AnswerCache, CacheHit, CacheRequest
from cairn.context import RequestContext, request_context
from cairn.retrieve.base import Retriever
from cairn.trace.base import NullTracer, Tracer
from cairn.types import Answer, Citation, Filters, Hit


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifiedEvent:
    """The verifier's verdict on every citation, sent once the answer is complete."""

    citations: tuple[Citation, ...]
    kind: Literal["verified"] = "verified"


@dataclass(frozen=True, kw_only=True, slots=True)
class AnswerDoneEvent:
    answer: Answer
    kind: Literal["done"] = "done"


StreamEvent: TypeAlias = TokenEvent | CitationEvent | VerifiedEvent | AnswerDoneEvent
"""What `Pipeline.ask_stream` yields: tokens and citations as they come, then the verdict,
then the final answer (its text and citations are definitive)."""

_PIECE = re.compile(r"\S+\s*|\s+")


@dataclass
class Pipeline:
    retriever: Retriever
    answerer: Answerer
    verifier: Verifier
    k: int = 5
    tracer: Tracer = field(default_factory=NullTracer)
    budget: Budget | None = None
    """When set, every request leaves a ledger entry (model calls are metered by the
    provider wrapper; a request that made none is recorded at $0 as `extractive`)."""
    cache: AnswerCache | None = None
    """Answers reused across requests (`cairn.cache.open_answer_cache`); None = no cache."""
    generation: Callable[[], int] = field(default=lambda: 0)
    """The corpus generation (`store.generation`), read once per request for the cache key."""
    cache_config: str = ""
    """`cairn.cache.config_fingerprint(settings, mode=..., model=...)` of this pipeline."""

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
        """Answer `question`: retrieve, answer, verify, record. See `ask_stream` for events."""
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
    ) -> Iterator[StreamEvent]:
        """`ask`, as events. Answerers with a `stream` method stream for real; others are
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
    ) -> Iterator[StreamEvent]:
        started = time.perf_counter()
        trace_id = uuid.uuid4().hex
        request = None
        if self.cache is not None:  # 3 cache.lookup
            request = CacheRequest.build(
                question,
                generation=self.generation(),
                config=self.cache_config,
                filters=filters,
                tenant=tenant,
                k=k or self.k,
            )
            hit = self.cache.get(request)
            if hit is not None:
                yield from self._serve_cached(
                    hit, started, trace_id, question, user, tenant, stream
                )
                return
        with (
            request_context(trace_id, user=user, tenant=tenant) as ctx,
            self.tracer.trace(
                "ask", trace_id, question=question, stream=stream, user=user, tenant=tenant
            ) as root,
        ):
            if request is not None:
                root.set(cache="miss")
            hits = self._retrieve(question, k or self.k, filters)  # 4 retrieve
            with self.tracer.span("answer", answerer=type(self.answerer).__name__) as span:
                draft = None  # 6 answer
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
            with self.tracer.span("verify") as span:
                draft = self.verifier.verify(draft, hits)  # 7 verify
                span.set(
                    verified=[c.verified for c in draft.citations],
                    support=[c.support for c in draft.citations],
                )
            yield VerifiedEvent(citations=draft.citations)
            self._record_free(ctx)  # 9 settle
            latency_ms = (time.perf_counter() - started) * 1000
            root.set(
                abstained=draft.abstained,
                latency_ms=round(latency_ms, 2),
                cost_usd=float(ctx.cost_usd),
            )
        answer = Answer(
            text=draft.text,
            citations=draft.citations,
            abstained=draft.abstained,
            usage=draft.usage,
            cost_usd=float(ctx.cost_usd),
            latency_ms=latency_ms,
            trace_id=trace_id,
            hits=tuple(hits),
        )
        if request is not None and self.cache is not None:
            self.cache.put(request, answer)  # 9 cache.store
        yield AnswerDoneEvent(answer=answer)

    def _serve_cached(
        self,
        hit: CacheHit,
        started: float,
        trace_id: str,
        question: str,
        user: str | None,
        tenant: str | None,
        stream: bool,
    ) -> Iterator[StreamEvent]:
        """A cache hit: its own trace and $0 ledger line, the stored answer replayed."""
        with (
            request_context(trace_id, user=user, tenant=tenant) as ctx,
            self.tracer.trace(
                "ask", trace_id, question=question, stream=stream, user=user, tenant=tenant
            ) as root,
        ):
            self._record_free(ctx)
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
        yield AnswerDoneEvent(answer=answer)

    def _record_free(self, ctx: RequestContext) -> None:
        """A request that called no model still leaves its ($0) line in the ledger."""
        if self.budget is None or ctx.calls:
            return
        reservation = self.budget.reserve(
            model="extractive",
            input_tokens=0,
            max_output_tokens=0,
            feature=ctx.feature,
            user=ctx.user,
            tenant=ctx.tenant,
            trace_id=ctx.trace_id,
        )
        self.budget.settle(reservation, ctx.usage)

    def _answer_events(self, question: str, hits: list[Hit], stream: bool) -> Iterator[AnswerEvent]:
        streamer = getattr(self.answerer, "stream", None)
        if stream and callable(streamer):
            yield from streamer(question, hits)
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

    def _retrieve(self, query: str, k: int, filters: Filters | None) -> list[Hit]:
        with self.tracer.span("retrieve", k=k, retriever=type(self.retriever).__name__) as span:
            hits = self.retriever.retrieve(query, k, filters)
            span.set(chunk_ids=[h.chunk.id for h in hits], scores=[round(h.score, 4) for h in hits])
        return hits
