from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from cairn.errors import StoreError
from cairn.store.base import Store
from cairn.store.migrations import MIGRATIONS
from cairn.store.sqlite import SQLiteStore
from cairn.testing.store import EMBEDDER, LONG_A, MODEL, StoreConformance, make_doc, write
from cairn.types import Filters, Ranked


class TestSQLiteStore(StoreConformance):
    def make_store(self, folder: Path) -> Store:
        return SQLiteStore(folder / "cairn.db")


class TestSQLiteStoreApproximate(StoreConformance):
    """Dense search through the approximate index from the first vector (threshold 0)."""

    def make_store(self, folder: Path) -> Store:
        return SQLiteStore(folder / "cairn.db", ann_threshold=0)


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


def test_a_database_from_before_the_risk_columns_is_upgraded(tmp_path: Path) -> None:
    """Schema 1 (no injection risk): its chunks read back unscanned and stay searchable; a
    rescan and a quarantine work on them after the upgrade."""
    from cairn.sqlite import SQLiteFile

    path = tmp_path / "cairn.db"
    old = SQLiteFile(path, MIGRATIONS[:1], what="db", damaged_hint="", foreign_keys=True)
    old.close()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "INSERT INTO documents VALUES ('d1', 'a.md', 'file:///a.md', 'A', 'markdown', 'h', "
            "'text', '{}', '[]', '[]', 0)"
        )
        db.execute(
            "INSERT INTO chunks (id, doc_id, ordinal, text, section, start, end, token_count, "
            "hash, simhash) VALUES ('d1-0', 'd1', 0, 'kestrel notes', '[]', 0, 13, 2, 'x', 0)"
        )
        db.execute("INSERT INTO chunks_fts (rowid, heading, body) VALUES (1, 'A', 'kestrel notes')")
    store = SQLiteStore(path)
    try:
        assert store.schema_version == len(MIGRATIONS)
        [chunk] = store.get_chunks(["d1-0"])
        assert chunk.risk is None
        assert [h.chunk.id for h in store.lexical_search("kestrel", 5)] == ["d1-0"]
        assert store.quarantine(["d1-0"]) == ["d1-0"]
        assert store.lexical_search("kestrel", 5) == []
        assert store.check_integrity() == []
    finally:
        store.close()


@pytest.mark.parametrize("batch", [5_000, 1])
def test_chunks_stored_before_identifiers_were_split_are_found_by_their_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    """Schema 3 stored a chunk's text alone in the full-text index; the upgrade adds the parts
    of its identifiers, so `getElementById` is found by "element by id" without re-ingesting,
    and a chunk that already has them is left as it is (read in batches: one chunk each too)."""
    from cairn.sqlite import SQLiteFile
    from cairn.store import migrations

    step = migrations._index_identifier_parts
    monkeypatch.setattr(step, "__defaults__", (batch,))

    path = tmp_path / "cairn.db"
    SQLiteFile(path, MIGRATIONS[:3], what="db", damaged_hint="", foreign_keys=True).close()
    text = "call getElementById on the page"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "INSERT INTO documents VALUES ('d1', 'a.md', 'file:///a.md', 'A', 'markdown', 'h', "
            "?, '{}', '[]', '[]', 0)",
            (text,),
        )
        for n, body in enumerate((text, "plain words only")):
            db.execute(
                "INSERT INTO chunks (id, doc_id, ordinal, text, section, start, end, "
                "token_count, hash, simhash) VALUES (?, 'd1', ?, ?, '[]', 0, 1, 5, ?, 0)",
                (f"d1-{n}", n, body, f"h{n}"),
            )
            db.execute(
                "INSERT INTO chunks_fts (rowid, heading, body) VALUES (?, 'A', ?)", (n + 1, body)
            )
        generation = int(db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
    store = SQLiteStore(path)
    try:
        assert store.schema_version == len(MIGRATIONS)
        assert [h.chunk.id for h in store.lexical_search("element by id", 5)] == ["d1-0"]
        assert store.generation() == generation + 1  # in-memory lexical indexes rebuild
        with closing(sqlite3.connect(path)) as db:
            bodies = dict(db.execute("SELECT rowid, body FROM chunks_fts").fetchall())
        assert bodies == {1: f"{text}\nget element by id", 2: "plain words only"}
        assert store.check_integrity() == []
    finally:
        store.close()


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


def test_filtered_lexical_ranking_past_the_unfiltered_window(tmp_path: Path) -> None:
    """When the unfiltered window holds fewer than `k` allowed chunks, FTS5 ranks again
    among the allowed ones only: the same chunks and scores as ranking everything."""
    store = SQLiteStore(tmp_path / "cairn.db")
    try:
        for n in range(260):
            # shorter documents rank higher, so n is about the rank: 230 and 250 lie past the
            # 200-row window FTS5 ranks first, which makes it rank again among allowed rows
            tags = ("rare",) if n in (5, 150, 230) else ()
            source = f"keep/{n}.md" if n in (3, 120, 250) else f"docs/{n}.md"
            doc, chunks = make_doc(f"d{n}", source, ["needle " + "hay " * n], tags=tags)
            vectors = EMBEDDER.embed([c.text for c in chunks])
            store.write_document(  # no near-duplicate policy: every chunk is indexed
                doc, chunks, {c.hash: v for c, v in zip(chunks, vectors, strict=True)}, model=MODEL
            )
        everything = store.lexical_ranking("needle", 1000)
        assert len(everything) == 260
        sources = {d.id: d.source for d in store.documents()}
        tagged = {"d5", "d150", "d230"}
        for filters, wanted in (
            (Filters(tags=("rare",)), lambda doc_id: doc_id in tagged),
            (Filters(source_globs=("keep/*",)), lambda doc_id: sources[doc_id].startswith("keep/")),
        ):
            expected = [
                (r.chunk_id, r.score) for r in everything if wanted(r.chunk_id.split("-")[0])
            ]
            got = store.lexical_ranking("needle", 5, filters)
            assert expected and [(r.chunk_id, r.score) for r in got] == expected[:5]
    finally:
        store.close()


def test_camel_case_identifiers_are_found_by_their_parts(tmp_path: Path) -> None:
    from cairn.store.fts import identifier_parts

    assert identifier_parts("Call getElementById on the HTTPResponse, or utf8Decode.") == (
        "get element by id\nhttp response\nutf 8 decode"
    )
    assert identifier_parts("snake_case and plain words, HTTP and JSON") == ""
    store = SQLiteStore(tmp_path / "cairn.db")
    try:
        write(
            store,
            *make_doc(
                "code",
                "dom.js",
                ["function getElementById(id) { return lookup(id); }", "Other text entirely."],
                doc_type="code",
            ),
        )
        for query in ("element by id", "getElementById", "get element"):
            assert [h.chunk.id for h in store.lexical_search(query, 1)] == ["code-0"], query
        # the stored text is the chunk's own: the parts live in the full-text index only
        assert store.get_chunks(["code-0"])[0].text.endswith("lookup(id); }")
    finally:
        store.close()


def test_identifier_parts_stay_indexed_after_release_and_promotion(tmp_path: Path) -> None:
    """A released chunk and a duplicate taking a deleted chunk's place are indexed as ingest
    indexes a chunk: with their identifiers' parts."""
    code = "function getElementById(id) { return lookup(id); }"
    store = SQLiteStore(tmp_path / "cairn.db")
    try:
        write(store, *make_doc("code", "dom.js", [code], doc_type="code"), quarantine=("code-0",))
        write(store, *make_doc("other", "o.md", ["Other text entirely."]))
        assert store.release(["code-0"]) == ["code-0"]
        assert [h.chunk.id for h in store.lexical_search("get element", 1)] == ["code-0"]
        write(store, *make_doc("copy", "copy.js", [code], doc_type="code"))  # its duplicate
        store.delete_documents(["code"])
        assert [h.chunk.id for h in store.lexical_search("get element", 1)] == ["copy-0"]
    finally:
        store.close()
