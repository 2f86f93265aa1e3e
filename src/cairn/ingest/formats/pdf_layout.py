"""Reading order and paragraphs of one PDF page from word positions (no PDF library here).

A page arrives as words with their boxes and font sizes (`Word`) plus the tables found on it.
Words on one baseline make a line; a wide horizontal gap splits a line into column
segments; a page whose segments fall on both sides of the middle is read left column first,
then right, between full-width lines. Paragraphs end where the vertical gap between lines
grows, where the first line is indented, where the font size changes (a heading) or where a
list item's bullet starts the line; never because a line is short. A word hyphenated across
lines is joined again. Words that touch (a font change inside a word: `copy` set as code
then `ing`) are joined without a space. Lines set in a monospaced font make a code paragraph
whose lines, blank lines and indentation are kept.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from cairn.ingest.formats import blocks

_HYPHENATED = re.compile(r"[A-Za-z]-$")
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?\s*$", re.I)
_DIGITS = re.compile(r"\d+")
_MONO_FONT = re.compile(r"mono|courier|consol|menlo|typewriter|cmtt|code", re.I)
_TEXT_BULLETS = ("\u2022", "\u25e6", "\u25aa", "\u25cf", "\u2023", "\u2043")
_TOUCHING = 0.15
_LONG_CELL = 40
_LIST_MARKER = re.compile(
    r"^(?:[\u2022\u25e6\u25aa\u25cf\u2023\u2043\u00b7*\-\u2013]|\(?\w{1,3}[.)])$"
)
"""Mean characters of a column of prose, not of table cells (one such column is allowed)."""
"""Words closer than this share of an em are one word split by a font change, not two."""


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    font: str = ""

    @property
    def mono(self) -> bool:
        return bool(_MONO_FONT.search(self.font))


@dataclass(frozen=True, slots=True)
class Mark:
    """A small filled shape left of a line: a list bullet drawn as a graphic, not a glyph."""

    x0: float
    top: float
    x1: float
    bottom: float


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
        return join_words(self.words)

    @property
    def mono(self) -> bool:
        """Most of the line's characters are set in a monospaced font (a line of code)."""
        total = sum(len(w.text) for w in self.words)
        return total > 0 and sum(len(w.text) for w in self.words if w.mono) >= 0.8 * total


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
    first: tuple[Word, ...] = ()
    """The first line's words (a definition term sets its name larger than its arguments)."""
    code: bool = False
    """Set in a monospaced font: `text` keeps its lines and indentation."""


@dataclass(slots=True)
class PageItems:
    """What one page holds in reading order: paragraphs and tables."""

    items: list[Paragraph | TableItem] = field(default_factory=list)
    navigation: bool = False
    """The page is links only (a table of contents): its text is not indexed."""


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


def aligned_tables(
    lines: Sequence[Line], accept: Callable[[tuple[tuple[str, ...], ...]], bool]
) -> tuple[list[TableItem], list[Line]]:
    """Tables set without rules, and the lines left: three or more consecutive rows, each
    split into two or more segments at wide gaps, whose segments fall into the same column
    bands (a band: the union of the segments' spans, so right-aligned figures share one),
    one segment per band, and rows that `accept` takes. Not a table: code (monospaced
    rows), two columns of prose (more than one band of long cells) and lists (a first
    column of bullets or item numbers). The first row is the header."""
    grouped: list[list[Line]] = []
    for line in lines:
        if grouped and abs(grouped[-1][0].top - line.top) <= 2.0:
            grouped[-1].append(line)
        else:
            grouped.append([line])
    # Cells may sit closer than the gap that splits a line into column segments: re-split
    # each row at any gap wider than half an em (two spaces or so).
    rows = [_cells(row) for row in grouped]
    segment_of = {
        id(seg): row for seg_row, row in zip(rows, grouped, strict=True) for seg in seg_row
    }
    tables: list[TableItem] = []
    used: set[int] = set()
    start = 0
    while start < len(rows):
        end = start
        while end < len(rows) and len(rows[end]) >= 2 and not any(ln.mono for ln in rows[end]):
            if end > start:
                above = rows[end - 1][0]
                if rows[end][0].top - above.bottom > 1.5 * max(above.size, 1.0):
                    break
            end += 1
        table = _aligned_table(rows[start:end]) if end - start >= 3 else None
        if table is not None and accept(table.rows):
            tables.append(table)
            used.update(id(ln) for seg_row in rows[start:end] for ln in segment_of[id(seg_row[0])])
        start = max(end, start + 1)
    return tables, [ln for ln in lines if id(ln) not in used]


def _cells(row: Sequence[Line]) -> list[Line]:
    words = sorted((w for ln in row for w in ln.words), key=lambda w: w.x0)
    cells = [Line([words[0]])]
    for word in words[1:]:
        if word.x0 - cells[-1].x1 > 0.5 * max(word.size, cells[-1].words[-1].size):
            cells.append(Line([word]))
        else:
            cells[-1].words.append(word)
    return cells


def _aligned_table(rows: Sequence[list[Line]]) -> TableItem | None:
    spans = sorted((ln.x0, ln.x1) for row in rows for ln in row)
    bands: list[list[float]] = []
    for x0, x1 in spans:
        if bands and x0 <= bands[-1][1] + 1.0:
            bands[-1][1] = max(bands[-1][1], x1)
        else:
            bands.append([x0, x1])
    if not 2 <= len(bands) <= 12:
        return None
    cells: list[list[str]] = []
    for row in rows:
        cell = [""] * len(bands)
        for line in row:
            band = next(i for i, (x0, x1) in enumerate(bands) if x0 <= line.x0 <= x1)
            if cell[band]:
                return None  # two segments in one band: not a grid
            cell[band] = line.text
        cells.append(cell)
    if all(_LIST_MARKER.match(c[0]) for c in cells):
        return None  # a list: a column of bullets or item numbers, then the items
    long_bands = sum(
        statistics.mean(len(c[i]) for c in cells) > _LONG_CELL for i in range(len(bands))
    )
    if long_bands > 1:
        return None
    return TableItem(
        bands[0][0],
        min(ln.top for ln in rows[0]),
        bands[-1][1],
        max(ln.bottom for ln in rows[-1]),
        tuple(tuple(c) for c in cells),
    )


def reading_order(lines: list[Line], width: float) -> list[list[Line]]:
    """Lines grouped into streams read one after another (columns between full-width lines)."""
    mid = width / 2
    left = [ln for ln in lines if ln.x1 <= mid + 2]
    right = [ln for ln in lines if ln.x0 >= mid - 2]
    two_columns = len(left) >= 3 and len(right) >= 3 and len(left) + len(right) >= 0.6 * len(lines)
    # Both columns carry text: short code lines on the left and a few buttons or labels on
    # the right (`>>>`) make no second column.
    left_chars, right_chars = (sum(len(ln.text) for ln in side) for side in (left, right))
    two_columns = two_columns and min(left_chars, right_chars) >= 0.3 * max(left_chars, right_chars)
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


def paragraphs(
    stream: Sequence[Line], body_size: float, marks: Sequence[Mark] = ()
) -> list[Paragraph]:
    """Paragraphs of one column stream, from vertical gaps, indentation, font size, bullets
    and a switch between prose and code (monospaced lines)."""
    if not stream:
        return []
    gaps = [b.top - a.bottom for a, b in itertools.pairwise(stream)]
    usual_gap = statistics.median([g for g in gaps if g >= -1] or [0.0])
    left = min(ln.x0 for ln in stream)
    bullets = [_bulleted(ln, marks) for ln in stream]
    found: list[Paragraph] = []
    current: list[Line] = [stream[0]]
    for i, (prev, line) in enumerate(itertools.pairwise(stream), start=1):
        gap = line.top - prev.bottom
        size_change = abs(line.size - prev.size) > 0.12 * max(body_size, 1.0)
        if prev.mono and line.mono and gap <= 2.0 * line.size and not size_change:
            # Code keeps its indentation and a blank line; a new box or size ends it.
            current.append(line)
            continue
        wide_gap = gap > min(usual_gap + 0.45 * line.size, 1.5 * line.size)
        indented = line.x0 - left > 0.8 * line.size and prev.x0 - left <= 0.8 * line.size
        # A list item's lines hang under its first line's text; a line left of it ends it.
        dedented = bullets[i - len(current)] and line.x0 < current[0].x0 - 0.5 * line.size
        if size_change or wide_gap or indented or dedented or bullets[i] or prev.mono != line.mono:
            found.append(_paragraph(current, bullets[i - len(current)]))
            current = [line]
        else:
            current.append(line)
    found.append(_paragraph(current, bullets[len(stream) - len(current)]))
    return [p for p in found if p.text]


def _bulleted(line: Line, marks: Sequence[Mark]) -> bool:
    """The line starts a list item: a bullet glyph first, or a bullet mark just left of it."""
    if line.words[0].text.startswith(_TEXT_BULLETS):
        return True
    size = line.words[0].size
    for mark in marks:
        middle = (mark.top + mark.bottom) / 2
        if line.top <= middle <= line.bottom and 0 <= line.x0 - mark.x1 <= 2.5 * size:
            return True
    return False


def _paragraph(lines: Sequence[Line], bullet: bool = False) -> Paragraph:
    code = all(ln.mono for ln in lines)
    text = code_text(lines) if code else join_lines(ln.text for ln in lines)
    if bullet and text and not text.startswith(_TEXT_BULLETS):
        text = f"- {text}"
    return Paragraph(
        text=text,
        size=max(ln.size for ln in lines),
        top=lines[0].top,
        lines=len(lines),
        first=tuple(lines[0].words),
        code=code,
    )


def code_text(lines: Sequence[Line]) -> str:
    """Lines of code with their indentation (from the left edge) and blank lines kept."""
    width = _char_width([w for ln in lines for w in ln.words])
    left = min(ln.x0 for ln in lines)
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda ln: ln.top):
        last = rows[-1][-1] if rows else None
        overlap = 0.0 if last is None else min(last.bottom, line.bottom) - max(last.top, line.top)
        if last is not None and overlap > 0.5 * min(last.bottom - last.top, line.bottom - line.top):
            rows[-1].append(line)  # a segment of the same row (an aligned comment)
        else:
            rows.append([line])
    tops = [min(ln.top for ln in row) for row in rows]
    pitch = min((b - a for a, b in itertools.pairwise(tops)), default=1.0)
    out: list[str] = []
    for i, row in enumerate(rows):
        if i:  # a taller step than the usual line pitch is a blank line
            blank = round((tops[i] - tops[i - 1]) / max(pitch, 1.0)) - 1
            out.extend([""] * max(0, min(blank, 2)))
        row.sort(key=lambda ln: ln.x0)
        text = " " * round((row[0].x0 - left) / width) + _spaced(row[0].words, width)
        for prev, line in itertools.pairwise(row):
            text += " " * max(1, round((line.x0 - prev.x1) / width)) + _spaced(line.words, width)
        out.append(text)
    return "\n".join(out).rstrip()


def _char_width(words: Sequence[Word]) -> float:
    chars = sum(len(w.text) for w in words)
    return max(sum(w.x1 - w.x0 for w in words) / chars, 0.5) if chars else 6.0


def _spaced(words: Sequence[Word], width: float) -> str:
    """A code line's words with as many spaces between them as the gaps hold."""
    out = words[0].text
    for prev, word in itertools.pairwise(words):
        out += " " * max(0, round((word.x0 - prev.x1) / width)) + word.text
    return out


def join_words(words: Sequence[Word]) -> str:
    """Words of one line with a space between them, none where they touch (a font change)."""
    out = ""
    for i, word in enumerate(words):
        if i and word.x0 - words[i - 1].x1 > _TOUCHING * min(word.size, words[i - 1].size):
            out += " "
        out += word.text
    return out


def join_lines(lines: Iterable[str]) -> str:
    """Join line texts with spaces, rejoining `hyphen-` / `ated` words split at a line end,
    and keeping a letters-hyphen-digits token whole (`bpo-` / `45292`: `bpo-45292`)."""
    out = ""
    for raw in lines:
        text = " ".join(raw.replace("\u00ad", "-").split())
        if not text:
            continue
        if out and _HYPHENATED.search(out) and text[:1].islower():
            out = out[:-1] + text
        elif out and _HYPHENATED.search(out) and text[:1].isdigit():
            out += text
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
