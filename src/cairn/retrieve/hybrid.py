"""The three retrievers behind `--mode lexical|dense|hybrid`."""

from __future__ import annotations

from dataclasses import dataclass

from cairn.config import RetrieveSettings
from cairn.embed.base import Embedder
from cairn.retrieve.base import Retriever
from cairn.retrieve.fusion import convex, rrf
from cairn.store.base import Store
from cairn.types import Filters, Hit


@dataclass
class LexicalRetriever:
    store: Store

    def retrieve(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        return self.store.lexical_search(query, k, filters)


@dataclass
class DenseRetriever:
    store: Store
    embedder: Embedder

    def retrieve(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        vector = self.embedder.embed([query])[0]
        return self.store.dense_search(vector, k, filters, model=self.embedder.name)


@dataclass
class HybridRetriever:
    lexical: LexicalRetriever
    dense: DenseRetriever
    fusion: str = "convex"
    alpha: float = 0.6
    candidates: int = 50
    rrf_k: int = 60

    def retrieve(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        n = max(k, self.candidates)
        lexical = self.lexical.retrieve(query, n, filters)
        dense = self.dense.retrieve(query, n, filters)
        if self.fusion == "rrf":
            return rrf(lexical, dense, self.rrf_k, k)
        return convex(lexical, dense, self.alpha, k)


def build_retriever(
    store: Store, embedder: Embedder, settings: RetrieveSettings, mode: str | None = None
) -> Retriever:
    mode = mode or settings.mode
    lexical = LexicalRetriever(store)
    if mode == "lexical":
        return lexical
    dense = DenseRetriever(store, embedder)
    if mode == "dense":
        return dense
    return HybridRetriever(
        lexical,
        dense,
        fusion=settings.fusion,
        alpha=settings.alpha,
        candidates=settings.candidates,
        rrf_k=settings.rrf_k,
    )
