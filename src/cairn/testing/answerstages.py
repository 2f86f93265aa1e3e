"""The behaviour every `ContextAssembler` and `Attributor` backend must have. A backend's
test module subclasses `ContextAssemblerConformance` (fixture `assembler`) or
`AttributorConformance` (fixture `attributor`); nothing else changes.

An assembler gives the model something whenever there is something (the top hit is never
dropped), cites only chunks it was given (each at most once), and answers the same for the
same hits, from several threads at once. An attributor leaves an abstention and an answer
without passages alone, leaves a correctly cited answer as written, returns only markers
that name its citations and citations of the passages it was given, and is safe to share
between threads (the server shares one pipeline)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from cairn.answer.assembly import ContextAssembler
from cairn.answer.attribute import Attributor
from cairn.answer.base import NOT_FOUND, Draft
from cairn.types import Chunk, Citation, Hit

__all__ = ["HITS", "AttributorConformance", "ContextAssemblerConformance", "hit"]

TEXTS = (
    "The relay forwards ledger records to the archive every night.",
    "To rotate the relay keys, stop the relay and run relay keys rotate.",
    "Gardening notes: water the tomatoes twice a week in summer.",
    "The archive keeps ledger records for seven years.",
)


def hit(n: int, text: str, *, doc: str | None = None, ordinal: int | None = None) -> Hit:
    """A hit on chunk `c{n}` of document `doc` (its own by default)."""
    chunk = Chunk(
        id=f"c{n}",
        doc_id=doc or f"d{n}",
        ordinal=n if ordinal is None else ordinal,
        text=text,
        section=("Guide",),
        anchor=None,
        start=0,
        end=len(text),
        token_count=len(text.split()),
        hash=f"h{n}",
        source=f"doc{n}.md",
        uri=f"file:///doc{n}.md",
        title=f"Doc {n}",
    )
    return Hit(chunk=chunk, score=1.0 - n / 10)


HITS = [hit(i + 1, t) for i, t in enumerate(TEXTS)]
_MARKER = re.compile(r"\[(\d+)\]")


class ContextAssemblerConformance:
    @pytest.fixture
    def assembler(self) -> ContextAssembler:
        raise NotImplementedError("provide an `assembler` fixture")

    def test_no_hits_no_passages(self, assembler: ContextAssembler) -> None:
        assert assembler.assemble("q", []) == []

    def test_the_top_hit_is_never_dropped(self, assembler: ContextAssembler) -> None:
        passages = assembler.assemble("How do I rotate the relay keys?", HITS)
        assert passages and HITS[0].chunk.text in passages[0].chunk.text

    def test_only_given_chunks_are_cited_each_once(self, assembler: ContextAssembler) -> None:
        ids = [p.chunk.id for p in assembler.assemble("relay", HITS)]
        assert len(ids) == len(set(ids)) and set(ids) <= {h.chunk.id for h in HITS}

    def test_threads_share_one_assembler(self, assembler: ContextAssembler) -> None:
        expected = assembler.assemble("relay", HITS)
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: assembler.assemble("relay", HITS), range(16)))
        assert all(r == expected for r in results)


def _cited(text: str, hits: list[Hit], numbers: list[int]) -> Draft:
    citations = tuple(
        Citation(
            n=n,
            chunk_id=hits[n - 1].chunk.id,
            source=hits[n - 1].chunk.source,
            uri=hits[n - 1].chunk.uri,
            section=hits[n - 1].chunk.section_path,
            quote=hits[n - 1].chunk.text,
        )
        for n in numbers
    )
    return Draft(text=text, citations=citations, abstained=False)


class AttributorConformance:
    @pytest.fixture
    def attributor(self) -> Attributor:
        raise NotImplementedError("provide an `attributor` fixture")

    def test_an_abstention_is_left_alone(self, attributor: Attributor) -> None:
        draft = Draft(text=NOT_FOUND, citations=(), abstained=True, reason="no hits")
        assert attributor.attribute(draft, HITS) == draft

    def test_an_answer_without_passages_is_left_alone(self, attributor: Attributor) -> None:
        draft = Draft(text="The relay forwards records.", citations=(), abstained=False)
        assert attributor.attribute(draft, []) == draft

    def test_a_correctly_cited_answer_is_kept_as_written(self, attributor: Attributor) -> None:
        draft = _cited(f"{TEXTS[0]} [1] {TEXTS[3]} [4]", HITS, [1, 4])
        assert attributor.attribute(draft, HITS) == draft

    def test_markers_name_citations_of_given_passages(self, attributor: Attributor) -> None:
        drafts = [
            Draft(text=f"{TEXTS[1]} {TEXTS[3]}", citations=(), abstained=False),
            _cited(f"{TEXTS[1]} {TEXTS[3]} [1] [2]", HITS, [1, 2]),
            _cited(f"{TEXTS[1]} [3]", HITS, [3]),
        ]
        for draft in drafts:
            out = attributor.attribute(draft, HITS)
            numbers = {c.n for c in out.citations}
            assert len(numbers) == len(out.citations)
            assert {int(n) for n in _MARKER.findall(out.text)} <= numbers
            assert {c.chunk_id for c in out.citations} <= {h.chunk.id for h in HITS}
            assert out.abstained or out.text.strip()

    def test_threads_share_one_attributor(self, attributor: Attributor) -> None:
        draft = Draft(text=f"{TEXTS[1]} {TEXTS[3]}", citations=(), abstained=False)
        expected = attributor.attribute(draft, HITS)
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: attributor.attribute(draft, HITS), range(16)))
        assert all(r == expected for r in results)
