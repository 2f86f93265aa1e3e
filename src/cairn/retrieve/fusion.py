"""Fusing ranked lists from several retrievers.

Convex combination (the default) min-max normalises each list's scores and mixes them with
weight `alpha` on the dense side; a chunk missing from one list takes that list's minimum.
Reciprocal rank fusion ignores scores and sums 1 / (rrf_k + rank). Which one wins, and the
alpha used, were chosen by measurement on training splits (docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import replace

from cairn.types import Hit


def _normalised(hits: list[Hit]) -> dict[str, float]:
    if not hits:
        return {}
    scores = [h.score for h in hits]
    low, high = min(scores), max(scores)
    span = high - low
    return {h.chunk.id: (h.score - low) / span if span > 0 else 1.0 for h in hits}


def convex(lexical: list[Hit], dense: list[Hit], alpha: float, k: int) -> list[Hit]:
    lex = _normalised(lexical)
    den = _normalised(dense)
    by_id = {h.chunk.id: h for h in (*dense, *lexical)}
    lex_raw = {h.chunk.id: h.score for h in lexical}
    den_raw = {h.chunk.id: h.score for h in dense}
    fused: list[Hit] = []
    for chunk_id, hit in by_id.items():
        score = alpha * den.get(chunk_id, 0.0) + (1 - alpha) * lex.get(chunk_id, 0.0)
        fused.append(
            replace(hit, score=score, lexical=lex_raw.get(chunk_id), dense=den_raw.get(chunk_id))
        )
    fused.sort(key=lambda h: (-h.score, h.chunk.id))
    return fused[:k]


def rrf(lexical: list[Hit], dense: list[Hit], rrf_k: int, k: int) -> list[Hit]:
    scores: dict[str, float] = {}
    by_id: dict[str, Hit] = {}
    for ranked in (lexical, dense):
        for rank, hit in enumerate(ranked, start=1):
            scores[hit.chunk.id] = scores.get(hit.chunk.id, 0.0) + 1.0 / (rrf_k + rank)
            by_id.setdefault(hit.chunk.id, hit)
    lex_raw = {h.chunk.id: h.score for h in lexical}
    den_raw = {h.chunk.id: h.score for h in dense}
    fused = [
        replace(by_id[c], score=s, lexical=lex_raw.get(c), dense=den_raw.get(c))
        for c, s in scores.items()
    ]
    fused.sort(key=lambda h: (-h.score, h.chunk.id))
    return fused[:k]
