"""Abstention on evidence for a model's answers (`cairn.answer.evidence`): after attribution,
the answerability model judges the passages the supported sentences cite. A fluent answer
over passages that do not hold the answer is withheld with the reason; a correct one is kept.
Scripted models through the pipeline, and the workspace's model pipeline against the fake
OpenAI-compatible server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.answer.attribute import KeepCitations
from cairn.answer.base import Draft
from cairn.answer.evidence import AnswerabilityCheck, KeepAnswer
from cairn.answer.generative import GenerativeAnswerer
from cairn.answer.prompt import parse_prompt
from cairn.answer.verify import CitationVerifier
from cairn.cli import app
from cairn.config import Settings
from cairn.llm.adversarial import miscited
from cairn.llm.fake_server import FakeLLMServer
from cairn.llm.replies import Request
from cairn.llm.scripted import ScriptedModel
from cairn.pipeline import Pipeline
from cairn.testing.answerstages import HITS
from cairn.types import Citation
from cairn.workspace import Workspace

pytestmark = pytest.mark.integration

ANSWERABLE = (
    "How do I make a dataclass immutable?",
    "How do I serialize an object to a JSON formatted string?",
    "How do I remove an item from a list by its index?",
)
UNANSWERABLE = (
    "What is the default timeout of urllib.request.urlopen?",
    "How do I open a SQLite database?",
    "Which port does the HTTP server listen on by default?",
)


@pytest.fixture(scope="module")
def ws(docs_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("ws-evidence")
    result = CliRunner().invoke(app, ["ingest", str(docs_corpus), "--workspace", str(root)])
    assert result.exit_code == 0, result.output
    return Workspace(Settings(workspace=root))


def fluent(request: Request) -> str:
    """A confident answer that restates the first passage, whatever the question: every
    sentence a passage supports, none of them an answer."""
    parsed = parse_prompt(request.last_user)
    assert parsed is not None
    passages, _ = parsed
    first = re.split(r"(?<=[.!?])\s+", " ".join(passages[1].split()))[0]
    return f"{first} [1]"


def pipeline(
    ws: Workspace, model: ScriptedModel, *, evidence: bool = True, scope: str = "given"
) -> Pipeline:
    """The workspace's model stages (assembler, attributor, evidence check) with `model`."""
    verifier = CitationVerifier(ws.embedder, store=ws.store)
    assembler, attributor = ws.model_stages(True, verifier)
    return Pipeline(
        ws.retriever(),
        GenerativeAnswerer(model, require_citations=False),
        verifier,
        assembler=assembler,
        attributor=attributor,
        evidence=evidence_check(ws, scope) if evidence else KeepAnswer(),
    )


def evidence_check(ws: Workspace, scope: str) -> AnswerabilityCheck:
    check = ws.evidence_check(True)
    assert isinstance(check, AnswerabilityCheck)
    return AnswerabilityCheck(check.answerability, check.threshold, scope=scope)


@pytest.mark.parametrize("scope", ["given", "cited"])
@pytest.mark.parametrize("question", UNANSWERABLE)
def test_a_fluent_answer_over_passages_without_the_answer_is_withheld(
    ws: Workspace, question: str, scope: str
) -> None:
    before = pipeline(ws, ScriptedModel(default=fluent), evidence=False).ask(question)
    assert not before.abstained and before.citations  # attribution alone keeps it
    assert all(c.verified for c in before.citations)
    answer = pipeline(ws, ScriptedModel(default=fluent), scope=scope).ask(question)
    assert answer.abstained and not answer.citations
    assert "withheld: the evidence does not answer" in answer_reason(ws, question, scope)
    assert answer.text != before.text


def answer_reason(ws: Workspace, question: str, scope: str) -> str:
    """The withheld draft's reason, from the check run on the model's attributed draft."""
    p = pipeline(ws, ScriptedModel(default=fluent), evidence=False)
    hits = p.assembler.assemble(question, p.retriever.retrieve(question, 5))
    written = p.answerer.answer(question, hits)
    draft = p.attributor.attribute(written, hits)
    return evidence_check(ws, scope).check(question, draft, hits).reason


@pytest.mark.parametrize("scope", ["given", "cited"])
@pytest.mark.parametrize("question", ANSWERABLE)
@pytest.mark.parametrize("style", [None, "none", "paraphrase"])
def test_a_correct_answer_is_kept(
    ws: Workspace, question: str, style: str | None, scope: str
) -> None:
    model = ScriptedModel() if style is None else ScriptedModel(default=miscited(style))  # type: ignore[arg-type]
    answer = pipeline(ws, model, scope=scope).ask(question)
    assert not answer.abstained, answer.text
    assert answer.citations and all(c.verified for c in answer.citations)


def test_the_reason_is_on_the_trace_and_the_stream_withholds_it(ws: Workspace) -> None:
    p = pipeline(ws, ScriptedModel(default=fluent))
    events = list(p.ask_stream(UNANSWERABLE[0]))
    tokens = "".join(getattr(e, "text", "") for e in events if e.kind == "token")
    done = events[-1].answer  # type: ignore[attr-defined]
    assert done.abstained and tokens == done.text  # the withheld answer never streamed


def test_the_check_judges_the_given_or_the_cited_passages_and_reports_its_reason() -> None:
    seen: list[list[str]] = []

    def answerability(question: str, hits: object) -> float:
        seen.append([h.chunk.id for h in hits])  # type: ignore[attr-defined]
        return 0.2

    cite = Citation(n=1, chunk_id="c2", source="doc2.md", uri="u", section="Guide", quote="q")
    draft = Draft(text="The relay forwards records. [1]", citations=(cite,), abstained=False)
    check = AnswerabilityCheck(answerability, 0.37)
    withheld = check.check("How often does the relay run?", draft, list(HITS))
    assert seen == [[h.chunk.id for h in HITS]]  # every passage the model was given
    assert withheld.abstained and withheld.reason.startswith("withheld: the evidence does not")
    assert "given passages 0.20 < 0.37" in withheld.reason
    assert "The relay forwards records." in withheld.reason
    strict = AnswerabilityCheck(answerability, 0.37, scope="cited")
    assert strict.check("q", draft, list(HITS)).abstained and seen[-1] == ["c2"]
    kept = AnswerabilityCheck(answerability, 0.1).check("q", draft, list(HITS))
    assert not kept.abstained and "answerability of the given passages 0.20" in kept.reason
    flagged = AnswerabilityCheck(answerability, 0.37, withhold=False).check("q", draft, list(HITS))
    assert not flagged.abstained
    nothing = Draft(text="No citation.", citations=(), abstained=False)
    assert check.check("q", nothing, list(HITS)) is nothing
    elsewhere = Citation(n=1, chunk_id="c9", source="x", uri="u", section="S", quote="q")
    other = Draft(text="Cites what it was not given. [1]", citations=(elsewhere,), abstained=False)
    assert check.check("q", other, list(HITS)) is other
    assert len(seen) == 4


def test_the_workspace_follows_the_policy(ws: Workspace) -> None:
    assert isinstance(ws.evidence_check(True), AnswerabilityCheck)
    assert ws.evidence_check(True).scope == "given"  # type: ignore[attr-defined]
    assert isinstance(ws.evidence_check(False), KeepAnswer)
    for answer in ({"withhold_unsupported": False}, {"abstention": "similarity"}):
        changed = ws.settings.answer.model_copy(update=answer)
        off = Workspace(ws.settings.model_copy(update={"answer": changed}))
        assert isinstance(off.evidence_check(True), KeepAnswer)


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as s:
        yield s


def test_the_model_pipeline_withholds_against_the_fake_server(
    ws: Workspace, server: FakeLLMServer
) -> None:
    settings = ws.settings.model_copy(
        update={
            "llm": ws.settings.llm.model_copy(
                update={
                    "provider": "openai",
                    "base_url": server.url,
                    "model": "fake",
                    "price_input_per_mtok": 0.0,
                    "price_output_per_mtok": 0.0,
                }
            ),
            "answer": ws.settings.answer.model_copy(update={"fallback": "error"}),
        }
    )
    model_ws = Workspace(settings)
    try:
        check_model_pipeline(model_ws, server)
    finally:
        model_ws.close()


def check_model_pipeline(model_ws: Workspace, server: FakeLLMServer) -> None:
    p = model_ws.pipeline(shadow=False)
    assert isinstance(p.evidence, AnswerabilityCheck)
    assert isinstance(p.attributor, type(model_ws.model_stages(True)[1]))
    assert not isinstance(p.attributor, KeepCitations)
    fluent_text = "The RFC requires that JSON be represented using either UTF-8, UTF-16, or UTF-32."
    server.enqueue(fluent_text)
    withheld = p.ask(UNANSWERABLE[0])
    assert withheld.abstained and fluent_text not in withheld.text
    kept = p.ask(ANSWERABLE[0])  # the fake server's own RAG reply: quotes and cites
    assert not kept.abstained and "frozen" in kept.text
