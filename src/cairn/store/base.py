"""The storage contract every backend (SQLite now, Postgres + pgvector later) implements.

A backend must pass `tests/store/conformance.py` unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from cairn.types import Chunk, Document, Filters, Hit

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True, kw_only=True, slots=True)
class DocumentInfo:
    """What incremental ingest needs to know about a stored document."""

    id: str
    source: str
    content_hash: str
    chunk_count: int


@dataclass(frozen=True, kw_only=True, slots=True)
class WriteResult:
    indexed: int
    """Chunks added to the indexes."""
    duplicates: int
    """Chunks kept but not indexed because an identical or near-identical chunk exists."""


@runtime_checkable
class Store(Protocol):
    """Documents, chunks, their embeddings and the lexical and vector indexes."""

    def generation(self) -> int:
        """Corpus generation: grows with every change, so caches keyed on it go stale."""
        ...

    def documents(self) -> list[DocumentInfo]: ...

    def get_document(self, doc_id: str) -> Document | None: ...

    def get_chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        """The chunks with these ids, in the order asked; unknown ids are left out."""
        ...

    def cached_embeddings(self, model: str, hashes: Sequence[str]) -> dict[str, Vector]:
        """Embeddings already computed for these chunk hashes (the embedding cache)."""
        ...

    def write_document(
        self,
        document: Document,
        chunks: Sequence[Chunk],
        embeddings: Mapping[str, Vector],
        *,
        model: str,
    ) -> WriteResult:
        """Replace the document and all its chunks in one transaction.

        `embeddings` maps chunk hash to vector and must cover every chunk hash not already
        cached for `model`.
        """
        ...

    def delete_documents(self, doc_ids: Sequence[str]) -> int: ...

    def lexical_search(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        """BM25 over chunk text and headings; `Hit.score` and `Hit.lexical` are BM25 scores."""
        ...

    def dense_search(
        self, vector: Vector, k: int, filters: Filters | None = None, *, model: str
    ) -> list[Hit]:
        """Cosine similarity against chunk embeddings of `model`."""
        ...

    def stats(self) -> dict[str, int]: ...

    def close(self) -> None: ...
