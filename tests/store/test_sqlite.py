from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from cairn.errors import StoreError
from cairn.store.base import Store
from cairn.store.migrations import MIGRATIONS
from cairn.store.sqlite import SQLiteStore
from cairn.testing.store import LONG_A, StoreConformance, make_doc, write
from cairn.types import Filters, Ranked


class TestSQLiteStore(StoreConformance):
    def make_store(self, folder: Path) -> Store:
        return SQLiteStore(folder / "cairn.db")


class _BM25InMemory(SQLiteStore):
    """Ranks every lexical query with the in-memory BM25 index of the current generation."""

    def lexical_ranking(self, query: str, k: int, filters: Filters | None = None) -> list[Ranked]:
        self.keep_bm25_in_memory(wait=True)
        return super().lexical_ranking(query, k, filters)


class TestSQLiteStoreBM25InMemory(StoreConformance):
    def make_store(self, folder: Path) -> Store:
        return _BM25InMemory(folder / "cairn.db")


def test_schema_is_migrated_to_latest(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "cairn.db")
    assert store.schema_version == len(MIGRATIONS)
    store.close()
    again = SQLiteStore(tmp_path / "cairn.db")  # re-opening applies nothing twice
    assert again.schema_version == len(MIGRATIONS)
    again.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cairn.db"
    SQLiteStore(path).close()
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    with pytest.raises(StoreError, match="newer cairn"):
        SQLiteStore(path)


def test_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cairn ingest"):
        SQLiteStore(tmp_path / "nope.db", create=False)


def test_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cairn.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        SQLiteStore(path)


def test_failed_write_leaves_previous_version(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "cairn.db")
    doc, chunks = make_doc("d1", "a.md", [LONG_A])
    write(store, doc, chunks)
    doc2, chunks2 = make_doc("d1", "a.md", ["replacement text"], content="v2")
    with pytest.raises(StoreError, match="no embedding"):
        store.write_document(doc2, chunks2, {}, model="hashing-test")  # embeddings missing
    [info] = store.documents()
    assert info.content_hash == doc.content_hash
    assert store.lexical_search("dataclass", 5)[0].chunk.id == "d1-0"
    assert store.check_integrity() == []
    store.close()
