"""Lexical ranking on SQLite: FTS5's BM25, or an in-memory copy of it with the same scores
(`cairn.store.bm25`) for long-running processes.

A caller who may read only part of the corpus (a tenant: public documents and its own) is
ranked with statistics counted over that part alone (`scope`), so no other tenant's
documents move its scores. FTS5's `bm25()` counts every row, so without the in-memory index
such a query reads the query terms' postings from FTS5 (`fts5vocab`, with positions for
phrases) and the row lengths from its `docsize` table, and scores them with
`bm25.scoped_scores`: the in-memory index's numbers, bit for bit.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cairn.errors import StoreError
from cairn.sqlite import SQLiteFile
from cairn.store.bm25 import (
    BM25Index,
    Postings,
    QueryTokenizer,
    scoped_scores,
    tokenize_arg,
    top_k,
)
from cairn.store.fts import fts_match, query_terms
from cairn.store.kept import KeptIndex
from cairn.store.vectors import Masks
from cairn.types import Ranked

log = logging.getLogger(__name__)


class LexicalIndex:
    """BM25 over the `chunks_fts` table of one database."""

    def __init__(
        self,
        file: SQLiteFile,
        path: Path,
        heading_weight: float,
        generation: Callable[[], int],
    ) -> None:
        self._file = file
        self._path = path
        self._heading_weight = heading_weight
        self._generation = generation
        self._lock = threading.Lock()
        self._kept = KeptIndex(
            self._build,
            generation,
            errors=(sqlite3.Error, StoreError),
            fallback="uses FTS5",
            name="cairn-bm25",
        )
        self._tokenizer: QueryTokenizer | None = None
        self._lengths: tuple[int, _Lengths] | None = None  # (generation, row lengths)
        self._lengths_lock = threading.Lock()

    def rank(
        self,
        query: str,
        k: int,
        allowed: frozenset[int] | None,
        generation: int,
        scope: frozenset[int] | None = None,
    ) -> list[Ranked]:
        """The `k` best chunk ids among `allowed` rowids (None: all indexed chunks), with
        BM25's statistics counted over the `scope` rowids (None: all indexed chunks)."""
        match = fts_match(query)
        if match is None or k <= 0:
            return []
        index = self._kept.at(generation)
        if index is not None:
            in_memory = index.rank(query_terms(query), k, allowed, self._phrase, scope)
            if in_memory is not None:
                return [Ranked(cid, s, lexical=s) for cid, s in in_memory]
        if scope is not None:
            return self._scoped(query, k, allowed, scope)
        if allowed is None:
            return [Ranked(cid, s, lexical=s) for _, cid, s in self._fts(query, match, k)]
        # Joining every match to its document to test the filter costs more than ranking
        # (twice the time on the Python docs), so rank a window without the filter and keep
        # the allowed chunks: exact whenever k of them are in the window, which is checked.
        window = max(4 * k, 200)
        ranked = self._fts(query, match, window)
        kept = [(cid, s) for rowid, cid, s in ranked if rowid in allowed]
        if len(kept) < k and len(ranked) == window:
            kept = [(cid, s) for _, cid, s in self._fts(query, match, k, allowed)]
        return [Ranked(cid, s, lexical=s) for cid, s in kept[:k]]

    def _fts(
        self, query: str, match: str, k: int, allowed: frozenset[int] | None = None
    ) -> list[tuple[int, str, float]]:
        """(rowid, chunk id, BM25) of the `k` best matches among `allowed`, best first."""
        if allowed is None:
            sql = (
                "SELECT s.rowid, c.id, s.score FROM (SELECT rowid, -bm25(chunks_fts, ?, 1.0) "
                "AS score FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY score DESC LIMIT ?) "
                "AS s JOIN chunks c ON c.rowid = s.rowid ORDER BY s.score DESC, s.rowid"
            )
            params: list[Any] = [self._heading_weight, match, k]
        else:
            sql = (
                "SELECT c.rowid, c.id, -bm25(chunks_fts, ?, 1.0) AS score FROM chunks_fts "
                "JOIN chunks c ON c.rowid = chunks_fts.rowid WHERE chunks_fts MATCH ? "
                "AND c.rowid IN (SELECT value FROM json_each(?)) ORDER BY score DESC, c.rowid "
                "LIMIT ?"
            )
            params = [self._heading_weight, match, json.dumps(sorted(allowed)), k]
        with self._file.reading() as db:
            try:
                rows = db.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:  # malformed MATCH despite quoting
                raise StoreError(f"lexical search failed for {query!r}: {exc}") from exc
        return [(int(r[0]), str(r[1]), float(r[2])) for r in rows]

    def _scoped(
        self, query: str, k: int, allowed: frozenset[int] | None, scope: frozenset[int]
    ) -> list[Ranked]:
        """BM25 over the `scope` rowids alone, from FTS5's postings and row lengths."""
        phrases = query_terms(query)
        tokenizer = self._query_tokenizer()
        with self._file.reading() as db:
            _ensure_vocab(db)
            db.execute("BEGIN")  # one snapshot for the lengths and the postings
            try:
                generation = int(
                    db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0]
                )
                lengths = self._row_lengths(db, generation)
                found = [
                    p
                    for tokens in tokenizer.tokens(phrases)
                    if (p := self._postings(db, tokens, lengths)) is not None
                ]
            finally:
                db.execute("COMMIT")
        scores, matched = scoped_scores(found, lengths.length, lengths.masks.of(scope))
        if allowed is not None:
            matched &= lengths.masks.of(allowed)
        best = top_k(scores, matched, lengths.rowids, k)
        rowids = [int(lengths.rowids[i]) for i in best]
        with self._file.reading() as db:
            ids = dict(
                db.execute(
                    "SELECT rowid, id FROM chunks WHERE rowid IN (SELECT value FROM json_each(?))",
                    (json.dumps(rowids),),
                ).fetchall()
            )
        return [
            Ranked(ids[r], float(scores[i]), lexical=float(scores[i]))
            for r, i in zip(rowids, best, strict=True)
            if r in ids
        ]

    def _postings(
        self, db: sqlite3.Connection, tokens: tuple[str, ...], lengths: _Lengths
    ) -> Postings | None:
        """The rows `tokens` (one term, or a phrase) occur in and their weighted counts."""
        if not tokens:
            return None
        if len(tokens) == 1:
            rows: list[tuple[int, str, int]] = db.execute(
                "SELECT doc, col, COUNT(*) FROM temp.cairn_vocab WHERE term = ? "
                "GROUP BY doc, col ORDER BY doc, col",
                (tokens[0],),
            ).fetchall()
        else:
            # a phrase: its tokens at consecutive positions of one column
            positions = {
                t: {
                    (int(r[0]), str(r[1]), int(r[2]))
                    for r in db.execute(
                        "SELECT doc, col, offset FROM temp.cairn_vocab WHERE term = ?", (t,)
                    )
                }
                for t in dict.fromkeys(tokens)
            }
            per_column: dict[tuple[int, str], int] = {}
            for doc, col, offset in positions[tokens[0]]:
                if all((doc, col, offset + i) in positions[t] for i, t in enumerate(tokens) if i):
                    per_column[(doc, col)] = per_column.get((doc, col), 0) + 1
            rows = [(doc, col, n) for (doc, col), n in sorted(per_column.items())]
        if not rows:
            return None
        # f(t, d): the columns' weighted counts summed in column order, as the index does
        weight = {"heading": self._heading_weight, "body": 1.0}
        docs = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        weighted = np.fromiter((weight[r[1]] * r[2] for r in rows), np.float64, len(rows))
        unique, inverse = np.unique(docs, return_inverse=True)
        counts = np.bincount(inverse, weights=weighted, minlength=len(unique)).astype(np.float64)
        return Postings(np.searchsorted(lengths.rowids, unique), counts)

    def _row_lengths(self, db: sqlite3.Connection, generation: int) -> _Lengths:
        """Every indexed row's length in tokens (all columns), from FTS5's `docsize` table,
        read once per corpus generation."""
        with self._lengths_lock:
            cached = self._lengths
        if cached is not None and cached[0] == generation:
            return cached[1]
        rowids: list[int] = []
        length: list[float] = []
        for rowid, blob in db.execute("SELECT id, sz FROM chunks_fts_docsize ORDER BY id"):
            rowids.append(rowid)
            length.append(float(sum(_varints(blob))))
        lengths = _Lengths(np.array(rowids, dtype=np.int64), np.array(length, dtype=np.float64))
        with self._lengths_lock:
            self._lengths = (generation, lengths)
        return lengths

    def _query_tokenizer(self) -> QueryTokenizer:
        with self._lock:
            if self._tokenizer is None:
                with self._file.reading() as db:
                    spec = db.execute(
                        "SELECT sql FROM sqlite_master WHERE type='table' AND name='chunks_fts'"
                    ).fetchone()[0]
                self._tokenizer = QueryTokenizer(tokenize_arg(spec))
            return self._tokenizer

    def keep_in_memory(self, *, wait: bool = False) -> None:
        """Rank with an in-memory copy of the BM25 index, built in the background now and
        after every change to the corpus; FTS5 answers until it is ready."""
        self._kept.keep(wait=wait)

    def covers(self, generation: int) -> bool:
        return self._kept.covers(generation)

    def _build(self, previous: BM25Index | None) -> BM25Index:
        return BM25Index.build(
            self._path,
            "chunks_fts",
            (self._heading_weight, 1.0),
            previous.tokenizer if previous is not None else None,
        )

    def _phrase(self, phrase: str, generation: int, columns: int) -> list[tuple[float, ...]] | None:
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

    def close(self) -> None:
        self._kept.close()
        self._kept.wait()
        if self._kept.index is not None:
            self._kept.index.tokenizer.close()
        if self._tokenizer is not None:
            self._tokenizer.close()


class _Lengths:
    """Indexed rowids, ascending, and each row's length in tokens."""

    def __init__(self, rowids: npt.NDArray[np.int64], length: npt.NDArray[np.float64]) -> None:
        self.rowids = rowids
        self.length = length
        self.masks = Masks(rowids)


def _ensure_vocab(db: sqlite3.Connection) -> None:
    """This connection's `temp.cairn_vocab` over `chunks_fts` (read connections are
    query-only, so that is lifted for the one statement)."""
    if db.execute("SELECT 1 FROM temp.sqlite_master WHERE name = 'cairn_vocab'").fetchone():
        return
    query_only = int(db.execute("PRAGMA query_only").fetchone()[0])
    db.execute("PRAGMA query_only=OFF")
    try:
        db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.cairn_vocab "
            "USING fts5vocab(main, chunks_fts, instance)"
        )
    finally:
        db.execute(f"PRAGMA query_only={'ON' if query_only else 'OFF'}")


def _varints(blob: bytes) -> list[int]:
    """SQLite varints (big-endian groups of 7 bits, high bit set on all but the last byte),
    as FTS5's `docsize` table stores each column's token count."""
    values: list[int] = []
    value = 0
    for byte in blob:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            values.append(value)
            value = 0
    return values
