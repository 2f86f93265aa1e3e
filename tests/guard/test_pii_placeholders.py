"""`guard.pii_placeholders`: the model sees `<EMAIL_ADDRESS_1>`, the user gets the value back;
traces keep the placeholder and the answer cache keeps no answer holding personal data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.cli import app
from cairn.config import GuardSettings, Settings
from cairn.errors import ConfigError
from cairn.guard.pii import PIIDetector
from cairn.guard.placeholders import PlaceholderProvider, Restorer, pseudonymise_messages
from cairn.guard.surfaces import remove_scrubbers
from cairn.llm.base import Completed, Message, TextDelta
from cairn.llm.fake_server import FakeLLMServer
from cairn.llm.replies import Responder
from cairn.llm.scripted import ScriptedModel
from cairn.workspace import Workspace

pytest.importorskip("presidio_analyzer", reason="the pii extra is not installed")

runner = CliRunner()
EMAIL = "jane.roe@example.org"
PHONE = "+1 415 555 0134"
PAGE = f"""# Billing contacts

The billing contact for the Lisbon office is reachable by e-mail at {EMAIL} and by phone
on {PHONE}. Refunds for the Lisbon office are paid within five days.
"""


@pytest.fixture(scope="module")
def pii() -> PIIDetector:
    return PIIDetector()


@pytest.fixture
def scrubbers() -> Iterator[None]:
    yield
    remove_scrubbers()


def test_one_numbering_over_all_messages_of_a_call(pii: PIIDetector) -> None:
    sent, mapping = pseudonymise_messages(
        pii,
        [
            Message.system("You answer from the passages."),
            Message.user(f"Passage: write to {EMAIL} or call {PHONE}."),
            Message.user(f"Is {EMAIL} right? Or ops@example.net?"),
        ],
    )
    assert sent[0].content == "You answer from the passages."
    assert sent[1].content == "Passage: write to <EMAIL_ADDRESS_1> or call <PHONE_NUMBER_1>."
    assert sent[2].content == "Is <EMAIL_ADDRESS_1> right? Or <EMAIL_ADDRESS_2>?"
    assert mapping == {
        "<EMAIL_ADDRESS_1>": EMAIL,
        "<PHONE_NUMBER_1>": PHONE,
        "<EMAIL_ADDRESS_2>": "ops@example.net",
    }


def test_a_placeholder_split_across_stream_deltas_is_restored() -> None:
    restorer = Restorer({"<EMAIL_ADDRESS_1>": EMAIL})
    pieces = ["Write to <EMA", "IL_ADDRE", "SS_1> today", " (a < b)."]
    out = "".join(restorer.feed(p) for p in pieces) + restorer.flush()
    assert out == f"Write to {EMAIL} today (a < b)."
    assert restorer.feed("<") == "" and restorer.flush() == "<"  # held, then let go


def test_the_model_never_sees_the_values_and_the_reply_gets_them_back(pii: PIIDetector) -> None:
    model = ScriptedModel("Mail <EMAIL_ADDRESS_1> [1].", "Call <PHONE_NUMBER_1> [1].")
    provider = PlaceholderProvider(model, pii)
    messages = [Message.user(f"Reach {EMAIL} or {PHONE}?")]
    assert provider.generate(messages).text == f"Mail {EMAIL} [1]."
    events = list(provider.stream(messages))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == f"Call {PHONE} [1]."
    assert isinstance(events[-1], Completed) and events[-1].response.text == f"Call {PHONE} [1]."
    asked = json.dumps([m.content for r in model.history for m in r.messages])
    assert EMAIL not in asked and "555 0134" not in asked
    assert "<EMAIL_ADDRESS_1>" in asked and "<PHONE_NUMBER_1>" in asked
    assert (provider.name, provider.model) == (model.name, model.model)


def test_placeholders_without_the_extra_are_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "presidio_analyzer", None)  # as if not installed
    ws = Workspace(Settings(workspace=tmp_path, guard=GuardSettings(pii_placeholders=True)))
    with pytest.raises(ConfigError, match="CAIRN_GUARD_PII_PLACEHOLDERS=false"):
        ws.placeholders  # noqa: B018


@pytest.mark.integration
def test_ask_through_a_hosted_model_with_placeholders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scrubbers: None
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "billing.md").write_text(PAGE, encoding="utf-8")
    ws = tmp_path / "ws"
    result = runner.invoke(app, ["ingest", str(docs), "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    for name, value in {
        "CAIRN_LLM_PROVIDER": "openai",
        "CAIRN_LLM_MODEL": "fake-model",
        "CAIRN_LLM_PRICE_INPUT_PER_MTOK": "0",
        "CAIRN_LLM_PRICE_OUTPUT_PER_MTOK": "0",
        "CAIRN_GUARD_PII_PLACEHOLDERS": "true",
        "CAIRN_TRACE_PROMPTS": "full",  # no regex masking: what is kept is the placeholder
    }.items():
        monkeypatch.setenv(name, value)
    answers = []
    with FakeLLMServer(responder=Responder()) as fake:  # it quotes the passages it is given
        monkeypatch.setenv("CAIRN_LLM_BASE_URL", fake.url)
        for question in (
            "How do I reach the billing contact of the Lisbon office by e-mail?",
            "How do I reach the billing contact of the Lisbon office by e-mail?",
            f"Is {EMAIL} the Lisbon billing contact?",
        ):
            result = runner.invoke(app, ["ask", question, "--json", "--workspace", str(ws)])
            assert result.exit_code == 0, result.output
            answers.append(json.loads(result.stdout))
        sent = json.dumps([m.content for r in fake.requests for m in r.messages])
    first, again, personal = answers
    assert EMAIL in first["answer"] and not first["abstained"]  # the user gets the value
    assert not again["cached"]  # an answer holding personal data is not cached
    assert not personal["cached"]
    assert len(fake.requests) == 3
    assert EMAIL not in sent and "555 0134" not in sent  # the model never saw them
    assert "<EMAIL_ADDRESS_1>" in sent and "<PHONE_NUMBER_1>" in sent
    stored = [p for p in ws.rglob("*") if p.is_file() and not p.name.startswith("cairn.db")]
    traces = [p for p in stored if p.name.startswith("traces")]
    assert traces and b"<EMAIL_ADDRESS_1>" in b"".join(p.read_bytes() for p in traces)
    for path in stored:
        assert EMAIL.encode() not in path.read_bytes(), path
