"""`cairn ask` against `cairn fake-llm --behaviour ...` (a separate process, real HTTP): a model
that writes no markers, or answers in its own words, is kept and cited; one that copies the
prompt's example is withheld."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.cli import app

pytestmark = pytest.mark.integration
runner = CliRunner()
QUESTION = "How do I make a dataclass immutable?"


@pytest.fixture(scope="module")
def workspace(docs_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("ws-attribution")
    result = runner.invoke(app, ["ingest", str(docs_corpus), "--workspace", str(ws), "--json"])
    assert result.exit_code == 0, result.output
    return ws


@contextmanager
def fake_llm(behaviour: str) -> Iterator[str]:
    """`cairn fake-llm --behaviour BEHAVIOUR` on a free port; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cairn", "fake-llm", "--port", "0", "--behaviour", behaviour],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", banner)
        assert match, banner + (process.stderr.read() if process.stderr else "")
        yield match.group(1)
    finally:
        process.terminate()
        process.communicate(timeout=60)


def ask(workspace: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    monkeypatch.setenv("CAIRN_LLM_PROVIDER", "openai")
    monkeypatch.setenv("CAIRN_LLM_BASE_URL", url)
    monkeypatch.setenv("CAIRN_LLM_MODEL", "fake-model")
    monkeypatch.setenv("CAIRN_LLM_PRICE_INPUT_PER_MTOK", "0")
    monkeypatch.setenv("CAIRN_LLM_PRICE_OUTPUT_PER_MTOK", "0")
    monkeypatch.setenv("CAIRN_ANSWER_FALLBACK", "error")  # the model's answer, never a stand-in
    result = runner.invoke(app, ["ask", QUESTION, "--json", "--workspace", str(workspace)])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


@pytest.mark.parametrize("behaviour", ["no-markers", "paraphrase"])
def test_an_answer_without_markers_is_kept_and_cited(
    workspace: Path, behaviour: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_llm(behaviour) as url:
        data = ask(workspace, url, monkeypatch)
    assert data["abstained"] is False
    answer = str(data["answer"])
    assert "frozen=True" in answer
    citations = data["citations"]
    assert isinstance(citations, list) and citations
    for citation in citations:
        assert f"[{citation['n']}]" in answer
        assert citation["verified"] is True
        assert citation["source"] == "library/dataclasses.html"


def test_a_copied_prompt_example_is_withheld(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_GUARD_OUTPUT", "off")  # the answer policy alone withholds it
    with fake_llm("prompt-example") as url:
        data = ask(workspace, url, monkeypatch)
    assert data["abstained"] is True and data["citations"] == []
    assert "cache is cleared" not in str(data["answer"])
