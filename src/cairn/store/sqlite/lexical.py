"""Lexical ranking on SQLite: FTS5's BM25, or an in-memory copy of it with the same scores
(`cairn.store.bm25`) for long-running processes."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cairn.errors import StoreError
from cairn.sqlite import SQLiteFile
from cairn.store.bm25 import BM25Index
from cairn.store.fts import fts_match, query_terms
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
        self._lock = threading.Lock()  # one thread starts a build
        self._wanted = False
        self._index: BM25Index | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def rank(
        self, query: str, k: int, allowed: frozenset[int] | None, generation: int
    ) -> list[Ranked]:
        """The `k` best chunk ids among `allowed` rowids (None: all indexed chunks)."""
        match = fts_match(query)
        if match is None or k <= 0:
            return []
        index = self._memory(generation)
        if index is not None:
            in_memory = index.rank(query_terms(query), k, allowed, self._phrase)
            if in_memory is not None:
                return [Ranked(cid, s, lexical=s) for cid, s in in_memory]
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

    def keep_in_memory(self, *, wait: bool = False) -> None:
        """Rank with an in-memory copy of the BM25 index, built in the background now and
        after every change to the corpus; FTS5 answers until it is ready."""
        self._wanted = True
        self._start_build()
        if wait:
            thread = self._thread
            if thread is not None:
                thread.join()

    def covers(self, generation: int) -> bool:
        index = self._index
        return index is not None and index.generation == generation

    def _memory(self, generation: int) -> BM25Index | None:
        if self.covers(generation):
            return self._index
        if self._wanted:
            self._start_build()
        return None

    def _start_build(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._build, name="cairn-bm25", daemon=True)
            self._thread.start()

    def _build(self) -> None:
        while True:
            previous = self._index
            try:
                index = BM25Index.build(
                    self._path,
                    "chunks_fts",
                    (self._heading_weight, 1.0),
                    previous.tokenizer if previous is not None else None,
                )
            except (sqlite3.Error, StoreError) as exc:  # FTS5 keeps answering meanwhile
                log.warning("in-memory BM25 index not built (%s); lexical search uses FTS5", exc)
                return
            self._index = index
            if self._generation() == index.generation or self._closed:
                return

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
        self._closed = True
        thread = self._thread
        if thread is not None:
            thread.join()
        if self._index is not None:
            self._index.tokenizer.close()
