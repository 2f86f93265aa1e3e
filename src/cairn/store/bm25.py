"""BM25 in memory over the FTS5 index's own tokens, scoring exactly as FTS5's `bm25()`.

FTS5 has no dynamic pruning: an OR query scores every row that matches any term, calling
`bm25()` once per row. On the Python docs a typical question matches ~6,600 of ~21,000
chunks, so ranking costs ~4-5 ms of SQLite time per query and is the largest part of a
search. Here the per-(term, chunk) counts are read once from FTS5's own token
counts (its `fts5vocab` table, so tokenizer, stemmer and counts are FTS5's) and a query is
a few numpy additions: ~0.2 ms (bench/latency.py; docs/benchmarks.md "Query latency").

The ranking is FTS5's, score for score (tests/store/test_bm25_memory.py compares them):

    idf(t)   = log((N - n(t) + 0.5) / (n(t) + 0.5)), or 1e-6 when that is <= 0
    f(t, d)  = sum over columns c of weight(c) * count of t in column c of d
    bm25(d)  = sum over t of idf(t) * f * (k1 + 1) / (f + k1 * (1 - b + b * |d| / avgdl))

with k1 = 1.2, b = 0.75, |d| the tokens of all columns, N the rows (sqlite/ext/fts5/
fts5_aux.c). A term FTS5 reads as a phrase of several tokens (`default_factory` is the
phrase "default factory") needs token positions, which are not kept here: its per-column
counts are recovered exactly from FTS5 for that phrase alone (a few rows) and cached.

Tenant scopes: a caller that may read only some chunks (`scope`: public documents and its
tenant's own) is ranked with N, n(t) and avgdl counted over those chunks alone, so what other
tenants add, change or delete never moves its scores, bit for bit (`scoped_scores`; the same
function ranks FTS5's rows in `cairn.store.sqlite.lexical`). Each posting keeps its weighted
count f(t, d) for that.

Memory: a posting is its row (int32) and f(t, d) (float16 where that is exact, which it is
for integer counts below 2,048), 6 bytes; the BM25 factor of each posting is computed at
query time from f, the row's length and avgdl, the same float64 arithmetic as before, so
scores are unchanged bit for bit. Keeping precomputed float64 factors and int64 rows (20
bytes a posting) made the index 1.5 GB at a million chunks (docs/benchmarks.md, "The
in-memory BM25's memory").
"""

from __future__ import annotations

import ctypes
import math
import re
import sqlite3
import sys
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from cairn.store.vectors import Mask, Masks

K1 = 1.2
B = 0.75


class BM25Index:
    """Immutable once built; safe to share between threads."""

    def __init__(
        self,
        generation: int,
        rowids: npt.NDArray[np.int64],
        chunk_ids: list[str],
        terms: dict[str, int],
        bounds: npt.NDArray[np.int64],
        postings: npt.NDArray[np.integer[Any]],
        counts: npt.NDArray[np.floating[Any]],
        tokenizer: QueryTokenizer,
        *,
        length: npt.NDArray[np.float64],
        weights: Sequence[float],
    ) -> None:
        self.generation = generation
        self.rowids = rowids
        self.chunk_ids = chunk_ids
        self._terms = terms
        self._bounds = bounds
        self._postings = postings
        self._counts = counts
        self.tokenizer = tokenizer
        self._masks = Masks(rowids)
        self._length = length
        self._avgdl = float(length.sum()) / max(len(rowids), 1)
        self._norms = length_norms(length, self._avgdl)
        self._weights = tuple(weights)
        self._phrases: OrderedDict[str, Postings] = OrderedDict()
        self._scopes: OrderedDict[frozenset[int], tuple[Mask, int, float]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def build(
        cls,
        path: Path,
        table: str,
        weights: Sequence[float],
        tokenizer: QueryTokenizer | None = None,
    ) -> BM25Index:
        """Read `table`'s token counts from the database at `path` in one snapshot. Pass
        the previous index's `tokenizer` when rebuilding (it is the same for a table)."""
        db = sqlite3.connect(str(path), isolation_level=None, timeout=30.0)
        try:
            db.execute(f"CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, {table}, instance)")
            db.execute("BEGIN")  # one snapshot for the generation and the counts
            generation = int(
                db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0]
            )
            spec = db.execute(
                "SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)
            ).fetchone()[0]
            columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
            rowids, chunk_ids = _chunk_ids(db, table)
            cursor = db.execute(
                "SELECT term, doc, col, COUNT(*) FROM temp.vocab GROUP BY term, doc, col"
            )
            column_weights = [
                float(weights[i]) if i < len(weights) else 1.0 for i in range(len(columns))
            ]
            counted = _Counts.read(cursor, dict(zip(columns, column_weights, strict=True)), rowids)
            db.execute("COMMIT")
        finally:
            db.close()
        tokenizer = tokenizer or QueryTokenizer(tokenize_arg(spec))
        index = cls.from_counts(generation, rowids, chunk_ids, counted, column_weights, tokenizer)
        del counted
        _return_freed_memory()
        return index

    @classmethod
    def from_rows(
        cls,
        generation: int,
        rowids: npt.NDArray[np.int64],
        chunk_ids: list[str],
        cursor: RowBatches,
        weights: Mapping[str, float],
        tokenizer: QueryTokenizer,
    ) -> BM25Index:
        """From (term, rowid, column, count) rows read in batches from `cursor`, best grouped
        by term and rowid (summed in batches as they come; any other order is summed by
        sorting), `weights` by column name: what `build` reads from FTS5, from another
        store's own postings."""
        counted = _Counts.read(cursor, dict(weights), rowids)
        index = cls.from_counts(
            generation, rowids, chunk_ids, counted, list(weights.values()), tokenizer
        )
        del counted
        _return_freed_memory()
        return index

    @classmethod
    def from_counts(
        cls,
        generation: int,
        rowids: npt.NDArray[np.int64],
        chunk_ids: list[str],
        counted: _Counts,
        weights: Sequence[float],
        tokenizer: QueryTokenizer,
    ) -> BM25Index:
        """From the rowids in order, their chunk ids and the counts read for them."""
        return cls(
            generation,
            rowids,
            chunk_ids,
            counted.term_ids,
            counted.bounds,
            counted.docs,
            counted.f,
            tokenizer,
            length=counted.length,
            weights=weights,
        )

    def rank(
        self,
        phrases: Sequence[str],
        k: int,
        allowed: frozenset[int] | None = None,
        fetch: PhraseFetch | None = None,
        scope: frozenset[int] | None = None,
        *,
        counts: PhraseCounts | None = None,
    ) -> list[tuple[str, float]] | None:
        """The `k` best (chunk id, BM25) for the OR of `phrases`, best first (ties by rowid),
        among `allowed` rowids when given. `scope`: the rowids the caller may read, over which
        N, n(t) and avgdl are counted (None: all). A phrase of several tokens needs their
        positions: `fetch` asks FTS5 for it (see `PhraseFetch`), or `counts` asks a store
        that counts them itself (see `PhraseCounts`); None when that cannot be done."""
        found: list[Postings] = []
        for phrase, tokens in zip(phrases, self.tokenizer.tokens(phrases), strict=True):
            if len(tokens) == 1:
                term = self._terms.get(tokens[0])
                if term is None:
                    continue  # FTS5 counts it too: idf * 0 for every row
                first, last = int(self._bounds[term]), int(self._bounds[term + 1])
                found.append(Postings(self._postings[first:last], self._counts[first:last]))
            elif not tokens:
                continue  # "__" has no token and matches nothing
            else:
                postings = self._phrase(phrase, fetch, counts)
                if postings is None:
                    return None
                found.append(postings)
        if scope is None or len(scope) == len(self.rowids):  # every row: the same numbers
            total = len(self.rowids)
            scores = np.zeros(total, dtype=np.float64)
            matched = np.zeros(total, dtype=np.bool_)
            for p in found:
                factors = p.factors
                if factors is None:
                    factors = factors_with(p.counts.astype(np.float64), self._norms[p.docs])
                scores[p.docs] += _idf(total, len(p.docs)) * factors
                matched[p.docs] = True
        else:
            scores, matched = scoped_scores(found, self._length, *self._scope(scope))
        if allowed is not None:
            matched &= self._masks.of(allowed)
        best = top_k(scores, matched, self.rowids, k)
        return [(self.chunk_ids[i], float(scores[i])) for i in best]

    def rows_with_all(self, tokens: Sequence[str]) -> npt.NDArray[np.int64]:
        """The rowids holding every one of `tokens` (in any column, at any position): where a
        phrase of them can occur."""
        found: npt.NDArray[np.integer[Any]] | None = None
        for token in sorted(set(tokens), key=self._frequency):
            term = self._terms.get(token)
            if term is None:
                return np.zeros(0, dtype=np.int64)
            docs = self._postings[int(self._bounds[term]) : int(self._bounds[term + 1])]
            found = docs if found is None else np.intersect1d(found, docs, assume_unique=True)
            if len(found) == 0:
                break
        if found is None:
            return np.zeros(0, dtype=np.int64)
        rows: npt.NDArray[np.int64] = self.rowids[found]
        return rows

    def _frequency(self, token: str) -> int:
        term = self._terms.get(token)
        return 0 if term is None else int(self._bounds[term + 1] - self._bounds[term])

    def _scope(self, scope: frozenset[int]) -> tuple[Mask, int, float]:
        """The scope's mask, row count and average length, the last few kept (one a
        tenant)."""
        with self._lock:
            found = self._scopes.get(scope)
            if found is not None:
                self._scopes.move_to_end(scope)
                return found
        mask = self._masks.of(scope)
        found = (mask, *scope_stats(self._length, mask))
        with self._lock:
            self._scopes[scope] = found
            while len(self._scopes) > _SCOPES_KEPT:
                self._scopes.popitem(last=False)
        return found

    def _phrase(
        self, phrase: str, fetch: PhraseFetch | None, counts: PhraseCounts | None = None
    ) -> Postings | None:
        """Rows, weighted counts and BM25 factors of a multi-token phrase: from the store's
        own per-column counts (`counts`), or from FTS5's per-column scores (`fetch`).

        `bm25()` with one column weighted 1 and the others 0 is idf * c * (k1 + 1) /
        (c + k1 * (1 - b + b * |d| / avgdl)) for the phrase's count c in that column; c is
        an integer, so solving for it and rounding gives FTS5's count exactly.
        """
        with self._lock:
            cached = self._phrases.get(phrase)
        if cached is not None:
            return cached
        if counts is not None:
            counted = counts(phrase, self.generation)
            if counted is None:
                return None
            counted = [r for r in counted if any(r[1:])]
            docs = np.searchsorted(self.rowids, np.array([r[0] for r in counted], dtype=np.int64))
            f = np.zeros(len(counted), dtype=np.float64)
            for column, weight in enumerate(self._weights):
                f += weight * np.array([r[1 + column] for r in counted], dtype=np.float64)
        else:
            rows = fetch(phrase, self.generation, len(self._weights)) if fetch else None
            if rows is None:
                return None
            idf = _idf(len(self.rowids), len(rows))
            docs = np.searchsorted(self.rowids, np.array([r[0] for r in rows], dtype=np.int64))
            norm = K1 * (1 - B + B * self._length[docs] / self._avgdl)
            f = np.zeros(len(rows), dtype=np.float64)
            for column, weight in enumerate(self._weights):
                x = np.array([-r[1 + column] for r in rows], dtype=np.float64)
                f += weight * np.rint(x * norm / (idf * (K1 + 1.0) - x))
        found = Postings(docs, f, bm25_factors(f, self._length[docs], self._avgdl))
        with self._lock:
            self._phrases[phrase] = found
            while len(self._phrases) > _PHRASES_KEPT:
                self._phrases.popitem(last=False)
        return found


class Postings(NamedTuple):
    """The rows (indexes into an index's rowids) a term or phrase occurs in."""

    docs: npt.NDArray[np.integer[Any]]
    counts: npt.NDArray[np.floating[Any]]
    """f(t, d): the column-weighted count in each row (float16 or float32 where exact)."""
    factors: npt.NDArray[np.float64] | None = None
    """BM25's factor in each row with every row's statistics (None: not computed)."""


def bm25_factors(
    counts: npt.NDArray[np.float64], lengths: npt.NDArray[np.float64], avgdl: float
) -> npt.NDArray[np.float64]:
    """f * (k1 + 1) / (f + k1 * (1 - b + b * |d| / avgdl)), row by row."""
    return factors_with(counts, length_norms(lengths, avgdl))


def length_norms(lengths: npt.NDArray[np.float64], avgdl: float) -> npt.NDArray[np.float64]:
    """k1 * (1 - b + b * |d| / avgdl) of each row: computed once per index for every row,
    the same numbers as row by row."""
    norms: npt.NDArray[np.float64] = K1 * (1 - B + B * lengths / avgdl)
    return norms


def factors_with(
    counts: npt.NDArray[np.float64], norms: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """f * (k1 + 1) / (f + norm), row by row."""
    factors: npt.NDArray[np.float64] = (counts * (K1 + 1.0)) / (counts + norms)
    return factors


def scope_stats(length: npt.NDArray[np.float64], scope: Mask) -> tuple[int, float]:
    """N and avgdl of the rows in `scope` (the sum of integers is exact in any order)."""
    total = int(np.count_nonzero(scope))
    return total, float(length[scope].sum()) / max(total, 1)


def scoped_scores(
    found: Sequence[Postings],
    length: npt.NDArray[np.float64],
    scope: Mask,
    total: int | None = None,
    avgdl: float | None = None,
) -> tuple[npt.NDArray[np.float64], Mask]:
    """BM25 of every row for the OR of `found`, with N, n(t) and avgdl counted over the rows
    in `scope` alone (rows outside it score 0 and are not matched): what rows outside the
    scope hold never changes a score inside it. `total` and `avgdl`: `scope_stats`, when
    known."""
    if total is None or avgdl is None:
        total, avgdl = scope_stats(length, scope)
    scores = np.zeros(len(length), dtype=np.float64)
    matched = np.zeros(len(length), dtype=np.bool_)
    for p in found:
        keep = scope[p.docs]
        docs = p.docs[keep]
        if len(docs) == 0:
            continue
        counts = p.counts[keep].astype(np.float64)
        scores[docs] += _idf(total, len(docs)) * bm25_factors(counts, length[docs], avgdl)
        matched[docs] = True
    return scores, matched


def top_k(
    scores: npt.NDArray[np.float64],
    matched: Mask,
    rowids: npt.NDArray[np.int64],
    k: int,
) -> npt.NDArray[np.int64]:
    """Indexes of the `k` best matched rows, best first, ties by rowid."""
    candidates = np.flatnonzero(matched)
    if len(candidates) == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64)
    if len(candidates) > k:
        # everything scoring at least the k-th best, so ties there are broken by rowid
        kth = np.partition(scores[candidates], len(candidates) - k)[len(candidates) - k]
        candidates = candidates[scores[candidates] >= kth]
    order = np.lexsort((rowids[candidates], -scores[candidates]))[:k]
    best: npt.NDArray[np.int64] = candidates[order]
    return best


PhraseCounts = Callable[[str, int], "Sequence[Sequence[int]] | None"]
"""`counts(phrase, generation)`: the rows holding the phrase's tokens at consecutive
positions of one column, as (rowid, its count in column 0, ..., in the last column), read at
corpus `generation`; None if the corpus has moved on (the Postgres store's postings)."""
PhraseFetch = Callable[[str, int, int], "list[tuple[float, ...]] | None"]
"""`fetch(phrase, generation, columns)`: FTS5's rows matching the quoted phrase as (rowid,
bm25 with only column 0 weighted, ... only column `columns - 1` weighted), read at corpus
`generation`; None if the corpus has moved on."""

_PHRASES_KEPT = 4096
_SCOPES_KEPT = 64


def _chunk_ids(db: sqlite3.Connection, table: str) -> tuple[npt.NDArray[np.int64], list[str]]:
    """The table's rowids in order and their chunk ids, read row by row (a list of (rowid,
    id) tuples would add 170 MB to the build's peak at a million chunks)."""
    rowids = array("q")
    chunk_ids: list[str] = []
    cursor = db.execute(
        f"SELECT f.rowid, c.id FROM {table} f LEFT JOIN chunks c ON c.rowid = f.rowid "
        "ORDER BY f.rowid"
    )
    for rowid, chunk_id in cursor:
        rowids.append(rowid)
        chunk_ids.append(chunk_id or "")
    return np.frombuffer(rowids, dtype=np.int64).copy(), chunk_ids


class RowBatches(Protocol):
    """A cursor read in batches (sqlite3's, psycopg's server-side one)."""

    def fetchmany(self, size: int) -> Sequence[Sequence[Any]]: ...


class _Counts(NamedTuple):
    """f(t, d) of every (term, row) pair from FTS5's (term, rowid, column, count) rows: the
    term ids (in the order first seen), each term's span of the arrays, the rows (indexes
    into the index's rowids), f, and each row's length |d|."""

    term_ids: dict[str, int]
    bounds: npt.NDArray[np.int64]
    docs: npt.NDArray[np.integer[Any]]
    f: npt.NDArray[np.floating[Any]]
    length: npt.NDArray[np.float64]

    @classmethod
    def read(
        cls,
        cursor: RowBatches,
        weights: dict[str, float],
        rowids: npt.NDArray[np.int64],
        batch: int = 50_000,
    ) -> _Counts:
        """Read and sum in batches: only the (term, row) pairs are kept (12 bytes each while
        reading, 6 in the index: int32 rows, float16 counts where exact). FTS5 returns the
        rows grouped by term and rowid, so a batch is summed as runs, its last pair held
        back in case the next batch continues it; rows in any other order are summed by
        sorting. Reading every row first (tens of millions at a million chunks) made the
        build's peak 8 GB (docs/benchmarks.md, "The in-memory BM25's memory")."""
        term_ids: dict[str, int] = {}
        size = max(len(rowids), 1)
        row_type = np.int32 if size < 2**31 else np.int64
        length = np.zeros(len(rowids), dtype=np.float64)
        terms: list[npt.NDArray[np.int32]] = []
        docs: list[npt.NDArray[np.integer[Any]]] = []
        sums: list[npt.NDArray[np.floating[Any]]] = []
        ordered = True
        pending: tuple[int, float] | None = None  # the last pair read, maybe cut by the batch
        while rows := cursor.fetchmany(batch):
            n = len(rows)
            term = np.fromiter(
                (term_ids.setdefault(r[0], len(term_ids)) for r in rows), np.int64, n
            )
            doc = np.searchsorted(rowids, np.fromiter((r[1] for r in rows), np.int64, n))
            counts = np.fromiter((r[3] for r in rows), np.float64, n)
            weighted = counts * np.fromiter((weights[r[2]] for r in rows), np.float64, n)
            del rows
            length += np.bincount(doc, weights=counts, minlength=len(rowids))
            key = term * size + doc
            if ordered and pending is not None and key[0] < pending[0]:
                ordered = False
            if ordered and bool(np.all(key[1:] >= key[:-1])):
                starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
                f = np.add.reduceat(weighted, starts)
                pairs = key[starts]
                if pending is not None:
                    if pairs[0] == pending[0]:  # continued: add its earlier columns first
                        f[0] = pending[1] + f[0]
                    else:
                        pairs = np.concatenate(([pending[0]], pairs))
                        f = np.concatenate(([pending[1]], f))
                pending = (int(pairs[-1]), float(f[-1]))  # held until the next batch
                pairs, f = pairs[:-1], f[:-1]
            else:
                if ordered and pending is not None:  # from here on: summed by sorting
                    key = np.concatenate(([pending[0]], key))
                    weighted = np.concatenate(([pending[1]], weighted))
                    pending = None
                ordered = False
                pairs, inverse = np.unique(key, return_inverse=True)
                f = np.bincount(inverse, weights=weighted, minlength=len(pairs))
            _keep(pairs, f.astype(np.float64, copy=False), size, row_type, terms, docs, sums)
        if pending is not None:
            _keep(np.array([pending[0]]), np.array([pending[1]]), size, row_type, terms, docs, sums)
        if not ordered:  # pairs repeat across batches: sum them once more, in order
            pair = _joined(terms, np.int64) * size + _joined(docs, np.int64)
            pairs, inverse = np.unique(pair, return_inverse=True)
            del pair
            f_all = np.bincount(inverse, weights=_joined(sums, np.float64), minlength=len(pairs))
            terms, docs = [(pairs // size).astype(np.int32)], [pairs % size]
            sums = [f_all.astype(np.float64)]
        term_of = _joined(terms, np.int32)
        bounds = np.searchsorted(term_of, np.arange(len(term_ids) + 1)).astype(np.int64)
        del term_of
        doc_of = _joined(docs, row_type)
        f_of = _joined(sums, _exact_type(sums))
        return cls(term_ids, bounds, doc_of, f_of, length)


def _keep(
    pairs: npt.NDArray[np.int64],
    f: npt.NDArray[np.float64],
    size: int,
    row_type: Any,
    terms: list[npt.NDArray[np.int32]],
    docs: list[npt.NDArray[np.integer[Any]]],
    sums: list[npt.NDArray[np.floating[Any]]],
) -> None:
    """Append summed pairs to the parts, f as float32 where that is exact (half the memory
    while reading; a kept value is never added to again)."""
    terms.append((pairs // size).astype(np.int32))
    docs.append((pairs % size).astype(row_type))
    narrow = f.astype(np.float32)
    sums.append(narrow if np.array_equal(narrow.astype(np.float64), f) else f)


def _exact_type(parts: list[npt.NDArray[np.floating[Any]]]) -> Any:
    """The narrowest float type that holds every value of `parts` exactly (read back as
    float64, scores are unchanged): float16 for integer counts below 2,048."""
    for kind in (np.float16, np.float32):
        if all(
            np.array_equal(p.astype(kind).astype(np.float64), p.astype(np.float64)) for p in parts
        ):
            return kind
    return np.float64


def _joined(parts: list[npt.NDArray[Any]], kind: Any) -> npt.NDArray[Any]:
    """The parts as one array of `kind`, emptying `parts` as it goes (each part is freed
    once copied, so the parts and the whole are not held twice at the end)."""
    out = np.empty(sum(len(p) for p in parts), dtype=kind)
    at = 0
    parts.reverse()
    while parts:
        part = parts.pop()
        out[at : at + len(part)] = part
        at += len(part)
    return out


def _return_freed_memory() -> None:
    """Hand the heap memory the build freed back to the system (glibc's `malloc_trim`):
    the build's batches leave freed blocks in the C heap that glibc keeps, which at 120k
    chunks is 95 MB of a process's resident memory after the build (bench/bm25_memory.py).
    A no-op where the C library is not glibc."""
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return
    trim(0)


def _idf(rows: int, hits: int) -> float:
    idf = math.log((rows - hits + 0.5) / (hits + 0.5))
    return idf if idf > 0 else 1e-6


class QueryTokenizer:
    """Query terms to FTS5 tokens, by FTS5 itself: an in-memory table with the index's
    tokenizer, so stemming and case folding can never drift from the index's."""

    def __init__(self, tokenize: str, cache_size: int = 50_000) -> None:
        self._db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self._db.execute(f"CREATE VIRTUAL TABLE q USING fts5(t, tokenize={_quote(tokenize)})")
        self._db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(q, instance)")
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._cache_size = cache_size

    def tokens(self, phrases: Sequence[str]) -> list[tuple[str, ...]]:
        """Each phrase's FTS5 tokens, in order."""
        with self._lock:
            known = {p: self._cache[p] for p in phrases if p in self._cache}
            missing = [p for p in dict.fromkeys(phrases) if p not in known]
            if missing:
                known.update(self._tokenize(missing))
        return [known[p] for p in phrases]

    def _tokenize(self, phrases: list[str]) -> dict[str, tuple[str, ...]]:
        db = self._db
        db.execute("BEGIN")
        db.executemany("INSERT INTO q (rowid, t) VALUES (?, ?)", enumerate(phrases))
        found: dict[int, list[str]] = {i: [] for i in range(len(phrases))}
        for doc, term in db.execute("SELECT doc, term FROM v ORDER BY doc, offset"):
            found[doc].append(term)
        db.execute("DELETE FROM q")
        db.execute("COMMIT")
        out = {p: tuple(found[i]) for i, p in enumerate(phrases)}
        self._cache.update(out)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return out

    def close(self) -> None:
        self._db.close()


def tokenize_arg(create_sql: str) -> str:
    """The `tokenize = '...'` argument of an FTS5 CREATE statement ('unicode61' if none)."""
    found = re.search(r"tokenize\s*=\s*(?:'((?:[^']|'')*)'|\"((?:[^\"]|\"\")*)\")", create_sql)
    if found is None:
        return "unicode61"
    return (found.group(1) or "").replace("''", "'") or (found.group(2) or "").replace('""', '"')


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
