from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cairn.evals.cases import CaseError, load_cases
from cairn.evals.drafts import append_case, draft_case, existing_ids, slug
from cairn.testing.noisy import make_chunk
from cairn.types import Answer, Citation, Hit


def test_slug_is_short_and_unique() -> None:
    assert slug("How do I change the aurora timeout?", set()) == "change-aurora-timeout"
    assert slug("How do I change the aurora timeout?", {"change-aurora-timeout"}) == (
        "change-aurora-timeout-2"
    )
    assert slug("?!", set()) == "case"


def test_draft_prefills_distinct_sources_and_reference(tmp_path: Path) -> None:
    hits = [
        Hit(chunk=make_chunk(n, p), score=1.0)
        for n, p in [("aurora", 1), ("aurora", 1), ("aurora", 0), ("basalt", 1)]
    ]
    answer = Answer(
        text="Set AURORA_TIMEOUT. [1]",
        citations=(Citation(n=1, chunk_id="x", source="s", uri="u", section="", quote=""),),
        abstained=False,
    )
    case = draft_case("How?", hits, answer, case_id="d1", sources=2, tags=["how-to"])
    assert case["gold"]["sources"] == [
        {"source": "guide/aurora.md", "anchor": "s1"},
        {"source": "guide/aurora.md", "anchor": "s0"},
    ]
    assert case["reference"] == "Set AURORA_TIMEOUT." and case["tags"] == ["draft", "how-to"]
    path = tmp_path / "drafts.yaml"
    append_case(path, case)
    append_case(path, {**case, "id": "d2"})
    loaded = load_cases(path)
    assert [c.id for c in loaded] == ["d1", "d2"]
    assert existing_ids(path, tmp_path / "missing") == {"d1", "d2"}
    assert yaml.safe_load(path.read_text())[0]["question"] == "How?"
    assert path.read_text().startswith("# drafted by 'cairn eval add-case'")


def test_append_refuses_a_file_that_is_not_a_list(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("id: nope\n")
    case = draft_case("Q?", [], None, case_id="q", expect="abstain")
    with pytest.raises(CaseError, match="not a YAML list"):
        append_case(path, case)
    assert "gold" not in case and case["reference"] == ""
