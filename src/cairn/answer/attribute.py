"""Post-hoc attribution: each sentence of a model's answer cited by the passage that supports it.

Open-weight models cite badly: no `[n]` markers at all, every marker lumped at the end
(`... [1] [2]`), numbers that name no passage, or a passage that does not say what the
sentence says. The attribute stage (between answer and verify) reads the answer the way the
verifier does (`cairn.answer.segments`: sentences, list items, code blocks) and scores every
sentence against every passage the model was given with the verifier's calibrated support
model (`CitationVerifier.supports`). Then, for each sentence:

- the passages it cites that support it on their own are kept;
- otherwise the passage that supports it best is cited instead, when it reaches the
  support threshold;
- otherwise it is left uncited: the verify stage flags it (`uncited`), and it is set apart
  as its own paragraph so a later sentence's marker does not cover it.

An answer in which no sentence is supported by any passage is withheld (`withhold=True`,
`answer.withhold_unsupported`): it becomes cairn's "not found" abstention, with the reason
in the draft (and on the trace); so is an uncited one that states nothing (only lead-ins
ending in `:`, which the verifier does not check). An answer whose markers already cite,
one sentence each, passages that support it is left exactly as written.

    attributor = PostHocAttributor(CitationVerifier(embedder, store=store))
    draft = attributor.attribute(draft, hits)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from cairn.answer.base import NOT_FOUND, Draft
from cairn.answer.generative import best_quote
from cairn.answer.segments import MARKERS, Unit, answer_units
from cairn.answer.verify import CitationVerifier, is_claim
from cairn.types import Citation, Hit


@runtime_checkable
class Attributor(Protocol):
    """The attribute stage: the draft with each sentence cited by what supports it."""

    def attribute(self, draft: Draft, hits: list[Hit]) -> Draft: ...


class KeepCitations:
    """The no-op attributor: the answerer's citations stand (the extractive answerer quotes
    its passages, so it needs none)."""

    def attribute(self, draft: Draft, hits: list[Hit]) -> Draft:
        return draft


@dataclass(frozen=True, slots=True)
class _Decision:
    unit: Unit
    numbers: tuple[int, ...]
    """Passage numbers (1-based positions in `hits`) that support it; empty: none does."""


class PostHocAttributor:
    """Re-cites each sentence of a draft by the passages that support it (module docstring)."""

    def __init__(self, verifier: CitationVerifier, *, withhold: bool = True) -> None:
        self.verifier = verifier
        self.withhold = withhold

    def attribute(self, draft: Draft, hits: list[Hit]) -> Draft:
        if draft.abstained or not hits:
            return draft
        text = draft.text
        units = _refined(text, answer_units(text), hits)
        if not units and draft.citations:
            return draft  # lead-ins only, cited as written: the verify stage reports them
        position = {h.chunk.id: i + 1 for i, h in enumerate(hits)}
        renumber = {c.n: position[c.chunk_id] for c in draft.citations if c.chunk_id in position}
        threshold = self.verifier.model.threshold
        rows = self.verifier.supports(
            [text[u.start : u.end] for u in units], [h.chunk for h in hits]
        )
        decisions = []
        for unit, row in zip(units, rows, strict=True):
            cited = [renumber[n] for n in unit.numbers if n in renumber]
            keep = tuple(n for n in dict.fromkeys(cited) if row[n - 1] >= threshold)
            if not keep:
                best = max(range(len(hits)), key=lambda j: (row[j], -j))
                keep = (best + 1,) if row[best] >= threshold else ()
            decisions.append(_Decision(unit, keep))
        supported = [d for d in decisions if d.numbers]
        if not supported:
            if not self.withhold:
                return draft
            what = f"none of the answer's {len(units)} sentence(s) is supported by a passage"
            if not units:
                what = "the answer states nothing a passage could support (lead-ins only)"
            return Draft(
                text=NOT_FOUND,
                citations=(),
                abstained=True,
                usage=draft.usage,
                reason=f"withheld: {what} ({draft.reason}); answer was {text.strip()[:200]!r}",
            )
        if _as_written(text, decisions, renumber):
            return draft
        new_text = _rewrite(text, decisions)
        citations = _citations(decisions, text, hits)
        unsupported = len(decisions) - len(supported)
        note = f"attributed post hoc: {len(supported)} of {len(decisions)} sentence(s) cited"
        if unsupported:
            note += f", {unsupported} supported by no passage (uncited)"
        return replace(
            draft,
            text=new_text,
            citations=citations,
            reason=f"{draft.reason}; {note}" if draft.reason else note,
        )


_STOP = re.compile(r"(?<=[.!?])\s+(?=\S)")
_SPACE = re.compile(r"\s+")


def _refined(text: str, units: list[Unit], hits: list[Hit]) -> list[Unit]:
    """The claim units, a unit split at its full stops when the splitter kept two quoted
    sentences together (one starting with a lower-case name: "... immutability.
    dataclasses.fields() ...") and a passage holds one of them word for word."""
    sources = [_SPACE.sub(" ", h.chunk.text) for h in hits]
    out: list[Unit] = []
    for unit in units:
        body = text[unit.start : unit.end]
        if not is_claim(body):
            continue
        cuts = [m.start() for m in _STOP.finditer(body)]
        pieces = [
            (a, b)
            for a, b in zip([0, *(c + 1 for c in cuts)], [*cuts, len(body)], strict=True)
            if body[a:b].strip()
        ]
        if len(pieces) > 1 and any(
            _SPACE.sub(" ", body[a:b].strip()) in src for a, b in pieces for src in sources
        ):
            for a, b in pieces:
                start = unit.start + a + (len(body[a:b]) - len(body[a:b].lstrip()))
                piece = Unit(start, unit.start + b, unit.numbers, unit.marker)
                if is_claim(text[piece.start : piece.end]):
                    out.append(piece)
        else:
            out.append(unit)
    return out


def _as_written(text: str, decisions: list[_Decision], renumber: dict[int, int]) -> bool:
    """Every sentence cited by its own marker group, naming exactly what supports it."""
    groups = [d.unit.marker for d in decisions if d.unit.marker is not None]
    if len(groups) != len(set(groups)):
        return False  # one marker group covers several sentences (lumped)
    if set(groups) != {m.span() for m in MARKERS.finditer(text)}:
        return False  # a marker citing no claim (a lead-in ending in ':')
    return all(
        d.numbers and tuple(renumber.get(n, 0) for n in d.unit.numbers) == d.numbers
        for d in decisions
    )


def _rewrite(text: str, decisions: list[_Decision]) -> str:
    """`text` with every marker removed and each sentence followed by its own markers; an
    uncited sentence followed by a cited one in its paragraph is set apart."""
    edits: list[tuple[int, int, str]] = [(m.start(), m.end(), "") for m in MARKERS.finditer(text)]
    for i, d in enumerate(decisions):
        if d.numbers:
            edits.append((d.unit.end, d.unit.end, " " + "".join(f"[{n}]" for n in d.numbers)))
        elif i + 1 < len(decisions) and _same_paragraph(text, d.unit, decisions[i + 1].unit):
            edits.append((d.unit.end, d.unit.end, "\n\n"))
    # from the end, a cut before an insertion at the same place
    for start, end, insert in sorted(edits, key=lambda e: (-e[0], e[1] == e[0])):
        text = text[:start] + insert + text[end:]
    text = re.sub(r"\n\n[ \t]+", "\n\n", text)
    text = re.sub(r"[ \t]{2,}", " ", text)
    return re.sub(r"[ \t]+\n", "\n", text).strip()


def _same_paragraph(text: str, a: Unit, b: Unit) -> bool:
    between = text[a.end : b.start]
    return "\n\n" not in between.replace(" ", "").replace("\t", "") and "```" not in between


def _citations(decisions: list[_Decision], text: str, hits: list[Hit]) -> tuple[Citation, ...]:
    quotes: dict[int, list[str]] = {}
    for d in decisions:
        for n in d.numbers:
            quote = best_quote(text[d.unit.start : d.unit.end], hits[n - 1].chunk.text)
            found = quotes.setdefault(n, [])
            if quote not in found:
                found.append(quote)
    return tuple(
        Citation(
            n=n,
            chunk_id=hits[n - 1].chunk.id,
            source=hits[n - 1].chunk.source,
            uri=hits[n - 1].chunk.anchored_uri,
            section=hits[n - 1].chunk.section_path,
            quote=" … ".join(qs),
        )
        for n, qs in sorted(quotes.items())
    )
