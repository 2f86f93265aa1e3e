"""Word documents (`.docx`, via python-docx): doc_type `docx`.

The body is read in order. Paragraphs styled `Heading 1`..`Heading 9` (or given an outline
level, directly or through their style) build the section path; the `Title` paragraph is the
document title; numbered and bulleted paragraphs become list blocks; tables become Markdown
tables with their first row as the header (long ones split with the header repeated). The
title comes from the core properties, then the `Title` paragraph, then the first heading,
then the file name.

After the body come the page headers and footers (each distinct text once, a bare page
number left out) under `Header` and `Footer`, then the footnotes and endnotes as
`[n] text` under `Footnotes` and `Endnotes` (the body keeps their `[n]` markers). Comments
and text boxes are not read.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.ingest.formats.blocks import BlockBuilder, clean_text, title_from_stem
from cairn.ingest.formats.office import core_metadata, core_title, require, table_blocks
from cairn.ingest.formats.pdf_layout import is_page_number
from cairn.types import ParsedDocument

if TYPE_CHECKING:
    from docx.oxml.xmlchemy import BaseOxmlElement
    from docx.table import Table
    from docx.text.paragraph import Paragraph

_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.I)
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
"""The WordprocessingML namespace, as lxml spells it in tag and attribute names."""
_BODY_LEVEL = 9
"""`w:outlineLvl` 9 means body text; 0-8 are heading levels 1-9."""


def read(path: Path, data: bytes) -> ParsedDocument:
    """Read a `.docx` file's body into blocks."""
    docx = require(path, "docx")
    from docx.table import Table

    document = docx.Document(io.BytesIO(data))
    styles = _Styles(document.styles.element)
    core = document.core_properties
    metadata_title = core_title(core)
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
        text = clean_text(_with_note_marks(item))
        if not text:
            continue
        style_id = item._p.style
        properties = item._p.pPr
        level = styles.heading_level(style_id, properties)
        if styles.is_title(style_id) and not title_paragraph:
            _flush(out, list_lines)
            title_paragraph = text
            if metadata_title and text != metadata_title:  # keep it: it is not the title
                out.emit("text", text)
        elif level is not None:
            _flush(out, list_lines)
            out.heading(level, text, None)
            first_heading = first_heading or text
        elif (depth := styles.list_depth(style_id, properties)) is not None:
            list_lines.append("  " * depth + "- " + text)
        else:
            _flush(out, list_lines)
            out.emit("text", text)
    _flush(out, list_lines)
    _page_furniture(document, out)
    notes = _notes(document)
    for heading, kind in (("Footnotes", "footnote"), ("Endnotes", "endnote")):
        texts = [f"[{n}] {text}" for n, text in notes.get(kind, [])]
        if texts:
            out.heading(1, heading, None)
            for text in texts:
                out.emit("text", text)
    title = metadata_title or title_paragraph or first_heading
    return ParsedDocument(
        title=title or title_from_stem(path.stem),
        blocks=tuple(out.blocks),
        doc_type="docx",
        metadata=core_metadata(core),
    )


def _with_note_marks(paragraph: Paragraph) -> str:
    """The paragraph's text with `[n]` where it refers to footnote or endnote n."""
    element = paragraph._p
    if element.find(f".//{_W}footnoteReference") is None and (
        element.find(f".//{_W}endnoteReference") is None
    ):
        return paragraph.text
    parts: list[str] = []
    for node in element.iter(
        f"{_W}t", f"{_W}tab", f"{_W}footnoteReference", _W + "endnoteReference"
    ):
        if node.tag == f"{_W}t":
            parts.append(node.text or "")
        elif node.tag == f"{_W}tab":
            parts.append("\t")
        else:
            parts.append(f"[{node.get(_W + 'id')}]")
    return "".join(parts)


def _page_furniture(document: Any, out: BlockBuilder) -> None:
    """Each distinct page header and footer text once, under `Header` and `Footer`."""
    for heading, kinds in (
        ("Header", ("header", "first_page_header", "even_page_header")),
        ("Footer", ("footer", "first_page_footer", "even_page_footer")),
    ):
        seen: list[str] = []
        tables: list[list[list[str]]] = []
        for section in document.sections:
            for kind in kinds:
                part = getattr(section, kind)
                if part.is_linked_to_previous:  # no header of its own: the previous one's
                    continue
                for paragraph in part.paragraphs:
                    text = clean_text(paragraph.text)
                    if text and not is_page_number(text) and text not in seen:
                        seen.append(text)
                for table in part.tables:
                    rows = _rows(table)
                    if rows not in tables and any(any(c for c in r) for r in rows):
                        tables.append(rows)
        if seen or tables:
            out.heading(1, heading, None)
            for text in seen:
                out.emit("text", text)
            for rows in tables:
                for block in table_blocks(rows):
                    out.emit("table", block)


def _notes(document: Any) -> dict[str, list[tuple[str, str]]]:
    """Footnotes and endnotes (`footnote` / `endnote` -> [(id, text)]), separators left out."""
    from docx.oxml import parse_xml

    found: dict[str, list[tuple[str, str]]] = {}
    for rel in document.part.rels.values():
        kind = rel.reltype.rsplit("/", 1)[-1]
        if kind not in ("footnotes", "endnotes") or rel.is_external:
            continue
        try:
            root = parse_xml(rel.target_part.blob)
        except SyntaxError:  # lxml's XMLSyntaxError: a damaged notes part; the body is kept
            continue
        tag = kind[:-1]
        for note in root.iter(_W + tag):
            if note.get(_W + "type") not in (None, "normal"):
                continue  # the separator lines Word keeps as notes -1 and 0
            paragraphs = [
                "".join(t.text or "" for t in p.iter(_W + "t")) for p in note.iter(_W + "p")
            ]
            text = clean_text(" ".join(paragraphs))
            if text:
                found.setdefault(tag, []).append((note.get(_W + "id") or "", text))
    return found


def _flush(out: BlockBuilder, list_lines: list[str]) -> None:
    out.emit("list", "\n".join(list_lines))
    list_lines.clear()


def _rows(table: Table) -> list[list[str]]:
    return [[clean_text(cell.text) for cell in row.cells] for row in table.rows]


class _Styles:
    """The paragraph styles of `styles.xml`, read once: python-docx's `Paragraph.style`
    scans every style for each paragraph, which made it most of the parse time."""

    def __init__(self, root: BaseOxmlElement) -> None:
        self._names: dict[str, str] = {}
        self._levels: dict[str, int] = {}
        self._base: dict[str, str] = {}
        self._default = ""
        for style in root.findall(_W + "style"):
            if style.get(_W + "type") != "paragraph":
                continue
            sid = style.get(_W + "styleId") or ""
            name = style.find(_W + "name")
            self._names[sid] = (name.get(_W + "val") or "") if name is not None else ""
            based = style.find(_W + "basedOn")
            if based is not None:
                self._base[sid] = based.get(_W + "val") or ""
            level = _outline_level(style.find(_W + "pPr"))
            if level is not None:
                self._levels[sid] = level
            if style.get(_W + "default") in ("1", "true"):
                self._default = sid

    def name(self, style_id: str | None) -> str:
        return self._names.get(style_id or self._default, "").strip().lower()

    def is_title(self, style_id: str | None) -> bool:
        return self.name(style_id) == "title"

    def heading_level(self, style_id: str | None, properties: BaseOxmlElement | None) -> int | None:
        """1-9 for a heading (by style name or outline level), None for body text."""
        match = _HEADING_STYLE.match(self.name(style_id))
        if match:
            return int(match.group(1))
        level = _outline_level(properties)
        sid: str | None = style_id or self._default
        for _ in range(10):  # styles inherit the outline level of the style they are based on
            if level is not None or not sid:
                break
            level = self._levels.get(sid)
            sid = self._base.get(sid)
        return level + 1 if level is not None and level < _BODY_LEVEL else None

    def list_depth(self, style_id: str | None, properties: BaseOxmlElement | None) -> int | None:
        """The nesting depth (0 = top) of a numbered or bulleted paragraph, else None."""
        numbering = properties.find(_W + "numPr") if properties is not None else None
        if numbering is not None:
            ilvl = numbering.find(_W + "ilvl")
            value = ilvl.get(_W + "val") if ilvl is not None else None
            return int(value) if value is not None and value.isdigit() else 0
        name = self.name(style_id)
        if name.startswith("list"):
            digit = name[-1:]
            return int(digit) - 1 if digit.isdigit() and digit != "0" else 0
        return None


def _outline_level(properties: BaseOxmlElement | None) -> int | None:
    found = properties.find(_W + "outlineLvl") if properties is not None else None
    value = found.get(_W + "val") if found is not None else None
    return int(value) if value is not None and value.isdigit() else None
