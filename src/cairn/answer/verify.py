"""Citation verification: is each `[n]`-marked sentence supported by the chunk it cites?

Support is the share of the sentence's stemmed content words found in the cited chunk
(a verbatim quote scores 1.0). Embedding and NLI checks for generated answers plug in here.
"""

from __future__ import annotations

import re
from dataclasses import replace

from cairn.answer.base import Draft
from cairn.answer.terms import content_terms
from cairn.types import Hit

_MARKER = re.compile(r"\[(\d+)\]")


def cited_sentences(text: str) -> list[tuple[str, list[int]]]:
    """Each answer segment that ends in one or more `[n]` markers, with its numbers."""
    out: list[tuple[str, list[int]]] = []
    last = 0
    for match in re.finditer(r"((?:\s*\[\d+\])+)", text):
        segment = text[last : match.start()].strip().strip("`").strip()
        numbers = [int(n) for n in _MARKER.findall(match.group(1))]
        if segment:
            out.append((segment, numbers))
        last = match.end()
    return out


class LexicalVerifier:
    """Marks each citation verified when every sentence citing it is supported."""

    def __init__(self, threshold: float = 0.6) -> None:
        self.threshold = threshold

    def verify(self, draft: Draft, hits: list[Hit]) -> Draft:
        if draft.abstained or not draft.citations:
            return draft
        texts = {h.chunk.id: h.chunk.text for h in hits}
        support: dict[int, float] = {}
        for sentence, numbers in cited_sentences(draft.text):
            terms = set(content_terms(sentence))
            for n in numbers:
                citation = next((c for c in draft.citations if c.n == n), None)
                if citation is None:
                    continue
                source = texts.get(citation.chunk_id, "")
                if sentence in source:
                    score = 1.0
                else:
                    chunk_terms = set(content_terms(source))
                    score = len(terms & chunk_terms) / len(terms) if terms else 0.0
                support[n] = min(support.get(n, 1.0), score)
        citations = tuple(
            replace(
                c,
                support=round(support.get(c.n, 0.0), 3),
                verified=support.get(c.n, 0.0) >= self.threshold,
            )
            for c in draft.citations
        )
        return replace(draft, citations=citations)
