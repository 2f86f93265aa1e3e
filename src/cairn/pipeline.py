"""The request path, top to bottom. Each stage is injected; tests swap any of them."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from cairn.answer.base import Answerer
from cairn.answer.verify import LexicalVerifier
from cairn.retrieve.base import Retriever
from cairn.trace.base import NullTracer, Tracer
from cairn.types import Answer, Filters, Hit


@dataclass
class Pipeline:
    retriever: Retriever
    answerer: Answerer
    verifier: LexicalVerifier
    k: int = 5
    tracer: Tracer = field(default_factory=NullTracer)

    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        with self.tracer.trace("search", uuid.uuid4().hex, query=query):
            return self._retrieve(query, k or self.k, filters)

    def ask(self, question: str, *, k: int | None = None, filters: Filters | None = None) -> Answer:
        started = time.perf_counter()
        trace_id = uuid.uuid4().hex
        with self.tracer.trace("ask", trace_id, question=question) as root:
            hits = self._retrieve(question, k or self.k, filters)  # 4 retrieve
            with self.tracer.span("answer", answerer=type(self.answerer).__name__) as span:
                draft = self.answerer.answer(question, hits)  # 6 answer
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
            latency_ms = (time.perf_counter() - started) * 1000
            root.set(abstained=draft.abstained, latency_ms=round(latency_ms, 2))
        return Answer(
            text=draft.text,
            citations=draft.citations,
            abstained=draft.abstained,
            usage=draft.usage,
            latency_ms=latency_ms,
            trace_id=trace_id,
            hits=tuple(hits),
        )

    def _retrieve(self, query: str, k: int, filters: Filters | None) -> list[Hit]:
        with self.tracer.span("retrieve", k=k, retriever=type(self.retriever).__name__) as span:
            hits = self.retriever.retrieve(query, k, filters)
            span.set(chunk_ids=[h.chunk.id for h in hits], scores=[round(h.score, 4) for h in hits])
        return hits
