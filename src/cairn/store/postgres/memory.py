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

import logging
import threading
from array import array
from typing import Any

import numpy as np

from cairn.pg import PgDatabase
from cairn.store.bm25 import BM25Index, QueryTokenizer

log = logging.getLogger(__name__)

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


class MemoryBM25:
    """Builds and keeps the newest in-memory index of one Postgres store's postings."""

    def __init__(self, db: PgDatabase, heading_weight: float, tokenizer: QueryTokenizer) -> None:
        self._db = db
        self._weights = {"h": heading_weight, "b": 1.0}
        self._tokenizer = tokenizer
        self._index: BM25Index | None = None
        self._wanted = False
        self._closed = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def wanted(self) -> bool:
        return self._wanted

    def keep(self, *, wait: bool = False) -> None:
        """Build now, and again after every change to the corpus; `wait` blocks until the
        first build ends."""
        self._wanted = True
        self._start()
        if wait:
            thread = self._thread
            if thread is not None:
                thread.join()

    def covers(self, generation: int) -> bool:
        index = self._index
        return index is not None and index.generation == generation

    def at(self, generation: int) -> BM25Index | None:
        """The index of corpus `generation`, or None (a build starts if one is wanted)."""
        index = self._index
        if index is not None and index.generation == generation:
            return index
        if self._wanted and not self._closed:
            self._start()
        return None

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(
                target=self._build_until_current, name="cairn-bm25-postgres", daemon=True
            )
            self._thread.start()

    def _build_until_current(self) -> None:
        while not self._closed:
            try:
                index = self.build()
            except Exception as exc:  # the SQL ranking keeps answering meanwhile
                if not self._closed:  # (closing the store ends a build this way)
                    log.warning(
                        "in-memory BM25 index not built (%s); lexical search ranks in SQL", exc
                    )
                return
            self._index = index
            try:
                current = self._generation()
            except Exception:
                return
            if current == index.generation:
                return

    def build(self) -> BM25Index:
        """The index of the postings in one snapshot of the database."""
        with self._db.reading() as conn:
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
                return BM25Index.from_rows(
                    generation, ordered, chunk_ids, cur, self._weights, self._tokenizer
                )

    def _generation(self) -> int:
        with self._db.reading() as conn:
            return _generation(conn.raw)

    def close(self) -> None:
        """No build starts after this; one under way ends when the store's pool closes
        (a million chunks take minutes to read: a replica's shutdown does not wait)."""
        self._closed = True


def _generation(db: Any) -> int:
    return int(db.execute("SELECT value FROM store_meta WHERE key = 'generation'").fetchone()[0])
