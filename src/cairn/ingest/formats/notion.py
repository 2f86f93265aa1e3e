"""Notion exports ("Markdown & CSV"): doc_type `notion`.

Notion names every file after the page plus its 32-hex id: `Roadmap 0123...cdef.md` for a
page, `Tasks 0123...cdef.csv` (and `..._all.csv`) for a database. A page starts with
`# Title`, then the page properties as `Key: value` lines up to the first blank line; they go
to metadata, not to the text. A database row becomes one text block
`Name: Ship v2; Status: Done; Owner: Ann`, with the row's name as its section.
"""

from __future__ import annotations

import re
from pathlib import Path

from cairn.ingest.formats import csvtable, markdown
from cairn.ingest.formats.blocks import BlockBuilder, title_from_stem
from cairn.types import ParsedDocument

_NOTION_NAME = re.compile(r"^(?P<title>.*?)\s*(?P<id>[0-9a-f]{32})(?P<all>_all)?$")
_PROPERTY = re.compile(r"^(?P<key>[^\s:#>|*\-`][^:\n]{0,49}):[ \t]+(?P<value>\S.*)$")


def notion_id(path: Path) -> str | None:
    """The 32-hex page id in a Notion export file name, or None when it is not one."""
    if path.suffix.lower() not in (".md", ".csv"):
        return None
    match = _NOTION_NAME.match(path.stem)
    return match.group("id") if match else None


def read_page(path: Path, text: str) -> ParsedDocument:
    """Read an exported Notion page (Markdown)."""
    page_id = notion_id(path) or ""
    metadata = {"notion_id": page_id}
    body, properties = split_properties(text)
    metadata.update(properties)
    return markdown.read(
        path, body, doc_type="notion", default_title=_title(path), metadata=metadata
    )


def read_database(path: Path, text: str) -> ParsedDocument:
    """Read an exported Notion database (CSV): one text block per row."""
    header, rows = csvtable.read_rows(path, text)
    out = BlockBuilder()
    for row in rows:
        pairs = [f"{name}: {value}" for name, value in zip(header, row, strict=False) if value]
        with out.scope(row[0] if row and row[0] else None, None):
            out.emit("text", "; ".join(pairs))
    metadata = {"notion_id": notion_id(path) or "", "columns": ", ".join(header)}
    return ParsedDocument(
        title=_title(path), blocks=tuple(out.blocks), doc_type="notion", metadata=metadata
    )


def split_properties(text: str) -> tuple[str, dict[str, str]]:
    """Take the `Key: value` property lines that follow the `# Title` line out of a page."""
    lines = text.split("\n")
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index >= len(lines) or not lines[index].startswith("# "):
        return text, {}
    start = index + 1
    while start < len(lines) and not lines[start].strip():
        start += 1
    end = start
    while end < len(lines) and lines[end].strip():
        end += 1
    block = lines[start:end]
    matches = [_PROPERTY.match(line.strip()) for line in block]
    if not block or not all(matches):
        return text, {}
    properties = {m.group("key").strip(): m.group("value").strip() for m in matches if m}
    return "\n".join(lines[:start] + lines[end:]), properties


def _title(path: Path) -> str:
    match = _NOTION_NAME.match(path.stem)
    name = match.group("title") if match else path.stem
    return name.strip() or title_from_stem(path.stem)
