"""`SemanticAnswerCache`: reuse the answer of a rephrased question.

A lookup tries the exact key first. On a miss it embeds the question and asks the backend for
the most similar stored questions *of the same partition* (same tenant and principals,
corpus generation, configuration and options: a similar question never crosses them). A
candidate is a hit when its cosine similarity is at least `threshold` **and** its lexical
signature equals the question's (`cairn.cache.signature`): the same content words in the same
order, up to case, punctuation, courtesy phrases, stop words and inflection.

The default threshold, 0.89, is calibrated in `bench/semantic_cache.py` (docs/benchmarks.md,
"Answer cache"): the lowest cosine at which at most 1% of near-miss question pairs
(different questions about the same XQuAD paragraph, tuning half) pass on similarity alone.
Similarity alone is not enough: swapping the question word ("When did ...?" -> "Where did
...?") leaves a median cosine of 0.98, and 99% of such pairs pass 0.89; the signature refuses
all of them. With both conditions, no near-miss pair was served on the tuning or the held-out
data.
"""

from __future__ import annotations

import logging

import numpy as np

from cairn.cache.base import CacheHit, Vector, VectorAnswerCache
from cairn.cache.key import CacheRequest
from cairn.cache.signature import question_signature
from cairn.embed.base import Embedder
from cairn.errors import ModelError
from cairn.types import Answer

DEFAULT_SEMANTIC_THRESHOLD = 0.89
"""Cosine similarity (all-MiniLM-L6-v2) at or above which a same-signature question hits."""

log = logging.getLogger("cairn.cache")


class SemanticAnswerCache:
    """`AnswerCache`: exact hits, then similar questions of the same partition."""

    def __init__(
        self,
        backend: VectorAnswerCache,
        embedder: Embedder,
        *,
        threshold: float = DEFAULT_SEMANTIC_THRESHOLD,
        candidates: int = 5,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold must be a cosine similarity between 0 and 1")
        self.backend = backend
        self.embedder = embedder
        self.threshold = threshold
        self.candidates = candidates

    def get(self, request: CacheRequest) -> CacheHit | None:
        hit = self.backend.get(request)
        if hit is not None:
            return hit
        signature = question_signature(request.question)
        if not signature:
            return None
        vector = self._embed(request.question)
        if vector is None:
            return None
        for candidate in self.backend.similar(
            request,
            vector,
            model=self.embedder.name,
            min_similarity=self.threshold,
            limit=self.candidates,
        ):
            if question_signature(candidate.question) == signature:
                return candidate
        return None

    def put(self, request: CacheRequest, answer: Answer) -> None:
        vector = self._embed(request.question)
        self.backend.put(request, answer, vector=vector, model=self.embedder.name)

    def close(self) -> None:
        self.backend.close()

    def _embed(self, question: str) -> Vector | None:
        try:
            vectors = self.embedder.embed([question])
            return np.asarray(vectors[0], dtype=np.float32)
        except ModelError as exc:
            log.warning("semantic answer cache: cannot embed the question (%s)", exc)
            return None
