"""Word documents (`.docx`, via python-docx): doc_type `docx`.

The body is read in order. Paragraphs styled `Heading 1`..`Heading 9` (or given an outline
level, directly or through their style) build the section path; the `Title` paragraph is the
document title; numbered and bulleted paragraphs become list blocks; tables become Markdown
tables with their first row as the header (long ones split with the header repeated). The
title comes from the core properties, then the `Title` paragraph, then the first heading,
then the file name. Headers, footers, footnotes, comments and text boxes are not read.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import TYPE_CHECKING

from cairn.ingest.formats.blocks import BlockBuilder, clean_text, title_from_stem
from cairn.ingest.formats.office import core_metadata, core_title, require, table_blocks
from cairn.types import ParsedDocument

if TYPE_CHECKING:
    from docx.styles.style import BaseStyle
    from docx.table import Table
    from docx.text.paragraph import Paragraph

_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.I)
_BODY_LEVEL = 9
"""`w:outlineLvl` 9 means body text; 0-8 are heading levels 1-9."""


def read(path: Path, data: bytes) -> ParsedDocument:
    """Read a `.docx` file's body into blocks."""
    docx = require(path, "docx")
    from docx.table import Table

    document = docx.Document(io.BytesIO(data))
    out = BlockBuilder()
    list_lines: list[str] = []
    title_paragraph = ""
    first_heading = ""
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            _flush(out, list_lines)
            for table in table_blocks(_rows(item)):
                out.emit("table", table)
            continue
        text = clean_text(item.text)
        if not text:
            continue
        style = _style_name(item)
        level = _heading_level(item)
        if style.lower() == "title" and not title_paragraph:
            _flush(out, list_lines)
            title_paragraph = text
        elif level is not None:
            _flush(out, list_lines)
            out.heading(level, text, None)
            first_heading = first_heading or text
        elif (depth := _list_depth(item, style)) is not None:
            list_lines.append("  " * depth + "- " + text)
        else:
            _flush(out, list_lines)
            out.emit("text", text)
    _flush(out, list_lines)
    properties = document.core_properties
    title = core_title(properties) or title_paragraph or first_heading
    metadata = core_metadata(properties)
    return ParsedDocument(
        title=title or title_from_stem(path.stem),
        blocks=tuple(out.blocks),
        doc_type="docx",
        metadata=metadata,
    )


def _flush(out: BlockBuilder, list_lines: list[str]) -> None:
    out.emit("list", "\n".join(list_lines))
    list_lines.clear()


def _rows(table: Table) -> list[list[str]]:
    return [[clean_text(cell.text) for cell in row.cells] for row in table.rows]


def _style_name(paragraph: Paragraph) -> str:
    try:
        style = paragraph.style
    except (KeyError, ValueError):  # a style id missing from styles.xml
        return ""
    return (style.name or "") if style is not None else ""


def _heading_level(paragraph: Paragraph) -> int | None:
    """1-9 for a heading (by style name or outline level), None for body text."""
    match = _HEADING_STYLE.match(_style_name(paragraph))
    if match:
        return int(match.group(1))
    level = _outline_level(paragraph._p)
    if level is None:
        try:
            style: BaseStyle | None = paragraph.style
        except (KeyError, ValueError):
            style = None
        seen = 0
        while style is not None and level is None and seen < 10:  # styles inherit
            level = _outline_level(style.element)
            style = getattr(style, "base_style", None)
            seen += 1
    return level + 1 if level is not None and level < _BODY_LEVEL else None


def _outline_level(element: object) -> int | None:
    xpath = getattr(element, "xpath", None)
    values = xpath("./w:pPr/w:outlineLvl/@w:val") if xpath is not None else []
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None


def _list_depth(paragraph: Paragraph, style: str) -> int | None:
    """The nesting depth (0 = top) of a numbered or bulleted paragraph, else None."""
    levels = paragraph._p.xpath("./w:pPr/w:numPr/w:ilvl/@w:val")
    if paragraph._p.xpath("./w:pPr/w:numPr"):
        return int(levels[0]) if levels and str(levels[0]).isdigit() else 0
    if style.lower().startswith("list"):
        digits = style.rstrip()[-1:]
        return int(digits) - 1 if digits.isdigit() and digits != "0" else 0
    return None
