"""The near-duplicate policy, decided at ingest and followed by the store."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cairn.config import Settings
from cairn.embed.hashing import HashingEmbedder, WhitespaceTokenizer
from cairn.ingest.near_duplicates import MIN_TOKENS, NearDuplicateFinder, hamming_matches, simhash
from cairn.ingest.pipeline import ingest
from cairn.store.base import NearDuplicates, Store
from cairn.store.open import open_store_at
from cairn.testing.store import EMBEDDER, MODEL, make_doc, write
from cairn.types import Chunk, Document

LONG = (
    "The dataclass decorator adds generated special methods such as init and repr to user "
    "defined classes, using the class variables annotated with types as the fields of the "
    "generated methods, in the order they are defined."
)
NEAR = LONG.replace("repr", "repr,")
OTHER = (
    "Asyncio is a library to write concurrent code using the async and await syntax, used "
    "as a foundation for multiple Python asynchronous frameworks that provide network and "
    "web servers, database connection libraries and distributed task queues."
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store_at(tmp_path / "cairn.db")
    yield s
    s.close()


def put(store: Store, doc_id: str, paragraphs: list[str], acl: tuple[str, ...] = ()) -> int:
    """Write like ingest does; the number of chunks indexed."""
    doc, chunks = make_doc(doc_id, f"{doc_id}.md", paragraphs, acl=acl)
    vectors = EMBEDDER.embed([c.text for c in chunks])
    near = NearDuplicateFinder().find(store, doc, chunks)
    result = store.write_document(
        doc,
        chunks,
        {c.hash: v for c, v in zip(chunks, vectors, strict=True)},
        model=MODEL,
        near=near,
    )
    return result.indexed


def test_simhash_is_close_for_small_edits_and_far_otherwise() -> None:
    def distance(a: str, b: str) -> int:
        return int(np.bitwise_count(np.uint64(simhash(a) ^ simhash(b))))

    assert distance(LONG, NEAR) <= 3
    assert distance(LONG, OTHER) > 16
    hashes = np.array([simhash(OTHER), simhash(LONG)], dtype=np.uint64)
    assert hamming_matches(hashes, simhash(NEAR), 3) == [1]
    assert hamming_matches(hashes[:1], simhash(NEAR), 3) == []


def test_a_near_duplicate_of_a_stored_chunk_is_kept_but_not_indexed(store: Store) -> None:
    assert put(store, "d1", [LONG]) == 1
    assert put(store, "d2", [NEAR]) == 0
    assert [h.chunk.id for h in store.lexical_search("dataclass decorator", 10)] == ["d1-0"]
    assert store.get_chunks(["d2-0"])[0].text == NEAR


def test_near_duplicates_within_one_document(store: Store) -> None:
    doc, chunks = make_doc("d1", "d1.md", [LONG, OTHER, NEAR])
    chunks = [dataclasses.replace(c, section=("Intro", "Fields")) for c in chunks]
    near = NearDuplicateFinder().find(store, doc, chunks)
    assert dict(near.duplicate_of) == {"d1-2": "d1-0"}
    assert set(near.fingerprints) == {"d1-0", "d1-1", "d1-2"}


ISCLOSE = (
    "{name}(a, b, *, rel_tol=1e-09, abs_tol=0.0) Return True if the values a and b are close "
    "to each other and False otherwise. Whether or not two values are considered close is "
    "determined according to given absolute and relative tolerances. rel_tol is the relative "
    "tolerance, the maximum allowed difference between a and b."
)


def _entry(doc_id: str, name: str, acl: tuple[str, ...] = ()) -> tuple[Document, list[Chunk]]:
    doc, chunks = make_doc(doc_id, f"{doc_id}.html", [ISCLOSE.format(name=name)], acl=acl)
    return doc, [dataclasses.replace(c, section=("Functions", name)) for c in chunks]


def test_entries_of_different_names_are_never_near_duplicates(store: Store) -> None:
    """`math.isclose` and `cmath.isclose` differ in a word: on the text alone the second
    hid behind the first, and a question about it was answered from the other module. Two
    chunks repeat each other only under the same last heading."""
    for doc_id, name in (("cmath", "cmath.isclose"), ("math", "math.isclose")):
        doc, chunks = _entry(doc_id, name)
        assert len(chunks[0].text.split()) >= MIN_TOKENS
        assert not NearDuplicateFinder().find(store, doc, chunks).duplicate_of
        write(store, doc, chunks)  # as ingest does
    found = {h.chunk.section[-1] for h in store.lexical_search("isclose tolerance", 10)}
    assert found == {"cmath.isclose", "math.isclose"}
    # The same entry copied (a second copy of the page) still is one.
    doc, chunks = _entry("math-copy", "math.isclose")
    assert dict(NearDuplicateFinder().find(store, doc, chunks).duplicate_of) == {
        "math-copy-0": "math-0"
    }
    # Within one document too: the same text under two headings stays.
    doc, chunks = make_doc("d9", "d9.md", [LONG, NEAR])
    assert not NearDuplicateFinder().find(store, doc, chunks).duplicate_of


def test_only_chunks_with_the_same_readers_are_compared(store: Store) -> None:
    put(store, "d1", [LONG], acl=("tenant-a",))
    assert put(store, "d2", [NEAR], acl=("tenant-b",)) == 1
    assert put(store, "d3", [NEAR], acl=("tenant-a",)) == 0
    assert set(store.fingerprints(("tenant-a",))) == {"d1-0"}
    assert set(store.fingerprints(("tenant-b",))) == {"d2-0"}
    assert store.fingerprints(()) == {}


def test_short_chunks_are_never_near_duplicates(store: Store) -> None:
    short = "Return the value of the field."
    assert len(short.split()) < MIN_TOKENS
    doc, chunks = make_doc("d1", "d1.md", [short, short + " Again."])
    near = NearDuplicateFinder().find(store, doc, chunks)
    assert near == NearDuplicates()


def test_zero_bits_turns_the_policy_off_but_keeps_fingerprints(store: Store) -> None:
    put(store, "d1", [LONG])
    doc, chunks = make_doc("d2", "d2.md", [NEAR])
    near = NearDuplicateFinder(bits=0).find(store, doc, chunks)
    assert not near.duplicate_of and set(near.fingerprints) == {"d2-0"}


def test_the_store_ignores_a_target_that_is_not_indexed(store: Store) -> None:
    doc, chunks = make_doc("d1", "d1.md", [LONG])
    vectors = EMBEDDER.embed([LONG])
    result = store.write_document(
        doc,
        chunks,
        {chunks[0].hash: vectors[0]},
        model=MODEL,
        near=NearDuplicates(duplicate_of={"d1-0": "gone-0"}),
    )
    assert (result.indexed, result.duplicates) == (1, 0)


def test_a_promoted_duplicate_keeps_its_fingerprint(store: Store) -> None:
    put(store, "d1", [LONG])
    put(store, "d2", [NEAR])
    store.delete_documents(["d1"])
    assert set(store.fingerprints(())) == {"d2-0"}
    assert put(store, "d3", [LONG]) == 0


@pytest.mark.parametrize(
    ("bits", "headings", "duplicates"), [(3, ("A", "A"), 1), (0, ("A", "A"), 0), (3, ("A", "B"), 0)]
)
def test_ingest_applies_the_configured_bits(
    tmp_path: Path, bits: int, headings: tuple[str, str], duplicates: int
) -> None:
    root = tmp_path / "corpus"
    root.mkdir()
    # the first heading is the page's title; the second, the section each chunk is under
    (root / "a.md").write_text(f"# Page a\n\n## {headings[0]}\n\n{LONG}\n")
    (root / "b.md").write_text(f"# Page b\n\n## {headings[1]}\n\n{NEAR}\n")
    settings = Settings(workspace=tmp_path / "ws")
    settings.ingest.near_duplicate_bits = bits
    store = open_store_at(tmp_path / "ws" / "cairn.db")
    try:
        report = ingest(
            [root],
            store=store,
            embedder=HashingEmbedder(),
            tokenizer=WhitespaceTokenizer(),
            settings=settings,
        )
    finally:
        store.close()
    assert (report.ingested, report.duplicates) == (2, duplicates)


THIRD = (
    "The pathlib module offers classes representing filesystem paths with semantics "
    "appropriate for different operating systems, split into pure paths, which provide "
    "purely computational operations, and concrete paths, which inherit from pure paths."
)


def test_an_edit_that_shifts_the_text_keeps_every_chunk_indexed(tmp_path: Path) -> None:
    """Re-ingesting a document with a paragraph inserted at the top moves each old
    paragraph to the next chunk id; the stored old version must not count as a match."""
    root = tmp_path / "corpus"
    root.mkdir()
    page = root / "a.md"
    settings = Settings(workspace=tmp_path / "ws")
    settings.chunk.target_tokens = 40  # one paragraph a chunk
    store = open_store_at(tmp_path / "ws" / "cairn.db")
    try:

        def run() -> int:
            report = ingest(
                [root],
                store=store,
                embedder=HashingEmbedder(),
                tokenizer=WhitespaceTokenizer(),
                settings=settings,
            )
            return report.duplicates

        page.write_text(f"# A\n\n{LONG}\n\n{OTHER}\n")
        assert run() == 0
        page.write_text(f"# A\n\n{THIRD}\n\n{LONG}\n\n{OTHER}\n")
        assert run() == 0
        found = {hit.chunk.text for hit in store.lexical_search("asyncio await", 5)}
        assert OTHER in found
    finally:
        store.close()
