"""E-mail messages (`.eml`, MIME, via the standard library): doc_type `email`.

The subject is the title (else the file name); From, To, Cc and Date are metadata and also
the first paragraph, so a search for a sender or a date finds the message. The body is the
`text/plain` part when there is one (paragraphs at blank lines), else the `text/html` part
(read like a web page). Attachments are listed (metadata `attachments` and a paragraph);
those of a supported type are read too, each under a section `Attachment: <name>`. One
attachment that cannot be read is noted in metadata `attachment_errors`, not fatal.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime
from pathlib import Path

from cairn.errors import IngestError
from cairn.ingest.formats.blocks import BlockBuilder, clean_text, title_from_stem
from cairn.types import Block, ParsedDocument

_ADDRESS_HEADERS = ("From", "To", "Cc")
_MAX_ATTACHMENTS_READ = 20
_BLANK_LINES = re.compile(r"\n[ \t]*\n")


def read(path: Path, data: bytes) -> ParsedDocument:
    """Read a MIME message: headers, body and the attachments cairn can read."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or not any(
        _header(message, h) for h in ("From", "To", "Subject", "Date", "Message-ID")
    ):
        raise IngestError(str(path), "not an e-mail message (no From, To, Subject or Date header)")
    metadata: dict[str, str] = {}
    header_lines: list[str] = []
    for name in (*_ADDRESS_HEADERS, "Date"):
        value = _header(message, name)
        if value:
            metadata[name.lower()] = value
            header_lines.append(f"{name}: {value}")
    date = _iso_date(message)
    if date:
        metadata["date"] = date
    title = _header(message, "Subject") or title_from_stem(path.stem)
    out = BlockBuilder()
    out.emit("text", "; ".join(header_lines))
    out.extend(_body(path, message))
    names, attached, errors = _attachments(path, message)
    if names:
        metadata["attachments"] = ", ".join(names)
        out.emit("text", "Attachments: " + ", ".join(names))
    if errors:
        metadata["attachment_errors"] = "; ".join(errors)
    out.extend(attached)
    return ParsedDocument(
        title=title,
        blocks=tuple(out.blocks),
        doc_type="email",
        metadata=metadata,
        warnings=tuple(f"attachment {error}" for error in errors),
    )


def _header(message: EmailMessage, name: str) -> str:
    raw = next((v for k, v in message.raw_items() if k.lower() == name.lower()), None)
    if isinstance(raw, str) and any("\udc80" <= ch <= "\udcff" for ch in raw):
        return _raw_8bit(raw)
    try:
        value = message.get(name)
        return clean_text(str(value)) if value is not None else ""
    except (ValueError, IndexError, TypeError, AttributeError):  # a malformed header
        return ""


def _raw_8bit(raw: str) -> str:
    """A header sent as raw 8-bit bytes (against RFC 5322, common in old mail): UTF-8 when it
    decodes, else Windows-1252."""
    data = raw.encode("utf-8", errors="surrogateescape")
    try:
        return clean_text(data.decode("utf-8"))
    except UnicodeDecodeError:
        return clean_text(data.decode("cp1252", errors="replace"))


def _iso_date(message: EmailMessage) -> str:
    raw = message.get("Date")
    if not raw:
        return ""
    try:
        return parsedate_to_datetime(str(raw)).isoformat()
    except (TypeError, ValueError, IndexError):
        return ""


def _body(path: Path, message: EmailMessage) -> list[Block]:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return []
    text = _content(part)
    if not text.strip():
        return []
    if part.get_content_subtype() == "html":
        from cairn.ingest.formats import htmlpage
        from cairn.ingest.formats.htmltree import parse_html

        return list(htmlpage.read_plain(path, parse_html(text)).blocks)
    paragraphs = map(clean_text, _BLANK_LINES.split(text.replace("\r\n", "\n")))
    return [Block(kind="text", text=p) for p in paragraphs if p]


def _content(part: Message) -> str:
    """A text part decoded with its declared charset (unknown or wrong ones: UTF-8, replaced)."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except (LookupError, UnicodeError, KeyError, ValueError):
        pass
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""


def _attachments(path: Path, message: EmailMessage) -> tuple[list[str], list[Block], list[str]]:
    """(names, blocks of the attachments read, errors) for every attachment."""
    from cairn.ingest.readers import SUPPORTED_SUFFIXES, read_document

    names: list[str] = []
    blocks: list[Block] = []
    errors: list[str] = []
    for index, part in enumerate(message.iter_attachments(), start=1):
        name = clean_text(part.get_filename() or "") or f"attachment-{index}"
        if part.get_content_type() == "message/rfc822" and not name.endswith(".eml"):
            name += ".eml"
        names.append(name)
        suffix = Path(name).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES or len(names) > _MAX_ATTACHMENTS_READ:
            continue
        data = _attachment_bytes(part)
        if not data:
            continue
        try:
            document = read_document(Path(name), data)
        except IngestError as exc:
            errors.append(f"{name}: {exc.reason}")
            continue
        errors.extend(f"{name}: {warning}" for warning in document.warnings)
        out = BlockBuilder()
        out.heading(1, f"Attachment: {name}", None)
        for block in document.blocks:
            out.blocks.append(
                Block(
                    kind=block.kind,
                    text=block.text,
                    section=(*out.section, *block.section),
                    anchor=None,
                    page=block.page,
                )
            )
        blocks.extend(out.blocks)
    return names, blocks, errors


def _attachment_bytes(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return bytes(inner[0].as_bytes())
        return b""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""
