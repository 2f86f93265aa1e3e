"""CSV files: doc_type `csv`, rows grouped into table blocks with the header repeated.

The delimiter is sniffed (`,` `;` tab `|`); the first row is taken as the header.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from cairn.errors import EmptyDocument, IngestError
from cairn.ingest.formats.blocks import BlockBuilder, clean_text, render_table, title_from_stem
from cairn.types import ParsedDocument

ROWS_PER_BLOCK = 20


def read(path: Path, text: str) -> ParsedDocument:
    """Read a CSV file as tables of at most `ROWS_PER_BLOCK` rows, each with the header."""
    header, rows = read_rows(path, text)
    out = BlockBuilder()
    for start in range(0, len(rows), ROWS_PER_BLOCK):
        out.emit("table", render_table([header, *rows[start : start + ROWS_PER_BLOCK]]))
    if not rows:
        out.emit("table", render_table([header]))
    metadata = {"columns": ", ".join(header), "rows": str(len(rows))}
    return ParsedDocument(
        title=title_from_stem(path.stem),
        blocks=tuple(out.blocks),
        doc_type="csv",
        metadata=metadata,
    )


def read_rows(path: Path, text: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows) with cells whitespace-normalised and blank rows skipped."""
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:16384], delimiters=",;\t|"
        )
    except csv.Error:
        dialect = csv.excel
    try:
        parsed = [
            [clean_text(cell) for cell in row]
            for row in csv.reader(io.StringIO(text, newline=""), dialect)
        ]
    except csv.Error as exc:
        raise IngestError(str(path), f"malformed CSV ({exc})") from exc
    parsed = [row for row in parsed if any(row)]
    if not parsed:
        raise EmptyDocument(str(path), "empty file")
    return parsed[0], parsed[1:]
