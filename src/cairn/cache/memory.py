"""`MemoryAnswerCache`: the answer cache in one process's memory (tests, one-shot runs).

Least recently used entries go first once `max_entries` is reached; entries older than
`ttl_s` are misses. Thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cairn.cache.base import CacheHit, Vector
from cairn.cache.key import CacheRequest
from cairn.types import Answer


@dataclass(frozen=True, slots=True)
class _Entry:
    partition: str
    corpus_id: str
    generation: int
    question: str
    answer: Answer
    vector: Vector | None
    model: str
    stored_at: float
    expires_at: float | None


class MemoryAnswerCache:
    """`VectorAnswerCache` in a dict."""

    def __init__(
        self,
        *,
        ttl_s: float | None = None,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._latest: tuple[str, int] | None = None

    def get(self, request: CacheRequest) -> CacheHit | None:
        key = request.key
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.partition != request.partition:
                return None
            if self._expired(entry):
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
        return CacheHit(
            answer=entry.answer, kind="exact", question=entry.question, stored_at=entry.stored_at
        )

    def put(
        self,
        request: CacheRequest,
        answer: Answer,
        *,
        vector: Vector | None = None,
        model: str = "",
    ) -> None:
        now = self.clock()
        entry = _Entry(
            partition=request.partition,
            corpus_id=request.corpus_id,
            generation=request.generation,
            question=request.question,
            answer=answer,
            vector=None if vector is None else _unit(vector),
            model=model if vector is not None else "",
            stored_at=now,
            expires_at=None if self.ttl_s is None else now + self.ttl_s,
        )
        with self._lock:
            self._forget_older_corpus(request.corpus_id, request.generation)
            self._entries[request.key] = entry
            self._entries.move_to_end(request.key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def similar(
        self,
        request: CacheRequest,
        vector: Vector,
        *,
        model: str,
        min_similarity: float,
        limit: int = 5,
    ) -> list[CacheHit]:
        partition = request.partition
        query = _unit(vector)
        with self._lock:
            candidates = [
                e
                for e in self._entries.values()
                if e.partition == partition
                and e.model == model
                and e.vector is not None
                and e.vector.shape == query.shape
                and not self._expired(e)
            ]
        scored = [(float(np.dot(e.vector, query)), e) for e in candidates if e.vector is not None]
        scored = [(s, e) for s, e in scored if s >= min_similarity]
        scored.sort(key=lambda pair: pair[0], reverse=True)
        return [
            CacheHit(
                answer=e.answer,
                kind="semantic",
                question=e.question,
                similarity=s,
                stored_at=e.stored_at,
            )
            for s, e in scored[:limit]
        ]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def close(self) -> None:
        self.clear()

    def _expired(self, entry: _Entry) -> bool:
        return entry.expires_at is not None and entry.expires_at <= self.clock()

    def _forget_older_corpus(self, corpus_id: str, generation: int) -> None:
        """Entries of an older generation can never be returned again: drop them."""
        latest = self._latest
        if latest is not None and latest[0] == corpus_id and latest[1] >= generation:
            return
        self._latest = (corpus_id, generation)
        stale = [
            key
            for key, e in self._entries.items()
            if e.corpus_id != corpus_id or e.generation < generation
        ]
        for key in stale:
            del self._entries[key]


def _unit(vector: Vector) -> Vector:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    return v / norm if norm else v
