"""PDF files (text layer via pypdf): doc_type `pdf`, one or more text blocks per page.

PDFs have no paragraph markup, so paragraphs are guessed from the extracted lines: a blank
line or a line much shorter than the page's longest (a paragraph's last line, a heading) ends
one. Bare page numbers at the top or
bottom of a page are dropped. Encrypted, corrupt and image-only (scanned) PDFs raise
`IngestError` with what to do about it.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import TYPE_CHECKING

from cairn.errors import IngestError
from cairn.ingest.formats.blocks import clean_text, title_from_stem
from cairn.types import Block, ParsedDocument

if TYPE_CHECKING:
    from pypdf import PdfReader

ENCRYPTED = "encrypted PDF: remove the password and ingest it again"
SCANNED = "no extractable text (scanned PDF? run OCR first)"

_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?\s*$", re.I)
_JUNK_TITLES = frozenset({"untitled", "untitled document", "document", "microsoft word"})


def read(path: Path, data: bytes) -> ParsedDocument:
    """Read the text layer of a PDF, page by page (`Block.page` is 1-based)."""
    reader = _open(path, data)
    blocks: list[Block] = []
    failed_pages = 0
    first_line = ""
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception:  # one damaged page should not lose the whole document
            failed_pages += 1
            continue
        first_line = first_line or next(
            (s for s in map(clean_text, text.split("\n")) if s and not _PAGE_NUMBER.match(s)), ""
        )
        blocks.extend(
            Block(kind="text", text=paragraph, page=number) for paragraph in paragraphs(text)
        )
    if not blocks:
        if failed_pages:
            raise IngestError(str(path), "corrupt PDF: no page could be read")
        raise IngestError(str(path), SCANNED)
    metadata = {"pages": str(len(reader.pages))}
    if len(first_line) > 120:
        first_line = ""
    title = _metadata_title(reader, metadata) or first_line or title_from_stem(path.stem)
    return ParsedDocument(title=title, blocks=tuple(blocks), doc_type="pdf", metadata=metadata)


def paragraphs(page_text: str) -> list[str]:
    """Split one page of extracted text into whitespace-normalised paragraphs."""
    lines = [line.strip() for line in page_text.replace("\r", "\n").split("\n")]
    while lines and (not lines[0] or _PAGE_NUMBER.match(lines[0])):
        lines.pop(0)
    while lines and (not lines[-1] or _PAGE_NUMBER.match(lines[-1])):
        lines.pop()
    width = max((len(line) for line in lines), default=0)
    found: list[str] = []
    current: list[str] = []
    for line in lines:
        if not line:
            found.append(" ".join(current))
            current = []
            continue
        current.append(line)
        if len(line) < 0.7 * width:  # a short line ends a paragraph or is a heading
            found.append(" ".join(current))
            current = []
    found.append(" ".join(current))
    return [text for text in map(clean_text, found) if text]


def _open(path: Path, data: bytes) -> PdfReader:
    from pypdf import PdfReader  # lazy: keep `import cairn...` fast
    from pypdf.errors import DependencyError, PdfReadError

    if b"%PDF-" not in data[:1024]:
        raise IngestError(str(path), "not a PDF file (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except DependencyError as exc:
                raise IngestError(
                    str(path), f"{ENCRYPTED} (or `pip install cryptography` to read AES)"
                ) from exc
            if not opened:
                raise IngestError(str(path), ENCRYPTED)
        len(reader.pages)  # forces the page tree to load, where truncation shows up
    except IngestError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise IngestError(str(path), f"corrupt or truncated PDF ({_short(exc)})") from exc
    except Exception as exc:
        raise IngestError(str(path), f"unreadable PDF ({_short(exc)})") from exc
    return reader


def _metadata_title(reader: PdfReader, metadata: dict[str, str]) -> str:
    try:
        info = reader.metadata
        title = clean_text(str(info.title or "")) if info else ""
        author = clean_text(str(info.author or "")) if info else ""
    except Exception:  # a broken info dictionary is not worth failing the document for
        return ""
    if author:
        metadata["author"] = author
    return "" if title.lower() in _JUNK_TITLES else title


def _short(exc: Exception) -> str:
    message = clean_text(str(exc)) or type(exc).__name__
    return message[:120]
