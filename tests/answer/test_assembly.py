"""Context assembly over a real SQLite store: a token budget filled by rank, chunks of one
document merged, a passage cut mid-answer given its neighbour; and the model sees it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from cairn.answer.assembly import BudgetedContext, KeepHits, looks_cut_at_end
from cairn.answer.generative import GenerativeAnswerer
from cairn.answer.prompt import parse_prompt
from cairn.answer.verify import CitationVerifier
from cairn.embed.hashing import HashingEmbedder
from cairn.llm.scripted import ScriptedModel
from cairn.pipeline import Pipeline
from cairn.store.base import Store, Vector
from cairn.store.open import open_store_at
from cairn.testing.store import make_doc
from cairn.types import Chunk, Filters, Hit

EMBEDDER = HashingEmbedder(dim=64)
GUIDE = [
    "The relay forwards ledger records to the archive every night.",
    "To rotate the relay keys, run these steps in order:",
    "First stop the relay, then run `relay keys rotate --all` and start it again.",
    "The relay writes its own log to relay.log in the data folder.",
]
OTHER = [f"Unrelated note number {i} about gardening and the weather." for i in range(4)]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = open_store_at(tmp_path / "cairn.db")
    for doc_id, source, paragraphs in (("g", "guide.md", GUIDE), ("o", "other.md", OTHER)):
        doc, chunks = make_doc(doc_id, source, paragraphs)
        vectors = EMBEDDER.embed([c.text for c in chunks])
        store.write_document(
            doc,
            chunks,
            dict(zip([c.hash for c in chunks], vectors, strict=True)),
            model=EMBEDDER.name,
        )
    return store


def hits(store: Store, *ids: str) -> list[Hit]:
    by_id = {c.id: c for c in store.get_chunks(list(ids))}
    return [Hit(chunk=by_id[i], score=1.0 - n / 10) for n, i in enumerate(ids)]


def test_the_budget_is_filled_by_rank_and_the_first_passage_always_goes_in(store: Store) -> None:
    ranked = hits(store, "o-0", "o-2", "g-0")
    cost = ranked[0].chunk.token_count
    one = BudgetedContext(store, max_tokens=cost, expand=0).assemble("q", ranked)
    assert [h.chunk.id for h in one] == ["o-0"]
    tiny = BudgetedContext(store, max_tokens=1, expand=0).assemble("q", ranked)
    assert [h.chunk.id for h in tiny] == ["o-0"]  # over the budget, but a model needs one
    room = BudgetedContext(store, max_tokens=10_000, expand=0).assemble("q", ranked)
    assert [h.chunk.id for h in room] == ["o-0", "o-2", "g-0"]
    total = sum(h.chunk.token_count for h in ranked)
    skip = BudgetedContext(store, max_tokens=total - 1, expand=0)
    assert len(skip.assemble("q", [*ranked, *hits(store, "o-2")])) == 2


def test_adjacent_chunks_of_a_document_become_one_passage_at_the_best_rank(
    store: Store,
) -> None:
    ranked = hits(store, "g-3", "o-0", "g-2")
    out = BudgetedContext(store, max_tokens=10_000, expand=0).assemble("q", ranked)
    assert [h.chunk.id for h in out] == ["g-3", "o-0"]  # merged under the best chunk's id
    merged = out[0].chunk
    assert merged.text == f"{GUIDE[2]}\n\n{GUIDE[3]}"  # in document order
    assert merged.hash not in {c.hash for c in store.get_chunks(["g-2", "g-3"])}
    assert out[0].score == ranked[0].score


def test_a_chunk_between_two_passages_joins_them(store: Store) -> None:
    out = BudgetedContext(store, max_tokens=10_000, expand=0).assemble(
        "q", hits(store, "g-0", "g-2", "g-1")
    )
    assert len(out) == 1 and out[0].chunk.text == "\n\n".join(GUIDE[:3])


def test_overlapping_chunks_are_written_once() -> None:
    text = "Alpha beta gamma. Delta epsilon zeta. Eta theta iota."

    def chunk(n: int, start: int, end: int) -> Chunk:
        return Chunk(
            id=f"d-{n}", doc_id="d", ordinal=n, text=text[start:end], section=(), anchor=None,
            start=start, end=end, token_count=len(text[start:end].split()), hash=f"h{n}",
        )  # fmt: skip

    a, b = chunk(0, 0, 37), chunk(1, 18, len(text))
    out = BudgetedContext(None).assemble("q", [Hit(chunk=b, score=0.9), Hit(chunk=a, score=0.5)])
    assert len(out) == 1 and out[0].chunk.text == text
    assert out[0].chunk.id == "d-1" and (out[0].chunk.start, out[0].chunk.end) == (0, len(text))


def test_a_passage_cut_before_its_answer_gets_the_next_chunk(store: Store) -> None:
    assert looks_cut_at_end(GUIDE[1]) and not looks_cut_at_end(GUIDE[2])
    out = BudgetedContext(store, max_tokens=10_000).assemble("q", hits(store, "g-1", "o-1"))
    assert out[0].chunk.text == f"{GUIDE[1]}\n\n{GUIDE[2]}"
    assert out[1].chunk.text == OTHER[1]  # ends its sentence: left alone
    tight = sum(len(t.split()) for t in (GUIDE[1], OTHER[1]))
    kept = BudgetedContext(store, max_tokens=tight).assemble("q", hits(store, "g-1", "o-1"))
    assert [h.chunk.text for h in kept] == [GUIDE[1], OTHER[1]]  # no room to expand


def test_a_merged_passage_keeps_a_flag_and_a_flagged_neighbour_stays_out(store: Store) -> None:
    from dataclasses import replace

    from cairn.types import Risk

    poisoned = Risk(score=0.9, flagged=True, reasons=("rule:ignore-previous",))
    ranked = hits(store, "g-3", "g-2")
    ranked[1] = replace(ranked[1], chunk=replace(ranked[1].chunk, risk=poisoned))
    [merged] = BudgetedContext(store, max_tokens=10_000, expand=0).assemble("q", ranked)
    assert merged.chunk.risk == poisoned  # the prompt still sets the planted text off

    # `g-1` ends mid-sentence, so its neighbour `g-2` would be added: not when it is flagged,
    # since a neighbour never went through the context guard.
    [clean] = BudgetedContext(store, max_tokens=10_000).assemble("q", hits(store, "g-1"))
    assert clean.chunk.text == f"{GUIDE[1]}\n\n{GUIDE[2]}"

    class Flagged:
        def __getattr__(self, name: str) -> object:
            return getattr(store, name)

        def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
            return [replace(c, risk=poisoned) for c in store.get_chunks(ids)]

    flagged = BudgetedContext(Flagged(), max_tokens=10_000)  # type: ignore[arg-type]
    [alone] = flagged.assemble("q", hits(store, "g-1"))
    assert alone.chunk.text == GUIDE[1]


def test_a_neighbour_is_rescanned_and_a_quarantined_one_never_added(store: Store) -> None:
    from cairn.types import Risk

    seen: list[str] = []

    def screen(chunk: Chunk) -> Risk:  # the context guard's detector, on the neighbour
        seen.append(chunk.id)
        return Risk(score=0.9, flagged=True, reasons=("model:injection",))

    flagged = BudgetedContext(store, max_tokens=10_000, screen=screen)
    [alone] = flagged.assemble("q", hits(store, "g-1"))
    assert seen == ["g-2"] and alone.chunk.text == GUIDE[1]  # rescanned, flagged: left out
    store.quarantine(["g-2"])
    [held] = BudgetedContext(store, max_tokens=10_000).assemble("q", hits(store, "g-1"))
    assert held.chunk.text == GUIDE[1]  # a quarantined neighbour never joins the prompt


class Ranked:
    """A retriever returning the chunks it was given, in order."""

    def __init__(self, found: list[Hit]) -> None:
        self.found = found

    def retrieve(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        return self.found[:k]


def test_the_model_is_given_the_assembled_passages(store: Store) -> None:
    model = ScriptedModel()
    found = hits(store, "g-1", "o-1", "g-2")
    pipeline = Pipeline(
        Ranked(found),
        GenerativeAnswerer(model),
        CitationVerifier(EMBEDDER),
        assembler=BudgetedContext(store),
    )
    answer = pipeline.ask("How do I rotate the relay keys?")
    parsed = parse_prompt(str(model.history[-1].messages[-1].content))
    assert parsed is not None
    passages, _ = parsed
    assert list(passages.values()) == [f"{GUIDE[1]}\n\n{GUIDE[2]}", OTHER[1]]
    assert not answer.abstained and "relay keys rotate" in answer.text
    assert [h.chunk.id for h in answer.hits] == ["g-1", "o-1", "g-2"]  # as retrieved
    assert KeepHits().assemble("q", found) == found


class Counting(HashingEmbedder):
    """The hashing embedder, remembering what it was asked to embed."""

    def __init__(self) -> None:
        super().__init__(dim=64)
        self.inputs: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vector:
        self.inputs.extend(texts)
        return super().embed(texts)


def test_a_merged_passage_is_compared_with_its_stored_chunks(store: Store) -> None:
    merged = BudgetedContext(store, expand=0).assemble("q", hits(store, "g-2", "g-3"))[0].chunk
    parts = store.get_chunks(["g-2", "g-3"])
    embedder = Counting()
    verifier = CitationVerifier(embedder, store=store)
    claim = "Stop the relay, rotate its keys with relay keys rotate, then start it again."
    [[merged_support]] = verifier.supports([claim], [merged])
    assert embedder.inputs == [claim]  # the passage's parts' stored vectors, not its text
    best_part = max(verifier.supports([claim], parts)[0])
    assert merged_support >= best_part  # as close as its closest part, and more words
