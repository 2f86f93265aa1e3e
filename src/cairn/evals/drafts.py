"""Drafting a golden case from what cairn retrieves today, for a human to confirm.

`cairn eval add-case "QUESTION"` searches the workspace, pre-fills `gold.sources` with the
distinct top sources (source + anchor) and `reference` with cairn's current answer, and
appends the draft to a YAML file. The draft is tagged `draft` and skipped by `cairn eval
run` until a person confirms it (checks that the pre-filled sources really answer the
question, writes checkpoints, and removes the tag): retrieval is what is being tested, so
sources copied from retrieval are only a starting point.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from cairn.evals.cases import CaseError, case_files, parse_cases
from cairn.types import Answer, Hit

_MARKERS = re.compile(r"\s*\[\d+\]")

DRAFT_TAG = "draft"
"""Drafts carry this tag until a person confirms them; `cairn eval run` skips them."""


def slug(question: str, taken: set[str]) -> str:
    """A short kebab-case id from the question's words, unique among `taken`."""
    words = re.findall(r"[a-z0-9]+", question.lower())
    stop = {"a", "an", "the", "do", "i", "how", "what", "is", "to", "in", "of", "can", "does"}
    base = "-".join([w for w in words if w not in stop][:6]) or "case"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def draft_case(
    question: str,
    hits: list[Hit],
    answer: Answer | None,
    *,
    case_id: str,
    expect: str = "answer",
    tags: list[str] | None = None,
    sources: int = 3,
) -> dict[str, Any]:
    """The draft as a mapping in the case-file field order."""
    case: dict[str, Any] = {"id": case_id, "question": question, "expect": expect}
    if expect == "answer":
        picked: list[dict[str, str]] = []
        seen: set[tuple[str, str | None]] = set()
        for hit in hits:
            key = (hit.chunk.source, hit.chunk.anchor)
            if key in seen:
                continue
            seen.add(key)
            entry = {"source": hit.chunk.source}
            if hit.chunk.anchor:
                entry["anchor"] = hit.chunk.anchor
            picked.append(entry)
            if len(picked) >= sources:
                break
        case["gold"] = {"match": "any", "sources": picked}
    reference = ""
    if answer is not None and not answer.abstained:
        reference = " ".join(_MARKERS.sub("", answer.text).replace("```", " ").split())
    case["reference"] = reference
    case["checkpoints"] = []
    case["tags"] = [DRAFT_TAG, *(t for t in tags or [] if t != DRAFT_TAG)]
    return case


def existing_ids(*paths: Path) -> set[str]:
    """Ids already used in these case files or folders (missing ones are skipped)."""
    import yaml

    ids: set[str] = set()
    for path in paths:
        if not path.exists():
            continue
        for file in case_files(path):
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
            if isinstance(data, list):
                ids.update(
                    str(item["id"]) for item in data if isinstance(item, dict) and "id" in item
                )
    return ids


def append_case(path: Path, case: dict[str, Any]) -> str:
    """Append the draft to `path` (created if missing); return the YAML text written."""
    import yaml

    parse_cases([case], str(path))  # a draft must already be a valid case
    body = yaml.safe_dump([case], sort_keys=False, allow_unicode=True, width=96)
    header = (
        f"# drafted by 'cairn eval add-case' on {date.today().isoformat()}: confirm the gold "
        "sources, write checkpoints and tags, then move it into a golden file\n"
    )
    text = header + body
    if path.exists():
        current = path.read_text(encoding="utf-8")
        data = yaml.safe_load(current)
        if data is not None and not isinstance(data, list):
            raise CaseError(f"{path} is not a YAML list of cases; choose another --to file")
        if current and not current.endswith("\n"):
            text = "\n" + text
        if current.strip():
            text = "\n" + text
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)
    return text
