"""The code questions (evals/code) load, and each gold anchor is a definition's first line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.evals.cases import load_cases
from cairn.ingest.readers import read_document

CASES = Path(__file__).resolve().parents[2] / "evals" / "code"
STDLIB = Path("/usr/lib/python3.11")


def test_code_cases_load_with_gold_definitions() -> None:
    cases = load_cases(CASES)
    assert len(cases) >= 30 and len({c.id for c in cases}) == len(cases)
    assert all("code" in c.tags and c.gold and c.gold.sources for c in cases)


@pytest.mark.skipif(not (STDLIB / "json" / "decoder.py").is_file(), reason="no stdlib sources")
def test_each_gold_anchor_names_the_definition_in_its_comment() -> None:
    text = (CASES / "stdlib.yaml").read_text()
    for case in load_cases(CASES):
        assert case.gold is not None
        for gold in case.gold.sources:
            path = STDLIB / gold.source
            document = read_document(path, path.read_bytes())
            sections = {b.anchor: b.section[-1] for b in document.blocks}
            assert f"anchor: {gold.anchor}  # {sections[gold.anchor]}\n" in text, case.id
