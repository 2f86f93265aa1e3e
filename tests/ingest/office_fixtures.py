"""Office files with known structure, built with the libraries that read them back."""

from __future__ import annotations

import io
from datetime import date

TABLE = [
    ["Region", "Revenue", "Growth"],
    ["North", "1,200", "4%"],
    ["South", "950", "-2% | flat"],
    ["East", "1,730", "11%"],
]

DOCX_PARAGRAPHS = [
    "Cairn indexes office documents as structure.",
    "Revenue grew in every region except the South.",
    "Nested sections keep their whole heading path.",
    "Appendix text closes the document.",
]


def docx_bytes(*, core_title: str = "Annual Report 2026") -> bytes:
    """Title paragraph, Heading 1/2/1 sections, paragraphs, a bulleted list and a table."""
    import docx

    document = docx.Document()
    document.core_properties.title = core_title
    document.core_properties.author = "Ada Lovelace"
    document.add_paragraph("Annual Report", style="Title")
    document.add_paragraph(DOCX_PARAGRAPHS[0])
    document.add_heading("Results", level=1)
    document.add_paragraph(DOCX_PARAGRAPHS[1])
    table = document.add_table(rows=len(TABLE), cols=len(TABLE[0]))
    for r, row in enumerate(TABLE):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    document.add_heading("By quarter", level=2)
    document.add_paragraph(DOCX_PARAGRAPHS[2])
    document.add_paragraph("first point", style="List Bullet")
    document.add_paragraph("second point", style="List Bullet")
    document.add_paragraph("a sub-point", style="List Bullet 2")
    document.add_heading("Appendix", level=1)
    document.add_paragraph(DOCX_PARAGRAPHS[3])
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


SLIDES = [
    ("Quarterly review", ["Revenue up 12%", "Costs flat"], "Mention the new office."),
    ("Regional table", [], ""),
    ("", ["A slide without a title"], ""),
]


def pptx_bytes() -> bytes:
    """Three slides: bullets with a sub-bullet and notes, a table, and an untitled slide."""
    import pptx
    from pptx.util import Inches

    presentation = pptx.Presentation()
    presentation.core_properties.title = ""
    for title, bullets, notes in SLIDES:
        layout = presentation.slide_layouts[1 if title else 6]
        slide = presentation.slides.add_slide(layout)
        if title:
            slide.shapes.title.text = title
        if bullets and title:
            body = slide.placeholders[1].text_frame
            body.text = bullets[0]
            for text in bullets[1:]:
                paragraph = body.add_paragraph()
                paragraph.text = text
                paragraph.level = 1
        elif bullets:
            box = slide.shapes.add_textbox(Inches(1), Inches(1), Inches(6), Inches(1))
            box.text_frame.text = bullets[0]
        if title == "Regional table":
            for placeholder in list(slide.placeholders)[1:]:
                placeholder.element.getparent().remove(placeholder.element)
            shape = slide.shapes.add_table(
                len(TABLE), len(TABLE[0]), Inches(1), Inches(2), Inches(6), Inches(2)
            )
            for r, row in enumerate(TABLE):
                for c, text in enumerate(row):
                    shape.table.cell(r, c).text = text
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def xlsx_bytes(*, long_rows: int = 45) -> bytes:
    """A `Summary` sheet (text, numbers, a date, a percentage, a formula with a cached value)
    and a `Ledger` sheet of `long_rows` rows; written with XlsxWriter, which can store the
    cached value of a formula (openpyxl cannot)."""
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    workbook.set_properties({"title": "Budget 2026", "author": "Grace Hopper"})
    percent = workbook.add_format({"num_format": "0%"})
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    summary = workbook.add_worksheet("Summary")
    summary.write_row(0, 0, ["Item", "Amount", "Share", "Due"])
    summary.write_row(1, 0, ["Rent", 1200])
    summary.write_number(1, 2, 0.25, percent)
    summary.write_datetime(1, 3, date(2026, 12, 5), day)
    summary.write_row(2, 0, ["Travel", 310.5])
    summary.write_number(2, 2, 0.125, percent)
    summary.write_string(3, 0, "Total")
    summary.write_formula(3, 1, "=SUM(B2:B3)", None, 1510.5)
    ledger = workbook.add_worksheet("Ledger")
    ledger.write_row(0, 0, ["Entry", "Account", "Amount"])
    for n in range(1, long_rows + 1):
        ledger.write_row(n, 0, [f"E{n:03d}", f"acct-{n % 7}", n * 10])
    workbook.close()
    return buffer.getvalue()


def eml_bytes(*, html_only: bool = False, attach: dict[str, bytes] | None = None) -> bytes:
    """A multipart message: text/plain and text/html alternatives (or HTML only) and
    attachments."""
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = "Q4 budget review"
    message["From"] = "Ada Lovelace <ada@example.org>"
    message["To"] = "Grace Hopper <grace@example.org>, team@example.org"
    message["Date"] = "Sat, 05 Dec 2026 10:30:00 +0000"
    plain = "Hi Grace,\n\nThe Q4 numbers are attached.\nTravel is over budget.\n\nAda\n"
    html = (
        "<html><body><h1>Budget</h1><p>The Q4 numbers are attached.</p>"
        "<table><tr><th>Item</th><th>Amount</th></tr><tr><td>Travel</td><td>310</td></tr>"
        "</table></body></html>"
    )
    if html_only:
        message.set_content(html, subtype="html")
    else:
        message.set_content(plain)
        message.add_alternative(html, subtype="html")
    for name, data in (attach or {}).items():
        maintype, subtype = ("text", "plain") if name.endswith(".txt") else ("application", "x")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return bytes(message)


FOOTNOTES = {
    "1": "Restated for the change in accounting policy.",
    "2": "Before the one-off gain on the sale of the old office.",
}
ENDNOTE = "Figures are unaudited."

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_NOTE_CONTENT = "application/vnd.openxmlformats-officedocument.wordprocessingml.{kind}s+xml"
_NOTE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/{kind}s"


def _notes_xml(kind: str, notes: dict[str, str]) -> str:
    separators = "".join(
        f'<w:{kind} w:type="{t}" w:id="{i}"><w:p><w:r><w:separator/></w:r></w:p></w:{kind}>'
        for i, t in (("-1", "separator"), ("0", "continuationSeparator"))
    )
    body = "".join(
        f'<w:{kind} w:id="{n}"><w:p><w:r><w:{kind}Ref/></w:r>'
        f'<w:r><w:t xml:space="preserve"> {text}</w:t></w:r></w:p></w:{kind}>'
        for n, text in notes.items()
    )
    return f'<?xml version="1.0"?><w:{kind}s xmlns:w="{_W_NS}">{separators}{body}</w:{kind}s>'


def docx_with_furniture_bytes() -> bytes:
    """Two sections with their own page headers, a footer with a page number, a footer table,
    and footnotes and an endnote referred to from the body (Word's own XML for them)."""
    import zipfile

    import docx
    from docx.enum.section import WD_SECTION
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    document = docx.Document()
    document.add_heading("Results", level=1)
    paragraph = document.add_paragraph("Revenue grew by 12 percent")
    for note, kind in (("1", "footnote"), ("2", "footnote"), ("1", "endnote")):
        run = paragraph.add_run()
        reference = OxmlElement(f"w:{kind}Reference")
        reference.set(qn("w:id"), note)
        run._r.append(reference)
        if note == "1" and kind == "footnote":
            paragraph.add_run(" and costs were flat")
    paragraph.add_run(".")
    first = document.sections[0]
    first.header.paragraphs[0].text = "ACME Corporation - Annual Report 2026"
    first.footer.paragraphs[0].text = "7"
    table = first.footer.add_table(rows=1, cols=2, width=first.page_width)
    table.cell(0, 0).text = "Registered in Lisbon"
    table.cell(0, 1).text = "Company no. 4411"
    document.add_section(WD_SECTION.NEW_PAGE)
    second = document.sections[1]
    second.header.is_linked_to_previous = False
    second.header.paragraphs[0].text = "Appendix - not for distribution"
    document.add_paragraph("The appendix lists the regions.")
    buffer = io.BytesIO()
    document.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "[Content_Types].xml":
                overrides = "".join(
                    f'<Override PartName="/word/{k}s.xml" ContentType="'
                    f'{_NOTE_CONTENT.format(kind=k)}"/>'
                    for k in ("footnote", "endnote")
                )
                data = data.replace(b"</Types>", overrides.encode() + b"</Types>")
            elif item.filename == "word/_rels/document.xml.rels":
                rels = "".join(
                    f'<Relationship Id="rIdNotes{k}" Type="{_NOTE_REL.format(kind=k)}" '
                    f'Target="{k}s.xml"/>'
                    for k in ("footnote", "endnote")
                )
                data = data.replace(b"</Relationships>", rels.encode() + b"</Relationships>")
            target.writestr(item, data)
        target.writestr("word/footnotes.xml", _notes_xml("footnote", FOOTNOTES))
        target.writestr("word/endnotes.xml", _notes_xml("endnote", {"1": ENDNOTE}))
    return out.getvalue()
