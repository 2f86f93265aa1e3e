"""Fusing ranked lists from several retrievers.

Convex combination (the default) min-max normalises each list's scores and mixes them with
weight `alpha` on the dense side; a chunk missing from one list takes that list's minimum.
Reciprocal rank fusion ignores scores and sums 1 / (rrf_k + rank). Which one wins, and the
alpha used, were chosen by measurement on training splits (docs/benchmarks.md).

Both work on ids and scores alone (`Ranked`), so only the fused top `k` chunks are ever
fetched from the store.
"""

from __future__ import annotations

from collections.abc import Sequence

from cairn.types import Ranked


def _normalised(ranking: Sequence[Ranked]) -> dict[str, float]:
    if not ranking:
        return {}
    scores = [r.score for r in ranking]
    low, high = min(scores), max(scores)
    span = high - low
    return {r.chunk_id: (r.score - low) / span if span > 0 else 1.0 for r in ranking}


def convex(
    lexical: Sequence[Ranked], dense: Sequence[Ranked], alpha: float, k: int
) -> list[Ranked]:
    lex = _normalised(lexical)
    den = _normalised(dense)
    lex_raw = {r.chunk_id: r.score for r in lexical}
    den_raw = {r.chunk_id: r.score for r in dense}
    ids = dict.fromkeys([*(r.chunk_id for r in dense), *(r.chunk_id for r in lexical)])
    fused = [
        Ranked(
            chunk_id,
            alpha * den.get(chunk_id, 0.0) + (1 - alpha) * lex.get(chunk_id, 0.0),
            lexical=lex_raw.get(chunk_id),
            dense=den_raw.get(chunk_id),
        )
        for chunk_id in ids
    ]
    fused.sort(key=lambda r: (-r.score, r.chunk_id))
    return fused[:k]


def rrf(lexical: Sequence[Ranked], dense: Sequence[Ranked], rrf_k: int, k: int) -> list[Ranked]:
    scores: dict[str, float] = {}
    for ranked in (lexical, dense):
        for rank, item in enumerate(ranked, start=1):
            scores[item.chunk_id] = scores.get(item.chunk_id, 0.0) + 1.0 / (rrf_k + rank)
    lex_raw = {r.chunk_id: r.score for r in lexical}
    den_raw = {r.chunk_id: r.score for r in dense}
    fused = [Ranked(c, s, lexical=lex_raw.get(c), dense=den_raw.get(c)) for c, s in scores.items()]
    fused.sort(key=lambda r: (-r.score, r.chunk_id))
    return fused[:k]
