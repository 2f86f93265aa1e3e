"""The storage contract every backend (SQLite now, Postgres + pgvector later) implements.

A backend must pass `cairn.testing.store.StoreConformance` unchanged. What only some
backends can do is an optional protocol (`LexicalIndexWarmup`, `IntegrityCheck`), checked
with `isinstance` before use.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from cairn.types import Chunk, Document, Filters, Hit, Ranked, Risk

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True, kw_only=True, slots=True)
class DocumentInfo:
    """A stored document without its text: what incremental ingest and the document list
    need."""

    id: str
    source: str
    content_hash: str
    chunk_count: int
    title: str = ""
    doc_type: str = ""
    acl: tuple[str, ...] = ()
    """The principals that may read it; empty: everyone."""

    def readable_by(self, principals: Sequence[str] | None) -> bool:
        """Whether a caller with these principals (None: no ACL check) may read it."""
        return principals is None or not self.acl or any(p in self.acl for p in principals)


@dataclass(frozen=True, kw_only=True, slots=True)
class NearDuplicates:
    """What ingest decided about near-duplicate chunks of one document (the policy lives in
    `cairn.ingest.near_duplicates`; a backend only stores and follows it)."""

    fingerprints: Mapping[str, int] = field(default_factory=dict)
    """Chunk id -> unsigned 64-bit fingerprint to keep, returned later by
    `Store.fingerprints`."""
    duplicate_of: Mapping[str, str] = field(default_factory=dict)
    """Chunk id -> id of the chunk it nearly repeats: a stored indexed chunk readable by
    exactly the same principals, or an earlier chunk of the same document. The chunk is
    stored but not indexed; a target that is gone or not indexed is ignored."""


@dataclass(frozen=True, kw_only=True, slots=True)
class WriteResult:
    indexed: int
    """Chunks added to the indexes."""
    duplicates: int
    """Chunks kept but not indexed because an identical or near-identical chunk exists."""
    quarantined: int = 0
    """Chunks kept but not indexed because ingest quarantined them (`quarantine`)."""


@runtime_checkable
class Store(Protocol):
    """Documents, chunks, their embeddings and the lexical and vector indexes."""

    def generation(self) -> int:
        """Corpus generation: grows with every change, so caches keyed on it go stale."""
        ...

    def documents(self, principals: Sequence[str] | None = None) -> list[DocumentInfo]:
        """The documents readable by `principals` (public ones and those naming one of
        them; all when None), ordered by source then id."""
        ...

    def document_info(self, doc_id: str) -> DocumentInfo | None:
        """One document without its text, or None when there is no such document."""
        ...

    def get_document(self, doc_id: str) -> Document | None: ...

    def get_chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        """The chunks with these ids, in the order asked; unknown ids are left out."""
        ...

    def cached_embeddings(self, model: str, hashes: Sequence[str]) -> dict[str, Vector]:
        """Embeddings already computed for these chunk hashes (the embedding cache)."""
        ...

    def missing_embeddings(self, model: str) -> int:
        """How many indexed chunks have no vector from `model` (0: dense search sees every
        chunk)."""
        ...

    def write_document(
        self,
        document: Document,
        chunks: Sequence[Chunk],
        embeddings: Mapping[str, Vector],
        *,
        model: str,
        near: NearDuplicates | None = None,
        quarantine: Collection[str] = (),
    ) -> WriteResult:
        """Replace the document and all its chunks in one transaction.

        `embeddings` maps chunk hash to vector and must cover every chunk hash not already
        cached for `model`. A chunk whose text an indexed chunk readable by exactly the same
        principals already has is stored as its duplicate and not indexed (a deleted
        canonical chunk hands its place to its first duplicate); `near` adds the
        near-duplicates ingest found. Each chunk's `risk` is stored with it; the chunks
        whose ids are in `quarantine` are stored quarantined: kept, never indexed, never a
        duplicate's canonical, until `release`d.
        """
        ...

    def loading(self) -> AbstractContextManager[None]:
        """A bulk load of documents (an ingest run) happens inside: a store may put off
        index work until it ends, when doing it at once costs less. What is written is
        readable throughout."""
        ...

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        """Every chunk of the document (duplicates and quarantined ones too), in order."""
        ...

    def set_risks(self, risks: Mapping[str, Risk]) -> int:
        """Store a new risk for these chunk ids (a rescan); returns how many changed."""
        ...

    def quarantine(self, chunk_ids: Sequence[str]) -> list[str]:
        """Take these chunks (and their duplicates) out of the indexes, keeping them; returns
        the ids newly quarantined. A chunk an admin released is quarantined again only
        when asked by id here."""
        ...

    def release(self, chunk_ids: Sequence[str]) -> list[str]:
        """Put quarantined chunks back in the indexes (marked released, so a rescan does not
        quarantine them again); returns the ids released (unknown or not quarantined ids
        are left out)."""
        ...

    def quarantined(self, principals: Sequence[str] | None = None) -> list[Chunk]:
        """The quarantined chunks of documents readable by `principals` (all when None),
        ordered by source then ordinal."""
        ...

    def released(self) -> set[str]:
        """Ids of the chunks an admin released from quarantine."""
        ...

    def fingerprints(self, acl: Sequence[str], *, excluding: str | None = None) -> dict[str, int]:
        """The fingerprints stored with `NearDuplicates` for indexed chunks of documents
        readable by exactly the principals `acl` (empty: public documents), by chunk id;
        without the chunks of document `excluding` (the version a write replaces)."""
        ...

    def delete_documents(self, doc_ids: Sequence[str]) -> list[DocumentInfo]:
        """Remove these documents and their chunks; return what was removed (unknown ids
        are left out)."""
        ...

    def lexical_ranking(self, query: str, k: int, filters: Filters | None = None) -> list[Ranked]:
        """The `k` best chunk ids by BM25 over chunk text and headings, best first; `score`
        and `lexical` are the BM25 scores. No chunk text is read.

        BM25's statistics (N, document frequencies, average length) are counted over the
        indexed chunks readable by `filters.principals` (all when None or no filters), not
        over the rest of the filters: documents the caller may not read change none of its
        scores, bit for bit (one tenant never learns another's terms from its scores)."""
        ...

    def dense_ranking(
        self, vector: Vector, k: int, filters: Filters | None = None, *, model: str
    ) -> list[Ranked]:
        """The `k` best chunk ids by cosine similarity against chunk embeddings of `model`,
        best first; `score` and `dense` are the cosines. No chunk text is read."""
        ...

    def lexical_search(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        """`lexical_ranking` with the chunks (`hits_of`)."""
        ...

    def dense_search(
        self, vector: Vector, k: int, filters: Filters | None = None, *, model: str
    ) -> list[Hit]:
        """`dense_ranking` with the chunks (`hits_of`)."""
        ...

    def stats(self) -> dict[str, int]: ...

    def close(self) -> None: ...


@runtime_checkable
class LexicalIndexWarmup(Protocol):
    """A store that can rank lexical queries from an index kept in memory (SQLite's
    in-memory BM25). Long-running processes ask for it; `/readyz` reports its coverage."""

    def keep_bm25_in_memory(self, *, wait: bool = False) -> None:
        """Build the index in the background (now and after every change); `wait` blocks
        until the first build ends."""
        ...

    def bm25_covers(self, generation: int) -> bool:
        """Whether lexical queries at corpus `generation` are ranked in memory."""
        ...


@runtime_checkable
class IntegrityCheck(Protocol):
    """A store that can check its own files (`cairn doctor`)."""

    def check_integrity(self) -> list[str]:
        """Problems found (empty when healthy)."""
        ...


def hits_of(store: Store, ranking: Sequence[Ranked]) -> list[Hit]:
    """The chunks of a ranking, fetched in one call, in its order (ids gone since are left
    out)."""
    chunks = {c.id: c for c in store.get_chunks([r.chunk_id for r in ranking])}
    return [
        Hit(chunk=chunks[r.chunk_id], score=r.score, lexical=r.lexical, dense=r.dense)
        for r in ranking
        if r.chunk_id in chunks
    ]
