"""Word, PowerPoint and Excel files: headings, slides, sheets and tables recovered exactly,
and broken packages reported with their path and reason."""

from __future__ import annotations

import io
import random
import sys
import zipfile
from pathlib import Path

import pytest

from cairn.errors import IngestError
from cairn.ingest.formats import office
from cairn.ingest.readers import SUPPORTED_SUFFIXES, read_document
from cairn.types import Block, ParsedDocument
from tests.ingest.office_fixtures import (
    DOCX_PARAGRAPHS,
    ENDNOTE,
    FOOTNOTES,
    SLIDES,
    TABLE,
    docx_bytes,
    docx_with_furniture_bytes,
    pptx_bytes,
    xlsx_bytes,
)


def read(name: str, data: bytes) -> ParsedDocument:
    return read_document(Path(name), data)


def reason(name: str, data: bytes) -> str:
    with pytest.raises(IngestError) as info:
        read(name, data)
    assert info.value.path == name
    return info.value.reason


def parse_table(text: str) -> list[dict[str, str]]:
    """Rows of a Markdown table as {column header: cell}."""
    lines = text.split("\n")
    assert lines[1].strip("|").split("|") == ["---"] * (lines[0].count(" | ") + 1)

    def cells(line: str) -> list[str]:
        inner = line[2:-2].replace("\\|", "\0")
        return [c.replace("\0", "|") for c in inner.split(" | ")]

    header = cells(lines[0])
    return [dict(zip(header, cells(line), strict=True)) for line in lines[2:]]


def as_records(rows: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_office_suffixes_are_supported() -> None:
    assert {".docx", ".pptx", ".xlsx", ".eml"} <= SUPPORTED_SUFFIXES


# --- DOCX ---------------------------------------------------------------------------------------


def test_docx_headings_paragraphs_lists_and_tables() -> None:
    doc = read("report.docx", docx_bytes())
    assert doc.doc_type == "docx"
    assert doc.title == "Annual Report 2026"
    assert doc.metadata["author"] == "Ada Lovelace"
    outline = [(b.kind, b.section) for b in doc.blocks]
    assert outline == [
        ("text", ()),  # the Title paragraph, kept: the properties hold another title
        ("text", ()),
        ("text", ("Results",)),
        ("table", ("Results",)),
        ("text", ("Results", "By quarter")),
        ("list", ("Results", "By quarter")),
        ("text", ("Appendix",)),
    ]
    assert [b.text for b in doc.blocks if b.kind == "text"] == ["Annual Report", *DOCX_PARAGRAPHS]
    table = next(b for b in doc.blocks if b.kind == "table")
    assert parse_table(table.text) == as_records(TABLE)
    lists = next(b for b in doc.blocks if b.kind == "list")
    assert lists.text == "- first point\n- second point\n  - a sub-point"


def test_docx_page_headers_footers_footnotes_and_endnotes_are_kept() -> None:
    doc = read("report.docx", docx_with_furniture_bytes())
    assert [(b.kind, b.section, b.text) for b in doc.blocks] == [
        ("text", ("Results",), "Revenue grew by 12 percent[1] and costs were flat[2][1]."),
        ("text", ("Results",), "The appendix lists the regions."),
        # each section's own header once; the footer's bare page number left out
        ("text", ("Header",), "ACME Corporation - Annual Report 2026"),
        ("text", ("Header",), "Appendix - not for distribution"),
        ("table", ("Footer",), "| Registered in Lisbon | Company no. 4411 |\n|---|---|"),
        *[("text", ("Footnotes",), f"[{n}] {text}") for n, text in FOOTNOTES.items()],
        ("text", ("Endnotes",), f"[1] {ENDNOTE}"),
    ]


def test_docx_with_a_damaged_footnotes_part_keeps_the_rest() -> None:
    source = zipfile.ZipFile(io.BytesIO(docx_with_furniture_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            damaged = item.filename == "word/footnotes.xml"
            target.writestr(item, b"<w:footnotes" if damaged else source.read(item.filename))
    doc = read("report.docx", out.getvalue())
    assert {b.section for b in doc.blocks} == {
        ("Results",),
        ("Header",),
        ("Footer",),
        ("Endnotes",),
    }


def test_docx_title_falls_back_to_title_paragraph_heading_and_file_name() -> None:
    untitled = read("r.docx", docx_bytes(core_title=""))
    assert untitled.title == "Annual Report"
    assert untitled.blocks[0].text == DOCX_PARAGRAPHS[0]  # the title is not repeated
    assert (
        read("r.docx", docx_bytes(core_title="Annual Report")).blocks[0].text
        == (DOCX_PARAGRAPHS[0])
    )

    import docx

    document = docx.Document()
    document.core_properties.title = ""
    document.add_heading("Install guide", level=1)
    document.add_paragraph("Run the installer.")
    buffer = io.BytesIO()
    document.save(buffer)
    doc = read("r.docx", buffer.getvalue())
    assert doc.title == "Install guide"
    assert doc.blocks == (
        Block(kind="text", text="Run the installer.", section=("Install guide",)),
    )

    plain = docx.Document()
    plain.core_properties.title = ""
    plain.add_paragraph("Only a paragraph.")
    buffer = io.BytesIO()
    plain.save(buffer)
    assert read("team_notes-2026.docx", buffer.getvalue()).title == "team notes 2026"


def test_docx_heading_by_outline_level_of_a_custom_style() -> None:
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    document = docx.Document()
    style = document.styles.add_style("Chapter", WD_STYLE_TYPE.PARAGRAPH)
    level = OxmlElement("w:outlineLvl")
    level.set(qn("w:val"), "0")
    style.element.get_or_add_pPr().append(level)
    document.add_paragraph("Chapter one", style="Chapter")
    document.add_paragraph("Body text.")
    buffer = io.BytesIO()
    document.save(buffer)
    doc = read("c.docx", buffer.getvalue())
    assert [(b.section, b.text) for b in doc.blocks] == [(("Chapter one",), "Body text.")]


# --- PPTX ---------------------------------------------------------------------------------------


def test_pptx_one_section_per_slide_with_notes_and_tables() -> None:
    doc = read("deck.pptx", pptx_bytes())
    assert doc.doc_type == "pptx"
    assert doc.title == "Quarterly review"  # no core title: the first slide's
    assert doc.metadata["slides"] == "3"
    sections = [(b.section, b.page, b.kind) for b in doc.blocks]
    assert sections == [
        (("Slide 1: Quarterly review",), 1, "list"),
        (("Slide 1: Quarterly review",), 1, "text"),
        (("Slide 2: Regional table",), 2, "table"),
        (("Slide 3",), 3, "text"),
    ]
    bullets, notes, table, untitled = doc.blocks
    assert bullets.text == f"- {SLIDES[0][1][0]}\n  - {SLIDES[0][1][1]}"
    assert notes.text == f"Speaker notes: {SLIDES[0][2]}"
    assert parse_table(table.text) == as_records(TABLE)
    assert untitled.text == SLIDES[2][1][0]


# --- XLSX ---------------------------------------------------------------------------------------


def test_xlsx_one_section_per_sheet_with_cached_formula_values() -> None:
    doc = read("budget.xlsx", xlsx_bytes())
    assert doc.doc_type == "xlsx"
    assert doc.title == "Budget 2026"
    assert doc.metadata["sheets"] == "Summary, Ledger"
    summary = [b for b in doc.blocks if b.section == ("Summary",)]
    assert len(summary) == 1 and summary[0].kind == "table"
    assert parse_table(summary[0].text) == [
        {"Item": "Rent", "Amount": "1200", "Share": "25%", "Due": "2026-12-05"},
        {"Item": "Travel", "Amount": "310.5", "Share": "12.5%", "Due": ""},
        {"Item": "Total", "Amount": "1510.5", "Share": "", "Due": ""},
    ]


def test_xlsx_long_sheet_is_split_with_the_header_repeated() -> None:
    doc = read("budget.xlsx", xlsx_bytes(long_rows=45))
    ledger = [b for b in doc.blocks if b.section == ("Ledger",)]
    assert [b.kind for b in ledger] == ["table"] * 3  # 45 rows, 20 per block
    records = [row for block in ledger for row in parse_table(block.text)]
    assert records == [
        {"Entry": f"E{n:03d}", "Account": f"acct-{n % 7}", "Amount": str(n * 10)}
        for n in range(1, 46)
    ]


def test_wide_rows_bound_a_table_block_by_characters() -> None:
    header = ["id", "note"]
    rows = [[str(n), "x" * (office.CHARS_PER_BLOCK // 2 - 10)] for n in range(5)]
    blocks = list(office.table_blocks([header, *rows]))
    assert len(blocks) == 3  # two rows per block
    assert all(b.startswith("| id | note |\n|---|---|\n") for b in blocks)
    assert [r["id"] for b in blocks for r in parse_table(b)] == ["0", "1", "2", "3", "4"]


# --- Broken files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "build"), [("a.docx", docx_bytes), ("a.pptx", pptx_bytes), ("a.xlsx", xlsx_bytes)]
)
def test_truncated_package_is_reported_with_path_and_reason(name: str, build: object) -> None:
    data = build()  # type: ignore[operator]
    kind = name.rsplit(".", 1)[1].upper()
    assert reason(name, data[: len(data) // 2]).startswith(f"corrupt or truncated {kind} file")


def test_wrong_content_is_reported() -> None:
    assert reason("a.docx", xlsx_bytes()) == (
        "not a DOCX file: it holds an Excel workbook (wrong suffix?)"
    )
    assert "not a readable zip archive" in reason("a.pptx", b"just some text, not a zip")
    legacy = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512
    assert "password-protected file or an old binary Office file" in reason("a.xlsx", legacy)


def test_office_lock_file_is_named_as_such() -> None:
    lock = b"\x0bAda Lovelace" + b"\x00" * 149
    assert reason("~$report.docx", lock).startswith("an Office lock file")


def test_broken_xml_inside_a_package_is_a_parse_error() -> None:
    source = zipfile.ZipFile(io.BytesIO(docx_bytes()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as broken:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/document.xml":
                data = data[: len(data) // 2]
            broken.writestr(info, data)
    assert reason("a.docx", buffer.getvalue()).startswith("could not parse DOCX: ")


def test_empty_document_has_no_text_content() -> None:
    import docx

    buffer = io.BytesIO()
    docx.Document().save(buffer)
    assert reason("empty.docx", buffer.getvalue()) == "no text content found"


def test_pptx_shapes_read_top_to_bottom_including_groups() -> None:
    import pptx
    from pptx.util import Inches

    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[6])
    bottom = slide.shapes.add_textbox(Inches(1), Inches(5), Inches(4), Inches(1))
    bottom.text_frame.text = "Written first, shown last."
    group = slide.shapes.add_group_shape()
    box = group.shapes.add_textbox(Inches(1), Inches(3), Inches(4), Inches(1))
    box.text_frame.text = "Inside a group, in the middle."
    top = slide.shapes.add_textbox(Inches(1), Inches(1), Inches(4), Inches(1))
    top.text_frame.text = "Written last, shown first."
    buffer = io.BytesIO()
    presentation.save(buffer)
    doc = read("order.pptx", buffer.getvalue())
    assert doc.title == "order"
    assert [b.text for b in doc.blocks] == [
        "Written last, shown first.",
        "Inside a group, in the middle.",
        "Written first, shown last.",
    ]


def test_pptx_chart_data_becomes_a_table() -> None:
    import pptx
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    data = CategoryChartData()
    data.categories = ["Q1", "Q2", "Q3"]
    data.add_series("Revenue", (1.5, 2.25, 3.0))
    data.add_series("Costs", (1.0, 1.0, 1.25))
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])
    slide.shapes.title.text = "Trend"
    frame = slide.shapes.add_chart(
        XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(2), Inches(6), Inches(4), data
    )
    frame.chart.has_title = True
    frame.chart.chart_title.text_frame.text = "Revenue and costs"
    buffer = io.BytesIO()
    presentation.save(buffer)
    doc = read("chart.pptx", buffer.getvalue())
    caption, table = doc.blocks
    assert caption.text == "Chart: Revenue and costs"
    assert table.section == ("Slide 1: Trend",) and table.page == 1
    assert parse_table(table.text) == [
        {"Category": "Q1", "Revenue": "1.5", "Costs": "1"},
        {"Category": "Q2", "Revenue": "2.25", "Costs": "1"},
        {"Category": "Q3", "Revenue": "3", "Costs": "1.25"},
    ]


def test_xlsx_title_lines_above_the_table_are_paragraphs() -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Staff"
    sheet["A1"] = "Head count by team"
    sheet["A2"] = "as of December"
    sheet.append([])
    sheet.append(["Team", "People", "Sum"])
    sheet.append(["Search", 4, "=B5"])  # openpyxl stores no cached value: the cell is empty
    sheet.append(["Ingest", 3, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    doc = read("staff.xlsx", buffer.getvalue())
    assert doc.title == "staff"
    assert [(b.kind, b.section) for b in doc.blocks] == [
        ("text", ("Staff",)),
        ("text", ("Staff",)),
        ("table", ("Staff",)),
    ]
    assert [b.text for b in doc.blocks[:2]] == ["Head count by team", "as of December"]
    assert parse_table(doc.blocks[2].text) == [
        {"Team": "Search", "People": "4", "Sum": ""},
        {"Team": "Ingest", "People": "3", "Sum": ""},
    ]


@pytest.mark.parametrize(
    ("name", "module", "package"),
    [
        ("a.docx", "docx", "python-docx"),
        ("a.pptx", "pptx", "python-pptx"),
        ("a.xlsx", "openpyxl", "openpyxl"),
    ],
)
def test_missing_library_gives_an_install_hint(
    name: str, module: str, package: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = {"a.docx": docx_bytes, "a.pptx": pptx_bytes, "a.xlsx": xlsx_bytes}[name]()
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    suffix = name[1:]
    assert reason(name, data) == f"reading {suffix} files needs {package}: pip install {package}"


@pytest.mark.parametrize(
    ("name", "build"), [("a.docx", docx_bytes), ("a.pptx", pptx_bytes), ("a.xlsx", xlsx_bytes)]
)
def test_damaged_bytes_give_a_document_or_a_clear_error(name: str, build: object) -> None:
    data = build()  # type: ignore[operator]
    rng = random.Random(13)
    kind = name.rsplit(".", 1)[1].upper()
    reasons = []
    for _ in range(40):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            read(name, bytes(damaged))
        except IngestError as exc:  # any other exception fails the test
            assert exc.path == name
            reasons.append(exc.reason)
    assert reasons and all(kind in r for r in reasons), reasons
    assert any(r.startswith(f"corrupt {kind} file (damaged zip entry: ") for r in reasons)
