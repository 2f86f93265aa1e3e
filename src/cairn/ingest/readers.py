"""Read one file into a `ParsedDocument`: reject bad input, decode text, pick the reader.

The reader is picked by file name and content: `%PDF-` content is read as PDF, `.html`/`.htm`
as HTML (Confluence export, Sphinx or plain page), Notion export names (`Page <32 hex>.md`,
`Table <32 hex>.csv`) as Notion, `.md`/`.markdown` as Markdown, `.csv` as CSV, source code
suffixes (`cairn.ingest.formats.code.LANGUAGES`) as code, `.ipynb` as a Jupyter notebook,
`.txt`/`.text` and files without a suffix as plain text (or HTML when they look like it);
`.docx`, `.pptx`, `.xlsx` and `.eml` by `formats.office`.

Every failure is an `IngestError(path, reason)` with a short reason a person can act on; no
parser exception escapes. The format libraries are imported lazily, by the readers that use
them, so importing this module stays cheap.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from pathlib import Path

from cairn.errors import EmptyDocument, IngestError
from cairn.ingest.formats.code import SUFFIXES as CODE_SUFFIXES
from cairn.ingest.formats.office import OFFICE_FORMATS
from cairn.types import ParsedDocument

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".md", ".markdown", ".html", ".htm", ".pdf", ".txt", ".text", ".csv", ".ipynb"}
    | CODE_SUFFIXES
    | set(OFFICE_FORMATS)
)
"""File suffixes `read_document` reads (files without a suffix are sniffed as text or HTML)."""

_SNIFF_BYTES = 8192
_MAX_CONTROL_SHARE = 0.05
_CONTROL_BYTES = bytes(b for b in [*range(0x20), 0x7F] if b not in b"\t\n\x0b\x0c\r\x1b")
"""Control characters that do not occur in text files (tab, newlines, form feed, escape do)."""
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_WESTERN = "cp1252"
_CHAOS_MARGIN = 0.05
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_HTML_START = re.compile(r"\A\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.I | re.S)

_Reader = Callable[[Path, str], ParsedDocument]


def read_document(path: Path, data: bytes) -> ParsedDocument:
    """Pick the reader by file name/extension and content sniffing; raise
    `IngestError(str(path), reason)` with a short, human reason for anything unreadable."""
    name = str(path)
    suffix = path.suffix.lower()
    if suffix and suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(name, f"unsupported file type '{suffix}'")
    if not data.strip():
        raise EmptyDocument(name, "empty file")
    if suffix in OFFICE_FORMATS:
        from cairn.ingest.formats import office

        document = _guarded(name, OFFICE_FORMATS[suffix], lambda: office.read(path, data))
    elif suffix == ".pdf" or data[:1024].lstrip().startswith(b"%PDF-"):
        from cairn.ingest.formats import pdf

        document = _guarded(name, "PDF", lambda: pdf.read(path, data))
    else:
        if looks_binary(data[:_SNIFF_BYTES]):
            raise IngestError(name, "binary content, not a supported text format")
        text = _decode(name, data, html=suffix in (".html", ".htm"))
        if not text.strip():
            raise EmptyDocument(name, "empty file")
        kind, reader = _text_reader(path, suffix, text)
        document = _guarded(name, kind, lambda: reader(path, text))
    if not document.blocks:
        raise EmptyDocument(name, "no text content found")
    return document


def _text_reader(path: Path, suffix: str, text: str) -> tuple[str, _Reader]:
    """The (format name, reader) for a decoded text file."""
    from cairn.ingest.formats import csvtable, htmlpage, markdown, notion, plaintext

    if suffix in (".html", ".htm") or (not suffix and _HTML_START.match(text)):
        return "HTML", htmlpage.read
    if notion.notion_id(path):
        return ("CSV", notion.read_database) if suffix == ".csv" else ("Markdown", notion.read_page)
    if suffix in (".md", ".markdown"):
        return "Markdown", markdown.read
    if suffix == ".csv":
        return "CSV", csvtable.read
    if suffix in CODE_SUFFIXES:
        from cairn.ingest.formats import code

        return "source code", code.read
    if suffix == ".ipynb":
        from cairn.ingest.formats import notebook

        return "notebook", notebook.read
    return "text", plaintext.read


def _guarded(name: str, kind: str, read: Callable[[], ParsedDocument]) -> ParsedDocument:
    """Run a reader, turning any parser failure into an `IngestError`."""
    try:
        return read()
    except IngestError:
        raise
    except RecursionError as exc:
        raise IngestError(name, f"{kind} nested too deeply to read") from exc
    except Exception as exc:
        detail = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise IngestError(name, f"could not parse {kind}: {detail}") from exc


def looks_binary(sample: bytes) -> bool:
    """NUL bytes or many control characters (text with a UTF-16/32 byte-order mark is fine)."""
    if sample.startswith(tuple(bom for bom, _ in _BOMS)):
        return False
    if b"\x00" in sample:
        return True
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls > _MAX_CONTROL_SHARE * len(sample)


def _decode(name: str, data: bytes, *, html: bool) -> str:
    """Decode text: byte-order mark, else UTF-8, else a declared HTML charset, else mostly
    UTF-8 (broken bytes replaced), else charset-normalizer's guess."""
    text = _decode_known(data, html=html)
    if text is None:
        text = _guess_encoding(name, data)
    return text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


def _guess_encoding(name: str, data: bytes) -> str:
    """Decode with charset-normalizer's guess, preferring Windows-1252 when it fits as well:
    on short Western European texts the detector often picks a Baltic or Central European
    code page that turns `è` into `č`."""
    from charset_normalizer import from_bytes  # lazy: only for non-UTF-8 files

    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise IngestError(name, "unknown text encoding")
    western = next((m for m in matches if _WESTERN in m.could_be_from_charset), None)
    if western is not None and western.chaos <= best.chaos + _CHAOS_MARGIN:
        return str(western)
    return str(best)


def _decode_known(data: bytes, *, html: bool) -> str | None:
    """The text when the encoding is known or nearly certain, else None."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _META_CHARSET.search(data[:4096]) if html else None
    if declared:
        try:
            return data.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    # UTF-8 with a few broken bytes (a bad paste, a truncated character) stays UTF-8.
    lenient = data.decode("utf-8", errors="replace")
    broken = lenient.count("\ufffd")
    valid_non_ascii = len(lenient) - len(lenient.encode("ascii", "ignore")) - broken
    return lenient if valid_non_ascii > broken else None
