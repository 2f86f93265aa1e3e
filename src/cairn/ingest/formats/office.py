"""Office files and mail: picking the reader, opening the zip package, tables, titles.

`.docx` (`worddoc`), `.pptx` (`slides`), `.xlsx` (`spreadsheet`) are zip packages of XML
parts; `.eml` (`mail`) is a MIME message. The format libraries (python-docx, python-pptx,
openpyxl) are imported lazily by the reader that needs them, with an install hint when one is
missing. A package that is not a zip (truncated, a legacy binary `.doc`, a password-protected
file) or lacks its main part (a renamed file) raises `IngestError` naming the problem.
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import ModuleType

from cairn.errors import IngestError
from cairn.ingest.formats.blocks import clean_text, is_placeholder_title, markdown_table
from cairn.types import ParsedDocument

OFFICE_FORMATS: dict[str, str] = {
    ".docx": "DOCX",
    ".pptx": "PPTX",
    ".xlsx": "XLSX",
    ".eml": "e-mail",
}
"""Suffix -> format name of the files read here."""

ROWS_PER_BLOCK = 20
"""A table longer than this is split into blocks of this many rows, each with the header."""
CHARS_PER_BLOCK = 480
"""...or into blocks of about this many characters: the 256 tokens the embedding model reads
hold about 500 characters of a table of numbers (a Markdown table takes a token for every 2
characters: a 20-row block of the bench's workbook, 1,200 characters, counted 500 tokens)."""
MAX_UNPACKED_BYTES = 1 << 30
"""A package that unpacks to more than this is refused (a zip bomb, or not a document)."""

_MAIN_PARTS = {
    ".docx": ("word/document.xml", "a Word document"),
    ".pptx": ("ppt/presentation.xml", "a PowerPoint presentation"),
    ".xlsx": ("xl/workbook.xml", "an Excel workbook"),
}
_MAX_LOCK_FILE = 4096
"""Office writes `~$name.docx` (162 bytes: who has `name.docx` open) next to an open file."""
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_INSTALL = {"docx": "python-docx", "pptx": "python-pptx", "openpyxl": "openpyxl"}


def read(path: Path, data: bytes) -> ParsedDocument:
    """Read an office file or e-mail message by its suffix."""
    suffix = path.suffix.lower()
    if suffix == ".eml":
        from cairn.ingest.formats import mail

        return mail.read(path, data)
    check_package(path, data)
    import zipfile  # lazy, as the libraries
    import zlib

    try:
        return _read_package(path, suffix, data)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        detail = " ".join(str(exc).split())[:120] or type(exc).__name__
        kind = OFFICE_FORMATS[suffix]
        raise IngestError(str(path), f"corrupt {kind} file (damaged zip entry: {detail})") from exc


def _read_package(path: Path, suffix: str, data: bytes) -> ParsedDocument:
    if suffix == ".docx":
        from cairn.ingest.formats import worddoc

        return worddoc.read(path, data)
    if suffix == ".pptx":
        from cairn.ingest.formats import slides

        return slides.read(path, data)
    if suffix == ".xlsx":
        from cairn.ingest.formats import spreadsheet

        return spreadsheet.read(path, data)
    raise IngestError(str(path), f"unsupported file type '{suffix}'")


def check_package(path: Path, data: bytes) -> None:
    """Raise `IngestError` unless `data` is an intact zip package holding the main part of
    the format its suffix names."""
    import zipfile  # lazy: keep `import cairn.ingest.readers` cheap

    suffix = path.suffix.lower()
    kind = OFFICE_FORMATS[suffix]
    if path.name.startswith("~$") and len(data) < _MAX_LOCK_FILE:
        raise IngestError(
            str(path),
            "an Office lock file (the document is open in an editor), not a document;"
            " skip such files with --exclude '~$*'",
        )
    if data.startswith(_OLE_MAGIC):
        raise IngestError(
            str(path),
            f"not a {kind} package: a password-protected file or an old binary Office file"
            f" (.doc/.ppt/.xls); remove the password or save it as {suffix} and ingest it again",
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            infos = package.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise IngestError(
            str(path), f"corrupt or truncated {kind} file (not a readable zip archive: {exc})"
        ) from exc
    names = {info.filename for info in infos}
    if sum(info.file_size for info in infos) > MAX_UNPACKED_BYTES:
        raise IngestError(str(path), f"{kind} file unpacks to more than 1 GiB; not read")
    main, _ = _MAIN_PARTS[suffix]
    if main in names:
        return
    other = next((what for s, (part, what) in _MAIN_PARTS.items() if part in names), None)
    holds = f"it holds {other} (wrong suffix?)" if other else f"no {main} inside"
    raise IngestError(str(path), f"not a {kind} file: {holds}")


def require(path: Path, module: str) -> ModuleType:
    """Import a format library, or raise `IngestError` saying which package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = _INSTALL.get(module, module)
        raise IngestError(
            str(path), f"reading {path.suffix} files needs {package}: pip install {package}"
        ) from exc


def table_blocks(rows: Sequence[Sequence[str]]) -> Iterator[str]:
    """Markdown tables for `rows` (the first is the header): one table when it is small,
    else tables of at most `ROWS_PER_BLOCK` rows or about `CHARS_PER_BLOCK` characters, each
    with the header repeated, so every cell stays next to its column header."""
    kept = [list(r) for r in rows if any(cell for cell in r)]
    if not kept:
        return
    width = max(len(r) for r in kept)
    kept = [r + [""] * (width - len(r)) for r in kept]
    header, body = kept[0], kept[1:]
    batch: list[list[str]] = []
    size = 0
    for row in body:
        row_size = sum(len(cell) + 3 for cell in row)
        if batch and (len(batch) >= ROWS_PER_BLOCK or size + row_size > CHARS_PER_BLOCK):
            yield markdown_table([header, *batch])
            batch, size = [], 0
        batch.append(row)
        size += row_size
    if batch or not body:
        yield markdown_table([header, *batch])


def format_number(value: float) -> str:
    """A number as a person writes it: `1200` not `1200.0`, float noise rounded away."""
    if isinstance(value, int):
        return str(value)
    value = round(value, 10)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def core_metadata(properties: object) -> dict[str, str]:
    """Author, dates, subject and keywords from a package's core properties (docProps/core)."""
    found: dict[str, str] = {}
    for key, attribute in (
        ("author", "author"),
        ("subject", "subject"),
        ("keywords", "keywords"),
        ("created", "created"),
        ("modified", "modified"),
    ):
        value = _attribute(properties, attribute)
        if isinstance(value, datetime):
            found[key] = value.isoformat()
        elif isinstance(value, str) and clean_text(value):
            found[key] = clean_text(value)
    if "created" in found or "modified" in found:
        found["date"] = found.get("modified", found.get("created", ""))[:10]
    return found


def core_title(properties: object) -> str:
    """The title in a package's core properties, unless empty or a placeholder."""
    title = _attribute(properties, "title")
    text = clean_text(title) if isinstance(title, str) else ""
    return "" if is_placeholder_title(text) else text


def _attribute(properties: object, name: str) -> object:
    try:
        return getattr(properties, name, None)
    except (ValueError, TypeError, KeyError):  # a malformed date in docProps/core.xml
        return None
