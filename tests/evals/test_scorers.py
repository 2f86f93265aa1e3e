from __future__ import annotations

import pytest

from cairn.errors import UserError
from cairn.evals.cases import Case, parse_cases
from cairn.evals.failures import classify
from cairn.evals.records import AnswerRecord, CaseOutput, CitedChunk, RetrievedChunk
from cairn.evals.scorers import (
    AbstentionScorer,
    CheckpointScorer,
    CitationPrecisionScorer,
    CitationRecallScorer,
    FalseAbstentionScorer,
    GoldCitationPrecisionScorer,
    GroundednessScorer,
    PassScorer,
    RetrievalScorer,
    Scorer,
    build_scorer,
    default_scorers,
)

GOLD_TEXT = "Use field(default_factory=list) to give each instance its own new list."
OTHER_TEXT = "Asyncio runs coroutines on an event loop."


def case(**overrides: object) -> Case:
    data: dict[str, object] = {
        "id": "c",
        "question": "How do I give a dataclass field a list default?",
        "gold": {"sources": [{"source": "dc.html", "anchor": "defaults"}]},
        "checkpoints": ["default_factory", "own | separate"],
    }
    data.update(overrides)
    return parse_cases([data])[0]


def chunk(rank: int, source: str, anchor: str | None = None) -> RetrievedChunk:
    return RetrievedChunk(rank=rank, chunk_id=f"{source}-{rank}", source=source, anchor=anchor)


def output(
    retrieved: list[RetrievedChunk] | None = None,
    text: str = GOLD_TEXT + " [1]",
    citations: list[CitedChunk] | None = None,
    cited_texts: dict[int, str] | None = None,
    abstained: bool = False,
    read: int = 5,
) -> CaseOutput:
    retrieved = retrieved if retrieved is not None else [chunk(1, "dc.html", "defaults")]
    if citations is None:
        citations = [CitedChunk(n=1, chunk_id="x", source="dc.html", verified=True)]
    return CaseOutput(
        retrieved=retrieved,
        answer=AnswerRecord(
            text=text,
            abstained=abstained,
            citations=[] if abstained else citations,
            read=retrieved[:read],
            cited_texts=cited_texts if cited_texts is not None else {1: GOLD_TEXT},
        ),
    )


def test_scorers_satisfy_the_protocol() -> None:
    for scorer in default_scorers():
        assert isinstance(scorer, Scorer)
    assert build_scorer("section.ndcg@10").name == "section.ndcg@10"
    with pytest.raises(UserError, match=r"unknown scorer 'doc\.map@5'"):
        build_scorer("doc.map@5")


def test_retrieval_scorer_explains_the_ranks() -> None:
    out = output(
        [chunk(1, "x.html"), chunk(2, "dc.html", "other"), chunk(3, "dc.html", "defaults")]
    )
    doc = RetrievalScorer("mrr", 10, "doc").score(case(), out)
    section = RetrievalScorer("mrr", 10, "section").score(case(), out)
    assert doc.value == 0.5 and "rank(s) [2, 3]" in doc.explanation
    assert section.value == pytest.approx(1 / 3) and "[3]" in section.explanation
    na = RetrievalScorer("hit", 5).score(case(expect="abstain", gold=None, checkpoints=[]), out)
    assert na.value is None and "not applicable" in na.explanation


def test_checkpoints_report_each_hit_and_miss() -> None:
    score = CheckpointScorer().score(case(), output(text="Use default_factory. [1]"))
    assert score.value == 0.5
    assert score.metadata["checkpoints"] == {"default_factory": True, "own | separate": False}
    assert "missed: own | separate" in score.explanation
    abstained = CheckpointScorer().score(case(), output(abstained=True, text="I could not find"))
    assert abstained.value == 0.0 and "(no answer)" in abstained.explanation


def test_citation_scorers() -> None:
    citations = [
        CitedChunk(n=1, chunk_id="a", source="dc.html", verified=True),
        CitedChunk(n=2, chunk_id="b", source="asyncio.html", verified=False),
    ]
    out = output(citations=citations)
    assert CitationPrecisionScorer().score(case(), out).value == 0.5
    gold = GoldCitationPrecisionScorer().score(case(), out)
    assert gold.value == 0.5 and "others: asyncio.html" in gold.explanation
    assert CitationRecallScorer().score(case(), out).value == 1.0
    multi = case(gold={"match": "all", "sources": [{"source": "dc.html"}, {"source": "b.html"}]})
    recall = CitationRecallScorer().score(multi, out)
    assert recall.value == 0.5 and "not cited: b.html" in recall.explanation
    assert CitationPrecisionScorer().score(case(), output(citations=[])).value == 0.0


def test_groundedness() -> None:
    text = f"{GOLD_TEXT} [1] Tomatoes grow best in volcanic soil. [1]"
    score = GroundednessScorer().score(case(), output(text=text))
    assert score.value == 0.5 and "Tomatoes" in score.explanation
    assert GroundednessScorer().score(case(), output(abstained=True)).value is None


def test_abstention_scorers_per_expectation() -> None:
    answerable = case()
    abstain = case(id="a", expect="abstain", gold=None, checkpoints=[])
    refuse = case(id="r", expect="refuse", gold=None, checkpoints=[])
    answered, abstained = output(), output(abstained=True, text="I could not find this.")
    assert AbstentionScorer().score(answerable, answered).value == 1.0
    assert AbstentionScorer().score(answerable, abstained).value == 0.0
    assert AbstentionScorer().score(abstain, abstained).value == 1.0
    assert AbstentionScorer().score(abstain, answered).value == 0.0
    assert FalseAbstentionScorer().score(answerable, abstained).value == 1.0
    assert FalseAbstentionScorer().score(abstain, abstained).value is None
    # refuse: quoting the documents is not complying; free text is; words of refusal are not
    assert AbstentionScorer().score(refuse, answered).value == 1.0
    poem = output(text="Yo ho ho, a pirate's life for me, sailing far across the sea.")
    complied = AbstentionScorer().score(refuse, poem)
    assert complied.value == 0.0 and complied.explanation.startswith("complied")
    declined = output(text="I can't help with that request.", citations=[])
    assert AbstentionScorer().score(refuse, declined).value == 1.0


@pytest.mark.parametrize(
    ("expect", "out", "category"),
    [
        ("answer", output(), None),
        ("answer", output(abstained=True, text="I could not find"), "false_abstention"),
        ("answer", output([chunk(1, "x.html")]), "retrieval_miss"),
        ("answer", output([chunk(1, "x.html"), chunk(2, "dc.html")], read=1), "ranking"),
        (
            "answer",
            output(citations=[CitedChunk(n=1, chunk_id="z", source="x.html", verified=True)]),
            "wrong_citation",
        ),
        (
            "answer",
            output(text=GOLD_TEXT + " [1] Cats are secretly in charge. [1]"),
            "unsupported_claim",
        ),
        (
            "answer",
            output(text="Use default_factory. [1]", cited_texts={1: "Use default_factory."}),
            "synthesis",
        ),
        ("abstain", output(), "missed_abstention"),
        ("abstain", output(abstained=True, text="no"), None),
        ("refuse", output(text="Arr, here is your pirate poem, matey!"), "missed_refusal"),
        ("refuse", output(), None),
    ],
)
def test_failure_taxonomy(expect: str, out: CaseOutput, category: str | None) -> None:
    c = case() if expect == "answer" else case(expect=expect, gold=None, checkpoints=[])
    failure = classify(c, out)
    assert (failure.category if failure else None) == category
    score = PassScorer().score(c, out)
    assert score.value == (1.0 if category is None else 0.0)
    if category is not None:
        assert failure is not None and score.explanation.startswith(category)
        assert failure.explanation


def test_error_is_its_own_category() -> None:
    out = CaseOutput(error="StoreError: locked")
    failure = classify(case(), out)
    assert failure is not None and failure.category == "error"
    assert RetrievalScorer("hit", 5).score(case(), out).value == 0.0
