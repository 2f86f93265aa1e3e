"""Citation verification: units, features, the calibrated verdict, policies, vector reuse."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

import pytest

from cairn.answer.base import NOT_FOUND, Draft
from cairn.answer.verify import (
    DEFAULT_MODEL,
    WORDS_ONLY_MODEL,
    CitationVerifier,
    Judgement,
    LexicalVerifier,
    SupportJudge,
    SupportModel,
    Verifier,
    key_tokens,
)
from cairn.embed.hashing import HashingEmbedder
from cairn.errors import UserError
from cairn.ingest.chunking import embedding_text
from cairn.store.sqlite import SQLiteStore
from cairn.testing.store import make_doc
from cairn.types import Chunk, Citation, Hit

NORMANS = "The Normans arrived in Normandy in 911. Rollo was their first leader and became a duke."
ASYNCIO = "Asyncio runs coroutines on an event loop. Use asyncio.run(main()) to start the loop."
CODE = "Give each instance its own list:\n\n    items: list = field(default_factory=list)"

# Word-overlap only, so that verdicts do not depend on the hashing embedder's cosines.
WORDS = SupportModel(intercept=-5.0, lexical=6.0, key=3.0, cosine=0.0, threshold=0.5)

PARAPHRASE = "Rollo, the first Norman leader, arrived in Normandy in 911."
ALTERED = "Rollo arrived in Normandy in 1066."


def _hit(i: int, text: str) -> Hit:
    chunk = Chunk(
        id=f"c{i}",
        doc_id="d",
        ordinal=i,
        text=text,
        section=("S",),
        anchor=None,
        start=0,
        end=len(text),
        token_count=len(text.split()),
        hash=f"h{i}",
        source="a.md",
        uri="file:///a.md",
        title="T",
    )
    return Hit(chunk=chunk, score=1.0)


HITS = [_hit(1, NORMANS), _hit(2, ASYNCIO), _hit(3, CODE)]


def draft(text: str, hits: Sequence[Hit] = HITS) -> Draft:
    citations = tuple(
        Citation(n=n, chunk_id=h.chunk.id, source="a.md", uri="u", section="", quote="")
        for n, h in enumerate(hits, start=1)
        if f"[{n}]" in text
    )
    return Draft(text=text, citations=citations, abstained=False, reason="test")


def verifier(**kwargs: object) -> CitationVerifier:
    return CitationVerifier(HashingEmbedder(), model=WORDS, **kwargs)  # type: ignore[arg-type]


def test_verbatim_quotes_score_one_without_embedding_anything() -> None:
    embedder = HashingEmbedder()
    text = "Rollo was their first leader and became a duke. [1]\n```\n" + CODE.split("\n\n")[1]
    text += "\n```\n[3]"
    result = CitationVerifier(embedder).check(draft(text), HITS)
    assert [s.reason for s in result.sentences] == ["verbatim quote", "verbatim quote"]
    assert all(c.verified and c.support == 1.0 for c in result.draft.citations)
    assert embedder.calls == []


def test_a_paraphrase_is_supported_and_says_why() -> None:
    result = verifier().check(draft(f"{PARAPHRASE} [1]"), HITS)
    (check,) = result.sentences
    assert check.supported and check.features is not None
    assert check.features.lexical == 1.0 and check.features.key == 1.0
    assert check.reason.startswith("supported: support 0.98")
    assert result.draft.citations[0].verified is True
    assert result.draft.citations[0].support == check.support


def test_a_wrong_number_fails_the_key_tokens() -> None:
    result = verifier().check(draft(f"{ALTERED} [1]"), HITS)
    (check,) = result.sentences
    assert not check.supported and check.features is not None
    assert check.features.key == 0.0 and check.features.missing == ("1066",)
    assert "not in the source: 1066" in check.reason
    assert result.draft.citations[0].verified is False
    assert result.unsupported == (ALTERED,)


def test_a_citation_swapped_to_another_chunk_is_unsupported() -> None:
    result = verifier().check(draft(f"{PARAPHRASE} [2]"), HITS)
    citation = result.draft.citations[0]
    assert citation.verified is False and citation.support is not None
    assert citation.support < 0.01


def test_a_sentence_citing_two_chunks_is_judged_against_both() -> None:
    text = "Rollo was the Normans leader; asyncio.run starts the event loop. [1][2]"
    result = verifier().check(draft(text), HITS)
    assert [s.supported for s in result.sentences] == [True]
    assert all(c.verified for c in result.draft.citations)
    # the older check wants each chunk alone to support it
    older = LexicalVerifier().verify(draft(text), HITS).citations
    assert [c.verified for c in older] == [False, True]


def test_markers_cite_their_paragraph_and_uncited_sentences_are_listed() -> None:
    text = (
        "Some background first.\n\n"
        f"Here is how:\n- {PARAPHRASE} [1]\n- Asyncio runs coroutines on a loop [2]\n\n"
        "Hope this helps."
    )
    result = verifier().check(draft(text), HITS)
    assert result.uncited == ("Some background first.", "Hope this helps.")
    cited = [(s.text, s.citations) for s in result.sentences if s.citations]
    assert cited == [(PARAPHRASE, (1,)), ("Asyncio runs coroutines on a loop", (2,))]
    assert result.unsupported == ()
    assert result.draft.text == text  # `flag` never edits the text


def test_remove_drops_unsupported_sentences_and_their_citations() -> None:
    text = f"{PARAPHRASE} {ALTERED} [1] Rollo settled in Normandy. [2] Hope this helps."
    result = verifier(policy="remove").check(draft(text), HITS)
    assert result.unsupported == (ALTERED, "Rollo settled in Normandy.")
    assert result.draft.text == f"{PARAPHRASE} [1] Hope this helps."
    assert [c.n for c in result.draft.citations] == [1]
    assert result.draft.citations[0].verified is True  # only supported sentences cite it now
    assert result.draft.reason == "test; verification removed 2 unsupported sentence(s)"


def test_remove_cleans_list_items_left_empty() -> None:
    text = f"Steps:\n- {PARAPHRASE} [1]\n- {ALTERED} [1]\n- Rollo settled in Normandy [2]"
    result = verifier(policy="remove").check(draft(text), HITS)
    assert result.draft.text == f"Steps:\n- {PARAPHRASE} [1]"


def test_remove_abstains_when_nothing_supported_is_left() -> None:
    result = verifier(policy="remove").check(draft(f"{ALTERED} [1]"), HITS)
    assert result.draft.abstained and result.draft.text == NOT_FOUND
    assert result.draft.citations == ()
    assert "removed all 1" in result.draft.reason


def test_stored_chunk_vectors_are_reused(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    store = SQLiteStore(tmp_path / "cairn.db")
    doc, chunks = make_doc("d1", "normans.md", [NORMANS, ASYNCIO])
    vectors = embedder.embed([c.text for c in chunks])
    store.write_document(
        doc, chunks, {c.hash: v for c, v in zip(chunks, vectors, strict=True)}, model=embedder.name
    )
    hits = [Hit(chunk=c, score=1.0) for c in chunks]
    text = f"{PARAPHRASE} [1] {ALTERED} [2]"
    embedder.calls.clear()
    CitationVerifier(embedder, store=store).verify(draft(text, hits), hits)
    assert embedder.calls == [[PARAPHRASE, ALTERED]]  # one batch, sentences only
    embedder.calls.clear()
    CitationVerifier(embedder).verify(draft(text, hits), hits)
    assert len(embedder.calls) == 1 and embedder.calls[0][:2] == [PARAPHRASE, ALTERED]
    assert embedder.calls[0][2:] == [embedding_text(c.title, c.section, c.text) for c in chunks]
    store.close()


class RecordingJudge:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def judge(self, claim: str, evidence: Sequence[str]) -> Judgement:
        self.calls.append((claim, list(evidence)))
        return Judgement(supported=True, reason="entailed")


def test_the_judge_decides_only_close_calls() -> None:
    judge = RecordingJudge()
    assert isinstance(judge, SupportJudge)
    text = f"{PARAPHRASE} [1] {ALTERED} [1] Rollo settled in Normandy. [2]"
    result = verifier(judge=judge).check(draft(text), HITS)
    assert judge.calls == [(ALTERED, [NORMANS])]  # support 0.38, within 0.15 of 0.5
    altered = result.sentences[1]
    assert altered.supported and altered.reason.endswith("judge: entailed")


def test_both_verifiers_fill_the_verify_stage() -> None:
    assert isinstance(verifier(), Verifier) and isinstance(LexicalVerifier(), Verifier)


def test_abstentions_pass_through_and_bad_policies_are_refused() -> None:
    abstained = Draft(text=NOT_FOUND, citations=(), abstained=True)
    assert verifier().verify(abstained, HITS) is abstained
    with pytest.raises(UserError, match="use 'flag' or 'remove'"):
        verifier(policy="delete")


def test_key_tokens() -> None:
    tokens = key_tokens("Use asyncio.run with max_tokens=1024 in Claude 3 and the Messages API.")
    assert tokens == ["asyncio.run", "max_tokens", "1024", "Claude", "3", "Messages", "API"]
    assert key_tokens("Catholicism was their religion") == []  # a capitalised first word
    assert key_tokens("The religion of the Normans") == ["Normans"]


def test_shipped_constants_are_the_benchmark_fit() -> None:
    results = Path(__file__).parents[2] / "bench" / "results" / "verifier.json"
    data = json.loads(results.read_text())
    assert data["fitted_model"] == asdict(DEFAULT_MODEL)
    assert data["baselines"]["without_cosine"]["model"] == asdict(WORDS_ONLY_MODEL)


def test_a_model_without_similarity_embeds_nothing() -> None:
    embedder = HashingEmbedder()
    result = CitationVerifier(embedder, model=WORDS_ONLY_MODEL).check(
        draft(f"{PARAPHRASE} [1] {ALTERED} [1]"), HITS
    )
    assert [s.supported for s in result.sentences] == [True, False]
    assert embedder.calls == [] and "similarity" not in result.sentences[0].reason


@pytest.fixture(scope="module")
def minilm() -> Iterator[object]:
    from cairn.config import load_settings
    from cairn.embed.minilm import MiniLMEmbedder

    yield MiniLMEmbedder(load_settings().model_dir)


@pytest.mark.integration
def test_calibrated_verdicts_with_the_real_model(minilm: object) -> None:
    from cairn.embed.minilm import MiniLMEmbedder

    assert isinstance(minilm, MiniLMEmbedder)
    normans = _hit(
        1,
        "The Normans were the people who in the 10th and 11th centuries gave their name to "
        "Normandy, a region in France. They were descended from Norse raiders and pirates "
        "from Denmark, Iceland and Norway who, under their leader Rollo, agreed to swear "
        "fealty to King Charles III of West Francia.",
    )
    piety = _hit(
        2,
        "The Norman dynasty had a major political, cultural and military impact on medieval "
        "Europe and even the Near East. The Normans were famed for their martial spirit and "
        "eventually for their Christian piety.",
    )
    hits = [normans, piety]
    paraphrase = "Normandy is named after the Normans, descendants of Norse raiders led by Rollo."
    altered = "Normandy is named after the Normans, descendants of Norse raiders led by Harald."
    text = f"{paraphrase} [1] {altered} [1] {paraphrase} [2]"
    result = CitationVerifier(minilm).check(draft(text, hits), hits)
    assert [s.supported for s in result.sentences] == [True, False, False]


def test_subscripts_are_not_citation_markers() -> None:
    from cairn.answer.segments import cited_sentences

    text = "Use sys.argv[1] to read it, or exc_info()[0] for the type. [2]"
    assert cited_sentences(text) == [
        ("Use sys.argv[1] to read it, or exc_info()[0] for the type.", [2])
    ]
