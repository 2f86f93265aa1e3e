"""Our lexical scores are BM25 (k1=1.2, b=0.75) exactly: checked against rank_bm25 and bm25s
on the same tokens (read back from the FTS5 index itself, so stemming cannot differ)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from rank_bm25 import BM25Okapi

from cairn.store.sqlite import SQLiteStore
from cairn.testing.store import make_doc, write

CORPUS = [
    "Dataclasses generate special methods like init and repr for classes.",
    "The asyncio library runs coroutines concurrently with an event loop.",
    "Use a default factory for mutable defaults such as lists in dataclasses fields.",
    "Context managers release resources; the with statement calls enter and exit.",
    "Generators yield values lazily; a generator expression is written in parentheses.",
    "Event loops schedule callbacks, and tasks wrap coroutines in asyncio.",
    "Logging handlers send records to files, sockets or the console stream.",
    "Regular expressions match patterns; the re module compiles them to objects.",
    "Decorators wrap functions; functools wraps keeps the wrapped function's name.",
    "Pathlib offers object oriented filesystem paths with convenient methods.",
]
QUERIES = [
    "dataclasses default factory",
    "asyncio event loop coroutines",
    "generator expression",
    "functools decorators wrapped name",
]


def _tokens(db: sqlite3.Connection, table: str) -> dict[int, list[str]]:
    db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS v_{table} USING fts5vocab({table}, instance)")
    rows = db.execute(f"SELECT doc, col, offset, term FROM v_{table} ORDER BY doc, col, offset")
    out: dict[int, list[str]] = {}
    for doc, _col, _offset, term in rows:
        out.setdefault(doc, []).append(term)
    return out


def _query_tokens(query: str) -> list[str]:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE q USING fts5(body, tokenize='porter unicode61 remove_diacritics 2')"
    )
    db.execute("INSERT INTO q (body) VALUES (?)", (query,))
    tokens = list(dict.fromkeys(_tokens(db, "q")[1]))
    db.close()
    return tokens


@pytest.fixture
def indexed(tmp_path: Path) -> tuple[SQLiteStore, dict[int, list[str]], dict[int, str]]:
    store = SQLiteStore(tmp_path / "cairn.db")
    doc, chunks = make_doc("d", "a.md", CORPUS)
    write(store, doc, chunks)
    db = sqlite3.connect(tmp_path / "cairn.db")
    tokens = _tokens(db, "chunks_fts")
    ids = dict(db.execute("SELECT rowid, id FROM chunks"))
    db.close()
    return store, tokens, ids


@pytest.mark.parametrize("query", QUERIES)
def test_scores_match_rank_bm25(
    indexed: tuple[SQLiteStore, dict[int, list[str]], dict[int, str]], query: str
) -> None:
    store, tokens, ids = indexed
    rowids = sorted(tokens)
    reference = BM25Okapi([tokens[r] for r in rowids], k1=1.2, b=0.75)
    expected = dict(zip(rowids, reference.get_scores(_query_tokens(query)), strict=True))
    hits = store.lexical_search(query, k=len(CORPUS))
    assert hits, query
    by_id = {v: k for k, v in ids.items()}
    for hit in hits:
        assert hit.score == pytest.approx(expected[by_id[hit.chunk.id]], rel=1e-6)
    # every document with a positive reference score was returned
    assert {ids[r] for r, s in expected.items() if s > 0} == {h.chunk.id for h in hits}


@pytest.mark.parametrize("query", QUERIES)
def test_scores_match_bm25s(
    indexed: tuple[SQLiteStore, dict[int, list[str]], dict[int, str]], query: str
) -> None:
    import bm25s

    store, tokens, ids = indexed
    rowids = sorted(tokens)
    vocab = {t: i for i, t in enumerate(sorted({t for ts in tokens.values() for t in ts}))}
    model = bm25s.BM25(method="robertson", k1=1.2, b=0.75)
    model.index(
        bm25s.tokenization.Tokenized(
            ids=[[vocab[t] for t in tokens[r]] for r in rowids], vocab=vocab
        ),
        show_progress=False,
    )
    q = [t for t in _query_tokens(query) if t in vocab]
    scores = model.get_scores(q)
    by_row = dict(zip(rowids, scores, strict=True))
    # bm25s' Robertson variant omits the constant (k1 + 1) factor of the textbook formula
    for hit in store.lexical_search(query, k=len(CORPUS)):
        row = next(r for r, i in ids.items() if i == hit.chunk.id)
        assert hit.score == pytest.approx(by_row[row] * 2.2, rel=1e-5)
