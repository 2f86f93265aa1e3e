"""Post-hoc attribution through the real pipeline: the workspace's retriever, assembler,
attributor and verifier over three real Python docs pages with the real embedding model,
and scripted models that cite the ways real ones do (`cairn.llm.adversarial.miscited`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.answer.attribute import KeepCitations, PostHocAttributor
from cairn.answer.generative import GenerativeAnswerer
from cairn.answer.segments import answer_units
from cairn.answer.verify import CitationVerifier, is_claim
from cairn.cli import app
from cairn.config import Settings
from cairn.llm.adversarial import CitationStyle, miscited, paraphrase
from cairn.llm.replies import Request, Rule, rag_reply
from cairn.llm.scripted import ScriptedModel
from cairn.pipeline import Pipeline
from cairn.types import Answer, Hit
from cairn.workspace import Workspace

pytestmark = pytest.mark.integration

QUESTIONS = (
    "How do I make a dataclass immutable?",
    "How do I serialize an object to a JSON formatted string?",
    "How do I remove an item from a list by its index?",
)
MARKER = re.compile(r"\s*\[\d+\]")


@pytest.fixture(scope="module")
def ws(docs_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("ws-attribute")
    result = CliRunner().invoke(app, ["ingest", str(docs_corpus), "--workspace", str(root)])
    assert result.exit_code == 0, result.output
    return Workspace(Settings(workspace=root))


def pipeline(ws: Workspace, model: ScriptedModel, *, attribute: bool = True) -> Pipeline:
    """The workspace's model pipeline (its assembler and attributor), with `model`."""
    verifier = CitationVerifier(ws.embedder, store=ws.store)
    assembler, attributor = ws.model_stages(True, verifier)
    return Pipeline(
        ws.retriever(),
        GenerativeAnswerer(model, require_citations=not attribute),
        verifier,
        assembler=assembler,
        attributor=attributor if attribute else KeepCitations(),
    )


def ask(ws: Workspace, rule: Rule | None, question: str, *, attribute: bool = True) -> Answer:
    model = ScriptedModel() if rule is None else ScriptedModel(default=rule)
    return pipeline(ws, model, attribute=attribute).ask(question)


def cited_chunks(answer: Answer) -> set[str]:
    return {c.chunk_id for c in answer.citations}


def units_of(answer: Answer) -> list[tuple[str, tuple[int, ...]]]:
    text = answer.text
    return [
        (text[u.start : u.end], u.numbers)
        for u in answer_units(text)
        if is_claim(text[u.start : u.end])
    ]


@pytest.mark.parametrize("question", QUESTIONS)
@pytest.mark.parametrize("style", ["none", "lumped", "out_of_range"])
def test_a_miscited_answer_is_kept_and_cited_like_the_honest_one(
    ws: Workspace, question: str, style: CitationStyle
) -> None:
    honest = ask(ws, None, question)
    assert not honest.abstained and honest.citations
    damaged = ask(ws, miscited(style), question)
    assert not damaged.abstained, damaged.text
    assert damaged.citations and all(c.verified for c in damaged.citations)
    assert cited_chunks(damaged) == cited_chunks(honest)
    assert MARKER.sub("", damaged.text) == MARKER.sub("", honest.text)
    assert all(numbers for _, numbers in units_of(damaged))  # every sentence its own marker


@pytest.mark.parametrize("style", ["none", "out_of_range"])
def test_without_attribution_the_same_answers_were_thrown_away(
    ws: Workspace, style: CitationStyle
) -> None:
    before = ask(ws, miscited(style), QUESTIONS[0], attribute=False)
    assert before.abstained  # what the attribute stage fixes


def test_an_answer_in_other_words_is_kept_and_cited(ws: Workspace) -> None:
    for question in QUESTIONS:
        honest = ask(ws, None, question)
        answer = ask(ws, miscited("paraphrase"), question)
        assert not answer.abstained, answer.text
        assert answer.text.startswith("In short,") and "[" in answer.text
        assert all(c.verified for c in answer.citations)
        assert cited_chunks(answer) == cited_chunks(honest)


def test_the_copied_prompt_example_is_withheld_with_the_reason(ws: Workspace) -> None:
    answer = ask(ws, miscited("prompt_example"), QUESTIONS[0])
    assert answer.abstained and not answer.citations
    model = ScriptedModel(default=miscited("prompt_example"))
    draft = GenerativeAnswerer(model, require_citations=False).answer(QUESTIONS[0], [])
    assert draft.abstained  # no hits: never asked
    hits = ws.retriever().retrieve(QUESTIONS[0], 5)
    written = GenerativeAnswerer(model, require_citations=False).answer(QUESTIONS[0], hits)
    withheld = PostHocAttributor(CitationVerifier(ws.embedder, store=ws.store)).attribute(
        written, hits
    )
    assert withheld.abstained and withheld.reason.startswith("withheld: none of the answer's")
    assert "A fact stated in passage two." in withheld.reason  # the prompt's own example


def test_the_copied_prompt_example_is_refused_by_the_output_guard_when_on(
    ws: Workspace,
) -> None:
    _, output_guard = ws.guards()
    p = pipeline(ws, ScriptedModel(default=miscited("prompt_example")))
    p.output_guard = output_guard
    answer = p.ask(QUESTIONS[0])
    assert answer.abstained and answer.guard.output == "blocked"


def invented(request: Request) -> str:
    """The honest answer without markers, and a claim no passage makes."""
    honest = rag_reply(request)
    assert honest is not None
    return MARKER.sub("", honest.text) + " It was added to Python by Ada Lovelace in 1843."


def test_a_sentence_no_passage_supports_is_left_uncited_and_flagged(ws: Workspace) -> None:
    model = ScriptedModel(default=invented)
    p = pipeline(ws, model)
    answer = p.ask(QUESTIONS[0])
    assert not answer.abstained and answer.citations
    units = units_of(answer)
    made_up = [numbers for text, numbers in units if "Lovelace" in text]
    assert made_up == [()]  # uncited: the verifier reports it as such
    assert all(numbers for text, numbers in units if "Lovelace" not in text)
    assert all(c.verified for c in answer.citations)
    check = CitationVerifier(ws.embedder, store=ws.store).check
    draft = GenerativeAnswerer(model, require_citations=False).draft(
        answer.text, list(p.assembler.assemble(QUESTIONS[0], list(answer.hits)))
    )
    assert any("Lovelace" in s for s in check(draft, list(answer.hits)).uncited)


def unsupported_only(request: Request) -> str:
    return "The answer is forty-two, as Douglas Adams wrote in 1979."


def test_an_answer_no_passage_supports_is_withheld_under_the_policy(ws: Workspace) -> None:
    answer = ask(ws, unsupported_only, QUESTIONS[0])
    assert answer.abstained and not answer.citations
    kept = pipeline(ws, ScriptedModel(default=unsupported_only))
    kept.attributor = PostHocAttributor(
        CitationVerifier(ws.embedder, store=ws.store), withhold=False
    )
    flagged = kept.ask(QUESTIONS[0])
    assert not flagged.abstained and "Douglas Adams" in flagged.text
    assert not flagged.citations  # shown, cited by nothing


def test_streaming_ends_with_the_attributed_answer(ws: Workspace) -> None:
    p = pipeline(ws, ScriptedModel(default=miscited("none")))
    events = list(p.ask_stream(QUESTIONS[0]))
    final = events[-1].answer  # type: ignore[attr-defined]
    assert not final.abstained and final.citations
    assert final.text == ask(ws, None, QUESTIONS[0]).text


def test_support_by_each_passage_agrees_with_the_verifiers_verdicts(ws: Workspace) -> None:
    """`supports` embeds only pairs that could reach the threshold; its verdicts are the
    verifier's own, pair by pair."""
    hits = ws.retriever().retrieve(QUESTIONS[0], 5)
    honest = MARKER.split(rag_reply_text(ScriptedModel(), hits))
    claims = [
        paraphrase(honest[0]),
        "It was added to Python by Ada Lovelace in 1843.",
        honest[0].strip(),
    ]
    verifier = CitationVerifier(ws.embedder, store=ws.store)
    rows = verifier.supports(claims, [h.chunk for h in hits])
    threshold = verifier.model.threshold
    fresh = CitationVerifier(ws.embedder, store=ws.store)
    for claim, row in zip(claims, rows, strict=True):
        for j, hit in enumerate(hits):
            answerer = GenerativeAnswerer(ScriptedModel())
            draft = answerer.draft(f"{claim} [1]", [hit])
            checks = fresh.check(draft, [hit]).sentences
            assert all(c.supported == (row[j] >= threshold) for c in checks), (claim, j, row)
    assert max(rows[2]) == 1.0  # a verbatim quote
    assert max(rows[1]) < threshold


def rag_reply_text(model: ScriptedModel, hits: list[Hit]) -> str:
    return model.generate(GenerativeAnswerer(model).messages(QUESTIONS[0], hits)).text


def test_a_stream_that_may_be_withheld_is_checked_whole_before_it_is_sent(
    ws: Workspace,
) -> None:
    from cairn.answer.events import TokenEvent

    p = pipeline(ws, ScriptedModel(default=miscited("prompt_example")))  # no output guard
    events = list(p.ask_stream(QUESTIONS[0]))
    final = events[-1].answer  # type: ignore[attr-defined]
    assert final.abstained  # withheld as unsupported
    sent = "".join(e.text for e in events if isinstance(e, TokenEvent))
    assert "passage two" not in sent  # the copied example was never streamed
