"""The embedded store: one SQLite file (WAL) holding documents, chunks, embeddings and an
FTS5 lexical index, with an exact in-memory vector index loaded from it.

Every document is replaced in one transaction, so a process killed at any point leaves the
database as it was before or after that document, never in between.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from cairn.errors import StoreError
from cairn.sqlite import SQLiteFile
from cairn.store.base import DocumentInfo, Vector, WriteResult, hits_of
from cairn.store.bm25 import BM25Index
from cairn.store.dedup import hamming_within, to_signed
from cairn.store.fts import fts_match, query_terms
from cairn.store.migrations import MIGRATIONS
from cairn.store.vectors import VectorIndex
from cairn.types import Chunk, Document, Filters, Hit, Ranked

DB_FILE = "cairn.db"

log = logging.getLogger(__name__)

_CHUNK_COLUMNS = (
    "c.rowid, c.id, c.doc_id, c.ordinal, c.text, c.section, c.anchor, c.page, c.start, c.end, "
    "c.token_count, c.hash, d.source, d.uri, d.title"
)


class SQLiteStore:
    """`Store` on SQLite. Safe to share between threads (reads run in parallel, one read
    connection per thread; writes take turns)."""

    def __init__(
        self,
        path: Path,
        *,
        near_duplicate_bits: int = 3,
        heading_weight: float = 1.0,
        create: bool = True,
    ) -> None:
        self.path = path
        self.near_duplicate_bits = near_duplicate_bits
        self.heading_weight = heading_weight
        if not path.exists() and not create:
            raise StoreError(f"no cairn database at {path}: run 'cairn ingest PATH' first")
        self._file = SQLiteFile(
            path,
            MIGRATIONS,
            what="the cairn database",
            damaged_hint="move it away and ingest again",
            foreign_keys=True,
        )
        self._vectors: dict[str, tuple[int, VectorIndex]] = {}
        self._index_lock = threading.Lock()  # one thread builds an index, the others wait
        self._allowed_lock = threading.Lock()
        self._bm25_wanted = False
        self._bm25_index: BM25Index | None = None
        self._bm25_thread: threading.Thread | None = None
        self._closed = False
        self._allowed_cache: OrderedDict[tuple[int, Filters], frozenset[int]] = OrderedDict()
        self._simhashes: (
            tuple[tuple[int, str], np.ndarray[Any, np.dtype[np.uint64]], list[int]] | None
        ) = None

    # -- schema -------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return self._file.schema_version

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._file.transaction()

    # -- reads --------------------------------------------------------------------------

    def generation(self) -> int:
        with self._file.reading() as db:
            row = db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0])

    def documents(self) -> list[DocumentInfo]:
        with self._file.reading() as db:
            rows = db.execute(
                "SELECT d.id, d.source, d.content_hash, COUNT(c.rowid) FROM documents d "
                "LEFT JOIN chunks c ON c.doc_id = d.id GROUP BY d.id ORDER BY d.source"
            ).fetchall()
        return [
            DocumentInfo(id=r[0], source=r[1], content_hash=r[2], chunk_count=r[3]) for r in rows
        ]

    def get_document(self, doc_id: str) -> Document | None:
        with self._file.reading() as db:
            row = db.execute(
                "SELECT id, source, uri, title, doc_type, content_hash, text, metadata, tags, acl "
                "FROM documents WHERE id = ?",
                (doc_id,),
            ).fetchone()
        if row is None:
            return None
        return Document(
            id=row[0],
            source=row[1],
            uri=row[2],
            title=row[3],
            doc_type=row[4],
            content_hash=row[5],
            text=row[6],
            metadata=json.loads(row[7]),
            tags=tuple(json.loads(row[8])),
            acl=tuple(json.loads(row[9])),
        )

    def get_chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        if not chunk_ids:
            return []
        marks = ",".join("?" * len(chunk_ids))
        with self._file.reading() as db:
            rows = db.execute(
                f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
                f"WHERE c.id IN ({marks})",
                tuple(chunk_ids),
            ).fetchall()
        by_id = {r[1]: _chunk(r) for r in rows}
        return [by_id[i] for i in chunk_ids if i in by_id]

    def cached_embeddings(self, model: str, hashes: Sequence[str]) -> dict[str, Vector]:
        found: dict[str, Vector] = {}
        unique = list(dict.fromkeys(hashes))
        with self._file.reading() as db:
            for start in range(0, len(unique), 500):
                part = unique[start : start + 500]
                rows = db.execute(
                    f"SELECT hash, vector FROM embeddings WHERE model = ? AND hash IN "
                    f"({','.join('?' * len(part))})",
                    (model, *part),
                ).fetchall()
                for h, blob in rows:
                    found[h] = np.frombuffer(blob, dtype=np.float32)
        return found

    def stats(self) -> dict[str, int]:
        with self._file.reading() as db:
            docs = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            chunks, dups = db.execute("SELECT COUNT(*), COUNT(dup_of) FROM chunks").fetchone()
            embeddings = db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
            indexed = db.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0]
        return {
            "documents": docs,
            "chunks": chunks,
            "duplicates": dups,
            "indexed": indexed,
            "embeddings": embeddings,
            "generation": self.generation(),
            "schema_version": self.schema_version,
        }

    # -- writes -------------------------------------------------------------------------

    def write_document(
        self,
        document: Document,
        chunks: Sequence[Chunk],
        embeddings: Mapping[str, Vector],
        *,
        model: str,
    ) -> WriteResult:
        indexed = duplicates = 0
        with self._transaction() as db:
            self._delete(db, [document.id])
            db.execute(
                "INSERT INTO documents (id, source, uri, title, doc_type, content_hash, text, "
                "metadata, tags, acl, ingested_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    document.id,
                    document.source,
                    document.uri,
                    document.title,
                    document.doc_type,
                    document.content_hash,
                    document.text,
                    json.dumps(dict(document.metadata)),
                    json.dumps(list(document.tags)),
                    json.dumps(list(document.acl)),
                    time.time(),
                ),
            )
            for h, vec in embeddings.items():
                db.execute(
                    "INSERT OR IGNORE INTO embeddings (model, hash, vector) VALUES (?,?,?)",
                    (model, h, np.asarray(vec, dtype=np.float32).tobytes()),
                )
            acl = json.dumps(list(document.acl))
            hashes, rowids = self._canonical_simhashes(db, acl)
            new_hashes: list[int] = []
            new_rowids: list[int] = []
            for chunk in chunks:
                simhash = _simhash_of(chunk)
                dup_of = self._find_duplicate(db, chunk, simhash, hashes, rowids, acl)
                if dup_of is None:
                    dup_of = _near(
                        simhash, new_hashes, new_rowids, self.near_duplicate_bits, chunk.token_count
                    )
                cur = db.execute(
                    "INSERT INTO chunks (id, doc_id, ordinal, text, section, anchor, page, start, "
                    "end, token_count, hash, simhash, dup_of) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        chunk.id,
                        document.id,
                        chunk.ordinal,
                        chunk.text,
                        json.dumps(list(chunk.section)),
                        chunk.anchor,
                        chunk.page,
                        chunk.start,
                        chunk.end,
                        chunk.token_count,
                        chunk.hash,
                        to_signed(simhash),
                        dup_of,
                    ),
                )
                rowid = int(cur.lastrowid or 0)
                if dup_of is None:
                    self._index_fts(db, rowid, document.title, chunk)
                    new_hashes.append(simhash)
                    new_rowids.append(rowid)
                    indexed += 1
                else:
                    duplicates += 1
            missing = db.execute(
                "SELECT COUNT(*) FROM chunks c LEFT JOIN embeddings e ON e.hash = c.hash "
                "AND e.model = ? WHERE c.doc_id = ? AND e.hash IS NULL",
                (model, document.id),
            ).fetchone()[0]
            if missing:
                raise StoreError(
                    f"{document.source}: {missing} chunks have no embedding for model {model}"
                )
            self._bump(db)
        self._simhashes = None
        return WriteResult(indexed=indexed, duplicates=duplicates)

    def delete_documents(self, doc_ids: Sequence[str]) -> int:
        if not doc_ids:
            return 0
        with self._transaction() as db:
            removed = self._delete(db, doc_ids)
            if removed:
                self._bump(db)
        self._simhashes = None
        return removed

    def _delete(self, db: sqlite3.Connection, doc_ids: Sequence[str]) -> int:
        removed = 0
        for doc_id in doc_ids:
            rows = db.execute(
                "SELECT rowid, dup_of FROM chunks WHERE doc_id = ?", (doc_id,)
            ).fetchall()
            for rowid, dup_of in rows:
                if dup_of is None:
                    db.execute("DELETE FROM chunks_fts WHERE rowid = ?", (rowid,))
                    self._promote(db, rowid, doc_id)
            db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            removed += db.execute("DELETE FROM documents WHERE id = ?", (doc_id,)).rowcount
        return removed

    def _promote(self, db: sqlite3.Connection, rowid: int, doc_id: str) -> None:
        """A canonical chunk is going away: its first duplicate elsewhere takes its place."""
        heirs = db.execute(
            "SELECT c.rowid, d.title, c.section, c.text FROM chunks c JOIN documents d "
            "ON d.id = c.doc_id WHERE c.dup_of = ? AND c.doc_id != ? ORDER BY c.rowid",
            (rowid, doc_id),
        ).fetchall()
        if not heirs:
            return
        heir = heirs[0]
        db.execute("UPDATE chunks SET dup_of = NULL WHERE rowid = ?", (heir[0],))
        db.execute("UPDATE chunks SET dup_of = ? WHERE dup_of = ?", (heir[0], rowid))
        db.execute(
            "INSERT INTO chunks_fts (rowid, heading, body) VALUES (?,?,?)",
            (heir[0], _heading(heir[1], tuple(json.loads(heir[2]))), heir[3]),
        )

    def _index_fts(self, db: sqlite3.Connection, rowid: int, title: str, chunk: Chunk) -> None:
        db.execute(
            "INSERT INTO chunks_fts (rowid, heading, body) VALUES (?,?,?)",
            (rowid, _heading(title, chunk.section), chunk.text),
        )

    def _bump(self, db: sqlite3.Connection) -> None:
        db.execute(
            "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
            "WHERE key = 'generation'"
        )

    def _canonical_simhashes(
        self, db: sqlite3.Connection, acl: str
    ) -> tuple[np.ndarray[Any, np.dtype[np.uint64]], list[int]]:
        """SimHashes of the indexed chunks readable by exactly the same principals: a chunk
        is never hidden as a duplicate of one its readers cannot see."""
        generation = int(db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
        key = (generation, acl)
        if self._simhashes is None or self._simhashes[0] != key:
            rows = db.execute(
                "SELECT c.rowid, c.simhash FROM chunks c JOIN documents d ON d.id = c.doc_id "
                "WHERE c.dup_of IS NULL AND c.token_count >= ? AND d.acl = ?",
                (_MIN_NEAR_TOKENS, acl),
            ).fetchall()
            values = np.array([r[1] for r in rows], dtype=np.int64).view(np.uint64)
            self._simhashes = (key, values, [r[0] for r in rows])
        return self._simhashes[1], self._simhashes[2]

    def _find_duplicate(
        self,
        db: sqlite3.Connection,
        chunk: Chunk,
        simhash: int,
        hashes: np.ndarray[Any, np.dtype[np.uint64]],
        rowids: list[int],
        acl: str,
    ) -> int | None:
        row = db.execute(
            "SELECT c.rowid FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "WHERE c.hash = ? AND c.dup_of IS NULL AND d.acl = ? LIMIT 1",
            (chunk.hash, acl),
        ).fetchone()
        if row is not None:
            return int(row[0])
        if chunk.token_count < _MIN_NEAR_TOKENS or self.near_duplicate_bits == 0 or not len(hashes):
            return None
        match = hamming_within(hashes, simhash, self.near_duplicate_bits)
        return rowids[match] if match is not None else None

    # -- search -------------------------------------------------------------------------

    def lexical_ranking(self, query: str, k: int, filters: Filters | None = None) -> list[Ranked]:
        match = fts_match(query)
        if match is None or k <= 0:
            return []
        generation = self.generation()
        allowed = self._allowed(filters, generation)
        index = self._memory_bm25(generation)
        if index is not None:
            in_memory = index.rank(query_terms(query), k, allowed, self._fts_phrase)
            if in_memory is not None:
                return [Ranked(cid, s, lexical=s) for cid, s in in_memory]
        if allowed is None:
            return [Ranked(cid, s, lexical=s) for _, cid, s in self._fts_bm25(query, match, k)]
        # Joining every match to its document to test the filter costs more than ranking
        # (twice the time on the Python docs), so rank a window without the filter and keep
        # the allowed chunks: exact whenever k of them are in the window, which is checked.
        window = max(4 * k, 200)
        ranked = self._fts_bm25(query, match, window)
        kept = [(cid, s) for rowid, cid, s in ranked if rowid in allowed]
        if len(kept) < k and len(ranked) == window:
            kept = [(cid, s) for _, cid, s in self._fts_bm25(query, match, k, filters)]
        return [Ranked(cid, s, lexical=s) for cid, s in kept[:k]]

    def _fts_bm25(
        self, query: str, match: str, k: int, filters: Filters | None = None
    ) -> list[tuple[int, str, float]]:
        """(rowid, chunk id, BM25) of the `k` best matches, best first."""
        if filters is None:
            sql = (
                "SELECT s.rowid, c.id, s.score FROM (SELECT rowid, -bm25(chunks_fts, ?, 1.0) "
                "AS score FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY score DESC LIMIT ?) "
                "AS s JOIN chunks c ON c.rowid = s.rowid ORDER BY s.score DESC, s.rowid"
            )
            params: list[Any] = [self.heading_weight, match, k]
        else:
            where, extra = _filter_sql(filters)
            sql = (
                "SELECT c.rowid, c.id, -bm25(chunks_fts, ?, 1.0) AS score FROM chunks_fts "
                "JOIN chunks c ON c.rowid = chunks_fts.rowid JOIN documents d ON d.id = c.doc_id "
                f"WHERE chunks_fts MATCH ? {where} ORDER BY score DESC, c.rowid LIMIT ?"
            )
            params = [self.heading_weight, match, *extra, k]
        with self._file.reading() as db:
            try:
                rows = db.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:  # malformed MATCH despite quoting
                raise StoreError(f"lexical search failed for {query!r}: {exc}") from exc
        return [(int(r[0]), str(r[1]), float(r[2])) for r in rows]

    def keep_bm25_in_memory(self, *, wait: bool = False) -> None:
        """Rank lexical queries with an in-memory copy of the BM25 index (`cairn.store.bm25`:
        the same scores, 20-30x faster per query, ~1.5 s and ~15 MB to build on the Python
        docs). It is built in the background, now and after every change to the corpus; FTS5
        answers until it is ready. For long-running processes (the server)."""
        self._bm25_wanted = True
        self._start_bm25_build()
        if wait:
            thread = self._bm25_thread
            if thread is not None:
                thread.join()

    def bm25_covers(self, generation: int) -> bool:
        """Whether lexical queries at corpus `generation` are ranked in memory."""
        index = self._bm25_index
        return index is not None and index.generation == generation

    def _memory_bm25(self, generation: int) -> BM25Index | None:
        if self.bm25_covers(generation):
            return self._bm25_index
        if self._bm25_wanted:
            self._start_bm25_build()
        return None

    def _start_bm25_build(self) -> None:
        with self._index_lock:
            if self._bm25_thread is not None and self._bm25_thread.is_alive():
                return
            self._bm25_thread = threading.Thread(
                target=self._build_bm25, name="cairn-bm25", daemon=True
            )
            self._bm25_thread.start()

    def _build_bm25(self) -> None:
        while True:
            previous = self._bm25_index
            try:
                index = BM25Index.build(
                    self.path,
                    "chunks_fts",
                    (self.heading_weight, 1.0),
                    previous.tokenizer if previous is not None else None,
                )
            except (sqlite3.Error, StoreError) as exc:  # FTS5 keeps answering meanwhile
                log.warning("in-memory BM25 index not built (%s); lexical search uses FTS5", exc)
                return
            self._bm25_index = index
            if self.generation() == index.generation or self._closed:
                return

    def _fts_phrase(
        self, phrase: str, generation: int, columns: int
    ) -> list[tuple[float, ...]] | None:
        """`bm25.PhraseFetch` on this database."""
        weights = [
            ", ".join("1.0" if i == c else "0.0" for i in range(columns)) for c in range(columns)
        ]
        scores = ", ".join(f"bm25(chunks_fts, {w})" for w in weights)
        with self._file.reading() as db:
            db.execute("BEGIN")
            try:
                if (
                    int(db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
                    != generation
                ):
                    return None
                rows = db.execute(
                    f"SELECT rowid, {scores} FROM chunks_fts WHERE chunks_fts MATCH ?",
                    ('"' + phrase.replace('"', '""') + '"',),
                ).fetchall()
            finally:
                db.execute("COMMIT")
        return [tuple(float(v) for v in r) for r in rows]

    def dense_ranking(
        self, vector: Vector, k: int, filters: Filters | None = None, *, model: str
    ) -> list[Ranked]:
        generation = self.generation()
        index = self._vector_index(model, generation)
        allowed = self._allowed(filters, generation)
        mask = None if allowed is None else index.masks.of(allowed)
        pairs = index.search(np.asarray(vector, dtype=np.float32), k, mask)
        return [Ranked(cid, s, dense=s) for cid, s in pairs]

    def lexical_search(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        return hits_of(self, self.lexical_ranking(query, k, filters))

    def dense_search(
        self, vector: Vector, k: int, filters: Filters | None = None, *, model: str
    ) -> list[Hit]:
        return hits_of(self, self.dense_ranking(vector, k, filters, model=model))

    def _vector_index(self, model: str, generation: int) -> VectorIndex:
        cached = self._vectors.get(model)
        if cached is not None and cached[0] == generation:
            return cached[1]
        with self._index_lock:
            cached = self._vectors.get(model)
            if cached is not None and cached[0] == generation:
                return cached[1]
            with self._file.reading() as db:
                rows = db.execute(
                    "SELECT c.rowid, c.id, e.vector FROM chunks c JOIN embeddings e "
                    "ON e.hash = c.hash AND e.model = ? WHERE c.dup_of IS NULL ORDER BY c.rowid",
                    (model,),
                ).fetchall()
            index = VectorIndex.from_rows(rows)
            self._vectors[model] = (generation, index)
            return index

    def _allowed(self, filters: Filters | None, generation: int) -> frozenset[int] | None:
        """Rowids of the indexed chunks that pass `filters` (None: no filter), cached per
        corpus generation: a tenant's ACL filter is the same on every request."""
        if filters is None or filters.empty:
            return None
        key = (generation, filters)
        with self._allowed_lock:
            found = self._allowed_cache.get(key)
            if found is not None:
                self._allowed_cache.move_to_end(key)
                return found
        where, params = _filter_sql(filters)
        with self._file.reading() as db:
            rows = db.execute(
                "SELECT c.rowid FROM chunks c JOIN documents d ON d.id = c.doc_id "
                f"WHERE c.dup_of IS NULL {where}",
                params,
            ).fetchall()
        allowed = frozenset(r[0] for r in rows)
        with self._allowed_lock:
            self._allowed_cache[key] = allowed
            while len(self._allowed_cache) > _ALLOWED_CACHE_SIZE:
                self._allowed_cache.popitem(last=False)
        return allowed

    def check_integrity(self) -> list[str]:
        """Problems found by SQLite's own check and cairn's invariants (empty when healthy)."""
        problems: list[str] = []
        with self._file.reading() as db:
            result = db.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                problems.append(f"sqlite integrity_check: {result}")
            fts_extra = db.execute(
                "SELECT COUNT(*) FROM chunks_fts f LEFT JOIN chunks c ON c.rowid = f.rowid "
                "WHERE c.rowid IS NULL OR c.dup_of IS NOT NULL"
            ).fetchone()[0]
            fts_missing = db.execute(
                "SELECT COUNT(*) FROM chunks c LEFT JOIN chunks_fts f ON f.rowid = c.rowid "
                "WHERE c.dup_of IS NULL AND f.rowid IS NULL"
            ).fetchone()[0]
            orphans = db.execute(
                "SELECT COUNT(*) FROM chunks c LEFT JOIN documents d ON d.id = c.doc_id "
                "WHERE d.id IS NULL"
            ).fetchone()[0]
        if fts_extra:
            problems.append(f"{fts_extra} lexical index rows point to no indexed chunk")
        if fts_missing:
            problems.append(f"{fts_missing} indexed chunks are missing from the lexical index")
        if orphans:
            problems.append(f"{orphans} chunks belong to no document")
        return problems

    def close(self) -> None:
        self._closed = True
        thread = self._bm25_thread
        if thread is not None:
            thread.join()
        if self._bm25_index is not None:
            self._bm25_index.tokenizer.close()
        self._file.close()


_MIN_NEAR_TOKENS = 32
_ALLOWED_CACHE_SIZE = 256
"""Filters whose allowed chunks are kept (one per tenant and principal in practice)."""
"""Near-duplicate detection only applies to chunks at least this long; short ones
("Return the value.") legitimately repeat."""


def _near(simhash: int, hashes: list[int], rowids: list[int], bits: int, tokens: int) -> int | None:
    if bits == 0 or tokens < _MIN_NEAR_TOKENS or not hashes:
        return None
    match = hamming_within(np.array(hashes, dtype=np.uint64), simhash, bits)
    return rowids[match] if match is not None else None


def _simhash_of(chunk: Chunk) -> int:
    from cairn.store.dedup import simhash

    return simhash(chunk.text)


def _heading(title: str, section: tuple[str, ...]) -> str:
    return " ".join((title, *section))


def _chunk(row: Sequence[Any]) -> Chunk:
    return Chunk(
        id=row[1],
        doc_id=row[2],
        ordinal=row[3],
        text=row[4],
        section=tuple(json.loads(row[5])),
        anchor=row[6],
        page=row[7],
        start=row[8],
        end=row[9],
        token_count=row[10],
        hash=row[11],
        source=row[12],
        uri=row[13],
        title=row[14],
    )


def _filter_sql(filters: Filters | None) -> tuple[str, list[Any]]:
    if filters is None or filters.empty:
        return "", []
    clauses: list[str] = []
    params: list[Any] = []
    if filters.source_globs:
        clauses.append("(" + " OR ".join("d.source GLOB ?" for _ in filters.source_globs) + ")")
        params.extend(filters.source_globs)
    if filters.doc_types:
        clauses.append(f"d.doc_type IN ({','.join('?' * len(filters.doc_types))})")
        params.extend(filters.doc_types)
    for tag in filters.tags:
        clauses.append("EXISTS (SELECT 1 FROM json_each(d.tags) WHERE value = ?)")
        params.append(tag)
    if filters.principals is not None:
        marks = ",".join("?" * len(filters.principals)) or "NULL"
        clauses.append(
            f"(d.acl = '[]' OR EXISTS (SELECT 1 FROM json_each(d.acl) WHERE value IN ({marks})))"
        )
        params.extend(filters.principals)
    return "AND " + " AND ".join(clauses), params
