"""`cairn ingest` on a folder of office files and mail, one of them corrupt, with the real
model: the good files are indexed and searchable by section, the bad one is reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.cli import app
from tests.ingest.office_fixtures import docx_bytes, eml_bytes, pptx_bytes, xlsx_bytes

pytestmark = pytest.mark.integration


def test_ingest_office_folder_through_the_cli(tmp_path: Path) -> None:
    corpus = tmp_path / "office"
    corpus.mkdir()
    (corpus / "report.docx").write_bytes(docx_bytes())
    (corpus / "deck.pptx").write_bytes(pptx_bytes())
    (corpus / "budget.xlsx").write_bytes(xlsx_bytes())
    (corpus / "q4.eml").write_bytes(eml_bytes())
    broken = docx_bytes()
    (corpus / "broken.docx").write_bytes(broken[: len(broken) // 3])
    ws = tmp_path / "ws"
    runner = CliRunner()

    result = runner.invoke(app, ["ingest", str(corpus), "--workspace", str(ws), "--json"])
    assert result.exit_code == 1, result.output  # something failed: scripts must notice
    summary = json.loads(result.stdout)
    assert summary["files"] == 5 and summary["ingested"] == 4 and summary["failed"] == 1
    [failure] = summary["failures"]
    assert failure["path"].endswith("broken.docx")
    assert failure["reason"].startswith("corrupt or truncated DOCX file")

    result = runner.invoke(
        app, ["search", "Ledger entry E042 acct-0", "--json", "--workspace", str(ws), "--k", "3"]
    )
    assert result.exit_code == 0, result.output
    top = json.loads(result.stdout)["results"][0]
    assert top["source"] == "budget.xlsx" and top["section"] == "Ledger"
    assert (
        "| Entry | Account | Amount |" in top["text"] and "| E042 | acct-0 | 420 |" in top["text"]
    )

    result = runner.invoke(
        app, ["search", "speaker notes new office", "--json", "--workspace", str(ws), "--k", "3"]
    )
    top = json.loads(result.stdout)["results"][0]
    assert top["source"] == "deck.pptx" and top["section"] == "Slide 1: Quarterly review"
