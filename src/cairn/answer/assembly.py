"""Context assembly: which passages a model is given, within a token budget.

The assemble stage (between the context guard and the answerer) turns the ranked hits into
the passages of the prompt; the instructions stay apart from them (`cairn.answer.prompt`).
`BudgetedContext`:

1. Fill by rank: hits are taken in the order the retriever and reranker gave them while their
   tokens fit `max_tokens`; one that does not fit is skipped and smaller ones after it may
   still go in. The first hit always goes in (a model with no passage cannot answer).
2. Merge: chunks of one document that overlap or are adjacent (consecutive in the
   document) become one passage, in document order, counted once, at the rank of its best
   chunk; it keeps that chunk's id, link and section, so its citation points where the
   answer was found. Its hash joins its chunks' (`cairn.answer.verify.MERGED`), so the
   verifier compares sentences with their stored vectors instead of embedding it.
3. Expand: a passage that looks cut where the answer may continue (ends mid-sentence, with
   a lead-in `:`, or inside a code fence) is given its document's next chunk, when the
   budget allows; one that starts mid-sentence, the previous chunk.

The extractive answerer reads the hits as they are (`KeepHits`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from cairn.answer.verify import MERGED
from cairn.llm.tokens import estimate_tokens
from cairn.store.base import Store
from cairn.types import Chunk, Hit, Risk


@runtime_checkable
class ContextAssembler(Protocol):
    """The assemble stage: the passages a model is given for `question`."""

    def assemble(self, question: str, hits: list[Hit]) -> list[Hit]: ...


class KeepHits:
    """The no-op assembler: every hit, as retrieved."""

    def assemble(self, question: str, hits: list[Hit]) -> list[Hit]:
        return hits


_END = re.compile(r"""[.!?…)"'\]`]\s*$""")
_LOWER_START = re.compile(r"^\s*[a-z]")


def looks_cut_at_end(text: str) -> bool:
    """Whether a chunk stops where what it says goes on: mid-sentence, after a lead-in
    ending in `:`, or inside a code fence."""
    body = text.rstrip()
    if not body:
        return False
    return body.count("```") % 2 == 1 or body.endswith(":") or not _END.search(body)


def looks_cut_at_start(text: str) -> bool:
    """Whether a chunk starts mid-sentence (with a lower-case word)."""
    return bool(_LOWER_START.match(text))


@dataclass
class _Passage:
    rank: int
    best: Hit
    chunks: list[Chunk]

    def text(self) -> str:
        ordered = sorted(self.chunks, key=lambda c: (c.ordinal, c.start))
        text = ordered[0].text
        for prev, chunk in itertools.pairwise(ordered):
            text = _join(text, prev, chunk)
        return text

    def tokens(self) -> int:
        if len(self.chunks) == 1:
            return self.chunks[0].token_count or estimate_tokens(self.chunks[0].text)
        return estimate_tokens(self.text())

    def touches(self, chunk: Chunk) -> bool:
        return any(c.doc_id == chunk.doc_id and _near(c, chunk) for c in self.chunks)

    def hit(self) -> Hit:
        if len(self.chunks) == 1:
            return self.best
        ordered = sorted(self.chunks, key=lambda c: (c.ordinal, c.start))
        text = self.text()
        best = self.best.chunk
        merged = replace(
            best,
            text=text,
            start=ordered[0].start,
            end=max(c.end for c in ordered),
            token_count=estimate_tokens(text),
            hash=MERGED.join(c.hash for c in ordered),
            section=ordered[0].section if best.section == () else best.section,
            risk=_worst([c.risk for c in ordered]),
        )
        return replace(self.best, chunk=merged)


def _worst(risks: Sequence[Risk | None]) -> Risk | None:
    """The risk of a merged passage: flagged when any of its chunks is, so the prompt still
    sets it off (the context guard's mark and datamarking follow `Chunk.risk`)."""
    known = [r for r in risks if r is not None]
    if not known:
        return None
    reasons = tuple(dict.fromkeys(reason for r in known for reason in r.reasons))
    return Risk(
        score=max(r.score for r in known), flagged=any(r.flagged for r in known), reasons=reasons
    )


def _near(a: Chunk, b: Chunk) -> bool:
    """Consecutive in their document, or overlapping."""
    return abs(a.ordinal - b.ordinal) <= 1 or (a.start < b.end and b.start < a.end)


def _join(text: str, prev: Chunk, chunk: Chunk) -> str:
    """`text` (ending with `prev`) followed by `chunk`, their overlap written once."""
    if chunk.start < prev.end:
        cut = prev.end - chunk.start
        if 0 < cut < len(chunk.text) and text.endswith(chunk.text[:cut]):
            return text + chunk.text[cut:]
        for size in range(min(len(chunk.text), len(prev.text), 2000), 0, -1):
            if text.endswith(chunk.text[:size]):
                return text + chunk.text[size:]
    return f"{text}\n\n{chunk.text}"


class BudgetedContext:
    """Fills a token budget with the best passages, merged and expanded (module docstring)."""

    def __init__(
        self,
        store: Store | None,
        *,
        max_tokens: int = 2000,
        expand: int = 3,
        screen: Callable[[Chunk], Risk] | None = None,
    ) -> None:
        self.store = store
        self.max_tokens = max_tokens
        self.expand = expand
        """How many of the top passages may be expanded to a neighbouring chunk."""
        self.screen = screen
        """Rescans a neighbour about to be added (the context guard's detector): it was not
        retrieved, so the context guard never saw it."""

    def assemble(self, question: str, hits: list[Hit]) -> list[Hit]:
        passages: list[_Passage] = []
        used = 0
        for rank, hit in enumerate(hits):
            used = self._add(passages, rank, hit, used)
        if self.store is not None and self.expand:
            used = self._expand(passages, used)
        return [p.hit() for p in sorted(passages, key=lambda p: p.rank)]

    def _add(self, passages: list[_Passage], rank: int, hit: Hit, used: int) -> int:
        chunk = hit.chunk
        if any(c.id == chunk.id for p in passages for c in p.chunks):
            return used
        touching = [p for p in passages if p.touches(chunk)]
        if not touching:
            cost = chunk.token_count or estimate_tokens(chunk.text)
            if passages and used + cost > self.max_tokens:
                return used
            passages.append(_Passage(rank=rank, best=hit, chunks=[chunk]))
            return used + cost
        # it joins the best-ranked passage it touches, and bridges any others it touches
        target = touching[0]
        before = sum(p.tokens() for p in touching)
        merged = _Passage(
            rank=target.rank, best=target.best, chunks=[c for p in touching for c in p.chunks]
        )
        merged.chunks.append(chunk)
        after = merged.tokens()
        if used - before + after > self.max_tokens:
            return used
        target.chunks = merged.chunks
        for other in touching[1:]:
            passages.remove(other)
        return used - before + after

    def _expand(self, passages: list[_Passage], used: int) -> int:
        assert self.store is not None
        wanted: dict[str, _Passage] = {}
        for passage in sorted(passages, key=lambda p: p.rank)[: self.expand]:
            ordered = sorted(passage.chunks, key=lambda c: c.ordinal)
            first, last = ordered[0], ordered[-1]
            if looks_cut_at_end(last.text):
                wanted.setdefault(f"{last.doc_id}-{last.ordinal + 1}", passage)
            if first.ordinal > 0 and looks_cut_at_start(first.text):
                wanted.setdefault(f"{first.doc_id}-{first.ordinal - 1}", passage)
        if not wanted:
            return used
        held = {c.id for c in self.store.quarantined()}
        for neighbour in _ordered(self.store.get_chunks(list(wanted)), list(wanted)):
            passage = wanted[neighbour.id]
            if (
                neighbour.doc_id != passage.best.chunk.doc_id
                or neighbour.id in held
                or any(c.id == neighbour.id for p in passages for c in p.chunks)
            ):
                continue
            if self.screen is not None:
                neighbour = replace(neighbour, risk=self.screen(neighbour))
            if neighbour.risk is not None and neighbour.risk.flagged:
                # never screened by the context guard (it was not retrieved): a flagged or
                # quarantined neighbour stays out of the prompt
                continue
            before = passage.tokens()
            passage.chunks.append(neighbour)
            after = passage.tokens()
            if used - before + after > self.max_tokens:
                passage.chunks.pop()
                continue
            used += after - before
        return used


def _ordered(chunks: Sequence[Chunk], ids: list[str]) -> list[Chunk]:
    by_id = {c.id: c for c in chunks}
    return [by_id[i] for i in ids if i in by_id]
