"""The behaviour every `Store` backend must have. A backend's test module subclasses
`StoreConformance` and provides the `store` fixture; nothing else changes."""

from __future__ import annotations

from fnmatch import fnmatchcase

import numpy as np
import pytest

from cairn.embed.hashing import HashingEmbedder
from cairn.ingest.chunking import content_hash
from cairn.store.base import Store
from cairn.types import Chunk, Document, Filters

EMBEDDER = HashingEmbedder(dim=32)
MODEL = EMBEDDER.name


def make_doc(
    doc_id: str,
    source: str,
    paragraphs: list[str],
    *,
    doc_type: str = "markdown",
    tags: tuple[str, ...] = (),
    acl: tuple[str, ...] = (),
    content: str = "v1",
) -> tuple[Document, list[Chunk]]:
    text = "\n\n".join(paragraphs)
    doc = Document(
        id=doc_id,
        source=source,
        uri=f"file:///corpus/{source}",
        title=f"Title {doc_id}",
        doc_type=doc_type,
        content_hash=f"{doc_id}-{content}",
        text=text,
        tags=tags,
        acl=acl,
    )
    chunks: list[Chunk] = []
    offset = 0
    for i, para in enumerate(paragraphs):
        chunks.append(
            Chunk(
                id=f"{doc_id}-{i}",
                doc_id=doc_id,
                ordinal=i,
                text=para,
                section=("Intro", f"S{i}"),
                anchor=f"s{i}",
                start=offset,
                end=offset + len(para),
                token_count=len(para.split()),
                hash=content_hash(para),
                source=source,
                uri=doc.uri,
                title=doc.title,
            )
        )
        offset += len(para) + 2
    return doc, chunks


def write(store: Store, doc: Document, chunks: list[Chunk]) -> None:
    vectors = EMBEDDER.embed([c.text for c in chunks])
    store.write_document(
        doc, chunks, {c.hash: v for c, v in zip(chunks, vectors, strict=True)}, model=MODEL
    )


LONG_A = (
    "The dataclass decorator adds generated special methods such as init and repr to user "
    "defined classes, using the class variables annotated with types as the fields of the "
    "generated methods, in the order they are defined."
)
LONG_B = (
    "Asyncio is a library to write concurrent code using the async and await syntax, used "
    "as a foundation for multiple Python asynchronous frameworks that provide network and "
    "web servers, database connection libraries and distributed task queues."
)


class StoreConformance:
    """Subclass and provide a `store` fixture returning an empty store."""

    def test_empty_store(self, store: Store) -> None:
        assert store.documents() == []
        assert store.lexical_search("anything", 5) == []
        assert store.dense_search(EMBEDDER.embed(["x"])[0], 5, model=MODEL) == []

    def test_write_and_read_back(self, store: Store) -> None:
        doc, chunks = make_doc("d1", "guide/a.md", ["alpha beta gamma", "delta epsilon"])
        write(store, doc, chunks)
        [info] = store.documents()
        assert (info.id, info.source, info.chunk_count) == ("d1", "guide/a.md", 2)
        stored = store.get_document("d1")
        assert stored is not None and stored.text == doc.text
        got = store.get_chunks(["d1-1", "missing", "d1-0"])
        assert [c.id for c in got] == ["d1-1", "d1-0"]
        assert got[0].section == ("Intro", "S1") and got[0].anchor == "s1"
        assert stored.text[got[0].start : got[0].end] == got[0].text
        assert got[0].source == "guide/a.md" and got[0].anchored_uri.endswith("a.md#s1")

    def test_generation_grows_with_every_change(self, store: Store) -> None:
        g0 = store.generation()
        doc, chunks = make_doc("d1", "a.md", ["alpha"])
        write(store, doc, chunks)
        g1 = store.generation()
        store.delete_documents(["d1"])
        assert g0 < g1 < store.generation()

    def test_rewrite_replaces_all_chunks(self, store: Store) -> None:
        doc, chunks = make_doc("d1", "a.md", ["old words here", "more old words"])
        write(store, doc, chunks)
        doc2, chunks2 = make_doc("d1", "a.md", ["brand new text"], content="v2")
        write(store, doc2, chunks2)
        assert store.documents()[0].chunk_count == 1
        assert store.lexical_search("old", 5) == []
        assert [h.chunk.id for h in store.lexical_search("brand", 5)] == ["d1-0"]

    def test_lexical_ranks_matching_chunks(self, store: Store) -> None:
        doc, chunks = make_doc("d1", "a.md", [LONG_A, LONG_B, "unrelated cooking recipe"])
        write(store, doc, chunks)
        hits = store.lexical_search("async await concurrent code", 3)
        assert hits[0].chunk.id == "d1-1"
        assert all(h.score > 0 for h in hits)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    def test_lexical_survives_hostile_queries(self, store: Store) -> None:
        doc, chunks = make_doc("d1", "a.md", [LONG_A])
        write(store, doc, chunks)
        for query in ['"', "AND OR NOT", "a* ^b:c (", "NEAR(x y)", "", "   ", "'; DROP TABLE"]:
            store.lexical_search(query, 5)  # must not raise

    def test_rankings_are_the_searches_without_the_text(self, store: Store) -> None:
        a, ca = make_doc("d1", "a.md", [LONG_A, LONG_B, "dataclass notes"], acl=("staff",))
        b, cb = make_doc("d2", "b.md", ["dataclass fields and defaults", LONG_B + " more"])
        write(store, a, ca)
        write(store, b, cb)
        vec = EMBEDDER.embed(["dataclass"])[0]
        for filters in (None, Filters(principals=()), Filters(source_globs=("a.md",))):
            lexical = store.lexical_ranking("dataclass decorator", 3, filters)
            assert [(r.chunk_id, r.score, r.lexical) for r in lexical] == [
                (h.chunk.id, h.score, h.lexical)
                for h in store.lexical_search("dataclass decorator", 3, filters)
            ]
            dense = store.dense_ranking(vec, 3, filters, model=MODEL)
            assert [(r.chunk_id, r.score, r.dense) for r in dense] == [
                (h.chunk.id, h.score, h.dense)
                for h in store.dense_search(vec, 3, filters, model=MODEL)
            ]
            assert lexical and dense
        assert {
            r.chunk_id for r in store.lexical_ranking("dataclass", 10, Filters(principals=()))
        } == {"d2-0"}

    def test_dense_returns_nearest_first(self, store: Store) -> None:
        doc, chunks = make_doc("d1", "a.md", [LONG_A, LONG_B])
        write(store, doc, chunks)
        hits = store.dense_search(EMBEDDER.embed([LONG_B])[0], 2, model=MODEL)
        assert hits[0].chunk.id == "d1-1"
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)

    def test_embedding_cache_by_hash(self, store: Store) -> None:
        doc, chunks = make_doc("d1", "a.md", ["alpha beta"])
        write(store, doc, chunks)
        cached = store.cached_embeddings(MODEL, [chunks[0].hash, "nope"])
        assert list(cached) == [chunks[0].hash]
        np.testing.assert_allclose(cached[chunks[0].hash], EMBEDDER.embed(["alpha beta"])[0])
        assert store.cached_embeddings("other-model", [chunks[0].hash]) == {}

    def test_exact_duplicates_are_indexed_once_and_promoted_on_delete(self, store: Store) -> None:
        d1, c1 = make_doc("d1", "a.md", [LONG_A, "only in one"])
        d2, c2 = make_doc("d2", "b.md", [LONG_A])
        write(store, d1, c1)
        write(store, d2, c2)
        hits = store.lexical_search("dataclass decorator", 10)
        assert [h.chunk.id for h in hits] == ["d1-0"]
        store.delete_documents(["d1"])
        hits = store.lexical_search("dataclass decorator", 10)
        assert [h.chunk.id for h in hits] == ["d2-0"]
        dense = store.dense_search(EMBEDDER.embed([LONG_A])[0], 10, model=MODEL)
        assert [h.chunk.id for h in dense] == ["d2-0"]

    def test_near_duplicates_are_not_indexed_twice(self, store: Store) -> None:
        d1, c1 = make_doc("d1", "a.md", [LONG_A])
        d2, c2 = make_doc("d2", "b.md", [LONG_A.replace("repr", "repr,")])
        write(store, d1, c1)
        write(store, d2, c2)
        assert len(store.lexical_search("dataclass decorator", 10)) == 1

    def test_filters(self, store: Store) -> None:
        a, ca = make_doc("d1", "library/a.html", [LONG_A], doc_type="sphinx", tags=("py",))
        b, cb = make_doc("d2", "guide/b.md", [LONG_A + " extra words here"], tags=("py", "x"))
        c, cc = make_doc("d3", "secret/c.md", ["dataclass internals for staff"], acl=("staff",))
        for doc, chunks in ((a, ca), (b, cb), (c, cc)):
            write(store, doc, chunks)
        vec = EMBEDDER.embed(["dataclass"])[0]

        def ids(filters: Filters) -> tuple[set[str], set[str]]:
            lex = {h.chunk.doc_id for h in store.lexical_search("dataclass", 10, filters)}
            den = {h.chunk.doc_id for h in store.dense_search(vec, 10, filters, model=MODEL)}
            return lex, den

        assert ids(Filters(source_globs=("library/*",))) == ({"d1"}, {"d1"})
        assert ids(Filters(doc_types=("markdown",))) == ({"d2", "d3"}, {"d2", "d3"})
        assert ids(Filters(tags=("py", "x"))) == ({"d2"}, {"d2"})
        public = Filters(principals=())
        assert ids(public)[0] == {"d1", "d2"} and ids(public)[1] == {"d1", "d2"}
        staff = Filters(principals=("staff",))
        assert ids(staff)[0] == {"d1", "d2", "d3"}

    def test_delete_unknown_is_harmless(self, store: Store) -> None:
        assert store.delete_documents(["nope"]) == []

    def test_duplicates_are_only_merged_within_the_same_readers(self, store: Store) -> None:
        a, ca = make_doc("d1", "a/x.md", [LONG_A], acl=("tenant-a",))
        b, cb = make_doc("d2", "b/x.md", [LONG_A], acl=("tenant-b",))
        write(store, a, ca)
        write(store, b, cb)
        for tenant, doc in (("tenant-a", "d1"), ("tenant-b", "d2")):
            hits = store.lexical_search("dataclass decorator", 5, Filters(principals=(tenant,)))
            assert [h.chunk.doc_id for h in hits] == [doc]

    def test_source_globs_follow_fnmatch(self, store: Store) -> None:
        for n, source in enumerate(("a.md", "b.md", "!x.md", "^y.md", "[z].md", "dir/c.md")):
            doc, chunks = make_doc(f"d{n}", source, [f"shared words {n}"])
            write(store, doc, chunks)
        vec = EMBEDDER.embed(["shared words"])[0]

        def sources(*globs: str) -> set[str]:
            filters = Filters(source_globs=globs)
            lex = {h.chunk.source for h in store.lexical_search("shared words", 10, filters)}
            den = {h.chunk.source for h in store.dense_search(vec, 10, filters, model=MODEL)}
            assert lex == den
            return lex

        everything = {"a.md", "b.md", "!x.md", "^y.md", "[z].md", "dir/c.md"}
        for pattern in ("[!a]*.md", "[^a]*.md", "[[]z].md", "*.md", "?.md", "dir/*", "[a-b].md"):
            assert sources(pattern) == {s for s in everything if fnmatchcase(s, pattern)}, pattern
