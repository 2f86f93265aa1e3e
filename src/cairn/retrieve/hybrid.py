"""The three retrievers behind `--mode lexical|dense|hybrid`."""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from cairn.config import RetrieveSettings
from cairn.embed.base import Embedder
from cairn.retrieve.base import Retriever
from cairn.retrieve.fusion import convex, rrf
from cairn.retrieve.pages import NamedPages
from cairn.store.base import Store, hits_of
from cairn.types import Filters, Hit, Ranked

_DEFAULTS = RetrieveSettings()


@dataclass
class LexicalRetriever:
    store: Store

    def rank(self, query: str, k: int, filters: Filters | None = None) -> list[Ranked]:
        return self.store.lexical_ranking(query, k, filters)

    def retrieve(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        return hits_of(self.store, self.rank(query, k, filters))


@dataclass
class DenseRetriever:
    store: Store
    embedder: Embedder

    def rank(self, query: str, k: int, filters: Filters | None = None) -> list[Ranked]:
        vector = self.embedder.embed([query])[0]
        return self.store.dense_ranking(vector, k, filters, model=self.embedder.name)

    def retrieve(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        return hits_of(self.store, self.rank(query, k, filters))


@dataclass
class HybridRetriever:
    """Both rankings of `candidates` ids, fused; only the fused top `k` chunks are read.
    The defaults are `RetrieveSettings`' own, so code and configuration never disagree."""

    lexical: LexicalRetriever
    dense: DenseRetriever
    fusion: str = _DEFAULTS.fusion
    alpha: float = _DEFAULTS.alpha
    candidates: int = _DEFAULTS.candidates
    rrf_k: int = _DEFAULTS.rrf_k

    def rank(self, query: str, k: int, filters: Filters | None = None) -> list[Ranked]:
        n = max(k, self.candidates)
        # The two rankings overlap: the dense one (the query's embedding, then the store's
        # index: onnxruntime and a database round trip, which release the GIL) runs on a
        # worker thread while this one ranks the lexical side, so a request waits for the
        # slower of the two, not their sum (bench/pg_search.py at a million chunks).
        dense_future = _pool().submit(self.dense.rank, query, n, filters)
        try:
            lexical = self.lexical.rank(query, n, filters)
        finally:
            dense = dense_future.result()
        if self.fusion == "rrf":
            return rrf(lexical, dense, self.rrf_k, k)
        return convex(lexical, dense, self.alpha, k)

    def retrieve(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        return hits_of(self.lexical.store, self.rank(query, k, filters))


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """The dense rankings' worker threads, shared by every hybrid retriever of the process
    (as many as a server runs requests at once, by default)."""
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="cairn-dense")


def build_retriever(
    store: Store, embedder: Embedder, settings: RetrieveSettings, mode: str | None = None
) -> Retriever:
    mode = mode or settings.mode
    lexical = LexicalRetriever(store)
    ranking: LexicalRetriever | DenseRetriever | HybridRetriever = lexical
    if mode == "dense":
        ranking = DenseRetriever(store, embedder)
    elif mode != "lexical":
        ranking = HybridRetriever(
            lexical,
            DenseRetriever(store, embedder),
            fusion=settings.fusion,
            alpha=settings.alpha,
            candidates=settings.candidates,
            rrf_k=settings.rrf_k,
        )
    return NamedPages(ranking, store) if settings.named_pages else ranking
