"""The Postgres store's postings as an in-memory BM25 index, for long-running processes.

The store ranks in SQL by summing a query's postings on every call, which grows with the
corpus: at a million chunks a question of common words reads millions of postings, ~1 s at
the p95 (docs/benchmarks.md, "Postgres at a million chunks"). A server replica instead
keeps a copy of the postings in memory (`cairn.store.bm25.BM25Index`, the index the SQLite
store keeps, built here from the `postings` table instead of FTS5) and ranks a query with a
few numpy additions. The copy is a cache of what Postgres holds, so replicas stay stateless:
each builds its own in the background, keyed by the corpus generation every write moves;
while a build runs (at start, after a change) the SQL ranking answers, with the same
formula and statistics.
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np

from cairn.pg import PgDatabase
from cairn.store.bm25 import BM25Index, QueryTokenizer
from cairn.store.kept import KeptIndex

_ROWS = "SELECT rowid, id FROM chunks WHERE dup_of IS NULL AND quarantine != 1 ORDER BY rowid"
"""The indexed chunks (postings exist for these alone), as the SQL ranking counts N."""
_POSTINGS = (
    "SELECT p.term, p.chunk, v.col, v.n FROM postings p "
    "CROSS JOIN LATERAL (VALUES ('h', p.nh), ('b', p.nb)) AS v (col, n) "
    "WHERE v.n > 0 ORDER BY p.term, p.chunk"
)
"""(term, chunk, column, count) rows grouped by term and chunk: the primary key's order, read
from the index alone."""
BATCH = 50_000


def build(db: PgDatabase, heading_weight: float, tokenizer: QueryTokenizer) -> BM25Index:
    """The index of the postings in one snapshot of the database."""
    weights = {"h": heading_weight, "b": 1.0}
    with db.reading() as conn:
        raw = conn.raw
        raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        generation = _generation(raw)
        rowids = array("q")
        chunk_ids: list[str] = []
        with raw.cursor(name="cairn_bm25_rows") as cur:
            cur.execute(_ROWS)
            while rows := cur.fetchmany(BATCH):
                for rowid, chunk_id in rows:
                    rowids.append(rowid)
                    chunk_ids.append(chunk_id)
        ordered = np.frombuffer(rowids, dtype=np.int64).copy()
        del rowids
        with raw.cursor(name="cairn_bm25_postings") as cur:
            cur.execute(_POSTINGS)
            return BM25Index.from_rows(generation, ordered, chunk_ids, cur, weights, tokenizer)


def kept_index(db: PgDatabase, heading_weight: float, tokenizer: QueryTokenizer) -> KeptIndex:
    """The store's in-memory index, kept current in the background. A replica's shutdown
    does not wait for a build under way (a million chunks take a minute to read): it ends
    when the store's pool closes."""

    def current() -> int:
        with db.reading() as conn:
            return _generation(conn.raw)

    return KeptIndex(
        lambda _previous: build(db, heading_weight, tokenizer),
        current,
        errors=(Exception,),
        fallback="ranks in SQL",
        name="cairn-bm25-postgres",
    )


def _generation(db: Any) -> int:
    return int(db.execute("SELECT value FROM store_meta WHERE key = 'generation'").fetchone()[0])
