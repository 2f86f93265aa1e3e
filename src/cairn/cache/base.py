"""The answer-cache contract.

    hit = cache.get(request)          # CacheHit | None
    ...
    cache.put(request, answer)        # after the answer is made and verified

`AnswerCache` is what the pipeline talks to. The storage backends (`MemoryAnswerCache`,
`SQLiteAnswerCache`) are `VectorAnswerCache`s: they also keep a question embedding per entry
and return the entries nearest to a vector, which is what `SemanticAnswerCache` builds on.
A cache never fails a request: a backend that cannot read or write logs it and answers
`None` (a miss) or skips the write.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from cairn.cache.key import CacheRequest
from cairn.types import Answer, Usage

Vector = npt.NDArray[np.float32]
"""One L2-normalised question embedding."""


@dataclass(frozen=True, kw_only=True, slots=True)
class CacheHit:
    """A cached answer found for a request, and how it was found."""

    answer: Answer
    """As stored: its citations, hits, and the trace id, latency, usage and cost of the request
    that made it."""
    kind: Literal["exact", "semantic"]
    question: str
    """The stored question that matched (differs from the asked one on a semantic hit)."""
    similarity: float = 1.0
    """Cosine similarity of the two questions' embeddings (1.0 for an exact hit)."""
    stored_at: float = 0.0
    """Unix time the entry was written."""

    def served(self, *, trace_id: str, latency_ms: float) -> Answer:
        """The answer to return for this request: this request's trace id and latency, and no
        tokens or cost (nothing was spent). The original trace id stays in `answer.trace_id`
        of the hit, for the `cache.lookup` span."""
        return dataclasses.replace(
            self.answer, trace_id=trace_id, latency_ms=latency_ms, usage=Usage(), cost_usd=0.0
        )


@runtime_checkable
class AnswerCache(Protocol):
    """Answers kept for reuse, keyed by `CacheRequest.key`."""

    def get(self, request: CacheRequest) -> CacheHit | None:
        """The answer stored for this request, or `None` (never raises on a damaged cache)."""
        ...

    def put(self, request: CacheRequest, answer: Answer) -> None:
        """Keep `answer` for requests with the same key (replacing any entry there)."""
        ...

    def close(self) -> None:
        """Release what it holds (the database connection, the entries in memory)."""
        ...


@runtime_checkable
class VectorAnswerCache(AnswerCache, Protocol):
    """A storage backend: exact entries, each optionally with its question's embedding."""

    def put(
        self,
        request: CacheRequest,
        answer: Answer,
        *,
        vector: Vector | None = None,
        model: str = "",
    ) -> None:
        """As `AnswerCache.put`; `vector` is the question's embedding by embedder `model`."""
        ...

    def similar(
        self,
        request: CacheRequest,
        vector: Vector,
        *,
        model: str,
        min_similarity: float,
        limit: int = 5,
    ) -> Sequence[CacheHit]:
        """Live entries of the request's partition embedded by `model` whose cosine with
        `vector` is at least `min_similarity`, most similar first (`kind="semantic"`)."""
        ...

    def clear(self) -> None:
        """Remove every entry."""
        ...

    def __len__(self) -> int:
        """Entries held, expired ones included until they are swept."""
        ...
