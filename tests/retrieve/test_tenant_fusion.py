"""Fusion's normalisation sees only the caller's own rankings, so another tenant's documents
move none of a tenant's hybrid scores either."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.retrieve import DenseRetriever, HybridRetriever, LexicalRetriever
from cairn.store.sqlite import SQLiteStore
from cairn.testing.store import EMBEDDER, LONG_A, make_doc, write
from cairn.types import Filters

B = Filters(principals=("tenant:b",))


@pytest.mark.parametrize("fusion", ["convex", "rrf"])
@pytest.mark.parametrize("memory", [False, True], ids=["fts5", "in-memory"])
def test_hybrid_scores_of_a_tenant_ignore_other_tenants(
    tmp_path: Path, fusion: str, memory: bool
) -> None:
    store = SQLiteStore(tmp_path / "cairn.db")
    for doc, chunks in (
        make_doc("pub", "pub.md", [LONG_A, "zephyr notes for everyone"]),
        make_doc(
            "b1",
            "b/zephyr.md",
            ["zephyr calibration: align the zephyr sensor", "calibration of the anemometer"],
            acl=("tenant:b",),
        ),
    ):
        write(store, doc, chunks)
    retriever = HybridRetriever(
        LexicalRetriever(store), DenseRetriever(store, EMBEDDER), fusion=fusion, candidates=10
    )

    def ranked() -> list[tuple[str, float, float | None, float | None]]:
        if memory:
            store.keep_bm25_in_memory(wait=True)
            assert store.bm25_covers(store.generation())  # the in-memory path, not FTS5
        return [
            (r.chunk_id, r.score, r.lexical, r.dense)
            for r in retriever.rank("zephyr calibration", 5, B)
        ]

    try:
        before = ranked()
        assert before[0][0] == "b1-0"
        for i in range(5):
            write(
                store,
                *make_doc(
                    f"a{i}",
                    f"a/{i}.md",
                    [f"zephyr zephyr calibration private {i}", "zephyr " * (i + 1)],
                    acl=("tenant:a",),
                ),
            )
        assert ranked() == before
        store.delete_documents(["a0", "a1"])
        assert ranked() == before
    finally:
        store.close()
