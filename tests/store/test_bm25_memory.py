"""The in-memory BM25 index ranks exactly as FTS5: same chunks, same order, same scores."""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cairn.store.bm25 import BM25Index, _Counts
from cairn.store.sqlite import SQLiteStore
from cairn.testing.store import make_doc, write
from cairn.types import Filters

WORDS = (  # noqa: SIM905
    "dataclass field default factory mutable list dict asyncio task loop coroutine await "
    "event json dumps loads encoder path glob open file read write context manager exit "
    "enter logging handler record socket thread pool executor future result cancel"
).split()
SPECIALS = [
    "Use default_factory=list for a mutable default; default factory values are new.",
    "asyncio.create_task() schedules a coroutine; create a task, then await the task.",
    "The __init__ method runs after __new__; init-only fields go to __post_init__.",
    "Café crème: diacritics are removed, so cafe creme matches too.",
    "json.dumps(obj, default=str) and json_dumps are different spellings.",
]
QUERIES = [
    "default_factory list",
    "create_task coroutine",
    "How do I use asyncio.create_task?",
    "__init__ __post_init__",
    "cafe creme",
    "json_dumps default",
    "default factory default_factory factory",
    "the of and",  # stop words only: FTS5 still gets them
    "zzz unknownword",
    "running runs run",  # three terms, one stem
    "__",
    'quote " inside',
]


def _corpus(rng: random.Random, docs: int) -> list[tuple[str, list[str], tuple[str, ...]]]:
    out = []
    for d in range(docs):
        paragraphs = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40)))
            for _ in range(rng.randint(1, 6))
        ]
        if d < len(SPECIALS):
            paragraphs.append(SPECIALS[d])
        acl = ("tenant-a",) if d % 3 == 0 else ("tenant-b",) if d % 3 == 1 else ()
        out.append((f"doc{d}", paragraphs, acl))
    return out


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[SQLiteStore, SQLiteStore]]:
    rng = random.Random(7)
    path = tmp_path / "cairn.db"
    fts = SQLiteStore(path, heading_weight=2.5)
    for doc_id, paragraphs, acl in _corpus(rng, 40):
        doc, chunks = make_doc(doc_id, f"{doc_id}.md", paragraphs, acl=acl)
        write(fts, doc, chunks)
    memory = SQLiteStore(path, heading_weight=2.5, create=False)
    memory.keep_bm25_in_memory(wait=True)
    yield fts, memory
    memory.close()
    fts.close()


def _queries() -> list[str]:
    rng = random.Random(3)
    random_queries = [" ".join(rng.sample(WORDS, rng.randint(1, 6))) for _ in range(150)]
    return QUERIES + random_queries


FILTERS = [
    None,
    Filters(principals=("tenant-a",)),
    Filters(principals=()),
    Filters(source_globs=("doc1*",)),
]


@pytest.mark.parametrize("filters", FILTERS)
def test_same_ranking_and_scores_as_fts5(
    stores: tuple[SQLiteStore, SQLiteStore], filters: Filters | None
) -> None:
    fts, memory = stores
    assert memory.bm25_covers(memory.generation())
    compared = 0
    for query in _queries():
        for k in (1, 5, 100):
            expected = fts.lexical_ranking(query, k, filters)
            got = memory.lexical_ranking(query, k, filters)
            assert [r.chunk_id for r in got] == [r.chunk_id for r in expected], (query, k)
            assert [r.score for r in got] == pytest.approx([r.score for r in expected], rel=1e-12)
            compared += len(expected)
    assert compared > 1000  # the queries really match things


def test_phrase_terms_are_ranked_in_memory(stores: tuple[SQLiteStore, SQLiteStore]) -> None:
    _, memory = stores
    index = memory._lexical._kept.index
    assert index is not None
    calls: list[str] = []

    def fetch(phrase: str, generation: int, columns: int) -> list[tuple[float, ...]] | None:
        calls.append(phrase)
        return memory._lexical._phrase(phrase, generation, columns)

    first = index.rank(["default_factory", "list"], 5, None, fetch)
    again = index.rank(["default_factory", "list"], 5, None, fetch)
    assert first and first == again
    assert calls == ["default_factory"]  # fetched once, then cached
    assert index.rank(["default_factory"], 5, None, None) is not None  # from the cache
    assert index.rank(["create_task"], 5, None, None) is None  # needs FTS5, none given


def test_a_changed_corpus_is_never_ranked_with_a_stale_index(
    stores: tuple[SQLiteStore, SQLiteStore],
) -> None:
    fts, memory = stores
    stale = memory._lexical._kept.index
    assert stale is not None
    doc, chunks = make_doc("new", "new.md", ["brandnewword appears here with dataclass"])
    write(fts, doc, chunks)
    # the old generation's index is not used, whatever the rebuild is doing meanwhile
    assert [r.chunk_id for r in memory.lexical_ranking("brandnewword", 5)] == ["new-0"]
    memory.keep_bm25_in_memory(wait=True)
    assert memory.bm25_covers(memory.generation())
    assert memory._lexical._kept.index is not stale
    assert [r.chunk_id for r in memory.lexical_ranking("brandnewword", 5)] == ["new-0"]
    # a phrase fetched for an older generation is refused rather than mixed in
    assert memory._lexical._phrase("default_factory", stale.generation, 2) is None


def test_concurrent_queries_agree_with_fts5(stores: tuple[SQLiteStore, SQLiteStore]) -> None:
    fts, memory = stores
    queries = _queries()
    expected = {q: [r.chunk_id for r in fts.lexical_ranking(q, 10)] for q in queries}
    wrong: list[str] = []

    def work(offset: int) -> None:
        for q in queries[offset:] + queries[:offset]:
            if [r.chunk_id for r in memory.lexical_ranking(q, 10)] != expected[q]:
                wrong.append(q)

    threads = [threading.Thread(target=work, args=(i * 7,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_empty_corpus(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "cairn.db")
    store.keep_bm25_in_memory(wait=True)
    assert store.lexical_ranking("anything", 5) == []
    store.close()


def test_index_is_built_from_fts5s_own_tokens(stores: tuple[SQLiteStore, SQLiteStore]) -> None:
    fts, _ = stores
    index = BM25Index.build(fts.path, "chunks_fts", (2.5, 1.0))
    try:
        # porter stemming and diacritics folding come from FTS5: "Café crème" -> cafe creme
        assert index.tokenizer.tokens(["Crèmes", "running", "create_task"]) == [
            ("creme",),
            ("run",),
            ("creat", "task"),
        ]
    finally:
        index.tokenizer.close()


@pytest.mark.parametrize("heading_weight", [1.0, 1.1, 1e-9])
def test_postings_are_compact_and_scores_exact_for_any_weight(
    tmp_path: Path, heading_weight: float
) -> None:
    """Rows are int32 and f(t, d) the narrowest float that holds every value exactly: with a
    weight float16 cannot hold, the counts stay wider and the scores are still FTS5's."""
    path = tmp_path / "cairn.db"
    fts = SQLiteStore(path, heading_weight=heading_weight)
    for doc_id, paragraphs, acl in _corpus(random.Random(11), 25):
        doc, chunks = make_doc(doc_id, f"{doc_id}.md", paragraphs, acl=acl)
        write(fts, doc, chunks)
    memory = SQLiteStore(path, heading_weight=heading_weight, create=False)
    memory.keep_bm25_in_memory(wait=True)
    index = BM25Index.build(path, "chunks_fts", (heading_weight, 1.0))
    try:
        assert index._postings.dtype == np.int32
        narrowest = {1.0: (np.float16,), 1.1: (np.float32, np.float64), 1e-9: (np.float64,)}
        assert index._counts.dtype.type in narrowest[heading_weight]
        for query in _queries()[:60]:
            for filters in (None, Filters(principals=("tenant-a",))):
                expected = fts.lexical_ranking(query, 20, filters)
                got = memory.lexical_ranking(query, 20, filters)
                assert [(r.chunk_id, r.score) for r in got] == [
                    (r.chunk_id, pytest.approx(r.score, rel=1e-12)) for r in expected
                ], query
    finally:
        index.tokenizer.close()
        memory.close()
        fts.close()


@pytest.mark.parametrize(("shuffled", "batch"), [(True, 7), (False, 1), (False, 3)])
def test_counts_read_in_any_order_and_batch_build_the_same_index(
    stores: tuple[SQLiteStore, SQLiteStore], shuffled: bool, batch: int
) -> None:
    """FTS5 returns the counts grouped by term and row, which the build sums as runs, a pair
    cut by a batch's end joining the next batch; rows in any other order take the sorting
    path. Either way the index is the one built in the usual batches."""
    fts, _ = stores
    ordered = BM25Index.build(fts.path, "chunks_fts", (2.5, 1.0))
    db = sqlite3.connect(str(fts.path))
    try:
        db.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, chunks_fts, instance)")
        rows = db.execute(
            "SELECT term, doc, col, COUNT(*) FROM temp.vocab GROUP BY term, doc, col"
        ).fetchall()
        columns = [r[1] for r in db.execute("PRAGMA table_info(chunks_fts)")]
    finally:
        db.close()
    if shuffled:
        random.Random(5).shuffle(rows)
    copy = sqlite3.connect(":memory:")
    copy.execute("CREATE TABLE r (term, doc, col, n)")
    copy.executemany("INSERT INTO r VALUES (?, ?, ?, ?)", rows)
    weights = dict(zip(columns, (2.5, 1.0), strict=True))
    counted = _Counts.read(
        copy.execute("SELECT * FROM r ORDER BY rowid"), weights, ordered.rowids, batch=batch
    )
    copy.close()
    rebuilt = BM25Index.from_counts(
        ordered.generation,
        ordered.rowids,
        ordered.chunk_ids,
        counted,
        (2.5, 1.0),
        ordered.tokenizer,
    )
    try:
        assert rebuilt._terms.keys() == ordered._terms.keys()
        for term in ordered._terms:  # term ids follow the order read; postings are the same
            a, b = (
                (
                    x._postings[x._bounds[i] : x._bounds[i + 1]],
                    x._counts[x._bounds[i] : x._bounds[i + 1]],
                )
                for x, i in ((rebuilt, rebuilt._terms[term]), (ordered, ordered._terms[term]))
            )
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]), term
        assert rebuilt._counts.dtype == ordered._counts.dtype == np.float16
        assert np.array_equal(rebuilt._length, ordered._length)
        for query in _queries()[:80]:
            phrases = query.split()
            assert rebuilt.rank(phrases, 50) == ordered.rank(phrases, 50), query
    finally:
        ordered.tokenizer.close()


@pytest.mark.parametrize("batch", [1, 2, 50_000])
def test_a_pair_cut_by_a_batch_sums_exactly(batch: int) -> None:
    """A (term, row) pair whose columns fall in two batches is summed as in one: its body
    count (an integer, which float32 holds) and its heading count times a weight float32
    cannot hold add up to the same float64 as read whole."""
    db = sqlite3.connect(":memory:")
    rows = [("alpha", 1, "body", 3), ("alpha", 1, "heading", 1), ("beta", 2, "body", 5)]
    db.execute("CREATE TABLE r (term, doc, col, n)")
    db.executemany("INSERT INTO r VALUES (?, ?, ?, ?)", rows)
    counted = _Counts.read(
        db.execute("SELECT * FROM r ORDER BY rowid"),
        {"heading": 1.1, "body": 1.0},
        np.array([1, 2], dtype=np.int64),
        batch=batch,
    )
    db.close()
    assert counted.docs.tolist() == [0, 1]
    assert counted.f.astype(np.float64).tolist() == [3.0 + 1.1, 5.0]
    assert counted.length.tolist() == [4.0, 5.0]
