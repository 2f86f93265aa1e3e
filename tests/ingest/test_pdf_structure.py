"""The PDF reader on what browsers and document tools draw around the text: page frames and
white boxes around tables, tables running over pages, bullets drawn as discs, code in a
monospaced font, words split by a font change, web page titles, API definition terms.

Each fixture is generated with known truth (tests/ingest/pdf_truth.py) and checked for exact
recovery.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.config import ChunkSettings
from cairn.ingest.chunking import chunk_document
from cairn.ingest.formats import pdf as pdf_format
from cairn.types import ParsedDocument

from . import pdf_truth as truth

fpdf = pytest.importorskip("fpdf")


def read(name: str, data: bytes) -> ParsedDocument:
    return pdf_format.read(Path(name), data)


class WordCounter:
    def count(self, text: str) -> int:
        return len(text.split())


def test_a_page_background_and_white_boxes_do_not_break_a_ruled_table() -> None:
    fixture = truth.framed_table()
    doc = read("framed.pdf", fixture.data)
    tables = [b.text for b in doc.blocks if b.kind == "table"]
    assert len(tables) == 1
    assert truth.cell_recall(fixture.tables, tables) == 1.0
    assert truth.paragraph_recall(fixture.paragraphs, [b.text for b in doc.blocks]) == 1.0


def test_a_table_running_onto_the_next_page_is_one_table_with_its_header_once() -> None:
    fixture = truth.long_table()
    doc = read("long-table.pdf", fixture.data)
    assert int(doc.metadata["pages"]) == 2
    tables = [b for b in doc.blocks if b.kind == "table"]
    assert len(tables) == 1
    assert tables[0].page == 1
    assert tables[0].text.count("| Item | 2021 | 2020 |") == 1
    assert truth.markdown_tables([tables[0].text]) == [list(map(list, fixture.tables[0]))]
    _text, drafts = chunk_document(doc, WordCounter(), ChunkSettings(target_tokens=50))
    assert [d.text for d in drafts if "| Item |" in d.text] == [tables[0].text]


def test_bullets_drawn_as_discs_make_one_list_item_each() -> None:
    fixture = truth.drawn_bullets()
    doc = read("bullets.pdf", fixture.data)
    assert [b.text for b in doc.blocks] == list(fixture.paragraphs)


def test_a_line_left_of_a_list_item_text_ends_the_item() -> None:
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    lines = [("Syntax:", False), (truth.ITEMS[0], True), ("Modules:", False), ("tomllib", True)]
    for text, bullet in lines:
        if bullet:
            pdf.set_fill_color(0)
            pdf.ellipse(pdf.l_margin + 1, pdf.get_y() + 1.6, 1.2, 1.2, style="F")
        pdf.set_x(pdf.l_margin + (5 if bullet else 0))
        pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")
    doc = read("list.pdf", bytes(pdf.output()))
    assert [b.text for b in doc.blocks] == [
        "Syntax:",
        f"- {truth.ITEMS[0]}",
        "Modules:",
        "- tomllib",
    ]


@pytest.mark.parametrize("button", [False, True], ids=["plain", "copy-button"])
def test_code_in_a_monospaced_font_keeps_its_lines_blank_lines_and_indentation(
    button: bool,
) -> None:
    fixture = truth.code_block(button=button)
    doc = read("code.pdf", fixture.data)
    texts = [b.text for b in doc.blocks]
    # Short code lines and a label at the right edge are no second column: prose stays whole.
    assert texts.count(fixture.paragraphs[0]) == 3
    assert texts.count(fixture.paragraphs[1]) == 3
    code = [b.text for b in doc.blocks if b.kind == "code"]
    assert len(code) == 3
    for text in code:
        first, *rest = text.split("\n")
        assert rest == truth.CODE.split("\n")[1:]
        assert first.startswith(truth.CODE.split("\n")[0])
    if not button:
        assert code == [truth.CODE] * 3
    # A code block is never cut by the chunker.
    _text, drafts = chunk_document(
        doc, WordCounter(), ChunkSettings(target_tokens=16, overlap_tokens=4, min_tokens=0)
    )
    assert sum(truth.CODE.split("\n")[-1] in d.text for d in drafts) == 3


def test_words_split_by_a_font_change_are_joined_without_a_space() -> None:
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.write(5, "Instances are ")
    pdf.set_font("Courier", size=11)
    pdf.write(5, "copy")
    pdf.set_font("Helvetica", size=11)
    pdf.write(5, "ing the slots of ")
    pdf.set_font("Courier", size=11)
    pdf.write(5, "print")
    pdf.set_font("Helvetica", size=14)
    pdf.write(5, "(")
    pdf.set_font("Helvetica", size=11)
    pdf.write(5, "x")
    pdf.set_font("Helvetica", size=14)
    pdf.write(5, ")")
    pdf.set_font("Helvetica", size=11)
    pdf.write(5, " and more.")
    doc = read("words.pdf", bytes(pdf.output()))
    assert [b.text for b in doc.blocks] == ["Instances are copying the slots of print(x) and more."]


@pytest.mark.parametrize(
    ("title", "heading"),
    [
        ("Built-in Functions \u2014 Python 3.11.2 documentation", "Built-in Functions"),
        (
            "unittest.mock - mock object library - Python docs",
            "unittest.mock - mock object library",
        ),
        ("ACME | Built-in Functions", "Built-in Functions"),
    ],
)
def test_a_web_page_title_loses_the_site_name_and_its_heading_leaves_the_paths(
    title: str, heading: str
) -> None:
    pdf = fpdf.FPDF()
    pdf.set_title(title)
    pdf.add_page()
    for size, text in (
        (20, heading),
        (11, truth.PARAGRAPHS[0]),
        (15, "Details"),
        (11, truth.PARAGRAPHS[1]),
    ):
        pdf.set_font("Helvetica", size=size)
        pdf.multi_cell(0, size * 0.5, text)
        pdf.ln(4)
    doc = read("functions.pdf", bytes(pdf.output()))
    assert doc.title == heading
    assert [(b.section, b.text) for b in doc.blocks] == [
        ((), truth.PARAGRAPHS[0]),
        (("Details",), truth.PARAGRAPHS[1]),
    ]


@pytest.mark.parametrize(
    "title",
    ["Quarterly report \u2014 ACME", "ACME | Quarterly report", "Quarterly report"],
)
def test_a_title_naming_another_page_or_no_site_is_kept(title: str) -> None:
    pdf = fpdf.FPDF()
    pdf.set_title(title)
    pdf.add_page()
    for size, text in ((20, "Risks"), (11, truth.PARAGRAPHS[0])):
        pdf.set_font("Helvetica", size=size)
        pdf.multi_cell(0, size * 0.5, text)
        pdf.ln(4)
    doc = read("report.pdf", bytes(pdf.output()))
    assert doc.title == title
    assert [b.section for b in doc.blocks] == [("Risks",)]


def test_definition_terms_with_a_prefix_a_decorator_or_several_signatures_are_named() -> None:
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=20)
    pdf.multi_cell(0, 10, "Built-in functions")
    pdf.ln(4)
    terms = (
        ("class ", "", "property", ["(fget=None, fset=None)"]),
        ("", "@", "staticmethod", [""]),
        ("", "", "max", ["(iterable, *, key=None)", "(arg1, arg2, *args, key=None)"]),
    )
    for prefix, touching, name, signatures in terms:
        for signature in signatures:
            pdf.set_font("Courier", "I", size=10)
            pdf.write(5, prefix)
            pdf.set_font("Courier", size=10)
            pdf.write(5, touching)
            pdf.set_font("Courier", "B", size=12)
            pdf.write(5, name)
            pdf.set_font("Courier", size=10)
            pdf.write(5, signature)
            pdf.ln(5)
        pdf.ln(4)
        pdf.set_x(pdf.l_margin + 8)
        pdf.set_font("Helvetica", size=10)
        pdf.multi_cell(0, 5, f"Return the {name}. {truth.LOREM}")
        pdf.ln(4)
    doc = read("functions.pdf", bytes(pdf.output()))
    assert [(b.section, b.kind, b.text.split(".")[0]) for b in doc.blocks] == [
        (("property",), "code", "class property(fget=None, fset=None)"),
        (("property",), "text", "Return the property"),
        (("@staticmethod",), "code", "@staticmethod"),
        (("@staticmethod",), "text", "Return the staticmethod"),
        (("max",), "code", "max(iterable, *, key=None)\nmax(arg1, arg2, *args, key=None)"),
        (("max",), "text", "Return the max"),
    ]


def _contents_then_chapters(chapters: bool) -> bytes:
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=18)
    pdf.cell(0, 10, "Contents", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    heads = [f"{n}. Chapter on the results of region {n}" for n in range(1, 9)]
    links = [pdf.add_link() for _ in heads]
    for head, link in zip(heads, links, strict=True):
        pdf.cell(0, 6, head, link=link, new_x="LMARGIN", new_y="NEXT")
    if chapters:
        for head, link in zip(heads[:2], links[:2], strict=True):
            pdf.add_page()
            pdf.set_link(link)
            pdf.set_font("Helvetica", size=11)
            pdf.multi_cell(0, 5, f"{head}: {truth.PARAGRAPHS[0]}")
            pdf.ln(4)
            pdf.write(5, "The full figures are on ")
            pdf.write(5, "the results page", link=links[0])
            pdf.write(5, f" of this report. {truth.LOREM}")
    return bytes(pdf.output())


def test_a_page_of_links_only_is_a_table_of_contents_and_not_indexed() -> None:
    from cairn.errors import EmptyDocument

    doc = read("report.pdf", _contents_then_chapters(chapters=True))
    assert {b.page for b in doc.blocks} == {2, 3}  # a page with a link in its prose stays
    assert not [b for b in doc.blocks if "Chapter on the results of region 5" in b.text]
    with pytest.raises(EmptyDocument) as err:
        read("contents.pdf", _contents_then_chapters(chapters=False))
    assert err.value.reason == pdf_format.NAVIGATION


def test_a_table_without_rules_is_a_markdown_table_with_its_header() -> None:
    fixture = truth.unruled_table()
    doc = read("segments.pdf", fixture.data)
    tables = [b.text for b in doc.blocks if b.kind == "table"]
    assert len(tables) == 1
    assert tables[0].startswith("| Segment | Revenue | Margin | Outlook |\n|---|---|---|---|\n")
    assert truth.cell_recall(fixture.tables, tables) == 1.0
    assert truth.paragraph_recall(fixture.paragraphs, [b.text for b in doc.blocks]) == 1.0


def test_aligned_bullets_item_numbers_and_two_columns_of_prose_are_no_table() -> None:
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    for marker, item in (("-", "first point"), ("*", "second point"), ("3.", "third")):
        pdf.cell(8, 6, marker)
        pdf.cell(0, 6, f"the {item} of the list, which is longer than a table cell would be")
        pdf.ln(6)
    doc = read("list.pdf", bytes(pdf.output()))
    assert [b.kind for b in doc.blocks] == ["text"] * len(doc.blocks)
    columns = read("columns.pdf", truth.two_columns().data)
    assert [b.kind for b in columns.blocks] == ["text"] * len(columns.blocks)


def test_a_section_runs_on_over_a_page_break_into_one_chunk_citing_its_first_page() -> None:
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.set_y(pdf.h - 50)  # two short paragraphs at the foot of page 1, two on page 2
    texts = [
        "The dividend rises to forty cents.",
        "Capital expenditure stays on budget.",
        "Staff turnover fell again this year.",
        "The new office opened on time.",
    ]
    for text in texts:
        pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(8)
    doc = read("points.pdf", bytes(pdf.output()))
    assert [(b.page, b.text) for b in doc.blocks] == [(1, texts[0]), (1, texts[1])] + [
        (2, t) for t in texts[2:]
    ]
    _text, drafts = chunk_document(doc, WordCounter(), ChunkSettings())
    assert [(d.anchor, d.page) for d in drafts] == [("page=1", 1)]
    assert drafts[0].text == "\n\n".join(texts)
    small = ChunkSettings(target_tokens=16, overlap_tokens=0, min_tokens=0)
    _text, drafts = chunk_document(doc, WordCounter(), small)
    assert [d.anchor for d in drafts] == [f"page={d.page}" for d in drafts]
    assert [d.page for d in drafts] == [1, 2]
