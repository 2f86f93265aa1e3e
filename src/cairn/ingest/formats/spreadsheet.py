"""Excel workbooks (`.xlsx`, via openpyxl, streamed read-only): doc_type `xlsx`.

One section per worksheet, named after the sheet. Title lines above the table (up to three
rows of one filled cell) are paragraphs; the next row is the header;
the rows become Markdown tables of at most `office.ROWS_PER_BLOCK` rows (or about
`office.CHARS_PER_BLOCK` characters), each with the header repeated. Formulas give the value
cached when the file was last saved (files written by a program that never calculated them,
such as openpyxl, have none and the cell reads empty). Dates are ISO dates, percentages keep
their `%`, whole numbers lose the `.0`; empty rows and trailing empty columns are dropped.
"""

from __future__ import annotations

import io
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from cairn.ingest.formats.blocks import BlockBuilder, clean_text, title_from_stem
from cairn.ingest.formats.office import (
    core_metadata,
    core_title,
    format_number,
    require,
    table_blocks,
)
from cairn.types import ParsedDocument

_MAX_CAPTIONS = 3


def read(path: Path, data: bytes) -> ParsedDocument:
    """Read every worksheet of an `.xlsx` file as tables."""
    openpyxl = require(path, "openpyxl")
    workbook = openpyxl.load_workbook(
        io.BytesIO(data), read_only=True, data_only=True, keep_links=False
    )
    try:
        out = BlockBuilder()
        names: list[str] = []
        total_rows = 0
        for sheet in workbook.worksheets:
            if not hasattr(sheet, "iter_rows"):
                continue  # a chart sheet
            name = clean_text(str(sheet.title))
            names.append(name)
            rows = _rows(sheet)
            out.heading(1, name, None)
            for caption in _captions(rows):
                out.emit("text", caption)
            total_rows += max(len(rows) - 1, 0)
            for text in table_blocks(rows):
                out.emit("table", text)
        properties = workbook.properties
        title = core_title(properties) or title_from_stem(path.stem)
        metadata = core_metadata(properties)
    finally:
        workbook.close()
    metadata["sheets"] = ", ".join(names)
    metadata["rows"] = str(total_rows)
    return ParsedDocument(title=title, blocks=tuple(out.blocks), doc_type="xlsx", metadata=metadata)


def _rows(sheet: Any) -> list[list[str]]:
    """The sheet's non-empty rows as text, trailing empty columns dropped."""
    rows: list[list[str]] = []
    width = 0
    for row in sheet.iter_rows():
        cells = [_text(cell) for cell in row]
        while cells and not cells[-1]:
            cells.pop()
        if cells:
            rows.append(cells)
            width = max(width, len(cells))
    return [r + [""] * (width - len(r)) for r in rows]


def _captions(rows: list[list[str]]) -> list[str]:
    """Remove and return the title lines above a table (rows of one filled cell before the
    first row of several, at most `_MAX_CAPTIONS`), so the header is the table's own."""
    first = next((i for i, r in enumerate(rows) if sum(1 for c in r if c) > 1), 0)
    if not 0 < first <= _MAX_CAPTIONS:
        return []
    captions = [" ".join(c for c in row if c) for row in rows[:first]]
    del rows[:first]
    return captions


def _text(cell: Any) -> str:
    value = getattr(cell, "value", None)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, int | float):
        if "%" in str(getattr(cell, "number_format", "") or ""):
            return f"{format_number(value * 100)}%"
        return format_number(value)
    return clean_text(str(value))
