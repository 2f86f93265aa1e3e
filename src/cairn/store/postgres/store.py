"""The Postgres store: what the SQLite store keeps in one file, in tables shared by every
replica.

- Documents and chunks in tables; a document and its chunks are replaced in one
  transaction, serialised with every other writer by the component's advisory lock. The
  write is one call of `cairn_write_document` (schema step 4), one statement in its own
  transaction taking the writers' lock (binary parameters, vectors in pgvector's binary
  format); a single-statement read is one round trip too (autocommit). What the call
  cannot do (the model's first vectors create its index; a stored version whose chunks are
  canonical for duplicates elsewhere hands their place on) takes two.
- Embeddings (keyed by model and chunk hash, the embedding cache) in a pgvector column,
  with one index (cosine) per model, a partial expression index at the model's dimension:
  HNSW created with its first vector, IVFFlat when built over `LARGE_INDEX` vectors or more
  at once (`cairn migrate`, `rebuild_vector_indexes`). Filters are part of the query and
  pgvector's iterative index scans keep reading the index until `k` rows pass them, so a
  selective ACL filter still returns `k` rows; HNSW's `ef_search` grows with the filter's
  selectivity (counted once per corpus generation), and a filter few chunks pass is
  answered by comparing them all.
- BM25 computed in SQL from a `postings` table (term, chunk, counts and positions per
  column) holding FTS5's own tokens (`cairn.store.postgres.tokens`): the SQLite store's
  formula, with N, n(t) and the average length counted over the chunks the caller may read,
  so another tenant's documents never move a tenant's scores. Measured against
  pg_textsearch's BM25 index in `bench/pg_bm25.py` (docs/benchmarks.md): pg_textsearch
  counts its statistics over the whole index, which the tenant rule forbids. A long-running
  process (a server replica) ranks from an in-memory copy of the postings instead
  (`keep_bm25_in_memory`, `cairn.store.postgres.memory`), the same scores without reading
  a query's postings on every call.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import struct
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, NamedTuple

import numpy as np

from cairn.errors import StoreError
from cairn.pg import PgDatabase
from cairn.store.base import DocumentInfo, NearDuplicates, Vector, WriteResult, hits_of
from cairn.store.bm25 import K1, B, BM25Index, QueryTokenizer
from cairn.store.fts import indexed_body, query_terms
from cairn.store.postgres.filters import filter_sql, principals_sql
from cairn.store.postgres.memory import kept_index
from cairn.store.postgres.schema import MIGRATIONS, TOKENIZE
from cairn.store.postgres.tokens import ChunkTokenizer, Tokenized
from cairn.store.sqlite.rows import heading
from cairn.types import Chunk, Document, Filters, Hit, Ranked, Risk

log = logging.getLogger(__name__)

_INFO_SQL = (
    "SELECT d.id, d.source, d.content_hash, "
    "(SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.id), d.title, d.doc_type, d.acl "
    "FROM documents d"
)
_CHUNK_COLUMNS = (
    "c.rowid, c.id, c.doc_id, c.ordinal, c.text, c.section, c.anchor, c.page, c.start_at, "
    "c.end_at, c.token_count, c.hash, d.source, d.uri, d.title, c.risk_score, c.risk_flagged, "
    "c.risk_reasons"
)
_DOCUMENT_COLUMNS = "id, source, uri, title, doc_type, content_hash, text, metadata, tags, acl"

EF_SEARCH = 200
"""HNSW candidates read per query (pgvector's `hnsw.ef_search`; at least `k`): recall@10
0.947-0.961 against the exact scan at 91k MiniLM vectors (0.910-0.917 with 100), faster than
the exact scan (bench/pg_search.py, docs/benchmarks.md)."""
MAX_SCAN_TUPLES = 100_000
"""How far an iterative index scan may read to find `k` rows passing the filters."""
EXACT_BELOW = 1_000
"""A filtered dense search compares every passing vector when at most this many chunks pass
its filters (where an iterative index scan would wade through the index for the few that
pass); above, it reads the HNSW index with `ef_search` scaled by the filter's selectivity:
recall@10 0.980 under a 10%-selective ACL filter at 91k chunks, where the exact scan in
SQL costs 11x SQLite's (bench/pg_search.py, docs/benchmarks.md)."""
EF_GROWS_PAST = 200_000
"""Past this many indexed chunks `ef_search` grows in proportion to the corpus (five times
at a million chunks: 1,000, pgvector's largest): recall@10 at a fixed beam falls as the
graph grows (bench/pg_ann_params.py, docs/benchmarks.md)."""
HNSW_SMALL = (16, 64)
"""(links per node `m`, build beam `ef_construction`) of an HNSW index created by a write:
pgvector's defaults, the cheapest to insert into."""
LARGE_INDEX = 200_000
"""Vectors from which an index built over them at once (`cairn migrate`,
`PostgresStore.rebuild_vector_indexes`) is an IVFFlat index instead. At a million chunks of
bench/million.py's set (docs/benchmarks.md, "Postgres at a million chunks"), no HNSW build
reached recall@10 0.95 within pgvector's largest `ef_search` (1,000): 0.923 with 48 links
over the store's table, 0.947 with 32 over the vectors alone, and iterative scans reading
3,000 candidates found no better ones; IVFFlat with 1,000 lists, built in 50 s instead of
8-14 minutes, reaches 0.963 probing 60 of them and 0.984 probing 80 (bench/pg_ann_params.py
--ivf)."""
IVF_PROBES = 0.08
"""The share of an IVFFlat index's lists a search probes (`ivfflat.probes`). At a million
chunks, recall@10 of all / under a 10% ACL filter: 0.967 / 0.943 at 6%, 0.969 / 0.959 at 8%
on bench/million.py's latency questions; 0.976 / 0.964 and 0.987 / 0.976 on the golden
set's questions (docs/benchmarks.md)."""
_EF_MAX = 1000
"""pgvector's largest `hnsw.ef_search`."""
"""How far an iterative index scan may read to find `k` rows passing the filters."""


class PostgresStore:
    """`Store` on Postgres with pgvector. Safe to share between threads (a connection pool);
    any number of processes may open the same database."""

    lexical_index = "postgres"
    """What `/readyz` reports while lexical queries are ranked in SQL (no in-memory index
    wanted, or one being built)."""

    def __init__(
        self,
        url: str,
        *,
        heading_weight: float = 1.0,
        pool_size: int = 10,
        ef_search: int = EF_SEARCH,
        durable_writes: bool = False,
        exact_below: int = EXACT_BELOW,
    ) -> None:
        self.url = url
        self.heading_weight = heading_weight
        self.ef_search = ef_search
        self.durable_writes = durable_writes
        self.exact_below = exact_below
        """A filtered dense search compares every passing vector (exact, no index) when at
        most this many indexed chunks pass the filters; above it, the HNSW index is read
        with `ef_search` scaled by the filter's selectivity (up to pgvector's 1,000)."""
        """Whether a document's write waits for its WAL to reach the disk
        (`synchronous_commit`); off by default, as the SQLite store's WAL with `synchronous =
        NORMAL`: a crash of the database server may lose the last writes (an ingest rerun
        writes them again), never leaves a half-written document."""
        self._db = PgDatabase(
            url,
            MIGRATIONS,
            component="store",
            what="the cairn store",
            error=StoreError,
            max_size=pool_size,
        )
        self._tokens = ChunkTokenizer(TOKENIZE)
        self._query_tokens = QueryTokenizer(TOKENIZE)
        self._lock = threading.Lock()
        self._scopes: OrderedDict[tuple[int, tuple[str, ...] | None], tuple[int, int]] = (
            OrderedDict()
        )
        self._globs: OrderedDict[tuple[int, tuple[str, ...]], list[str]] = OrderedDict()
        self._counts: OrderedDict[tuple[int, Filters], tuple[int, int]] = OrderedDict()
        # ACL (JSON) -> (generation, {doc id: {chunk id: fingerprint}})
        self._fingerprints: OrderedDict[str, tuple[int, dict[str, dict[str, int]]]] = OrderedDict()
        self._vector_type: Any = None  # psycopg's TypeInfo of pgvector's `vector`, once seen
        self._memory = kept_index(self._db, heading_weight, self._query_tokens)
        self._allowed_rows: OrderedDict[tuple[int, Filters], frozenset[int]] = OrderedDict()
        self._indexed: dict[str, int] = {}  # model -> dimension of its HNSW index, once seen
        self._loads = 0  # bulk loads under way (`loading`)

    @property
    def location(self) -> str:
        return self._db.location

    @contextmanager
    def _read(self) -> Iterator[Any]:
        """A read-only transaction seeing one snapshot."""
        with self._db.reading() as conn:
            conn.raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield conn.raw

    @contextmanager
    def _write(self) -> Iterator[Any]:
        with self._db.transaction(lock=True) as conn:
            yield conn.raw

    @contextmanager
    def _session(self) -> Iterator[Any]:
        """A client-side binding cursor on an autocommit connection: a multi-statement query
        with its own BEGIN and COMMIT is one round trip."""
        from psycopg import ClientCursor

        with self._db.session() as conn, ClientCursor(conn) as cur:
            yield cur

    def _single(self) -> AbstractContextManager[Any]:
        """A connection in autocommit mode for a read of one statement (its own snapshot):
        one round trip."""
        return self._db.session()

    def writing(self) -> AbstractContextManager[Any]:
        """A write transaction (a psycopg connection) serialised with every other writer of
        this store, for bulk loads (`cairn migrate`)."""
        return self._write()

    def tokenize(self, rows: Sequence[tuple[str, str]]) -> list[Tokenized]:
        """The postings of (heading, chunk text) pairs, as they are indexed: the body is the
        chunk's `indexed_body` (its text, then its identifiers' parts), as in the SQLite
        store's full-text index."""
        return self._tokens.tokenize([(h, indexed_body(text)) for h, text in rows])

    # -- reads --------------------------------------------------------------------------

    def generation(self) -> int:
        with self._single() as db:
            return _generation(db)

    def documents(self, principals: Sequence[str] | None = None) -> list[DocumentInfo]:
        where, params = principals_sql(None if principals is None else tuple(principals))
        with self._single() as db:
            rows = db.execute(
                f'{_INFO_SQL} WHERE TRUE {where} ORDER BY d.source COLLATE "C", d.id COLLATE "C"',
                params,
            ).fetchall()
        return [_info(r) for r in rows]

    def document_info(self, doc_id: str) -> DocumentInfo | None:
        with self._single() as db:
            row = db.execute(f"{_INFO_SQL} WHERE d.id = %s", (doc_id,)).fetchone()
        return None if row is None else _info(row)

    def get_document(self, doc_id: str) -> Document | None:
        with self._single() as db:
            row = db.execute(
                f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE id = %s", (doc_id,)
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
            metadata=row[7],
            tags=tuple(row[8]),
            acl=tuple(row[9]),
        )

    def get_chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        if not chunk_ids:
            return []
        with self._single() as db:
            rows = db.execute(
                f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
                "WHERE c.id = ANY(%s::text[])",
                (list(chunk_ids),),
            ).fetchall()
        by_id = {r[1]: _chunk(r) for r in rows}
        return [by_id[i] for i in chunk_ids if i in by_id]

    def missing_embeddings(self, model: str) -> int:
        with self._single() as db:
            row = db.execute(
                "SELECT COUNT(*) FROM chunks c WHERE c.dup_of IS NULL AND NOT EXISTS "
                "(SELECT 1 FROM embeddings e WHERE e.model = %s AND e.hash = c.hash)",
                (model,),
            ).fetchone()
        return int(row[0])

    def cached_embeddings(self, model: str, hashes: Sequence[str]) -> dict[str, Vector]:
        if not hashes:
            return {}
        with self._single() as db:
            rows = db.execute(
                "SELECT hash, vector::text FROM embeddings WHERE model = %s "
                "AND hash = ANY(%s::text[])",
                (model, list(dict.fromkeys(hashes))),
            ).fetchall()
        return {h: parse_vector(v) for h, v in rows}

    def stats(self) -> dict[str, int]:
        with self._read() as db:
            docs = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            chunks, dups, held, flagged, indexed = db.execute(
                "SELECT COUNT(*), COUNT(dup_of), COUNT(*) FILTER (WHERE quarantine = 1), "
                "COUNT(*) FILTER (WHERE risk_flagged), "
                "COUNT(*) FILTER (WHERE dup_of IS NULL AND quarantine != 1) FROM chunks"
            ).fetchone()
            embeddings = db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
            generation = _generation(db)
            version = db.execute(
                "SELECT version FROM cairn_schema WHERE component = 'store'"
            ).fetchone()[0]
        return {
            "documents": docs,
            "chunks": chunks,
            "duplicates": dups,
            "quarantined": held,
            "flagged": flagged,
            "indexed": indexed,
            "embeddings": embeddings,
            "generation": generation,
            "schema_version": version,
        }

    def vector_indexes(self) -> list[VectorIndexBuild]:
        """Each model's vector index: how many vectors it holds, how it was built, and how
        its size says it should be (`wanted_build`)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT v.model, v.name, a.amname, c.reloptions, (SELECT COUNT(*) FROM "
                "embeddings e WHERE e.model = v.model) FROM vector_indexes v "
                "LEFT JOIN pg_class c ON c.oid = to_regclass(quote_ident(v.name)) "
                "LEFT JOIN pg_am a ON a.oid = c.relam ORDER BY v.model"
            ).fetchall()
        return [
            VectorIndexBuild(
                model,
                name,
                int(count),
                _read_build(method, options),
                wanted_build(int(count)),
                present=method is not None,
            )
            for model, name, method, options, count in rows
        ]

    def rebuild_vector_indexes(
        self, *, all_of_them: bool = False, missing_only: bool = False
    ) -> list[VectorIndexBuild]:
        """Rebuild the vector indexes the corpus has outgrown (`VectorIndexBuild.outgrown`;
        all: `all_of_them`) with the build their size calls for, without blocking searches
        or writes: the same method's index is rebuilt beside the old one and swapped for it
        (`REINDEX INDEX CONCURRENTLY`); another method's is built beside it
        (`CREATE INDEX CONCURRENTLY`), then replaces it. A store grown by ingest past
        `LARGE_INDEX` vectors keeps the HNSW index its first write made until then. A
        missing index (put off by a bulk load that was cut short: `loading`) is built;
        `missing_only` builds only those. A model whose index another process is building
        (a lease per model: `_index_builder`) is left to it. Returns the indexes rebuilt."""
        from psycopg import sql

        rebuilt = []
        for index in self.vector_indexes():
            if not (index.outgrown or all_of_them) or (missing_only and index.present):
                continue
            build = index.wanted
            # autocommit: CONCURRENTLY runs outside a transaction
            with _index_builder(self._db, index.model) as mine, self._single() as db:
                if not mine or (not index.present and _relation_exists(db, index.name)):
                    continue  # another process builds it, or has built it meanwhile
                if index.present and build.method == index.built.method:
                    options = sql.SQL(", ").join(
                        sql.SQL(f"{k} = {int(v)}") for k, v in build.options
                    )
                    db.execute(
                        sql.SQL("ALTER INDEX {} SET ({})").format(
                            sql.Identifier(index.name), options
                        )
                    )
                    db.execute(
                        sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(sql.Identifier(index.name))
                    )
                    name = index.name
                else:
                    name = index_name(index.model, build.method)
                    dim = int(
                        db.execute(
                            "SELECT dim FROM vector_indexes WHERE model = %s", (index.model,)
                        ).fetchone()[0]
                    )
                    # a build interrupted before leaves an invalid index of that name
                    db.execute(
                        sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(name))
                    )
                    _create_index(db, name, index.model, dim, build, concurrently=True)
                    db.execute(
                        "UPDATE vector_indexes SET name = %s WHERE model = %s", (name, index.model)
                    )
                self._drop_replaced(index.model, name)
            rebuilt.append(index._replace(name=name, built=build, present=True))
        for index in self.vector_indexes():  # one a rebuild cut short before it dropped
            with _index_builder(self._db, index.model) as mine:
                if mine:
                    self._drop_replaced(index.model, index.name)
        return rebuilt

    @contextmanager
    def loading(self) -> Iterator[None]:
        """A bulk load: a model's vector index that does not exist yet when its first
        vectors are written here is built once, over all of them, when the last load on
        this store object ends (`CREATE INDEX CONCURRENTLY`: writes from elsewhere go on).
        pgvector builds an HNSW index over the Python docs' 22,829 vectors in 3.7 s;
        inserting them 40 at a time into an indexed table takes 30 s, 2.3 s without the
        index (bench/pg_index_build.py). Until then dense search compares every vector
        (exact, slower). A load that stops on an error (or Ctrl-C) does not build it (that
        could take minutes at a million vectors): the next load's end or `cairn doctor
        --rebuild-vector-indexes` does, and a warning says so. A model whose index exists
        keeps it, maintained write by write."""
        from psycopg import Error

        with self._lock:
            self._loads += 1
        completed = False
        try:
            yield
            completed = True
        finally:
            with self._lock:
                self._loads -= 1
                last = self._loads == 0
            if last:
                try:
                    # One cheap read first: counting a million vectors per model (what
                    # `vector_indexes` does) at the end of every one-file upload is not.
                    missing = self._missing_indexes()
                    if completed and missing:
                        self.rebuild_vector_indexes(missing_only=True)
                    elif missing:
                        log.warning(
                            "the load stopped early: the vector index of %s is not built; "
                            "dense search compares every vector until `cairn doctor "
                            "--rebuild-vector-indexes` or the next ingest builds it",
                            ", ".join(missing),
                        )
                except Error as exc:  # what was written stays; doctor reports the index
                    log.warning(
                        "the vector index a bulk load put off was not built (%s): dense "
                        "search compares every vector until `cairn doctor "
                        "--rebuild-vector-indexes` or the next ingest builds it",
                        exc,
                    )

    def _missing_indexes(self) -> list[str]:
        """The models whose vector index is registered but not built."""
        with self._single() as db:
            rows = db.execute(
                "SELECT model FROM vector_indexes "
                "WHERE to_regclass(quote_ident(name)) IS NULL ORDER BY model"
            ).fetchall()
        return [str(r[0]) for r in rows]

    def _drop_replaced(self, model: str, current: str) -> None:
        """Drop the model's index of the other method, if one is left (a rebuild that
        swapped methods drops it last: a crash just before leaves it for the next call)."""
        from psycopg import sql

        with self._single() as db:
            for method in ("hnsw", "ivfflat"):
                name = index_name(model, method)
                if name != current:
                    db.execute(
                        sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(name))
                    )

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
        tokens = self.tokenize([(heading(document.title, c.section), c.text) for c in chunks])
        held = frozenset(quarantine)
        acl = json.dumps(list(document.acl))
        near = near or NearDuplicates()
        hashes = list(dict.fromkeys(c.hash for c in chunks))
        targets = list(
            {t for c in chunks if c.id not in held and (t := near.duplicate_of.get(c.id))}
        )
        dim = len(next(iter(embeddings.values()))) if embeddings else 0
        if not embeddings or self._indexed.get(model) == dim:
            done = self._write_call(document, chunks, tokens, embeddings, model, acl, held, near)
            if done is not None:
                return done
        vectors = [(h, vector_text(v)) for h, v in embeddings.items()]
        # Two round trips (the model's first vectors, or a stored version whose chunks are
        # canonical for duplicates elsewhere): one sends BEGIN, the lock and every read the
        # write depends on (the stored version, new rowids, the indexed chunks with these
        # hashes, the near-duplicate targets elsewhere, the cached vectors); the other every
        # write and the COMMIT, as one multi-statement query.
        with self._session() as cur:
            first = _Statements()
            first.add("BEGIN")
            if not self.durable_writes:
                first.add("SET LOCAL synchronous_commit = off")
            first.add("SELECT pg_advisory_xact_lock(hashtext(%s))", self._db.lock_id)
            first.add(
                "SELECT EXISTS (SELECT 1 FROM documents WHERE id = %s), EXISTS (SELECT 1 "
                "FROM chunks c JOIN chunks h ON h.dup_of = c.rowid AND h.doc_id != c.doc_id "
                "WHERE c.doc_id = %s AND c.dup_of IS NULL)",
                document.id,
                document.id,
            )
            first.add(
                "SELECT COALESCE(array_agg(nextval('chunks_rowid_seq')), '{}') "
                "FROM generate_series(1, %s)",
                len(chunks),
            )
            _lookups(first, document.id, acl, model, hashes, targets)
            _, [(exists, heirs)], [(rowids,)], *found = first.run(cur)
            if heirs:  # canonical chunks with duplicates elsewhere: each hands its place on
                self._delete(cur.connection, [document.id])
                again = _Statements()
                _lookups(again, document.id, acl, model, hashes, targets)
                found = again.run(cur)
            canonical, elsewhere, cached = (dict(rows) for rows in found)
            missing = {c.hash for c in chunks} - embeddings.keys() - cached.keys()
            if missing:
                raise StoreError(
                    f"{document.source}: {len(missing)} chunks have no embedding for model "
                    f"{model}: pass their vectors (or embed them first)"
                )
            ids = sorted(rowids)
            plan = _plan(chunks, tokens, ids, held, near, canonical, elsewhere)
            if vectors and self._indexed.get(model) != dim:
                ensure_vector_index(cur.connection, model, dim, defer=self._loads > 0)
                self._indexed[model] = dim
            then = _Statements()
            if exists and not heirs:
                then.add(_DELETE_POSTINGS, document.id)
                then.add("DELETE FROM chunks WHERE doc_id = %s", document.id)
                then.add("DELETE FROM documents WHERE id = %s", document.id)
            then.add(
                "INSERT INTO documents (id, source, uri, title, doc_type, content_hash, "
                "text, metadata, tags, acl, ingested_at) "
                "VALUES (%s,%s,%s,%s,%s,%s,%s,%s::jsonb,%s::jsonb,%s::jsonb,%s)",
                document.id,
                document.source,
                document.uri,
                document.title,
                document.doc_type,
                document.content_hash,
                document.text,
                json.dumps(dict(document.metadata)),
                json.dumps(list(document.tags)),
                acl,
                time.time(),
            )
            if vectors:
                then.add(
                    "INSERT INTO embeddings (model, hash, vector) SELECT %s, h, v::vector "
                    "FROM unnest(%s::text[], %s::text[]) AS t(h, v) ON CONFLICT DO NOTHING",
                    model,
                    [h for h, _ in vectors],
                    [v for _, v in vectors],
                )
            if chunks:
                then.add(
                    "INSERT INTO chunks (rowid, id, doc_id, ordinal, text, section, anchor, "
                    "page, start_at, end_at, token_count, hash, simhash, length, risk_score, "
                    "risk_flagged, risk_reasons, quarantine, dup_of) "
                    "SELECT r, i, %s, o, t, s::jsonb, a, p, sa, ea, tc, h, sh, l, rs, rf, "
                    "rr::jsonb, q, du FROM unnest(%s::bigint[], %s::text[], %s::int[], "
                    "%s::text[], %s::text[], %s::text[], %s::int[], %s::int[], %s::int[], "
                    "%s::int[], %s::text[], %s::bigint[], %s::int[], %s::float8[], %s::bool[], "
                    "%s::text[], %s::smallint[], %s::bigint[]) "
                    "AS u(r, i, o, t, s, a, p, sa, ea, tc, h, sh, l, rs, rf, rr, q, du) "
                    "ORDER BY r",
                    document.id,
                    *_chunk_arrays(chunks, tokens, ids, held, near, plan.dup_of),
                )
            _postings(then, plan.postings)
            then.add("UPDATE store_meta SET value = value + 1 WHERE key = 'generation'")
            then.add("COMMIT")
            then.run(cur)
        return WriteResult(
            indexed=len(plan.postings), duplicates=plan.duplicates, quarantined=plan.quarantined
        )

    def _write_call(
        self,
        document: Document,
        chunks: Sequence[Chunk],
        tokens: Sequence[Tokenized],
        embeddings: Mapping[str, Vector],
        model: str,
        acl: str,
        held: frozenset[str],
        near: NearDuplicates,
    ) -> WriteResult | None:
        """The write as one statement, `cairn_write_document` (schema step 4), in its own
        transaction; None when the function wrote nothing (the stored version's chunks are
        canonical for duplicates elsewhere)."""
        from psycopg import Error

        risks = [_risk_columns(c.risk) for c in chunks]
        postings = [
            (i, term, p.nh, p.nb, p.heading, p.body)
            for i, (chunk, tokenized) in enumerate(zip(chunks, tokens, strict=True), start=1)
            if chunk.id not in held
            for term, p in tokenized.postings.items()
        ]
        # The postings' columns go as array literals, cast on the server: hundreds of
        # thousands of elements dumped one by one by the driver cost more client time than
        # the rest of the write (bench/pg_ingest.py --end-to-end).
        ci, terms, nh, nb, pos_h, pos_b = [list(c) for c in zip(*postings, strict=True)] or (
            [[]] * 6
        )
        columns = [
            _int_array(ci),
            _text_array(terms),
            _int_array(nh),
            _int_array(nb),
            _text_array(pos_h),
            _text_array(pos_b),
        ]
        call = _Statements()
        call.add(
            "SELECT cairn_write_document(%b, %b, %b, %b, %b, %b, %b, %b::jsonb, %b::jsonb, "
            "%b::jsonb, %b, %b, %b::text[], %b::vector[], %b::text[], %b::int[], %b::text[], "
            "%b::text[], %b::text[], %b::int[], %b::int[], %b::int[], %b::int[], %b::text[], "
            "%b::bigint[], %b::int[], %b::float8[], %b::bool[], %b::text[], %b::bool[], "
            "%b::text[], %b::text::int[], %b::text::text[], %b::text::int[], %b::text::int[], "
            "%b::text::text[], %b::text::text[], %b, %b)",
            document.id,
            document.source,
            document.uri,
            document.title,
            document.doc_type,
            document.content_hash,
            document.text,
            json.dumps(dict(document.metadata)),
            json.dumps(list(document.tags)),
            acl,
            time.time(),
            model,
            list(embeddings),
            [_PgVector(v) for v in embeddings.values()],
            [c.id for c in chunks],
            [c.ordinal for c in chunks],
            [c.text for c in chunks],
            [json.dumps(list(c.section)) for c in chunks],
            [c.anchor for c in chunks],
            [c.page for c in chunks],
            [c.start for c in chunks],
            [c.end for c in chunks],
            [c.token_count for c in chunks],
            [c.hash for c in chunks],
            [_signed(near.fingerprints.get(c.id, 0)) for c in chunks],
            [t.length for t in tokens],
            [r[0] for r in risks],
            [r[1] for r in risks],
            [r[2] for r in risks],
            [c.id in held for c in chunks],
            [None if c.id in held else near.duplicate_of.get(c.id) for c in chunks],
            *columns,
            self._db.lock_id,
            self.durable_writes,
        )
        # one statement in autocommit mode (its own transaction), parameters bound on the
        # server in binary: the function's arrays are not quoted into the query text
        with self._db.session() as conn:
            try:
                cur = self._vector_cursor(conn)
                cur.execute(call.sql[0], call.params, binary=True)
                [counts] = cur.fetchone()
            except Error as exc:
                if exc.sqlstate != _MISSING_VECTORS:
                    raise
                raise StoreError(
                    f"{document.source}: {exc.diag.message_primary} chunks have no embedding "
                    f"for model {model}: pass their vectors (or embed them first)"
                ) from None
        if counts is None:
            return None
        indexed, duplicates, quarantined, generation, *flags = counts
        fingerprints = {
            c.id: fp
            for c, flag in zip(chunks, flags, strict=True)
            if flag and (fp := near.fingerprints.get(c.id, 0) & _MASK)
        }
        self._kept_fingerprints(acl, generation, document.id, fingerprints)
        return WriteResult(indexed=indexed, duplicates=duplicates, quarantined=quarantined)

    def _kept_fingerprints(
        self, acl: str, generation: int, doc_id: str, fingerprints: dict[str, int]
    ) -> None:
        """A write at `generation` changed the fingerprints of `doc_id` (readable by `acl`):
        the kept ones follow when they were current just before it."""
        with self._lock:
            found = self._fingerprints.get(acl)
            if found is None or found[0] != generation - 1:
                return
            docs = dict(found[1])  # copied: a reader may be going through the old one
            docs.pop(doc_id, None)
            if fingerprints:
                docs[doc_id] = fingerprints
            self._fingerprints[acl] = (generation, docs)

    def _vector_cursor(self, conn: Any) -> Any:
        """A cursor that sends `_PgVector`s in pgvector's binary format (the type looked up
        once)."""
        if self._vector_type is None:
            from psycopg.types import TypeInfo

            info = TypeInfo.fetch(conn, "vector")
            if info is None:  # pragma: no cover - the schema creates the extension
                raise StoreError("the pgvector extension is missing: CREATE EXTENSION vector")
            self._vector_type = info
        cur = conn.cursor()
        self._vector_type.register(cur)
        cur.adapters.register_dumper(_PgVector, _vector_dumper(self._vector_type.oid))
        return cur

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        with self._single() as db:
            rows = db.execute(
                f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
                "WHERE c.doc_id = %s ORDER BY c.ordinal",
                (doc_id,),
            ).fetchall()
        return [_chunk(r) for r in rows]

    def set_risks(self, risks: Mapping[str, Risk]) -> int:
        if not risks:
            return 0
        changed = 0
        with self._write() as db:
            for chunk_id, risk in risks.items():
                score, flagged, reasons = _risk_columns(risk)
                cur = db.execute(
                    "UPDATE chunks SET risk_score = %s, risk_flagged = %s, "
                    "risk_reasons = %s::jsonb WHERE id = %s AND (risk_score IS DISTINCT FROM %s "
                    "OR risk_flagged != %s OR risk_reasons != %s::jsonb)",
                    (score, flagged, reasons, chunk_id, score, flagged, reasons),
                )
                changed += cur.rowcount
            if changed:
                _bump(db)
        return changed

    def quarantine(self, chunk_ids: Sequence[str]) -> list[str]:
        done: list[str] = []
        with self._write() as db:
            for chunk_id in dict.fromkeys(chunk_ids):
                row = db.execute(
                    "SELECT rowid, dup_of, quarantine FROM chunks WHERE id = %s", (chunk_id,)
                ).fetchone()
                if row is None or row[2] == _QUARANTINED:
                    continue
                rowid, dup_of, _ = row
                if dup_of is None:  # indexed: out of the lexical index, with its duplicates
                    db.execute("DELETE FROM postings WHERE chunk = %s", (rowid,))
                    db.execute(
                        "UPDATE chunks SET quarantine = %s WHERE dup_of = %s", (_QUARANTINED, rowid)
                    )
                db.execute(
                    "UPDATE chunks SET quarantine = %s WHERE rowid = %s", (_QUARANTINED, rowid)
                )
                done.append(chunk_id)
            if done:
                _bump(db)
        return done

    def release(self, chunk_ids: Sequence[str]) -> list[str]:
        done: list[str] = []
        with self._write() as db:
            for chunk_id in dict.fromkeys(chunk_ids):
                row = db.execute(
                    "SELECT c.rowid, c.dup_of, d.title, c.section, c.text FROM chunks c "
                    "JOIN documents d ON d.id = c.doc_id WHERE c.id = %s AND c.quarantine = %s",
                    (chunk_id, _QUARANTINED),
                ).fetchone()
                if row is None:
                    continue
                rowid, dup_of, title, section, text = row
                db.execute("UPDATE chunks SET quarantine = %s WHERE rowid = %s", (_RELEASED, rowid))
                if dup_of is None:
                    db.execute(
                        "UPDATE chunks SET quarantine = %s WHERE dup_of = %s AND quarantine = %s",
                        (_RELEASED, rowid, _QUARANTINED),
                    )
                    [tokenized] = self.tokenize([(heading(title, tuple(section)), text)])
                    _index(db, rowid, tokenized)
                done.append(chunk_id)
            if done:
                _bump(db)
        return done

    def quarantined(self, principals: Sequence[str] | None = None) -> list[Chunk]:
        readers, params = principals_sql(None if principals is None else tuple(principals))
        with self._single() as db:
            rows = db.execute(
                f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
                f'WHERE c.quarantine = %s {readers} ORDER BY d.source COLLATE "C", c.ordinal',
                (_QUARANTINED, *params),
            ).fetchall()
        return [_chunk(r) for r in rows]

    def released(self) -> set[str]:
        with self._single() as db:
            rows = db.execute("SELECT id FROM chunks WHERE quarantine = %s", (_RELEASED,))
            return {r[0] for r in rows}

    def delete_documents(self, doc_ids: Sequence[str]) -> list[DocumentInfo]:
        if not doc_ids:
            return []
        with self._write() as db:
            removed = self._delete(db, doc_ids)
            if removed:
                _bump(db)
        return removed

    def _delete(self, db: Any, doc_ids: Sequence[str]) -> list[DocumentInfo]:
        removed: list[DocumentInfo] = []
        for doc_id in dict.fromkeys(doc_ids):
            row = db.execute(f"{_INFO_SQL} WHERE d.id = %s", (doc_id,)).fetchone()
            if row is None:
                continue
            removed.append(_info(row))
            rows = db.execute(
                "SELECT rowid, quarantine FROM chunks WHERE doc_id = %s AND dup_of IS NULL "
                "ORDER BY rowid",
                (doc_id,),
            ).fetchall()
            for rowid, held in rows:
                self._promote(db, rowid, doc_id, indexed=held != _QUARANTINED)
            db.execute(_DELETE_POSTINGS, (doc_id,))
            db.execute("DELETE FROM chunks WHERE doc_id = %s", (doc_id,))
            db.execute("DELETE FROM documents WHERE id = %s", (doc_id,))
        return removed

    def _promote(self, db: Any, rowid: int, doc_id: str, *, indexed: bool = True) -> None:
        """A canonical chunk is going away: its first duplicate elsewhere takes its place
        (indexed, or still quarantined with the rest when the canonical was)."""
        heir = db.execute(
            "SELECT c.rowid, d.title, c.section, c.text, c.quarantine FROM chunks c "
            "JOIN documents d ON d.id = c.doc_id WHERE c.dup_of = %s AND c.doc_id != %s "
            "ORDER BY c.quarantine = %s, c.rowid LIMIT 1",
            (rowid, doc_id, _QUARANTINED),
        ).fetchone()
        if heir is None:
            return
        db.execute("UPDATE chunks SET dup_of = NULL WHERE rowid = %s", (heir[0],))
        db.execute("UPDATE chunks SET dup_of = %s WHERE dup_of = %s", (heir[0], rowid))
        if heir[4] != _QUARANTINED:  # the heir's own state, as on SQLite
            [tokenized] = self.tokenize([(heading(heir[1], tuple(heir[2])), heir[3])])
            _index(db, heir[0], tokenized)

    def fingerprints(self, acl: Sequence[str], *, excluding: str | None = None) -> dict[str, int]:
        """Kept per ACL with the corpus generation they were read at, and updated by this
        store's own writes, so ingest (which asks before each document) reads them all only
        when another writer changed the corpus."""
        key = json.dumps(list(acl))
        with self._single() as db:
            generation = _generation(db)
            with self._lock:
                found = self._fingerprints.get(key)
            if found is None or found[0] != generation:
                rows = db.execute(
                    "SELECT c.doc_id, c.id, c.simhash FROM chunks c JOIN documents d "
                    "ON d.id = c.doc_id WHERE c.dup_of IS NULL AND c.quarantine != 1 "
                    "AND c.simhash != 0 AND d.acl = %s::jsonb",
                    (key,),
                ).fetchall()
                docs: dict[str, dict[str, int]] = {}
                for doc_id, chunk_id, value in rows:
                    docs.setdefault(doc_id, {})[chunk_id] = value & _MASK
                found = (generation, docs)  # read after `generation`: at worst read again
                with self._lock:
                    self._fingerprints[key] = found
                    self._fingerprints.move_to_end(key)
                    while len(self._fingerprints) > _KEPT_ACLS:
                        self._fingerprints.popitem(last=False)
        return {
            chunk_id: value
            for doc_id, values in found[1].items()
            if doc_id != excluding
            for chunk_id, value in values.items()
        }

    # -- search -------------------------------------------------------------------------

    def keep_bm25_in_memory(self, *, wait: bool = False) -> None:
        """Rank lexical queries with an in-memory copy of the postings
        (`cairn.store.postgres.memory`: the SQL ranking's formula and statistics, tenant scopes
        included, without reading every posting on every call), built in the background now
        and after every change to the corpus; SQL answers until it is ready. For long-running
        processes (a server replica)."""
        self._memory.keep(wait=wait)

    def bm25_covers(self, generation: int) -> bool:
        """Whether lexical queries at corpus `generation` are ranked in memory."""
        return self._memory.covers(generation)

    def lexical_ranking(self, query: str, k: int, filters: Filters | None = None) -> list[Ranked]:
        phrases = query_terms(query)
        tokens = [t for t in self._query_tokens.tokens(phrases) if t]
        if not tokens or k <= 0:
            return []
        if self._memory.wanted:
            ranked = self._in_memory(phrases, k, filters)
            if ranked is not None:
                return ranked
        principals = None if filters is None else filters.principals
        with self._read() as db:
            generation = _generation(db)
            total, length = self._scope_stats(db, generation, principals)
            if total == 0:
                return []
            where, params = filter_sql(filters, self._glob_docs(db, generation, filters))
            hits, hit_params = _hits_sql(tokens)
            readers, reader_params = principals_sql(principals)
            if readers:  # the chunks the caller may read: a join to their documents
                scoped = (
                    "SELECT h.ord, h.chunk, h.nh, h.nb, h.len FROM hits h JOIN chunks c "
                    f"ON c.rowid = h.chunk JOIN documents d ON d.id = c.doc_id WHERE TRUE {readers}"
                )
            else:  # postings exist for indexed chunks only
                scoped = "SELECT * FROM hits"
            if where:
                best = (
                    "SELECT c.id, sc.score FROM scores sc JOIN chunks c ON c.rowid = sc.chunk "
                    f"JOIN documents d ON d.id = c.doc_id WHERE TRUE {where} "
                    "ORDER BY sc.score DESC, c.rowid LIMIT %s"
                )
            else:
                best = (
                    "SELECT c.id, sc.score FROM (SELECT chunk, score FROM scores "
                    "ORDER BY score DESC, chunk LIMIT %s) sc JOIN chunks c ON c.rowid = sc.chunk "
                    "ORDER BY sc.score DESC, c.rowid"
                )
            rows = db.execute(
                f"WITH hits AS ({hits}), "
                "scoped AS MATERIALIZED (SELECT ord, chunk, "
                "(nb::float8 + nh::float8 * %s::float8) AS f, len::float8 AS len "
                f"FROM ({scoped}) x WHERE nh + nb > 0), "
                "df AS (SELECT ord, COUNT(*)::float8 AS n FROM scoped GROUP BY ord), "
                "idf AS (SELECT ord, CASE WHEN ln((%s::float8 - n + 0.5) / (n + 0.5)) > 0 "
                "THEN ln((%s::float8 - n + 0.5) / (n + 0.5)) ELSE 1e-6 END AS w FROM df), "
                "scores AS (SELECT s.chunk, SUM(i.w * ((s.f * %s::float8) / (s.f + %s::float8 "
                "* (%s::float8 + %s::float8 * s.len / %s::float8))) ORDER BY s.ord) AS score "
                f"FROM scoped s JOIN idf i ON i.ord = s.ord GROUP BY s.chunk) {best}",
                [
                    *hit_params,
                    self.heading_weight,
                    *reader_params,
                    float(total),
                    float(total),
                    K1 + 1.0,
                    K1,
                    1 - B,
                    B,
                    float(length) / total,
                    *params,
                    k,
                ],
            ).fetchall()
        return [Ranked(cid, float(s), lexical=float(s)) for cid, s in rows]

    def _in_memory(
        self, phrases: Sequence[str], k: int, filters: Filters | None
    ) -> list[Ranked] | None:
        """The ranking by the in-memory index of the current generation; None while there
        is none (or a phrase's postings moved on)."""
        generation = self.generation()
        index = self._memory.at(generation)
        if index is None:
            return None
        allowed = self._allowed(generation, filters)
        scope = None
        if filters is not None and filters.principals is not None:
            scope = self._allowed(generation, Filters(principals=filters.principals))
        ranked = index.rank(
            phrases,
            k,
            allowed,
            None,
            scope,
            counts=lambda phrase, at: self._phrase_counts(phrase, at, index),
        )
        if ranked is None:
            return None
        return [Ranked(cid, s, lexical=s) for cid, s in ranked]

    def _phrase_counts(
        self, phrase: str, generation: int, index: BM25Index
    ) -> list[tuple[int, int, int]] | None:
        """`bm25.PhraseCounts`: (chunk, heading count, body count) of the chunks holding the
        phrase's tokens at consecutive positions, at corpus `generation`. The in-memory
        postings say which chunks hold all its tokens; only their positions are read (the
        SQL ranking's join reads every posting of each token, ~0.3 s for common ones at a
        million chunks)."""
        [tokens] = self._query_tokens.tokens([phrase])
        candidates = index.rows_with_all(tokens)
        if len(candidates) == 0:
            return []
        with self._read() as db:
            if _generation(db) != generation:
                return None
            with db.cursor(binary=True) as cur:  # int arrays parse 3x faster than as text
                rows = cur.execute(
                    "SELECT chunk, term, pos_h, pos_b FROM postings "
                    "WHERE term = ANY(%s::text[]) AND chunk = ANY(%s::bigint[])",
                    (sorted(set(tokens)), candidates.tolist()),
                ).fetchall()
        positions: dict[int, dict[str, tuple[list[int], list[int]]]] = {}
        for chunk, term, in_heading, in_body in rows:
            positions.setdefault(int(chunk), {})[term] = (in_heading, in_body)
        found = []
        distinct = len(set(tokens))
        for chunk, held in sorted(positions.items()):
            if len(held) < distinct:
                continue
            nh = _consecutive([held[t][0] for t in tokens])
            nb = _consecutive([held[t][1] for t in tokens])
            if nh or nb:
                found.append((chunk, nh, nb))
        return found

    def _allowed(self, generation: int, filters: Filters | None) -> frozenset[int] | None:
        """Rowids of the indexed chunks passing `filters` (None: no filter), kept per corpus
        generation (a tenant's ACL is the same on every request)."""
        if filters is None or filters.empty:
            return None
        key = (generation, filters)
        with self._lock:
            found = self._allowed_rows.get(key)
            if found is not None:
                self._allowed_rows.move_to_end(key)
                return found
        with self._read() as db:
            where, params = filter_sql(filters, self._glob_docs(db, generation, filters))
            rows = db.execute(
                "SELECT c.rowid FROM chunks c JOIN documents d ON d.id = c.doc_id "
                f"WHERE c.dup_of IS NULL AND c.quarantine != 1 {where}",
                params,
            ).fetchall()
        found = frozenset(int(r[0]) for r in rows)
        with self._lock:
            self._allowed_rows[key] = found
            while len(self._allowed_rows) > _KEPT_ACLS:
                self._allowed_rows.popitem(last=False)
        return found

    def dense_ranking(
        self, vector: Vector, k: int, filters: Filters | None = None, *, model: str
    ) -> list[Ranked]:
        if k <= 0:
            return []
        with self._read() as db:
            generation = _generation(db)
            row = db.execute(
                "SELECT v.dim, (SELECT reltuples FROM pg_class WHERE oid = 'chunks'::regclass), "
                "a.amname, c.reloptions FROM vector_indexes v "
                "LEFT JOIN pg_class c ON c.oid = to_regclass(quote_ident(v.name)) "
                "LEFT JOIN pg_am a ON a.oid = c.relam WHERE v.model = %s",
                (model,),
            ).fetchone()
            if row is None:
                return []
            dim = int(row[0])
            if len(vector) != dim:
                raise StoreError(
                    f"a {len(vector)}-dimensional query vector for model {model}, whose stored "
                    f"vectors have {dim}: embed the query with the store's model"
                )
            where, params = filter_sql(filters, self._glob_docs(db, generation, filters))
            ef = max(int(self.ef_search), k)
            # The beam follows the corpus's size: the planner's estimate of it (kept by
            # autovacuum) is enough for that, where counting a million chunks after every
            # write would cost a query ~100 ms; exact only before any estimate exists.
            estimate = float(row[1])
            indexed = int(estimate) if estimate >= 0 else self._scope_stats(db, generation, None)[0]
            if indexed > EF_GROWS_PAST:  # a larger graph needs a wider beam for the same recall
                ef = min(_EF_MAX, max(ef, math.ceil(ef * indexed / EF_GROWS_PAST)))
            exact = row[2] is None  # no index yet: a bulk load puts it off (`loading`)
            if where:  # the filter's share of the indexed chunks decides how to search
                assert filters is not None
                passing, total = self._filtered(db, generation, filters, where, params)
                exact = passing <= self.exact_below
                ef = min(_EF_MAX, max(ef, math.ceil(ef * total / max(passing, 1))))
            from psycopg import sql

            if exact:  # every vector passing the filters, compared: no index
                query = sql.SQL(
                    "WITH passing AS MATERIALIZED (SELECT c.rowid, c.id, e.vector "
                    "FROM chunks c JOIN documents d ON d.id = c.doc_id "
                    "JOIN embeddings e ON e.model = {model} AND e.hash = c.hash "
                    "WHERE c.dup_of IS NULL AND c.quarantine != 1 {where}), "
                    "nearest AS (SELECT rowid, id, (vector::vector({dim})) <=> "
                    "%s::vector({dim}) AS distance FROM passing) "
                    "SELECT id, 1 - distance FROM nearest ORDER BY distance, rowid LIMIT %s"
                ).format(dim=sql.Literal(dim), model=sql.Literal(model), where=sql.SQL(where))
                rows = db.execute(query, [*params, vector_text(vector), k]).fetchall()
                return [Ranked(cid, float(s), dense=float(s)) for cid, s in rows]
            build = _read_build(row[2], row[3])
            if build.method == "ivfflat":
                # a share of the lists, not scaled by a filter's selectivity: the iterative
                # scan probes more lists until `k` rows pass (an ACL filter is not clustered
                # with the vectors, so the passing rows' nearest sit in the same lists)
                lists = build.option("lists")
                db.execute(
                    "SELECT set_config('ivfflat.iterative_scan', 'relaxed_order', true), "
                    "set_config('ivfflat.probes', %s, true), "
                    "set_config('ivfflat.max_probes', %s, true)",
                    (str(min(lists, max(1, math.ceil(lists * IVF_PROBES)))), str(lists)),
                )
            else:
                db.execute(
                    "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                    "set_config('hnsw.ef_search', %s, true), "
                    "set_config('hnsw.max_scan_tuples', %s, true)",
                    (str(ef), str(MAX_SCAN_TUPLES)),
                )
            query = sql.SQL(
                "WITH nearest AS MATERIALIZED (SELECT c.rowid, c.id, "
                "(e.vector::vector({dim})) <=> %s::vector({dim}) AS distance "
                "FROM embeddings e JOIN chunks c ON c.hash = e.hash "
                "JOIN documents d ON d.id = c.doc_id "
                "WHERE e.model = {model} AND c.dup_of IS NULL AND c.quarantine != 1 {where} "
                "ORDER BY distance LIMIT %s) "
                "SELECT id, 1 - distance FROM nearest ORDER BY distance, rowid"
            ).format(dim=sql.Literal(dim), model=sql.Literal(model), where=sql.SQL(where))
            rows = db.execute(query, [vector_text(vector), *params, k]).fetchall()
        return [Ranked(cid, float(s), dense=float(s)) for cid, s in rows]

    def lexical_search(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        return hits_of(self, self.lexical_ranking(query, k, filters))

    def dense_search(
        self, vector: Vector, k: int, filters: Filters | None = None, *, model: str
    ) -> list[Hit]:
        return hits_of(self, self.dense_ranking(vector, k, filters, model=model))

    def _filtered(
        self, db: Any, generation: int, filters: Filters, where: str, params: list[Any]
    ) -> tuple[int, int]:
        """How many indexed chunks pass `filters`, and how many there are, kept per corpus
        generation."""
        key = (generation, filters)
        with self._lock:
            found = self._counts.get(key)
        if found is not None:
            return found
        row = db.execute(
            f"SELECT COUNT(*) FILTER (WHERE TRUE {where}), COUNT(*) FROM chunks c JOIN "
            "documents d ON d.id = c.doc_id WHERE c.dup_of IS NULL AND c.quarantine != 1",
            params,
        ).fetchone()
        found = (int(row[0]), int(row[1]))
        with self._lock:
            self._counts[key] = found
            while len(self._counts) > _KEPT:
                self._counts.popitem(last=False)
        return found

    def _scope_stats(
        self, db: Any, generation: int, principals: tuple[str, ...] | None
    ) -> tuple[int, int]:
        """N and the summed length of the indexed chunks `principals` may read (all: None),
        kept per corpus generation."""
        key = (generation, principals)
        with self._lock:
            found = self._scopes.get(key)
        if found is not None:
            return found
        readers, params = principals_sql(principals)
        row = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(c.length), 0) FROM chunks c JOIN documents d "
            f"ON d.id = c.doc_id WHERE c.dup_of IS NULL AND c.quarantine != 1 {readers}",
            params,
        ).fetchone()
        found = (int(row[0]), int(row[1]))
        with self._lock:
            self._scopes[key] = found
            while len(self._scopes) > _KEPT:
                self._scopes.popitem(last=False)
        return found

    def _glob_docs(self, db: Any, generation: int, filters: Filters | None) -> list[str] | None:
        """The documents whose source matches the filters' globs (fnmatch, in Python: the
        syntax `Filters.source_globs` documents), kept per corpus generation; None without
        globs."""
        if filters is None or not filters.source_globs:
            return None
        key = (generation, tuple(filters.source_globs))
        with self._lock:
            found = self._globs.get(key)
        if found is not None:
            return found
        rows = db.execute("SELECT id, source FROM documents").fetchall()
        found = [i for i, s in rows if any(fnmatchcase(s, g) for g in filters.source_globs)]
        with self._lock:
            self._globs[key] = found
            while len(self._globs) > _KEPT:
                self._globs.popitem(last=False)
        return found

    def close(self) -> None:
        self._memory.close()
        self._db.close()
        self._tokens.close()
        self._query_tokens.close()


_KEPT = 256
_KEPT_ACLS = 16
"""ACLs whose fingerprints are kept (`PostgresStore.fingerprints`)."""
_MISSING_VECTORS = "CN001"
"""The SQLSTATE `cairn_write_document` raises when chunks have no vector (its message:
how many)."""
_DELETE_POSTINGS = (
    "DELETE FROM postings WHERE chunk IN (SELECT rowid FROM chunks WHERE doc_id = %s)"
)
"""A document's postings go before its chunks (no foreign key cascades: schema step 3)."""
_MASK = (1 << 64) - 1
_QUARANTINED = 1
"""`chunks.quarantine`: kept but not indexed (no postings) until released (0: never held)."""
_RELEASED = 2
"""`chunks.quarantine`: released by an admin; indexed, and not quarantined again by a rescan."""


def _hits_sql(tokens: Sequence[tuple[str, ...]]) -> tuple[str, list[Any]]:
    """(ord, chunk, nh, nb, len) rows: each query term's (or phrase's: its tokens at consecutive
    positions of one column) occurrences per chunk."""
    parts: list[str] = []
    params: list[Any] = []
    for ord_, phrase in enumerate(tokens):
        if len(phrase) == 1:
            parts.append(f"SELECT {ord_} AS ord, chunk, nh, nb, len FROM postings WHERE term = %s")
            params.append(phrase[0])
            continue
        joins = " ".join(
            f"JOIN postings p{i} ON p{i}.chunk = p0.chunk AND p{i}.term = %s"
            for i in range(1, len(phrase))
        )

        def count(column: str, n: int = len(phrase)) -> str:
            rest = " AND ".join(f"x + {i} = ANY(p{i}.{column})" for i in range(1, n))
            return f"(SELECT COUNT(*) FROM unnest(p0.{column}) x WHERE {rest})"

        parts.append(
            f"SELECT {ord_} AS ord, p0.chunk, {count('pos_h')} AS nh, {count('pos_b')} AS nb, "
            "p0.len "
            f"FROM postings p0 {joins} WHERE p0.term = %s"
        )
        params.extend([*phrase[1:], phrase[0]])
    return " UNION ALL ".join(parts), params


def _consecutive(positions: Sequence[Sequence[int]]) -> int:
    """How often the tokens occur at consecutive positions: starts x of the first with x + i
    among the positions of the i-th (`_hits_sql`'s count for a phrase; a token's positions
    in a column are distinct)."""
    if not all(positions):
        return 0
    starts = set(positions[0])
    for i, later in enumerate(positions[1:], 1):
        starts.intersection_update([x - i for x in later])
        if not starts:
            return 0
    return len(starts)


def _index(db: Any, rowid: int, tokenized: Tokenized) -> None:
    db.execute("UPDATE chunks SET length = %s WHERE rowid = %s", (tokenized.length, rowid))
    insert_postings(db, [(rowid, tokenized)])


def insert_postings(db: Any, chunks: Sequence[tuple[int, Tokenized]]) -> None:
    """The postings of these (rowid, tokens) chunks in one INSERT."""
    statements = _Statements()
    _postings(statements, chunks)
    if statements.sql:
        db.execute(statements.sql[0], statements.params)


def _postings(statements: _Statements, chunks: Sequence[tuple[int, Tokenized]]) -> None:
    rows = [
        (term, rowid, p.nh, p.nb, tokenized.length, p.heading, p.body)
        for rowid, tokenized in chunks
        for term, p in tokenized.postings.items()
    ]
    if not rows:
        return
    terms, ids, nh, nb, length, pos_h, pos_b = (list(c) for c in zip(*rows, strict=True))
    statements.add(
        "INSERT INTO postings (term, chunk, nh, nb, len, pos_h, pos_b) "
        "SELECT t, c, h, b, l, ph::int[], pb::int[] FROM unnest(%s::text[], %s::bigint[], "
        "%s::int[], %s::int[], %s::int[], %s::text[], %s::text[]) AS u(t, c, h, b, l, ph, pb)",
        terms,
        ids,
        nh,
        nb,
        length,
        pos_h,
        pos_b,
    )


class _Statements:
    """Statements sent as one multi-statement query (one round trip), parameters bound on
    the client; `run` returns the rows of each statement that returns rows, in order."""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self.params: list[Any] = []

    def add(self, sql: str, *params: Any) -> None:
        self.sql.append(sql)
        self.params.extend(params)

    def run(self, cur: Any) -> list[list[Any]]:
        cur.execute("; ".join(self.sql), self.params)
        found: list[list[Any]] = []
        while True:
            if cur.description is not None:
                found.append(cur.fetchall())
            if not cur.nextset():
                return found


def _int_array(values: Sequence[int]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


def _text_array(values: Sequence[str]) -> str:
    """A Postgres `text[]` literal, every element quoted."""
    joined = '","'.join(values)
    if joined.count('"') != 2 * (len(values) - 1) or "\\" in joined:
        joined = '","'.join(v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return '{"' + joined + '"}' if values else "{}"


@dataclass(slots=True)
class _Plan:
    """What a document's write stores for its chunks, decided before anything is sent."""

    dup_of: list[int | None]
    postings: list[tuple[int, Tokenized]]
    duplicates: int = 0
    quarantined: int = 0


def _lookups(
    statements: _Statements,
    doc_id: str,
    acl: str,
    model: str,
    hashes: list[str],
    targets: list[str],
) -> None:
    """The reads a document's write depends on, outside its stored version: the first
    indexed chunk readable by exactly `acl` for each hash, the indexed near-duplicate
    `targets` so readable, and which hashes have a vector from `model`."""
    statements.add(
        "SELECT DISTINCT ON (c.hash) c.hash, c.rowid FROM chunks c JOIN documents d "
        "ON d.id = c.doc_id WHERE c.hash = ANY(%s::text[]) AND c.dup_of IS NULL "
        "AND c.quarantine != 1 AND d.acl = %s::jsonb AND c.doc_id != %s "
        "ORDER BY c.hash, c.rowid",
        hashes,
        acl,
        doc_id,
    )
    statements.add(
        "SELECT c.id, c.rowid FROM chunks c JOIN documents d ON d.id = c.doc_id "
        "WHERE c.id = ANY(%s::text[]) AND c.dup_of IS NULL AND c.quarantine != 1 "
        "AND d.acl = %s::jsonb AND c.doc_id != %s",
        targets,
        acl,
        doc_id,
    )
    statements.add(
        "SELECT hash, TRUE FROM embeddings WHERE model = %s AND hash = ANY(%s::text[])",
        model,
        hashes,
    )


def _plan(
    chunks: Sequence[Chunk],
    tokens: Sequence[Tokenized],
    rowids: Sequence[int],
    held: frozenset[str],
    near: NearDuplicates,
    canonical: Mapping[str, int],
    elsewhere: Mapping[str, int],
) -> _Plan:
    """Each chunk's canonical chunk (None: it is indexed): a stored indexed chunk with its
    text (the first), else an earlier chunk of this document with it, else what ingest
    found it nearly repeats; quarantined chunks are nobody's duplicate and nobody's
    canonical."""
    plan = _Plan(dup_of=[], postings=[])
    written: dict[str, int] = {}  # chunk id -> rowid of the indexed chunk it is
    own: dict[str, int] = {}  # hash -> rowid of this document's indexed chunk with it
    for chunk, tokenized, rowid in zip(chunks, tokens, rowids, strict=True):
        if chunk.id in held:
            plan.dup_of.append(None)
            plan.quarantined += 1
            continue
        dup_of = canonical.get(chunk.hash) or own.get(chunk.hash)
        target = near.duplicate_of.get(chunk.id)
        if dup_of is None and target is not None:
            dup_of = written.get(target) or elsewhere.get(target)
        plan.dup_of.append(dup_of)
        written[chunk.id] = rowid if dup_of is None else dup_of
        if dup_of is None:
            plan.postings.append((rowid, tokenized))
            own.setdefault(chunk.hash, rowid)
        else:
            plan.duplicates += 1
    return plan


def _chunk_arrays(
    chunks: Sequence[Chunk],
    tokens: Sequence[Tokenized],
    rowids: Sequence[int],
    held: frozenset[str],
    near: NearDuplicates,
    dup_of: Sequence[int | None],
) -> list[list[Any]]:
    """The chunks' columns, one array each, in `write_document`'s INSERT order."""
    risks = [_risk_columns(c.risk) for c in chunks]
    return [
        list(rowids),
        [c.id for c in chunks],
        [c.ordinal for c in chunks],
        [c.text for c in chunks],
        [json.dumps(list(c.section)) for c in chunks],
        [c.anchor for c in chunks],
        [c.page for c in chunks],
        [c.start for c in chunks],
        [c.end for c in chunks],
        [c.token_count for c in chunks],
        [c.hash for c in chunks],
        [_signed(near.fingerprints.get(c.id, 0)) for c in chunks],
        [t.length for t in tokens],
        [r[0] for r in risks],
        [r[1] for r in risks],
        [r[2] for r in risks],
        [_QUARANTINED if c.id in held else 0 for c in chunks],
        list(dup_of),
    ]


def write_postings(db: Any, chunks: Sequence[tuple[int, Tokenized]]) -> None:
    """The postings of these (rowid, tokens) chunks, in one COPY (their lengths are set
    apart)."""
    with db.cursor() as cur, cur.copy(_COPY_POSTINGS) as copy:
        for rowid, tokenized in chunks:
            for term, p in tokenized.postings.items():
                copy.write_row((term, rowid, p.nh, p.nb, tokenized.length, p.heading, p.body))


_COPY_POSTINGS = "COPY postings (term, chunk, nh, nb, len, pos_h, pos_b) FROM STDIN"


class IndexBuild(NamedTuple):
    """How a vector index is built: pgvector's access method and its options."""

    method: str
    """`hnsw` or `ivfflat`."""
    options: tuple[tuple[str, int], ...]

    def __str__(self) -> str:
        return f"{self.method} ({', '.join(f'{k}={v}' for k, v in self.options)})"

    def option(self, name: str) -> int:
        return dict(self.options)[name]


class VectorIndexBuild(NamedTuple):
    """A model's vector index: its vectors, and its build as it is and as its size calls
    for."""

    model: str
    name: str
    vectors: int
    built: IndexBuild
    wanted: IndexBuild
    present: bool = True
    """False while the index is not built (`PostgresStore.loading`): `built` is then
    pgvector's default build, and dense search compares every vector."""

    @property
    def outgrown(self) -> bool:
        """Whether the corpus has outgrown the build: an HNSW index a first write created
        that now holds `LARGE_INDEX` vectors or more, or an IVFFlat index holding twice the
        vectors its lists were chosen for (its recall falls as lists fill up); and a
        missing index."""
        if not self.present:
            return True
        if self.built.method != self.wanted.method:
            return self.built.method == "hnsw"
        if self.built.method == "hnsw":
            return self.built != self.wanted
        return self.wanted.option("lists") >= 2 * self.built.option("lists")


def ivf_lists(vectors: int) -> int:
    """IVFFlat lists for this many vectors (pgvector's guidance: rows / 1,000 up to a
    million, the square root beyond)."""
    if vectors > 1_000_000:
        return math.isqrt(vectors)
    return max(100, vectors // 1000)


def wanted_build(vectors: int) -> IndexBuild:
    """The build of an index made over this many vectors at once."""
    if vectors >= LARGE_INDEX:
        return IndexBuild("ivfflat", (("lists", ivf_lists(vectors)),))
    m, ef_construction = HNSW_SMALL
    return IndexBuild("hnsw", (("m", m), ("ef_construction", ef_construction)))


def index_name(model: str, method: str) -> str:
    return f"embeddings_{method}_{hashlib.sha1(model.encode()).hexdigest()[:16]}"


BUILD_LEASE_S = 60.0
"""How long a claim on building a model's vector index lasts unless renewed. Its builder
renews it every third of that while the build runs, so the claim of a builder that crashed
lapses within a minute and another process may build."""


@contextmanager
def _index_builder(db: PgDatabase, model: str) -> Iterator[bool]:
    """Whether this process may build `model`'s vector index now (no other process is).

    A lease in `index_builds`, renewed by a thread while the build runs and removed after
    it. Not an advisory lock: a session lock stays on whichever server connection PgBouncer
    (transaction mode) lent its statement, and the unlock may reach another; a transaction
    lock would have to be held open beside the build, and `CREATE INDEX CONCURRENTLY` waits
    for every transaction holding a snapshot to end, that one included."""
    from psycopg import Error

    lease = BUILD_LEASE_S
    holder = uuid.uuid4().hex
    with db.session() as conn:
        claimed = conn.execute(
            "INSERT INTO index_builds (model, holder, until) "
            "VALUES (%s, %s, now() + %s * interval '1 second') ON CONFLICT (model) DO UPDATE "
            "SET holder = excluded.holder, until = excluded.until "
            "WHERE index_builds.until < now() RETURNING holder",
            (model, holder, lease),
        ).fetchone()
    if claimed is None:
        yield False
        return
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease / 3):
            try:
                if not _renew_build(db, model, holder, lease):
                    log.warning("the claim on %s's index build lapsed while it ran", model)
                    return
            except Error as exc:  # tried again at the next third; a lapse lets another build
                log.warning("could not renew the claim on %s's index build: %s", model, exc)

    keeper = threading.Thread(target=renew, name="cairn-index-build-lease", daemon=True)
    keeper.start()
    try:
        yield True
    finally:
        stop.set()
        keeper.join()
        try:
            with db.session() as conn:
                conn.execute(
                    "DELETE FROM index_builds WHERE model = %s AND holder = %s", (model, holder)
                )
        except Error as exc:  # the claim lapses on its own
            log.warning("could not release the claim on %s's index build: %s", model, exc)


def _renew_build(db: PgDatabase, model: str, holder: str, lease: float) -> bool:
    """Extend `holder`'s claim on `model`'s index build; False if it is no longer held."""
    with db.session() as conn:
        row = conn.execute(
            "UPDATE index_builds SET until = now() + %s * interval '1 second' "
            "WHERE model = %s AND holder = %s RETURNING holder",
            (lease, model, holder),
        ).fetchone()
    return row is not None


def _relation_exists(db: Any, name: str) -> bool:
    return bool(
        db.execute("SELECT to_regclass(quote_ident(%s)) IS NOT NULL", (name,)).fetchone()[0]
    )


def _create_index(
    db: Any, name: str, model: str, dim: int, build: IndexBuild, *, concurrently: bool = False
) -> None:
    from psycopg import sql

    db.execute(
        sql.SQL(
            "CREATE INDEX {} {} ON embeddings USING {} ((vector::vector({})) "
            "vector_cosine_ops) WITH ({}) WHERE model = {}"
        ).format(
            sql.SQL("CONCURRENTLY") if concurrently else sql.SQL(""),
            sql.Identifier(name),
            sql.SQL(build.method),
            sql.Literal(dim),
            sql.SQL(", ").join(sql.SQL(f"{k} = {int(v)}") for k, v in build.options),
            sql.Literal(model),
        )
    )


def _read_build(method: str | None, options: Sequence[str] | None) -> IndexBuild:
    """An index's build from Postgres's catalogue (pgvector's defaults where unset)."""
    given = {k: int(v) for k, v in (o.split("=", 1) for o in options or [])}
    if method == "ivfflat":
        return IndexBuild("ivfflat", (("lists", given.get("lists", 100)),))
    m, ef_construction = HNSW_SMALL
    return IndexBuild(
        "hnsw",
        (
            ("m", given.get("m", m)),
            ("ef_construction", given.get("ef_construction", ef_construction)),
        ),
    )


def ensure_vector_index(
    db: Any, model: str, dim: int, vectors: int = 0, *, defer: bool = False
) -> None:
    """The model's vector index, created with its first vectors (`vectors`: how many it is
    built over, which chooses its build: `wanted_build`); with `defer`, only its entry
    (model, dimension, name): a bulk load builds it at its end."""
    row = db.execute("SELECT dim FROM vector_indexes WHERE model = %s", (model,)).fetchone()
    if row is not None:
        if int(row[0]) != dim:
            raise StoreError(
                f"model {model} has {row[0]}-dimensional vectors in this store, not {dim}: "
                "embed with the model the store was built with, or use a new store"
            )
        return
    build = wanted_build(vectors)
    name = index_name(model, build.method)
    if not defer:
        _create_index(db, name, model, dim, build)
    db.execute(
        "INSERT INTO vector_indexes (model, dim, name) VALUES (%s, %s, %s)", (model, dim, name)
    )


def _generation(db: Any) -> int:
    return int(db.execute("SELECT value FROM store_meta WHERE key = 'generation'").fetchone()[0])


def _bump(db: Any) -> None:
    db.execute("UPDATE store_meta SET value = value + 1 WHERE key = 'generation'")


def _indexed_rowid(db: Any, chunk_id: str, acl: str) -> int | None:
    row = db.execute(
        "SELECT c.rowid FROM chunks c JOIN documents d ON d.id = c.doc_id "
        "WHERE c.id = %s AND c.dup_of IS NULL AND c.quarantine != 1 AND d.acl = %s::jsonb",
        (chunk_id, acl),
    ).fetchone()
    return None if row is None else int(row[0])


class _PgVector:
    """A vector bound as a query parameter in pgvector's binary format (`_vector_dumper`):
    no text to format and parse."""

    __slots__ = ("values",)

    def __init__(self, values: Vector) -> None:
        self.values = values


@functools.cache
def _vector_dumper(oid: int) -> type[Any]:
    from psycopg.adapt import Dumper
    from psycopg.pq import Format

    class VectorDumper(Dumper):
        format = Format.BINARY

        def dump(self, obj: Any) -> bytes:
            values = np.asarray(obj.values, dtype=">f4")
            return struct.pack(">HH", values.size, 0) + values.tobytes()

    VectorDumper.oid = oid
    return VectorDumper


def vector_text(vector: Vector) -> str:
    """pgvector's text form; float32 values survive the round trip exactly."""
    return "[" + ",".join(map(repr, np.asarray(vector, dtype=np.float32).tolist())) + "]"


def parse_vector(text: str) -> Vector:
    return np.array(json.loads(text), dtype=np.float32)


def _signed(value: int) -> int:
    """BIGINT is signed 64-bit; 0 stands for "no fingerprint"."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _chunk(row: Sequence[Any]) -> Chunk:
    return Chunk(
        id=row[1],
        doc_id=row[2],
        ordinal=row[3],
        text=row[4],
        section=tuple(row[5]),
        anchor=row[6],
        page=row[7],
        start=row[8],
        end=row[9],
        token_count=row[10],
        hash=row[11],
        source=row[12],
        uri=row[13],
        title=row[14],
        risk=None
        if row[15] is None
        else Risk(score=float(row[15]), flagged=bool(row[16]), reasons=tuple(row[17])),
    )


def _risk_columns(risk: Risk | None) -> tuple[float | None, bool, str]:
    """`(risk_score, risk_flagged, risk_reasons)` of a chunk's risk (None: never scanned)."""
    if risk is None:
        return None, False, "[]"
    return risk.score, risk.flagged, json.dumps(list(risk.reasons))


def _info(row: Sequence[Any]) -> DocumentInfo:
    return DocumentInfo(
        id=row[0],
        source=row[1],
        content_hash=row[2],
        chunk_count=row[3],
        title=row[4],
        doc_type=row[5],
        acl=tuple(row[6]),
    )
