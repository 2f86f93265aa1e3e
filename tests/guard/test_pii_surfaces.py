"""`guard.pii` on every surface, through `cairn ask`: the answer is redacted, and the traces,
the answer cache and the ledger hold no raw personal data; without the `pii` extra a policy
other than `off` is a clear configuration error."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.cli import app
from cairn.config import GuardSettings, Settings
from cairn.errors import ConfigError
from cairn.guard.surfaces import remove_scrubbers
from cairn.workspace import Workspace

runner = CliRunner()
EMAIL = "jane.roe@example.org"
PHONE = "+1 415 555 0134"
CARD = "4111 1111 1111 1111"
PAGE = f"""# Billing contacts

The billing contact for the Lisbon office is reachable by e-mail at {EMAIL} and by phone
on {PHONE}. Refunds for the Lisbon office are paid to the card {CARD} within five days.
"""


@pytest.fixture
def scrubbers() -> Iterator[None]:
    yield
    remove_scrubbers()


def test_a_pii_policy_without_the_extra_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "presidio_analyzer", None)  # as if not installed
    ws = Workspace(Settings(workspace=tmp_path, guard=GuardSettings(pii="redact")))
    with pytest.raises(ConfigError) as info:
        ws.guards()
    message = str(info.value)
    assert "pip install 'cairn[pii]'" in message and "CAIRN_GUARD_PII=off" in message
    assert Workspace(Settings(workspace=tmp_path)).pii is None  # off needs nothing


@pytest.mark.integration
def test_redact_keeps_pii_out_of_answers_traces_cache_ledger_and_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scrubbers: None
) -> None:
    pytest.importorskip("presidio_analyzer", reason="the pii extra is not installed")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "billing.md").write_text(PAGE, encoding="utf-8")
    ws = tmp_path / "ws"
    result = runner.invoke(app, ["ingest", str(docs), "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("CAIRN_GUARD_PII", "redact")
    answers = []
    for question in (
        "How do I reach the billing contact of the Lisbon office?",
        "How do I reach the billing contact of the Lisbon office?",  # the cached answer
        f"Is {EMAIL} the Lisbon billing contact?",
    ):
        result = runner.invoke(app, ["ask", question, "--json", "--workspace", str(ws)])
        assert result.exit_code == 0, result.output
        answers.append(json.loads(result.stdout))
    first, cached, personal = answers
    assert not first["abstained"] and "[EMAIL_ADDRESS]" in first["answer"]
    assert first["guard"]["output"] == "flagged"
    assert cached["cached"] and cached["answer"] == first["answer"]
    assert not personal["cached"]
    shown = json.dumps(answers)
    for value in (EMAIL, PHONE, CARD, CARD.replace(" ", "")):
        assert value not in shown
    stored = [p for p in ws.rglob("*") if p.is_file() and not p.name.startswith("cairn.db")]
    assert any(p.name.startswith("cache") for p in stored)
    assert any(p.name.startswith("ledger") for p in stored)
    for path in stored:
        data = path.read_bytes()
        for value in (EMAIL, "555 0134", "1111 1111"):
            assert value.encode() not in data, (path, value)
    factory = logging.getLogRecordFactory()(
        "cairn.test", logging.INFO, __file__, 1, "asked about %s", (EMAIL,), None
    )
    assert factory.getMessage() == "asked about [EMAIL_ADDRESS]"
