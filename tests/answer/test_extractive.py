from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.answer.extractive import ExtractiveAnswerer
from cairn.answer.segments import cited_sentences
from cairn.answer.units import chunk_units
from cairn.answer.verify import LexicalVerifier
from cairn.config import AnswerSettings
from cairn.embed.hashing import HashingEmbedder
from cairn.store.sqlite import SQLiteStore
from cairn.testing.store import make_doc
from cairn.types import Hit

EMB = HashingEmbedder(dim=64)

PARAS = [
    "A dataclass field can take a default value. Mutable defaults such as lists are not "
    "allowed directly. Use default_factory=list to give each instance its own new list.",
    "For example:\n\n    @dataclass\n    class C:\n"
    "        items: list = field(default_factory=list)",
    "Asyncio runs coroutines on an event loop. It is unrelated to dataclasses.",
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "cairn.db")
    doc, chunks = make_doc("d1", "library/dataclasses.html", PARAS)
    vectors = EMB.embed([c.text for c in chunks])
    s.write_document(
        doc, chunks, {c.hash: v for c, v in zip(chunks, vectors, strict=True)}, model=EMB.name
    )
    yield s
    s.close()


def hits_for(store: SQLiteStore, query: str) -> list[Hit]:
    return store.lexical_search(query, 5)


def test_answer_cites_every_sentence_with_existing_chunks(store: SQLiteStore) -> None:
    answerer = ExtractiveAnswerer(store, EMB, AnswerSettings(abstain_threshold=0.0))
    question = "how to use default_factory for a mutable list default in a dataclass field"
    hits = hits_for(store, question)
    draft = answerer.answer(question, hits)
    assert not draft.abstained
    assert "default_factory=list" in draft.text
    segments = cited_sentences(draft.text)
    assert segments and all(numbers for _, numbers in segments)
    numbers = {c.n for c in draft.citations}
    assert {n for _, ns in segments for n in ns} == numbers
    ids = {h.chunk.id for h in hits}
    assert all(c.chunk_id in ids for c in draft.citations)
    assert all(
        c.uri.startswith("file:///corpus/library/dataclasses.html#") for c in draft.citations
    )
    verified = LexicalVerifier().verify(draft, hits)
    assert all(c.verified and c.support == 1.0 for c in verified.citations)


def test_abstains_below_threshold(store: SQLiteStore) -> None:
    answerer = ExtractiveAnswerer(
        store, EMB, AnswerSettings(abstention="similarity", abstain_threshold=0.99)
    )
    hits = hits_for(store, "dataclass default")
    draft = answerer.answer("how do I bake sourdough bread", hits)
    assert draft.abstained and draft.citations == ()
    assert "similarity" in draft.reason


def test_abstains_without_hits(store: SQLiteStore) -> None:
    answerer = ExtractiveAnswerer(store, EMB, AnswerSettings())
    assert answerer.answer("anything", []).abstained


def test_code_blocks_are_units_of_their_own() -> None:
    text = PARAS[1]
    units = [(text[s:e], code) for s, e, code in chunk_units(text)]
    assert units[0] == ("For example:", False)
    assert units[1][1] is True and "default_factory=list" in units[1][0]
    assert units[1][0].count("\n") == 2


def test_verifier_flags_unsupported_sentences(store: SQLiteStore) -> None:
    from cairn.answer.base import Draft
    from cairn.types import Citation

    hits = hits_for(store, "asyncio event loop")
    chunk = hits[0].chunk
    draft = Draft(
        text="Tomatoes grow best in volcanic soil near the sea. [1]",
        citations=(
            Citation(
                n=1, chunk_id=chunk.id, source=chunk.source, uri=chunk.uri, section="", quote=""
            ),
        ),
        abstained=False,
    )
    checked = LexicalVerifier().verify(draft, hits)
    assert checked.citations[0].verified is False
    assert checked.citations[0].support is not None and checked.citations[0].support < 0.3


def test_list_items_are_split_into_sentences() -> None:
    text = (
        "- init: If true, an __init__() method is generated. It is ignored otherwise.\n"
        "  More detail on a continuation line.\n- repr: If true, a __repr__() is made."
    )
    units = [text[s:e] for s, e, code in chunk_units(text) if not code]
    assert units == [
        "init: If true, an __init__() method is generated.",
        "It is ignored otherwise.",
        "More detail on a continuation line.",
        "repr: If true, a __repr__() is made.",
    ]
