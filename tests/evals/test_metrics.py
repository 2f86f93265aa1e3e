"""Every metric against values computed by hand."""

from __future__ import annotations

import math

import pytest

from cairn.evals.cases import GoldSource
from cairn.evals.metrics import (
    ANY,
    answer_sentences,
    checkpoint_hits,
    grounded_sentences,
    hit_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
    relevance_keys,
    sentence_support,
)

# ranks:     1     2     3    4     5
RANKED = ["x", "a", "x", None, "b"]
REL = {"a", "b", "c"}


def test_hit() -> None:
    assert hit_at_k(RANKED, REL, 1) == 0.0
    assert hit_at_k(RANKED, REL, 2) == 1.0
    assert hit_at_k([], REL, 5) == 0.0


def test_recall() -> None:
    assert recall_at_k(RANKED, REL, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKED, REL, 5) == pytest.approx(2 / 3)
    assert recall_at_k(["a", "a", "a"], REL, 3) == pytest.approx(1 / 3)  # repeats count once
    assert recall_at_k(RANKED, set(), 5) == 0.0


def test_precision_divides_by_k() -> None:
    assert precision_at_k(RANKED, REL, 5) == pytest.approx(2 / 5)
    assert precision_at_k(["a"], REL, 5) == pytest.approx(1 / 5)  # fewer than k retrieved
    assert precision_at_k(["a", "a"], REL, 2) == 1.0  # two chunks of one gold document


def test_reciprocal_rank() -> None:
    assert reciprocal_rank(RANKED, REL, 10) == 0.5
    assert reciprocal_rank(RANKED, REL, 1) == 0.0
    assert reciprocal_rank(["b"], REL, 10) == 1.0


def test_ndcg_by_hand() -> None:
    # gains at ranks 2 and 5; ideal: 3 relevant at ranks 1..3
    dcg = 1 / math.log2(3) + 1 / math.log2(6)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKED, REL, 5) == pytest.approx(dcg / idcg)
    # k=2 truncates both: one gain at rank 2, ideal two at ranks 1-2
    assert ndcg_at_k(RANKED, REL, 2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(["a", "b", "c"], REL, 3) == pytest.approx(1.0)
    assert ndcg_at_k(["a", "a", "a"], {"a"}, 3) == pytest.approx(1.0)  # no gain for repeats
    assert ndcg_at_k(["x"], set(), 3) == 0.0


def test_graded_ndcg() -> None:
    gains = {"a": 2.0, "b": 1.0}
    dcg = 1 / 1 + 2 / math.log2(3)
    idcg = 2 / 1 + 1 / math.log2(3)
    assert ndcg_at_k(["b", "a"], gains, 2) == pytest.approx(dcg / idcg)


GOLD = [GoldSource(source="lib/a.html", anchor="s1"), GoldSource(source="lib/b.html")]
RETRIEVED = [("lib/c.html", "s1"), ("lib/a.html", "s2"), ("lib/b.html", "x"), ("lib/a.html", "s1")]


def test_relevance_keys_by_document() -> None:
    keys, relevant = relevance_keys(RETRIEVED, GOLD, level="doc", match="all")
    assert keys == [None, "lib/a.html", "lib/b.html", "lib/a.html"]
    assert relevant == {"lib/a.html", "lib/b.html"}
    assert recall_at_k(keys, relevant, 2) == 0.5


def test_relevance_keys_by_section() -> None:
    keys, relevant = relevance_keys(RETRIEVED, GOLD, level="section", match="all")
    # a#s2 is the wrong section; b has no gold anchor so any of its sections counts
    assert keys == [None, None, "lib/b.html", "lib/a.html#s1"]
    assert relevant == {"lib/a.html#s1", "lib/b.html"}
    assert reciprocal_rank(keys, relevant, 10) == pytest.approx(1 / 3)


def test_match_any_collapses_alternatives() -> None:
    keys, relevant = relevance_keys(RETRIEVED, GOLD, level="doc", match="any")
    assert keys == [None, ANY, ANY, ANY] and relevant == {ANY}
    assert recall_at_k(keys, relevant, 2) == 1.0
    assert ndcg_at_k(keys, relevant, 10) == pytest.approx(1 / math.log2(3))


def test_checkpoint_hits_are_case_insensitive_with_alternatives() -> None:
    text = "Use field(default_factory=list); a plain list raises ValueError."
    assert checkpoint_hits(text, ["DEFAULT_FACTORY", "TypeError | valueerror", "slots"]) == [
        True,
        True,
        False,
    ]


def test_answer_sentences_split_cited_and_uncited_claims() -> None:
    text = "Lists are mutable [1]. Tuples are not [2] [1]. Also this is uncited. And this."
    assert answer_sentences(text) == [
        ("Lists are mutable", [1]),
        ("Tuples are not", [2, 1]),
        ("Also this is uncited.", []),
        ("And this.", []),
    ]
    code = "Use a factory: [1]\n```\nitems: list = field(default_factory=list)\n```\n[1]"
    assert answer_sentences(code) == [
        ("Use a factory:", [1]),
        ("items: list = field(default_factory=list)", [1]),
    ]


def test_grounded_sentences() -> None:
    chunk = "Lists are mutable sequences. Tuples are immutable sequences."
    text = "Lists are mutable sequences. [1] Tomatoes grow in volcanic soil. [1] Uncited claim."
    result = grounded_sentences(text, {1: chunk})
    assert [(s, ok) for s, _, ok in result] == [
        ("Lists are mutable sequences.", True),
        ("Tomatoes grow in volcanic soil.", False),
        ("Uncited claim.", False),
    ]
    assert sentence_support("Lists are mutable sequences.", chunk) == 1.0
    assert sentence_support("lists mutable", chunk) == 1.0  # every content word present


def test_subscripts_in_code_are_not_citation_markers() -> None:
    text = "It is sys.exc_info()[1].__traceback__ now. [3]\n```\nx = a_tuple[0]\n```\n[1]"
    assert answer_sentences(text, valid={1, 3}) == [
        ("It is sys.exc_info()[1].__traceback__ now.", [3]),
        ("x = a_tuple[0]", [1]),
    ]
    # a number that names no citation is text, not a marker
    assert answer_sentences("See item [7] here. [1]", valid={1}) == [("See item [7] here.", [1])]
