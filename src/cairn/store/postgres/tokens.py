"""Chunk text to postings with FTS5's own tokenizer, run in process.

The SQLite store indexes `heading` and `body` with FTS5 (`porter unicode61
remove_diacritics 2`). The Postgres store keeps the same tokens, counts and positions per
column in its `postings` table, so both rank with the same BM25 over the same terms: an
in-memory FTS5 table tokenizes each batch of chunks and its `fts5vocab` view lists every
token instance.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Posting:
    """One term in one chunk: how often it occurs in the heading and in the body, and where,
    as Postgres `int[]` literals ("{0,7}"), the form they are stored in."""

    nh: int
    heading: str
    nb: int
    body: str


@dataclass(frozen=True, slots=True)
class Tokenized:
    postings: dict[str, Posting]
    length: int
    """Tokens in both columns (BM25's |d|)."""


# One row per (chunk, term), its positions joined by SQLite: a Python loop over every token
# instance cost more than the rest of the tokenizing (bench/pg_ingest.py --end-to-end).
_POSTINGS = (
    "SELECT doc, term, "
    "count(*) FILTER (WHERE col = 'heading'), "
    "'{' || ifnull(group_concat(offset) FILTER (WHERE col = 'heading'), '') || '}', "
    "count(*) FILTER (WHERE col = 'body'), "
    "'{' || ifnull(group_concat(offset) FILTER (WHERE col = 'body'), '') || '}' "
    "FROM v GROUP BY term, doc"
)


class ChunkTokenizer:
    """Thread-safe; `close()` it."""

    def __init__(self, tokenize: str) -> None:
        self._db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        quoted = "'" + tokenize.replace("'", "''") + "'"
        self._db.execute(f"CREATE VIRTUAL TABLE t USING fts5(heading, body, tokenize={quoted})")
        self._db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")
        self._lock = threading.Lock()

    def tokenize(self, rows: Sequence[tuple[str, str]]) -> list[Tokenized]:
        """Postings of each (heading, body), in order."""
        found: list[dict[str, Posting]] = [{} for _ in rows]
        lengths = [0] * len(rows)
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                db.executemany(
                    "INSERT INTO t (rowid, heading, body) VALUES (?, ?, ?)",
                    ((i, h, b) for i, (h, b) in enumerate(rows)),
                )
                for doc, term, nh, heading, nb, body in db.execute(_POSTINGS):
                    found[doc][term] = Posting(nh, heading, nb, body)
                    lengths[doc] += nh + nb
                db.execute("DELETE FROM t")
            finally:
                db.execute("COMMIT")
        return [Tokenized(p, n) for p, n in zip(found, lengths, strict=True)]

    def close(self) -> None:
        self._db.close()
