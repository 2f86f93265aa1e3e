"""The request path, top to bottom. Each stage is injected; tests swap any of them."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from cairn.answer.base import Answerer
from cairn.answer.verify import LexicalVerifier
from cairn.retrieve.base import Retriever
from cairn.types import Answer, Filters, Hit


@dataclass
class Pipeline:
    retriever: Retriever
    answerer: Answerer
    verifier: LexicalVerifier
    k: int = 5

    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        return self.retriever.retrieve(query, k or self.k, filters)

    def ask(self, question: str, *, k: int | None = None, filters: Filters | None = None) -> Answer:
        started = time.perf_counter()
        trace_id = uuid.uuid4().hex
        hits = self.retriever.retrieve(question, k or self.k, filters)  # 4 retrieve
        draft = self.answerer.answer(question, hits)  # 6 answer
        draft = self.verifier.verify(draft, hits)  # 7 verify
        return Answer(
            text=draft.text,
            citations=draft.citations,
            abstained=draft.abstained,
            usage=draft.usage,
            latency_ms=(time.perf_counter() - started) * 1000,
            trace_id=trace_id,
            hits=tuple(hits),
        )
