"""Structure-aware chunking.

A document's blocks are laid end to end (separated by a blank line) into `Document.text`;
every chunk is an exact slice of that text, so its character offsets always resolve.

- Chunks never cross a section boundary (heading path + anchor), so every chunk links to the
  section it came from. A page anchor (`page=N`, PDF) is no boundary: a section's
  paragraphs run on over a page break, and the chunk takes the page where it starts.
- Within a section, whole paragraphs are packed up to `target_tokens`; a paragraph longer
  than that is split at sentence boundaries; code blocks and tables are never split (an
  oversized one becomes a chunk of its own).
- Consecutive chunks of one section overlap by up to `overlap_tokens` of whole sentences.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cairn.config import ChunkSettings
from cairn.sentences import split_sentences
from cairn.types import Block, ParsedDocument

SEPARATOR = "\n\n"


@dataclass(frozen=True, kw_only=True, slots=True)
class ChunkDraft:
    """A chunk before it has ids: a slice of the document text plus its context."""

    start: int
    end: int
    text: str
    section: tuple[str, ...]
    anchor: str | None
    page: int | None
    token_count: int


@dataclass(frozen=True, slots=True)
class _Unit:
    start: int
    end: int
    tokens: int
    splittable: bool
    """False for code and tables: the chunk may not start inside them or cut them."""


class _Counter:
    """What the chunker needs from a tokenizer: a batch token count."""

    def __init__(self, tokenizer: object) -> None:
        counts = getattr(tokenizer, "counts", None)
        self._counts = counts
        self._count = tokenizer.count  # type: ignore[attr-defined]

    def counts(self, texts: Sequence[str]) -> list[int]:
        if self._counts is not None:
            return list(self._counts(texts))
        return [int(self._count(t)) for t in texts]


def layout(document: ParsedDocument) -> tuple[str, list[tuple[int, int]]]:
    """The document text and the `(start, end)` span of each block in it."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    offset = 0
    for i, block in enumerate(document.blocks):
        if i:
            parts.append(SEPARATOR)
            offset += len(SEPARATOR)
        parts.append(block.text)
        spans.append((offset, offset + len(block.text)))
        offset += len(block.text)
    return "".join(parts), spans


def chunk_document(
    document: ParsedDocument, tokenizer: object, settings: ChunkSettings
) -> tuple[str, list[ChunkDraft]]:
    """Lay out `document` and cut it into chunks; return the text and the chunk drafts."""
    text, spans = layout(document)
    counter = _Counter(tokenizer)
    drafts: list[ChunkDraft] = []
    for run in _section_runs(document.blocks):
        units = _units(text, [(document.blocks[i], spans[i]) for i in run], counter, settings)
        for first, last in _pack(units, settings):
            start, end = units[first].start, units[last].end
            block = document.blocks[_block_at(spans, start, run)]
            drafts.append(
                ChunkDraft(
                    start=start,
                    end=end,
                    text=text[start:end],
                    section=block.section,
                    anchor=block.anchor,
                    page=_page_at(document.blocks, spans, start),
                    token_count=0,
                )
            )
    counts = counter.counts([d.text for d in drafts])
    return text, [
        ChunkDraft(
            start=d.start,
            end=d.end,
            text=d.text,
            section=d.section,
            anchor=d.anchor,
            page=d.page,
            token_count=n,
        )
        for d, n in zip(drafts, counts, strict=True)
    ]


def _block_at(spans: list[tuple[int, int]], offset: int, run: list[int]) -> int:
    """The block of `run` holding `offset` (where a chunk starts)."""
    return next((i for i in run if spans[i][0] <= offset <= spans[i][1]), run[0])


def _bound(anchor: str | None) -> str | None:
    """The part of an anchor that bounds chunks: none for a page anchor."""
    return None if anchor is not None and anchor.startswith("page=") else anchor


def _section_runs(blocks: Sequence[Block]) -> list[list[int]]:
    runs: list[list[int]] = []
    key: tuple[tuple[str, ...], str | None] | None = None
    for i, block in enumerate(blocks):
        block_key = (block.section, _bound(block.anchor))
        if block_key != key:
            runs.append([])
            key = block_key
        runs[-1].append(i)
    return runs


def _units(
    text: str,
    blocks: list[tuple[Block, tuple[int, int]]],
    counter: _Counter,
    settings: ChunkSettings,
) -> list[_Unit]:
    candidates: list[tuple[int, int, bool]] = []
    for block, (start, end) in blocks:
        candidates.append((start, end, block.kind in ("text", "list")))
    counts = counter.counts([text[s:e] for s, e, _ in candidates])
    units: list[_Unit] = []
    for (start, end, splittable), tokens in zip(candidates, counts, strict=True):
        if not splittable or tokens <= settings.target_tokens:
            units.append(_Unit(start, end, tokens, splittable))
            continue
        pieces = _split_long(text, start, end)
        piece_counts = counter.counts([text[s:e] for s, e in pieces])
        units.extend(_Unit(s, e, n, True) for (s, e), n in zip(pieces, piece_counts, strict=True))
    return units


def _split_long(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentences of a long paragraph, or lines of a long list."""
    segment = text[start:end]
    if "\n" in segment.strip():
        spans = []
        offset = 0
        for line in segment.split("\n"):
            if line.strip():
                spans.append((start + offset, start + offset + len(line)))
            offset += len(line) + 1
        return spans
    return [(start + s, start + e) for s, e in split_sentences(segment)] or [(start, end)]


def _pack(units: list[_Unit], settings: ChunkSettings) -> list[tuple[int, int]]:
    """Greedy packing of units into `(first, last)` index ranges, with sentence overlap."""
    ranges: list[tuple[int, int]] = []
    first = 0
    while first < len(units):
        last = first
        total = units[first].tokens
        while last + 1 < len(units) and total + units[last + 1].tokens <= settings.target_tokens:
            last += 1
            total += units[last].tokens
        ranges.append((first, last))
        if last + 1 >= len(units):
            break
        # Step back over trailing prose units to overlap, never past this chunk's start.
        nxt = last + 1
        overlap = 0
        while (
            nxt - 1 > first
            and units[nxt - 1].splittable
            and overlap + units[nxt - 1].tokens <= settings.overlap_tokens
        ):
            nxt -= 1
            overlap += units[nxt].tokens
        first = nxt
    # A short tail is merged into the chunk before it when the result stays near the target.
    if len(ranges) > 1:
        tail_first, tail_last = ranges[-1]
        tail = sum(u.tokens for u in units[tail_first : tail_last + 1])
        prev_first, _prev_last = ranges[-2]
        prev = sum(u.tokens for u in units[prev_first:tail_first])
        if tail < settings.min_tokens and prev + tail <= settings.target_tokens * 1.25:
            ranges[-2:] = [(prev_first, tail_last)]
    return ranges


def _page_at(blocks: Sequence[Block], spans: list[tuple[int, int]], offset: int) -> int | None:
    for block, (start, end) in zip(blocks, spans, strict=True):
        if start <= offset <= end:
            return block.page
    return None


def embedding_text(title: str, section: Sequence[str], text: str) -> str:
    """What is embedded for a chunk: its heading context, then its text."""
    heading = " > ".join(p for p in (title, *section) if p)
    return f"{heading}\n{text}" if heading else text


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
