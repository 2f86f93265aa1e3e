"""E-mail messages: subject as title, headers as metadata, the plain body preferred, HTML
read like a page, attachments listed and read."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.errors import IngestError
from cairn.ingest.readers import read_document
from tests.ingest.office_fixtures import TABLE, docx_bytes, eml_bytes


def test_plain_body_is_preferred_and_headers_are_metadata() -> None:
    doc = read_document(Path("mail/q4.eml"), eml_bytes())
    assert doc.doc_type == "email"
    assert doc.title == "Q4 budget review"
    assert doc.metadata["from"] == "Ada Lovelace <ada@example.org>"
    assert doc.metadata["to"] == "Grace Hopper <grace@example.org>, team@example.org"
    assert doc.metadata["date"] == "2026-12-05T10:30:00+00:00"
    assert [b.text for b in doc.blocks] == [
        "From: Ada Lovelace <ada@example.org>; To: Grace Hopper <grace@example.org>,"
        " team@example.org; Date: Sat, 05 Dec 2026 10:30:00 +0000",
        "Hi Grace,",
        "The Q4 numbers are attached. Travel is over budget.",
        "Ada",
    ]
    assert "attachments" not in doc.metadata


def test_html_body_is_read_with_the_html_reader() -> None:
    doc = read_document(Path("q4.eml"), eml_bytes(html_only=True))
    body = [(b.kind, b.section, b.text) for b in doc.blocks[1:]]
    assert body == [
        ("text", (), "The Q4 numbers are attached."),
        ("table", (), "Item | Amount\nTravel | 310"),
    ]


def test_attachments_are_listed_and_supported_ones_read() -> None:
    attach = {"report.docx": docx_bytes(), "notes.txt": b"Call the auditors.", "x.bin": b"\1\2"}
    attach["broken.xlsx"] = b"PK\x03\x04 truncated"
    doc = read_document(Path("q4.eml"), eml_bytes(attach=attach))
    assert doc.metadata["attachments"] == "report.docx, notes.txt, x.bin, broken.xlsx"
    assert "Attachments: report.docx, notes.txt, x.bin, broken.xlsx" in [b.text for b in doc.blocks]
    assert doc.metadata["attachment_errors"].startswith(
        "broken.xlsx: corrupt or truncated XLSX file"
    )
    assert [w.split(":")[0] for w in doc.warnings] == ["attachment broken.xlsx"]
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.section == ("Attachment: report.docx", "Results")
    assert table.text.startswith("| " + " | ".join(TABLE[0]) + " |")
    notes = [b for b in doc.blocks if b.section == ("Attachment: notes.txt",)]
    assert [b.text for b in notes] == ["Call the auditors."]


def test_not_an_email_is_reported() -> None:
    with pytest.raises(IngestError) as info:
        read_document(Path("x.eml"), b"just a line of text\nand another\n")
    assert info.value.path == "x.eml"
    assert info.value.reason.startswith("not an e-mail message")


def test_subject_missing_uses_the_file_name() -> None:
    data = b"From: a@example.org\nTo: b@example.org\n\nHello there.\n"
    doc = read_document(Path("status_update.eml"), data)
    assert doc.title == "status update"
    assert doc.blocks[-1].text == "Hello there."


def test_forwarded_message_is_read_as_an_attachment() -> None:
    from email import message_from_bytes, policy
    from email.message import EmailMessage

    inner = message_from_bytes(eml_bytes(), policy=policy.default)
    outer = EmailMessage()
    outer["Subject"] = "Fwd: Q4 budget review"
    outer["From"] = "grace@example.org"
    outer.set_content("See below.")
    outer.add_attachment(inner)
    doc = read_document(Path("fwd.eml"), bytes(outer))
    assert doc.title == "Fwd: Q4 budget review"
    assert doc.metadata["attachments"] == "attachment-1.eml"
    forwarded = [b.text for b in doc.blocks if b.section == ("Attachment: attachment-1.eml",)]
    assert "The Q4 numbers are attached. Travel is over budget." in forwarded


def test_declared_charset_is_decoded() -> None:
    data = (
        "From: a@example.org\nSubject: Caf\u00e9\nContent-Type: text/plain; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: 8bit\n\nLe caf\u00e9 est pr\u00eat.\n"
    ).encode("latin-1")
    doc = read_document(Path("cafe.eml"), data)
    assert doc.blocks[-1].text == "Le caf\u00e9 est pr\u00eat."
    assert doc.title == "Caf\u00e9"  # a raw 8-bit header, as old mailers sent them
