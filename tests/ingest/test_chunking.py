from __future__ import annotations

import itertools

import pytest

from cairn.config import ChunkSettings
from cairn.embed.hashing import WhitespaceTokenizer
from cairn.ingest.chunking import chunk_document, embedding_text
from cairn.types import Block, ParsedDocument

TOK = WhitespaceTokenizer()


def words(n: int, word: str = "word") -> str:
    return " ".join(f"{word}{i}." if i % 10 == 9 else f"{word}{i}" for i in range(n))


def doc(*blocks: Block) -> ParsedDocument:
    return ParsedDocument(title="T", blocks=blocks, doc_type="markdown")


def test_chunks_are_exact_slices_of_the_document_text() -> None:
    parsed = doc(
        Block(kind="text", text=words(30), section=("A",), anchor="a"),
        Block(kind="text", text=words(30, "x"), section=("A",), anchor="a"),
        Block(kind="text", text=words(50, "y"), section=("B",), anchor="b"),
    )
    text, chunks = chunk_document(parsed, TOK, ChunkSettings(target_tokens=40, overlap_tokens=5))
    assert chunks
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert c.token_count == len(c.text.split())


def test_sections_are_never_crossed_and_keep_their_anchor() -> None:
    parsed = doc(
        Block(kind="text", text="short one.", section=("A",), anchor="a"),
        Block(kind="text", text="short two.", section=("B", "C"), anchor="c"),
    )
    _, chunks = chunk_document(parsed, TOK, ChunkSettings(target_tokens=100, overlap_tokens=0))
    assert [(c.text, c.section, c.anchor) for c in chunks] == [
        ("short one.", ("A",), "a"),
        ("short two.", ("B", "C"), "c"),
    ]


def test_code_and_tables_are_never_cut() -> None:
    code = "\n".join(f"    line_{i} = {i}" for i in range(120))
    table = "\n".join(f"a{i} | b{i} | c{i}" for i in range(60))
    parsed = doc(
        Block(kind="text", text=words(20), section=("S",)),
        Block(kind="code", text=code, section=("S",)),
        Block(kind="table", text=table, section=("S",)),
        Block(kind="text", text=words(20, "z"), section=("S",)),
    )
    _, chunks = chunk_document(parsed, TOK, ChunkSettings(target_tokens=50, overlap_tokens=10))
    assert any(code in c.text for c in chunks)
    assert any(table in c.text for c in chunks)
    for c in chunks:  # no chunk holds part of the code without all of it
        assert ("line_7 " not in c.text) or (code in c.text)


def test_long_paragraphs_split_at_sentences_with_overlap() -> None:
    sentences = [f"Sentence number {i} has exactly seven words." for i in range(40)]
    parsed = doc(Block(kind="text", text=" ".join(sentences), section=("S",)))
    settings = ChunkSettings(target_tokens=50, overlap_tokens=15, min_tokens=5)
    _, chunks = chunk_document(parsed, TOK, settings)
    assert len(chunks) > 4
    assert all(c.token_count <= 50 for c in chunks)
    for c in chunks:
        assert c.text.startswith("Sentence") and c.text.endswith(".")
    # consecutive chunks share their boundary sentences
    for a, b in itertools.pairwise(chunks):
        assert b.start < a.end
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert len(covered) >= len(" ".join(sentences)) - 40 * 1  # every sentence is in some chunk


def test_small_tail_merges_into_previous_chunk() -> None:
    parsed = doc(
        Block(kind="text", text=words(45), section=("S",)),
        Block(kind="text", text="tiny tail.", section=("S",)),
    )
    _, chunks = chunk_document(parsed, TOK, ChunkSettings(target_tokens=46, overlap_tokens=0))
    assert len(chunks) == 1


def test_overlap_must_be_below_target() -> None:
    with pytest.raises(ValueError, match="overlap"):
        ChunkSettings(target_tokens=20, overlap_tokens=20)


def test_embedding_text_carries_heading_context() -> None:
    assert embedding_text("dataclasses", ("Module contents", "field"), "Body.") == (
        "dataclasses > Module contents > field\nBody."
    )
    assert embedding_text("", (), "Body.") == "Body."
