"""The default answerer: no LLM, only sentences and code taken verbatim from the top chunks.

1. Relevance: cosine between the question and each retrieved chunk (their stored
   embeddings). When the best is below `abstain_threshold` it abstains; the threshold was
   calibrated on labelled questions (bench/calibrate_abstention.py, docs/benchmarks.md).
2. Units: each candidate chunk is split into sentences; code blocks, tables and lists stay
   whole.
3. Scoring: IDF-weighted coverage of the question's stemmed content words, plus the chunk's
   relevance, a small bonus for a section's opening sentence (definitions usually lead).
4. Composition: the best unit, then the next best ones above a share of its score, from at
   most `max_sources` chunks, in source order, each followed by its `[n]` marker.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cairn.answer.base import NOT_FOUND, Draft
from cairn.answer.terms import content_terms
from cairn.config import AnswerSettings
from cairn.embed.base import Embedder
from cairn.sentences import split_sentences
from cairn.store.base import Store
from cairn.types import Citation, Hit

_CODE_HINT = re.compile(r"^(>>>|\$ |\s{2,}|\.\.\. )|[{};]\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class _Unit:
    hit: int
    """Index of the hit (in rank order) the unit comes from."""
    start: int
    end: int
    text: str
    code: bool
    first: bool


def chunk_units(text: str) -> list[tuple[int, int, bool]]:
    """`(start, end, is_code)` of the answerable units of a chunk text.

    Prose paragraphs and list items are split into sentences; code blocks and tables stay
    whole (they are quoted as they are, never cut).
    """
    units: list[tuple[int, int, bool]] = []
    offset = 0
    for para in text.split("\n\n"):
        start = offset
        offset += len(para) + 2
        if not para.strip():
            continue
        if _is_list(para):
            for item_start, item_end in _list_items(para):
                item = para[item_start:item_end]
                units.extend(
                    (start + item_start + s, start + item_start + e, False)
                    for s, e in split_sentences(item)
                )
            continue
        lead = len(para) - len(para.lstrip())
        if "\n" in para.strip() or _CODE_HINT.search(para):
            units.append((start + lead, start + len(para.rstrip()), True))
            continue
        units.extend((start + s, start + e, False) for s, e in split_sentences(para))
    return units


def _similar(a: str, b: str) -> bool:
    ta, tb = set(content_terms(a)), set(content_terms(b))
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) > 0.7


def _is_list(para: str) -> bool:
    lines = [line for line in para.split("\n") if line.strip()]
    return bool(lines) and all(
        line.startswith("- ") or (line.startswith("  ") and not line.startswith("    "))
        for line in lines
    )


def _list_items(para: str) -> list[tuple[int, int]]:
    """Spans of the items' text (without the `- ` marker); continuation lines included."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in para.split("\n"):
        body = 2 if line.startswith("- ") else 0
        if body or not spans:
            spans.append((offset + body, offset + len(line)))
        else:
            spans[-1] = (spans[-1][0], offset + len(line))
        offset += len(line) + 1
    return spans


class ExtractiveAnswerer:
    """`Answerer` that quotes the documents. Needs the store's embeddings for relevance."""

    def __init__(self, store: Store, embedder: Embedder, settings: AnswerSettings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings

    def relevance(self, question: str, hits: Sequence[Hit]) -> list[float]:
        """Cosine similarity of the question to each hit's chunk."""
        if not hits:
            return []
        query = self.embedder.embed([question])[0]
        cached = self.store.cached_embeddings(self.embedder.name, [h.chunk.hash for h in hits])
        missing = [h.chunk.text for h in hits if h.chunk.hash not in cached]
        extra = iter(self.embedder.embed(missing)) if missing else iter(())
        scores = []
        for hit in hits:
            vector = cached.get(hit.chunk.hash)
            if vector is None:
                vector = next(extra)
            scores.append(float(np.dot(query, vector)))
        return scores

    def answer(self, question: str, hits: list[Hit]) -> Draft:
        if not hits:
            return Draft(text=NOT_FOUND, citations=(), abstained=True, reason="no hits")
        relevance = self.relevance(question, hits)
        best = max(relevance)
        if best < self.settings.abstain_threshold:
            return Draft(
                text=NOT_FOUND,
                citations=(),
                abstained=True,
                reason=f"best chunk similarity {best:.2f} < {self.settings.abstain_threshold:.2f}",
            )
        order = sorted(range(len(hits)), key=lambda i: -relevance[i])
        keep = [i for i in order if relevance[i] >= best - 0.12][: self.settings.max_sources * 2]
        units = [
            _Unit(i, s, e, hits[i].chunk.text[s:e], code, n == 0)
            for i in sorted(keep)
            for n, (s, e, code) in enumerate(chunk_units(hits[i].chunk.text))
        ]
        if not units:
            return Draft(text=NOT_FOUND, citations=(), abstained=True, reason="empty chunks")
        scores = self._score(question, units, relevance, best)
        chosen = self._choose(units, scores)
        return self._compose(chosen, hits)

    def _score(
        self, question: str, units: list[_Unit], relevance: list[float], best: float
    ) -> list[float]:
        query = set(content_terms(question))
        unit_terms = [set(content_terms(u.text)) for u in units]
        df = {t: sum(1 for terms in unit_terms if t in terms) for t in query}
        weight = {t: math.log(1 + (len(units) + 1) / (1 + df[t])) for t in query}
        total = sum(weight.values()) or 1.0
        scores = []
        for unit, terms in zip(units, unit_terms, strict=True):
            coverage = sum(weight[t] for t in query & terms) / total
            score = coverage + 0.5 * (relevance[unit.hit] - best) + (0.08 if unit.first else 0.0)
            words = len(unit.text.split())
            if words < 4 and not unit.code:
                score -= 0.3  # fragments ("See also.") read badly on their own
            if unit.code and words > 80:
                score -= 0.15
            scores.append(score)
        return scores

    def _choose(self, units: list[_Unit], scores: list[float]) -> list[_Unit]:
        ranked = sorted(range(len(units)), key=lambda i: -scores[i])
        top = scores[ranked[0]]
        chosen = [ranked[0]]
        sources = {units[ranked[0]].hit}
        for i in ranked[1:]:
            if len(chosen) >= self.settings.max_sentences or scores[i] < 0.6 * top:
                break
            if units[i].hit not in sources and len(sources) >= self.settings.max_sources:
                continue
            if any(_similar(units[i].text, units[j].text) for j in chosen):
                continue  # the same sentence from another page says nothing new
            chosen.append(i)
            sources.add(units[i].hit)
        # An introducing sentence ending in ":" brings the code block that follows it.
        for i in list(chosen):
            nxt = i + 1
            if (
                units[i].text.rstrip().endswith(":")
                and nxt < len(units)
                and units[nxt].hit == units[i].hit
                and units[nxt].code
                and nxt not in chosen
            ):
                chosen.append(nxt)
        return [units[i] for i in sorted(chosen, key=lambda i: (units[i].hit, units[i].start))]

    def _compose(self, chosen: list[_Unit], hits: list[Hit]) -> Draft:
        numbers: dict[int, int] = {}
        quotes: dict[int, list[str]] = {}
        parts: list[str] = []
        for unit in chosen:
            n = numbers.setdefault(unit.hit, len(numbers) + 1)
            quotes.setdefault(unit.hit, []).append(unit.text)
            if unit.code:
                parts.append(f"\n```\n{unit.text}\n```\n[{n}]\n")
            else:
                parts.append(f"{unit.text} [{n}]")
        text = re.sub(r"\n{3,}", "\n\n", " ".join(parts).replace(" \n", "\n")).strip()
        citations = tuple(
            Citation(
                n=n,
                chunk_id=hits[i].chunk.id,
                source=hits[i].chunk.source,
                uri=hits[i].chunk.anchored_uri,
                section=hits[i].chunk.section_path,
                quote=" … ".join(quotes[i]),
            )
            for i, n in numbers.items()
        )
        return Draft(text=text, citations=citations, abstained=False, reason="extractive")
