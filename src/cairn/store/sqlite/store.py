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
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from cairn.errors import ConfigError, StoreError
from cairn.sqlite import SQLiteFile
from cairn.store.ann import ApproximateIndex
from cairn.store.base import DocumentInfo, NearDuplicates, Vector, WriteResult, hits_of
from cairn.store.fts import indexed_body
from cairn.store.migrations import MIGRATIONS, bump_generation
from cairn.store.sqlite import approximate
from cairn.store.sqlite.filters import filter_sql, source_matcher
from cairn.store.sqlite.integrity import integrity_problems
from cairn.store.sqlite.lexical import LexicalIndex
from cairn.store.sqlite.rows import (
    CHUNK_COLUMNS,
    DOCUMENT_COLUMNS,
    chunk_of,
    document_of,
    heading,
    risk_columns,
)
from cairn.store.vectors import VectorIndex
from cairn.types import Chunk, Document, Filters, Hit, Ranked, Risk

log = logging.getLogger(__name__)

ANN_THRESHOLD = 200_000
"""Indexed vectors of one model from which dense search uses the approximate index."""

_INFO_SQL = (
    "SELECT d.id, d.source, d.content_hash, "
    "(SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.id), d.title, d.doc_type, d.acl "
    "FROM documents d"
)


class SQLiteStore:
    """`Store` on SQLite. Safe to share between threads (reads run in parallel, one read
    connection per thread; writes take turns)."""

    def __init__(
        self,
        path: Path,
        *,
        heading_weight: float = 1.0,
        create: bool = True,
        ann_threshold: int = ANN_THRESHOLD,
    ) -> None:
        self.path = path
        self.heading_weight = heading_weight
        self.ann_threshold = ann_threshold
        if not path.exists() and not create:
            raise StoreError(f"no cairn database at {path}: run 'cairn ingest PATH' first")
        self._file = SQLiteFile(
            path,
            MIGRATIONS,
            what="the cairn database",
            damaged_hint="move it away and ingest again",
            foreign_keys=True,
        )
        self._vectors: dict[str, tuple[int, VectorIndex | ApproximateIndex]] = {}
        self._ann_warned = False
        self._index_lock = threading.Lock()  # one thread builds an index, the others wait
        self._allowed_lock = threading.Lock()
        self._lexical = LexicalIndex(self._file, path, heading_weight, self.generation)
        self._allowed_cache: OrderedDict[tuple[int, Filters], frozenset[int]] = OrderedDict()

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

    def documents(self, principals: Sequence[str] | None = None) -> list[DocumentInfo]:
        where, params = filter_sql(
            Filters(principals=None if principals is None else tuple(principals))
        )
        with self._file.reading() as db:
            rows = db.execute(
                f"{_INFO_SQL} WHERE 1 {where} ORDER BY d.source, d.id", params
            ).fetchall()
        return [_info(r) for r in rows]

    def document_info(self, doc_id: str) -> DocumentInfo | None:
        with self._file.reading() as db:
            row = db.execute(f"{_INFO_SQL} WHERE d.id = ?", (doc_id,)).fetchone()
        return None if row is None else _info(row)

    def get_document(self, doc_id: str) -> Document | None:
        with self._file.reading() as db:
            row = db.execute(
                f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = ?", (doc_id,)
            ).fetchone()
        return None if row is None else document_of(row)

    def get_chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        if not chunk_ids:
            return []
        marks = ",".join("?" * len(chunk_ids))
        with self._file.reading() as db:
            rows = db.execute(
                f"SELECT {CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
                f"WHERE c.id IN ({marks})",
                tuple(chunk_ids),
            ).fetchall()
        by_id = {r[1]: chunk_of(r) for r in rows}
        return [by_id[i] for i in chunk_ids if i in by_id]

    def missing_embeddings(self, model: str) -> int:
        with self._file.reading() as db:
            row = db.execute(
                "SELECT COUNT(*) FROM chunks c WHERE c.dup_of IS NULL AND NOT EXISTS "
                "(SELECT 1 FROM embeddings e WHERE e.model = ? AND e.hash = c.hash)",
                (model,),
            ).fetchone()
        return int(row[0])

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
            chunks, dups, held, flagged = db.execute(
                "SELECT COUNT(*), COUNT(dup_of), COALESCE(SUM(quarantine = 1), 0), "
                "COALESCE(SUM(risk_flagged), 0) FROM chunks"
            ).fetchone()
            embeddings = db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
            indexed = db.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0]
        return {
            "documents": docs,
            "chunks": chunks,
            "duplicates": dups,
            "quarantined": held,
            "flagged": flagged,
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
        near: NearDuplicates | None = None,
        quarantine: Collection[str] = (),
    ) -> WriteResult:
        indexed = duplicates = quarantined = 0
        held = frozenset(quarantine)
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
            near = near or NearDuplicates()
            written: dict[str, int] = {}  # chunk id -> rowid of the indexed chunk it is
            for chunk in chunks:
                dup_of = None
                if chunk.id not in held:
                    dup_of = self._exact_duplicate(db, chunk, acl)
                    target = near.duplicate_of.get(chunk.id)
                    if dup_of is None and target is not None:
                        dup_of = written.get(target) or self._indexed_rowid(db, target, acl)
                fingerprint = near.fingerprints.get(chunk.id, 0)
                cur = db.execute(
                    "INSERT INTO chunks (id, doc_id, ordinal, text, section, anchor, page, start, "
                    "end, token_count, hash, simhash, dup_of, risk_score, risk_flagged, "
                    "risk_reasons, quarantine) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
                        _signed(fingerprint),
                        dup_of,
                        *risk_columns(chunk.risk),
                        _QUARANTINED if chunk.id in held else 0,
                    ),
                )
                rowid = int(cur.lastrowid or 0)
                if chunk.id in held:
                    quarantined += 1
                    continue
                written[chunk.id] = dup_of if dup_of is not None else rowid
                if dup_of is None:
                    self._index_fts(db, rowid, document.title, chunk)
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
        return WriteResult(indexed=indexed, duplicates=duplicates, quarantined=quarantined)

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        with self._file.reading() as db:
            rows = db.execute(
                f"SELECT {CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
                "WHERE c.doc_id = ? ORDER BY c.ordinal",
                (doc_id,),
            ).fetchall()
        return [chunk_of(r) for r in rows]

    def set_risks(self, risks: Mapping[str, Risk]) -> int:
        changed = 0
        with self._transaction() as db:
            for chunk_id, risk in risks.items():
                score, flagged, reasons = risk_columns(risk)
                cur = db.execute(
                    "UPDATE chunks SET risk_score = ?, risk_flagged = ?, risk_reasons = ? "
                    "WHERE id = ? AND (risk_score IS NOT ? OR risk_flagged != ? "
                    "OR risk_reasons != ?)",
                    (score, flagged, reasons, chunk_id, score, flagged, reasons),
                )
                changed += cur.rowcount
            if changed:
                self._bump(db)
        return changed

    def quarantine(self, chunk_ids: Sequence[str]) -> list[str]:
        done: list[str] = []
        with self._transaction() as db:
            for chunk_id in dict.fromkeys(chunk_ids):
                row = db.execute(
                    "SELECT rowid, dup_of, quarantine FROM chunks WHERE id = ?", (chunk_id,)
                ).fetchone()
                if row is None or row[2] == _QUARANTINED:
                    continue
                rowid, dup_of, _ = row
                if dup_of is None:  # indexed: out of the lexical index, with its duplicates
                    db.execute("DELETE FROM chunks_fts WHERE rowid = ?", (rowid,))
                    db.execute(
                        "UPDATE chunks SET quarantine = ? WHERE dup_of = ?", (_QUARANTINED, rowid)
                    )
                db.execute(
                    "UPDATE chunks SET quarantine = ? WHERE rowid = ?", (_QUARANTINED, rowid)
                )
                done.append(chunk_id)
            if done:
                self._bump(db)
        return done

    def release(self, chunk_ids: Sequence[str]) -> list[str]:
        done: list[str] = []
        with self._transaction() as db:
            for chunk_id in dict.fromkeys(chunk_ids):
                row = db.execute(
                    "SELECT c.rowid, c.dup_of, d.title, c.section, c.text FROM chunks c "
                    "JOIN documents d ON d.id = c.doc_id WHERE c.id = ? AND c.quarantine = ?",
                    (chunk_id, _QUARANTINED),
                ).fetchone()
                if row is None:
                    continue
                rowid, dup_of, title, section, text = row
                db.execute("UPDATE chunks SET quarantine = ? WHERE rowid = ?", (_RELEASED, rowid))
                if dup_of is None:
                    db.execute(
                        "UPDATE chunks SET quarantine = ? WHERE dup_of = ? AND quarantine = ?",
                        (_RELEASED, rowid, _QUARANTINED),
                    )
                    db.execute(
                        "INSERT INTO chunks_fts (rowid, heading, body) VALUES (?,?,?)",
                        (rowid, heading(title, tuple(json.loads(section))), indexed_body(text)),
                    )
                done.append(chunk_id)
            if done:
                self._bump(db)
        return done

    def quarantined(self, principals: Sequence[str] | None = None) -> list[Chunk]:
        where, params = filter_sql(
            Filters(principals=None if principals is None else tuple(principals))
        )
        with self._file.reading() as db:
            rows = db.execute(
                f"SELECT {CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
                f"WHERE c.quarantine = ? {where} ORDER BY d.source, c.ordinal",
                (_QUARANTINED, *params),
            ).fetchall()
        return [chunk_of(r) for r in rows]

    def released(self) -> set[str]:
        with self._file.reading() as db:
            rows = db.execute("SELECT id FROM chunks WHERE quarantine = ?", (_RELEASED,))
            return {r[0] for r in rows}

    def delete_documents(self, doc_ids: Sequence[str]) -> list[DocumentInfo]:
        if not doc_ids:
            return []
        with self._transaction() as db:
            removed = self._delete(db, doc_ids)
            if removed:
                self._bump(db)
        return removed

    def _delete(self, db: sqlite3.Connection, doc_ids: Sequence[str]) -> list[DocumentInfo]:
        removed: list[DocumentInfo] = []
        for doc_id in dict.fromkeys(doc_ids):
            row = db.execute(f"{_INFO_SQL} WHERE d.id = ?", (doc_id,)).fetchone()
            if row is None:
                continue
            removed.append(_info(row))
            rows = db.execute(
                "SELECT rowid, dup_of, quarantine FROM chunks WHERE doc_id = ?", (doc_id,)
            ).fetchall()
            for rowid, dup_of, held in rows:
                if dup_of is None:  # a canonical (quarantined ones too: duplicates refer to it)
                    if held != _QUARANTINED:
                        db.execute("DELETE FROM chunks_fts WHERE rowid = ?", (rowid,))
                    self._promote(db, rowid, doc_id)
            db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        return removed

    def _promote(self, db: sqlite3.Connection, rowid: int, doc_id: str) -> None:
        """A canonical chunk is going away: its first duplicate elsewhere takes its place,
        one not quarantined first; the heir is indexed unless it is itself quarantined."""
        heirs = db.execute(
            "SELECT c.rowid, d.title, c.section, c.text, c.quarantine FROM chunks c "
            "JOIN documents d ON d.id = c.doc_id WHERE c.dup_of = ? AND c.doc_id != ? "
            "ORDER BY c.quarantine = ?, c.rowid",
            (rowid, doc_id, _QUARANTINED),
        ).fetchall()
        if not heirs:
            return
        heir = heirs[0]
        db.execute("UPDATE chunks SET dup_of = NULL WHERE rowid = ?", (heir[0],))
        db.execute("UPDATE chunks SET dup_of = ? WHERE dup_of = ?", (heir[0], rowid))
        if heir[4] != _QUARANTINED:
            db.execute(
                "INSERT INTO chunks_fts (rowid, heading, body) VALUES (?,?,?)",
                (heir[0], heading(heir[1], tuple(json.loads(heir[2]))), indexed_body(heir[3])),
            )

    def _index_fts(self, db: sqlite3.Connection, rowid: int, title: str, chunk: Chunk) -> None:
        db.execute(
            "INSERT INTO chunks_fts (rowid, heading, body) VALUES (?,?,?)",
            (rowid, heading(title, chunk.section), indexed_body(chunk.text)),
        )

    def _bump(self, db: sqlite3.Connection) -> None:
        bump_generation(db)

    def fingerprints(self, acl: Sequence[str], *, excluding: str | None = None) -> dict[str, int]:
        with self._file.reading() as db:
            rows = db.execute(
                "SELECT c.id, c.simhash FROM chunks c JOIN documents d ON d.id = c.doc_id "
                "WHERE c.dup_of IS NULL AND c.quarantine != 1 AND c.simhash != 0 AND d.acl = ? "
                "AND d.id IS NOT ?",
                (json.dumps(list(acl)), excluding),
            ).fetchall()
        return {r[0]: r[1] & _MASK for r in rows}

    def _exact_duplicate(self, db: sqlite3.Connection, chunk: Chunk, acl: str) -> int | None:
        """The indexed chunk with the same text readable by exactly the same principals: a
        chunk is never hidden as a duplicate of one its readers cannot see."""
        row = db.execute(
            "SELECT c.rowid FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "WHERE c.hash = ? AND c.dup_of IS NULL AND c.quarantine != 1 AND d.acl = ? LIMIT 1",
            (chunk.hash, acl),
        ).fetchone()
        return None if row is None else int(row[0])

    def _indexed_rowid(self, db: sqlite3.Connection, chunk_id: str, acl: str) -> int | None:
        row = db.execute(
            "SELECT c.rowid FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "WHERE c.id = ? AND c.dup_of IS NULL AND c.quarantine != 1 AND d.acl = ?",
            (chunk_id, acl),
        ).fetchone()
        return None if row is None else int(row[0])

    # -- search -------------------------------------------------------------------------

    def lexical_ranking(self, query: str, k: int, filters: Filters | None = None) -> list[Ranked]:
        generation = self.generation()
        allowed = self._allowed(filters, generation)
        return self._lexical.rank(query, k, allowed, generation, self._scope(filters, generation))

    def keep_bm25_in_memory(self, *, wait: bool = False) -> None:
        """Rank lexical queries with an in-memory copy of the BM25 index (`cairn.store.bm25`:
        the same scores, 20-30x faster per query, ~1.5 s and ~19 MB to build on the Python
        docs, tenant-scoped counts included). It is built in the background, now and after
        every change to the corpus; FTS5 answers until it is ready. For long-running
        processes (the server)."""
        self._lexical.keep_in_memory(wait=wait)

    def bm25_covers(self, generation: int) -> bool:
        """Whether lexical queries at corpus `generation` are ranked in memory."""
        return self._lexical.covers(generation)

    def dense_ranking(
        self, vector: Vector, k: int, filters: Filters | None = None, *, model: str
    ) -> list[Ranked]:
        generation = self.generation()
        index = self._vector_index(model, generation)
        allowed = self._allowed(filters, generation)
        query = np.asarray(vector, dtype=np.float32)
        if isinstance(index, ApproximateIndex):
            found = index.search(query, k * RESCORE, allowed)
            rescored = approximate.rescore(self._file, model, query, [r for r, _ in found])
            return [Ranked(cid, s, dense=s) for cid, s in rescored[:k]]
        mask = None if allowed is None else index.masks.of(allowed)
        pairs = index.search(query, k, mask)
        return [Ranked(cid, s, dense=s) for cid, s in pairs]

    def lexical_search(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        return hits_of(self, self.lexical_ranking(query, k, filters))

    def dense_search(
        self, vector: Vector, k: int, filters: Filters | None = None, *, model: str
    ) -> list[Hit]:
        return hits_of(self, self.dense_ranking(vector, k, filters, model=model))

    def _vector_index(self, model: str, generation: int) -> VectorIndex | ApproximateIndex:
        """The exact index below `ann_threshold` vectors, the approximate one from there
        (`cairn.store.ann`: saved next to the database, brought up to date with what
        changed since, rebuilt when missing or not this database's)."""
        cached = self._vectors.get(model)
        if cached is not None and cached[0] == generation:
            return cached[1]
        with self._index_lock:
            cached = self._vectors.get(model)
            if cached is not None and cached[0] == generation:
                return cached[1]
            previous = None if cached is None else cached[1]
            folder = approximate.ann_folder(self.path)
            if isinstance(previous, ApproximateIndex):
                ann: ApproximateIndex | None = approximate.sync(self._file, folder, previous)
            elif approximate.indexed_estimate(self._file) >= max(self.ann_threshold, 1):
                try:
                    ann = approximate.open_index(self._file, folder, model)
                except ConfigError as exc:  # usearch missing: the exact scan still answers
                    if not self._ann_warned:
                        log.warning("%s", exc)
                        self._ann_warned = True
                    ann = None
            else:
                ann = None
            if ann is not None and len(ann) >= max(self.ann_threshold, 1):
                self._vectors[model] = (generation, ann)
                return ann
            with self._file.reading() as db:
                rows = db.execute(
                    "SELECT c.rowid, c.id, e.vector FROM chunks c JOIN embeddings e "
                    "ON e.hash = c.hash AND e.model = ? "
                    "WHERE c.dup_of IS NULL AND c.quarantine != 1 ORDER BY c.rowid",
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
        where, params = filter_sql(filters)
        matches = source_matcher(filters.source_globs)
        with self._file.reading() as db:
            rows = db.execute(
                "SELECT c.rowid, d.source FROM chunks c JOIN documents d ON d.id = c.doc_id "
                f"WHERE c.dup_of IS NULL AND c.quarantine != 1 {where}",
                params,
            ).fetchall()
        if matches is not None:
            rows = [r for r in rows if matches(r[1])]
        allowed = frozenset(r[0] for r in rows)
        with self._allowed_lock:
            self._allowed_cache[key] = allowed
            while len(self._allowed_cache) > _ALLOWED_CACHE_SIZE:
                self._allowed_cache.popitem(last=False)
        return allowed

    def _scope(self, filters: Filters | None, generation: int) -> frozenset[int] | None:
        """Rowids of the indexed chunks the caller may read, over which lexical statistics
        are counted; None without an ACL check (every chunk, ranked as before). A scope of
        every chunk is ranked from precomputed statistics by the in-memory index, and
        from the same arithmetic as a smaller scope on FTS5 (whose own `bm25()` may differ in
        the last bit), so a tenant's scores never move when another tenant's first private
        document arrives."""
        if filters is None or filters.principals is None:
            return None
        return self._allowed(Filters(principals=filters.principals), generation)

    def check_integrity(self) -> list[str]:
        """Problems found by SQLite's own check and cairn's invariants (empty when healthy)."""
        with self._file.reading() as db:
            return integrity_problems(db)

    def loading(self) -> AbstractContextManager[None]:
        """Nothing is put off: the full-text index and the vector index (exact, or the
        approximate one kept beside the database) take writes as they come as cheaply."""
        return nullcontext()

    def close(self) -> None:
        self._lexical.close()
        self._file.close()


RESCORE = 1
"""The approximate index's candidates per result, scored again from the stored float32
vectors: exact scores (the index keeps float16) and a better top k."""
_ALLOWED_CACHE_SIZE = 256
"""Filters whose allowed chunks are kept (one per tenant and principal in practice)."""
_MASK = (1 << 64) - 1
_QUARANTINED = 1
"""`chunks.quarantine`: kept but not indexed until released (0: never held)."""
_RELEASED = 2
"""`chunks.quarantine`: released by an admin; indexed, and not quarantined again by a rescan."""


def _signed(value: int) -> int:
    """SQLite integers are signed 64-bit; 0 stands for "no fingerprint"."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _info(row: Sequence[Any]) -> DocumentInfo:
    return DocumentInfo(
        id=row[0],
        source=row[1],
        content_hash=row[2],
        chunk_count=row[3],
        title=row[4],
        doc_type=row[5],
        acl=tuple(json.loads(row[6])),
    )
