"""Reading order and paragraphs of one PDF page from word positions (no PDF library here).

A page arrives as words with their boxes and font sizes (`Word`) plus the tables found on it.
Words on one baseline make a line; a wide horizontal gap splits a line into column
segments; a page whose segments fall on both sides of the middle is read left column first,
then right, between full-width lines. Paragraphs end where the vertical gap between lines
grows, where the first line is indented, or where the font size changes (a heading); never
because a line is short. A word hyphenated across lines is joined again.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cairn.ingest.formats import blocks

_HYPHENATED = re.compile(r"[A-Za-z]-$")
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?\s*$", re.I)
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float


@dataclass(slots=True)
class Line:
    words: list[Word]

    @property
    def x0(self) -> float:
        return self.words[0].x0

    @property
    def x1(self) -> float:
        return self.words[-1].x1

    @property
    def top(self) -> float:
        return min(w.top for w in self.words)

    @property
    def bottom(self) -> float:
        return max(w.bottom for w in self.words)

    @property
    def size(self) -> float:
        """The size most of the line's characters are set in (a larger bracket does not count)."""
        return body_size(self.words)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass(frozen=True, slots=True)
class TableItem:
    """A table found on the page: its box and its rows (cells as extracted)."""

    x0: float
    top: float
    x1: float
    bottom: float
    rows: tuple[tuple[str, ...], ...]


@dataclass(slots=True)
class Paragraph:
    text: str
    size: float
    top: float
    lines: int = 1
    lead_size: float = 0.0
    """Font size of the first word (a definition term is set larger than its arguments)."""


@dataclass(slots=True)
class PageItems:
    """What one page holds in reading order: paragraphs and tables."""

    items: list[Paragraph | TableItem] = field(default_factory=list)


def group_lines(words: Sequence[Word]) -> list[Line]:
    """Words on one baseline, split at gaps wider than about two spaces' worth of an em."""
    rows: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (round(w.top), w.x0)):
        if rows and abs(rows[-1][0].top - word.top) <= max(2.0, 0.4 * word.size):
            rows[-1].append(word)
        else:
            rows.append([word])
    lines: list[Line] = []
    for row in rows:
        row.sort(key=lambda w: w.x0)
        current = [row[0]]
        for word in row[1:]:
            gap = word.x0 - current[-1].x1
            if gap > 1.2 * max(word.size, current[-1].size):
                lines.append(Line(current))
                current = [word]
            else:
                current.append(word)
        lines.append(Line(current))
    return lines


def reading_order(lines: list[Line], width: float) -> list[list[Line]]:
    """Lines grouped into streams read one after another (columns between full-width lines)."""
    mid = width / 2
    left = [ln for ln in lines if ln.x1 <= mid + 2]
    right = [ln for ln in lines if ln.x0 >= mid - 2]
    two_columns = len(left) >= 3 and len(right) >= 3 and len(left) + len(right) >= 0.6 * len(lines)
    ordered = sorted(lines, key=lambda ln: (ln.top, ln.x0))
    if not two_columns:
        return [ordered]
    streams: list[list[Line]] = []
    band_left: list[Line] = []
    band_right: list[Line] = []

    def flush() -> None:
        for part in (band_left, band_right):
            if part:
                streams.append(sorted(part, key=lambda ln: ln.top))
        band_left.clear()
        band_right.clear()

    for line in ordered:
        if line.x1 <= mid + 2:
            band_left.append(line)
        elif line.x0 >= mid - 2:
            band_right.append(line)
        else:  # a full-width line (title, figure caption) closes the band above it
            flush()
            streams.append([line])
    flush()
    return streams


def paragraphs(stream: Sequence[Line], body_size: float) -> list[Paragraph]:
    """Paragraphs of one column stream, from vertical gaps, indentation and font size."""
    if not stream:
        return []
    gaps = [b.top - a.bottom for a, b in itertools.pairwise(stream)]
    usual_gap = statistics.median([g for g in gaps if g >= -1] or [0.0])
    left = min(ln.x0 for ln in stream)
    found: list[Paragraph] = []
    current: list[Line] = [stream[0]]
    for prev, line in itertools.pairwise(stream):
        gap = line.top - prev.bottom
        size_change = abs(line.size - prev.size) > 0.12 * max(body_size, 1.0)
        wide_gap = gap > min(usual_gap + 0.45 * line.size, 1.5 * line.size)
        indented = line.x0 - left > 0.8 * line.size and prev.x0 - left <= 0.8 * line.size
        if size_change or wide_gap or indented:
            found.append(_paragraph(current))
            current = [line]
        else:
            current.append(line)
    found.append(_paragraph(current))
    return [p for p in found if p.text]


def _paragraph(lines: Sequence[Line]) -> Paragraph:
    return Paragraph(
        text=join_lines(ln.text for ln in lines),
        size=max(ln.size for ln in lines),
        top=lines[0].top,
        lines=len(lines),
        lead_size=lines[0].words[0].size if len(lines[0].words[0].text) >= 2 else 0.0,
    )


def join_lines(lines: Iterable[str]) -> str:
    """Join line texts with spaces, rejoining `hyphen-` / `ated` words split at a line end."""
    out = ""
    for raw in lines:
        text = " ".join(raw.replace("\u00ad", "-").split())
        if not text:
            continue
        if out and _HYPHENATED.search(out) and text[:1].islower():
            out = out[:-1] + text
        else:
            out = f"{out} {text}" if out else text
    return out


def body_size(words: Iterable[Word]) -> float:
    """The font size most characters are set in."""
    sizes: Counter[float] = Counter()
    for word in words:
        sizes[round(word.size, 1)] += len(word.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0


def running_key(text: str) -> str:
    """A line's identity as a running header or footer: digits (page numbers) wildcarded."""
    return _DIGITS.sub("#", " ".join(text.lower().split()))


def is_page_number(text: str) -> bool:
    return bool(_PAGE_NUMBER.match(text))


def margin_lines(lines: Sequence[Line], height: float, share: float = 0.09) -> list[Line]:
    """Lines in the top or bottom `share` of the page: where running heads and feet live."""
    return [ln for ln in lines if ln.bottom <= height * share or ln.top >= height * (1 - share)]


def markdown_table(rows: Sequence[Sequence[str | None]]) -> str:
    """Rows as a Markdown table, the first row its header; a cell's lines joined as prose."""
    return blocks.markdown_table(rows, cell=lambda text: join_lines(text.split("\n")))
