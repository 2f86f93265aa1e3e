"""Parse time of office files and mail, next to the same content as Markdown/CSV and next to
the embedding time of the resulting chunks.

Builds one realistic file per type (a 40-section report, a 40-slide deck, a workbook of three
3,000-row sheets, a multipart e-mail with a Word attachment) with the libraries cairn reads
them with, plus the same text as Markdown (CSV for the workbook) as the peer; times
`read_document` on each (median of `--repeat` runs), then ingests each office file alone into
a fresh workspace with the real model for the embedding time.

    .venv/bin/python bench/office_parse.py [--repeat 5] [--json-out FILE] [--no-embed]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

from cairn.config import load_settings
from cairn.ingest.pipeline import ingest
from cairn.ingest.readers import read_document
from cairn.workspace import Workspace

WORDS = [
    "revenue",
    "cost",
    "margin",
    "region",
    "quarter",
    "forecast",
    "budget",
    "audit",
    "policy",
    "customer",
    "supplier",
    "risk",
    "growth",
    "plan",
    "review",
    "team",
    "office",
    "contract",
    "invoice",
    "payment",
    "report",
    "target",
    "market",
    "product",
]


def sentence(rng: random.Random, words: int = 14) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(4))


def table(rng: random.Random, rows: int, cols: int) -> list[list[str]]:
    header = [f"Column {c + 1}" for c in range(cols)]
    return [header] + [[f"{rng.choice(WORDS)} {rng.randint(1, 9999)}" for _ in header]] * rows


def md_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join([lines[0], "|" + "---|" * len(rows[0]), *lines[1:]])


def report(rng: random.Random) -> tuple[bytes, str]:
    """40 sections (Heading 1 + two Heading 2), 6 paragraphs each, a table every 4 sections."""
    import docx

    document = docx.Document()
    document.core_properties.title = "Annual report"
    md = ["# Annual report"]
    for s in range(40):
        document.add_heading(f"Section {s}", level=1)
        md.append(f"## Section {s}")
        for sub in range(2):
            document.add_heading(f"Part {s}.{sub}", level=2)
            md.append(f"### Part {s}.{sub}")
            for _ in range(3):
                text = paragraph(rng)
                document.add_paragraph(text)
                md.append(text)
        if s % 4 == 0:
            rows = table(rng, 10, 4)
            grid = document.add_table(rows=len(rows), cols=4)
            for r, row in enumerate(rows):
                for c, text in enumerate(row):
                    grid.cell(r, c).text = text
            md.append(md_table(rows))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue(), "\n\n".join(md)


def deck(rng: random.Random) -> tuple[bytes, str]:
    """40 slides: a title, five bullets and speaker notes; a table every fifth slide."""
    import pptx
    from pptx.util import Inches

    presentation = pptx.Presentation()
    md = ["# Deck"]
    for n in range(40):
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = f"Topic {n}"
        bullets = [sentence(rng, 8) for _ in range(5)]
        slide.placeholders[1].text_frame.text = "\n".join(bullets)
        notes = paragraph(rng)
        slide.notes_slide.notes_text_frame.text = notes
        md += [f"## Slide {n + 1}: Topic {n}", "\n".join(f"- {b}" for b in bullets), notes]
        if n % 5 == 0:
            rows = table(rng, 6, 4)
            shape = slide.shapes.add_table(7, 4, Inches(1), Inches(5), Inches(8), Inches(2))
            for r, row in enumerate(rows):
                for c, text in enumerate(row):
                    shape.table.cell(r, c).text = text
            md.append(md_table(rows))
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue(), "\n\n".join(md)


def workbook(rng: random.Random) -> tuple[bytes, str]:
    """Three sheets of 3,000 rows x 6 columns (text, integers, floats, a formula)."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    csv_lines = []
    for s in range(3):
        sheet = book.add_worksheet(f"Sheet {s}")
        header = ["id", "account", "region", "amount", "rate", "total"]
        sheet.write_row(0, 0, header)
        if s == 0:
            csv_lines.append(",".join(header))
        for r in range(1, 3001):
            amount, rate = rng.randint(1, 99999), round(rng.random(), 4)
            row = [r, rng.choice(WORDS), rng.choice(WORDS), amount, rate]
            sheet.write_row(r, 0, row)
            sheet.write_formula(r, 5, f"=D{r + 1}*E{r + 1}", None, round(amount * rate, 4))
            csv_lines.append(",".join(map(str, [*row, round(amount * rate, 4)])))
    book.close()
    return buffer.getvalue(), "\n".join(csv_lines)


def message(rng: random.Random, attachment: bytes, attached_md: str) -> tuple[bytes, str]:
    """text/plain + text/html alternatives of 30 paragraphs and a Word attachment (the peer:
    the body and the attachment's text as one Markdown file)."""
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = "Budget", "a@example.org", "b@example.org"
    mail["Date"] = "Sat, 05 Dec 2026 10:30:00 +0000"
    paragraphs = [paragraph(rng) for _ in range(30)]
    mail.set_content("\n\n".join(paragraphs))
    mail.add_alternative("".join(f"<p>{p}</p>" for p in paragraphs), subtype="html")
    mail.add_attachment(attachment, maintype="application", subtype="x", filename="r.docx")
    return bytes(mail), "# Budget\n\n" + "\n\n".join(paragraphs) + "\n\n" + attached_md


def median_seconds(read: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        read()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def embed_seconds(name: str, data: bytes) -> tuple[float, float, int]:
    """(parse+chunk seconds, embedding seconds, chunks) of ingesting one file alone."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        (corpus / name).write_bytes(data)
        settings = load_settings(workspace=Path(tmp) / "ws")
        ws = Workspace(settings, create=True)
        try:
            ws.embedder.warm_up()
            report = ingest(
                [corpus],
                store=ws.store,
                embedder=ws.embedder,
                tokenizer=ws.embedder.tokenizer,
                settings=settings,
            )
        finally:
            ws.close()
        return report.parse_seconds, report.embed_seconds, report.chunks + report.duplicates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-embed", action="store_true", help="Skip the embedding column.")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    rng = random.Random(13)
    docx_data, docx_md = report(rng)
    deck_data, deck_md = deck(rng)
    book_data, book_csv = workbook(rng)
    mail_data, mail_md = message(rng, docx_data, docx_md)
    cases = [
        ("report.docx", docx_data, "report.md", docx_md, "40 sections, 240 paragraphs, 10 tables"),
        ("deck.pptx", deck_data, "deck.md", deck_md, "40 slides, notes, 8 tables"),
        ("book.xlsx", book_data, "book.csv", book_csv, "3 sheets x 3,000 rows x 6 columns"),
        ("mail.eml", mail_data, "mail.md", mail_md, "plain + HTML, the .docx attached"),
    ]
    rows = []
    for name, data, peer_name, peer, what in cases:
        doc = read_document(Path(name), data)
        office_s = median_seconds(lambda: read_document(Path(name), data), args.repeat)  # noqa: B023
        peer_bytes = peer.encode()
        peer_s = median_seconds(lambda: read_document(Path(peer_name), peer_bytes), args.repeat)  # noqa: B023
        parse_s, embed_s, chunks = (0.0, 0.0, 0) if args.no_embed else embed_seconds(name, data)
        rows.append(
            {
                "file": name,
                "content": what,
                "kib": round(len(data) / 1024),
                "blocks": len(doc.blocks),
                "parse_ms": round(office_s * 1000, 1),
                "peer": peer_name,
                "peer_parse_ms": round(peer_s * 1000, 1),
                "ratio_vs_peer": round(office_s / peer_s, 2),
                "chunks": chunks,
                "ingest_parse_chunk_s": round(parse_s, 2),
                "embed_s": round(embed_s, 2),
            }
        )
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    if args.json_out:
        args.json_out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
