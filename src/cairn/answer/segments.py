"""An answer's text cut into the units the verifier checks: sentences (not cut after an
initial or a title), bullet items and whole code fences, each with the `[n]` markers that
cite it. A marker group cites the last paragraph before it; brackets right after a word or
`)` are subscripts (`args[0]`), not markers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cairn.sentences import split_sentences

MARKER = re.compile(r"\[(\d+)\]")
MARKERS = re.compile(r"(?:\s*(?<![\w)])\[\d+\])+")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_INITIAL = re.compile(r"(?<![\w])(?:[A-Z]|v|vs|St|Mt|Rev|Dr|Mr|Mrs|Ms|Jr|al)\.$")


def cited_sentences(text: str) -> list[tuple[str, list[int]]]:
    """Each answer segment that ends in one or more `[n]` markers, with its numbers.

    Brackets right after a word or `)` are subscripts (`args[0]`, `exc_info()[1]`), not
    markers."""
    out: list[tuple[str, list[int]]] = []
    last = 0
    for match in MARKERS.finditer(text):
        segment = text[last : match.start()].strip().strip("`").strip()
        numbers = [int(n) for n in MARKER.findall(match.group(0))]
        if segment:
            out.append((segment, numbers))
        last = match.end()
    return out


@dataclass(frozen=True, slots=True)
class Unit:
    """A checkable stretch of an answer `[start, end)` and the markers citing it."""

    start: int
    end: int
    numbers: tuple[int, ...]
    marker: tuple[int, int] | None
    """Span of the marker group citing this unit, if any."""


def answer_units(text: str) -> list[Unit]:
    """The checkable units of an answer, each with the markers citing it."""
    units: list[Unit] = []
    last = 0
    for match in MARKERS.finditer(text):
        numbers = tuple(dict.fromkeys(int(n) for n in MARKER.findall(match.group(0))))
        units.extend(_segment_units(text, last, match.start(), numbers, match.span()))
        last = match.end()
    units.extend(_segment_units(text, last, len(text), (), None))
    return units


def _segment_units(
    text: str, start: int, end: int, numbers: tuple[int, ...], marker: tuple[int, int] | None
) -> list[Unit]:
    """A stretch of text before a marker group: its last paragraph is cited, the rest not."""
    paragraphs = _paragraphs(text, start, end)
    units: list[Unit] = []
    for p, (s, e) in enumerate(paragraphs):
        cite = numbers if p == len(paragraphs) - 1 else ()
        mark = marker if cite else None
        if "```" in text[s:e]:
            units.append(Unit(s, e, cite, mark))
            continue
        offset = s
        for line in text[s:e].split("\n"):
            body = offset + (m.end() if (m := BULLET.match(line)) else 0)
            units.extend(
                Unit(body + a, body + b, cite, mark)
                for a, b in _sentences(text[body : offset + len(line)])
            )
            offset += len(line) + 1
    return units


def _sentences(text: str) -> list[tuple[int, int]]:
    """`split_sentences`, not cut after an initial or a title ("John C. Smith", "St. Johns")."""
    spans: list[tuple[int, int]] = []
    for start, end in split_sentences(text):
        if spans and _INITIAL.search(text, 0, spans[-1][1]):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def _paragraphs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the non-blank paragraphs in `text[start:end]`; code fences stay whole."""
    spans: list[tuple[int, int]] = []
    begin = start
    for gap in _BLANK_LINE.finditer(text, start, end):
        if text.count("```", begin, gap.start()) % 2:
            continue  # inside a fenced block
        spans.append((begin, gap.start()))
        begin = gap.end()
    spans.append((begin, end))
    return [(s, e) for s, e in spans if text[s:e].strip()]
