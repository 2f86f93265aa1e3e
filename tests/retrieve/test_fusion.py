from __future__ import annotations

import pytest

from cairn.retrieve.fusion import convex, rrf
from cairn.types import Ranked


def hit(cid: str, score: float) -> Ranked:
    return Ranked(cid, score)


LEX = [hit("a", 12.0), hit("b", 8.0), hit("c", 2.0)]
DEN = [hit("c", 0.9), hit("d", 0.7), hit("a", 0.5)]


def test_convex_alpha_extremes_reproduce_each_list() -> None:
    assert [h.chunk_id for h in convex(LEX, DEN, alpha=0.0, k=3)] == ["a", "b", "c"]
    assert [h.chunk_id for h in convex(LEX, DEN, alpha=1.0, k=3)] == ["c", "d", "a"]


def test_convex_mixes_normalised_scores() -> None:
    fused = {h.chunk_id: h for h in convex(LEX, DEN, alpha=0.5, k=4)}
    # a: lexical 1.0, dense (0.5-0.5)/0.4 = 0 -> 0.5 ; c: lexical 0, dense 1 -> 0.5
    assert fused["a"].score == pytest.approx(0.5)
    assert fused["c"].score == pytest.approx(0.5)
    assert fused["b"].score == pytest.approx(0.5 * 0.6)
    assert fused["d"].score == pytest.approx(0.5 * 0.5)
    assert fused["a"].lexical == 12.0 and fused["a"].dense == 0.5
    assert fused["b"].dense is None


def test_rrf_sums_reciprocal_ranks() -> None:
    fused = {h.chunk_id: h.score for h in rrf(LEX, DEN, rrf_k=60, k=4)}
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 63)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert fused["d"] == pytest.approx(1 / 62)


def test_fusion_of_empty_lists() -> None:
    assert convex([], [], 0.5, 5) == []
    assert rrf([], [], 60, 5) == []
    assert [h.chunk_id for h in convex(LEX, [], 0.5, 5)] == ["a", "b", "c"]
