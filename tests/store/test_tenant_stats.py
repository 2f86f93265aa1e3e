"""Tenant-scoped BM25 on SQLite: a tenant's scores are those of a corpus holding only what it
may read, the FTS5 path and the in-memory index agree bit for bit, and a caller who may read
everything ranks as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.store.sqlite import SQLiteStore
from cairn.testing.store import LONG_A, LONG_B, make_doc, write
from cairn.types import Chunk, Document, Filters

B = Filters(principals=("tenant:b",))
QUERIES = (
    "zephyr calibration",
    "default_factory zephyr",  # a phrase of two tokens, and a term
    "calibration of the sensor",
    "asyncio",
)


def _public() -> list[tuple[Document, list[Chunk]]]:
    return [
        make_doc("pub", "pub.md", [LONG_A, "zephyr notes: default_factory for everyone"]),
        make_doc("pub2", "pub2.md", [LONG_B]),
    ]


def _tenant_b() -> list[tuple[Document, list[Chunk]]]:
    return [
        make_doc(
            "b1",
            "b/zephyr.md",
            ["zephyr calibration: align the zephyr sensor", "calibration default factory"],
            acl=("tenant:b",),
        ),
        make_doc(
            "b2", "b/other.md", ["sensor calibration of the default_factory"], acl=("tenant:b",)
        ),
    ]


def _tenant_a() -> list[tuple[Document, list[Chunk]]]:
    return [
        make_doc(
            f"a{i}",
            f"a/{i}.md",
            [f"zephyr zephyr default_factory private {i} " + "word " * i, "zephyr calibration"],
            acl=("tenant:a",),
        )
        for i in range(5)
    ]


def _store(path: Path, docs: list[tuple[Document, list[Chunk]]], *, memory: bool) -> SQLiteStore:
    store = SQLiteStore(path)
    for doc, chunks in docs:
        write(store, doc, chunks)
    if memory:
        store.keep_bm25_in_memory(wait=True)
        assert store.bm25_covers(store.generation())
    return store


def _scores(store: SQLiteStore, filters: Filters | None) -> dict[str, list[tuple[str, float]]]:
    return {
        q: [(r.chunk_id, r.score) for r in store.lexical_ranking(q, 10, filters)] for q in QUERIES
    }


@pytest.mark.parametrize("memory", [False, True], ids=["fts5", "in-memory"])
def test_a_tenants_scores_are_those_of_a_corpus_of_what_it_may_read(
    tmp_path: Path, memory: bool
) -> None:
    shared = _store(tmp_path / "shared.db", _public() + _tenant_b() + _tenant_a(), memory=memory)
    alone = _store(tmp_path / "alone.db", _public() + _tenant_b(), memory=False)
    try:
        got, want = _scores(shared, B), _scores(alone, None)  # `alone`: FTS5's own bm25()
        assert got.keys() == want.keys()
        for q in QUERIES:
            assert [c for c, _ in got[q]] == [c for c, _ in want[q]], q
            assert [s for _, s in got[q]] == pytest.approx([s for _, s in want[q]], rel=1e-9), q
        assert got["zephyr calibration"][0][0] == "b1-0"
    finally:
        shared.close()
        alone.close()


def test_fts5_and_in_memory_agree_bit_for_bit_for_a_tenant(tmp_path: Path) -> None:
    docs = _public() + _tenant_b() + _tenant_a()
    fts = _store(tmp_path / "fts.db", docs, memory=False)
    memory = _store(tmp_path / "memory.db", docs, memory=True)
    try:
        for filters in (B, Filters(principals=()), Filters(principals=("tenant:a",))):
            assert _scores(fts, filters) == _scores(memory, filters), filters
    finally:
        fts.close()
        memory.close()


@pytest.mark.parametrize("memory", [False, True], ids=["fts5", "in-memory"])
def test_zephyr_calibration_scores_stay_put_when_another_tenant_uploads(
    tmp_path: Path, memory: bool
) -> None:
    """The reported case: tenant B's two documents, tenant A's five private ones."""
    store = _store(tmp_path / "cairn.db", _public() + _tenant_b(), memory=memory)
    try:
        before = [(r.chunk_id, r.score) for r in store.lexical_ranking("zephyr calibration", 10, B)]
        for doc, chunks in _tenant_a():
            write(store, doc, chunks)
        if memory:
            store.keep_bm25_in_memory(wait=True)
            assert store.bm25_covers(store.generation())
        after = [(r.chunk_id, r.score) for r in store.lexical_ranking("zephyr calibration", 10, B)]
        assert after == before
        # everyone's view (no ACL check) does see tenant a's documents
        assert any(c.startswith("a") for c, _ in _scores(store, None)["zephyr calibration"])
    finally:
        store.close()


def test_a_caller_who_may_read_everything_ranks_with_fts5s_scores(tmp_path: Path) -> None:
    """No private document: a tenant's numbers are FTS5's (to the last bit or so: FTS5's
    `bm25()` orders its arithmetic differently), the same on both paths bit for bit, and
    they do not move when another tenant's first private document arrives."""
    fts = _store(tmp_path / "fts.db", _public() + _tenant_b(), memory=False)
    memory = _store(tmp_path / "memory.db", _public() + _tenant_b(), memory=True)
    try:
        tenant, own = _scores(fts, B), _scores(fts, None)
        assert tenant == _scores(memory, B)
        for q in QUERIES:
            assert [c for c, _ in tenant[q]] == [c for c, _ in own[q]], q
            assert [s for _, s in tenant[q]] == pytest.approx([s for _, s in own[q]], rel=1e-12)
        for store in (fts, memory):
            write(store, *_tenant_a()[0])
        memory.keep_bm25_in_memory(wait=True)
        assert _scores(fts, B) == tenant
        assert _scores(memory, B) == tenant
    finally:
        fts.close()
        memory.close()
