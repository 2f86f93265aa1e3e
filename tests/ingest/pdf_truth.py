"""PDF fixtures with known truth (made with fpdf2) and the recovery scores used on them.

Each fixture is a PDF plus what a perfect reader recovers: its paragraphs (exact text) and
its tables (rows, the first row being the column headers, the first cell the row label).
Shared by tests/ingest/test_pdf.py and bench/pdf_extractors.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

LOREM = (
    "The committee reviewed the quarterly figures and found that revenue grew in every "
    "region while costs stayed within the budget agreed at the start of the year. "
    "Staff turnover fell for the third quarter in a row, and the new office opened on time."
)

PARAGRAPHS = [
    "Operating income rose to a record level because demand for the core products stayed "
    "strong and the cost of materials fell in the second half of the year.",
    "The board proposes a dividend of forty cents per share, payable in May to holders of "
    "record at the end of April, subject to approval at the annual meeting.",
    "Management believes the registrant's internal control over financial reporting was "
    "effective, and the noncontrolling interests are presented separately in equity.",
    LOREM,
    "Capital expenditure was lower than planned because two projects moved into next year; "
    "both remain on budget and neither changes the long-term plan of the company.",
]

TABLE = [
    ["Item", "2021", "2020", "Notes"],
    ["Total current assets", "536,245", "260,202", "Cash and receivables, net of allowances"],
    ["Property and equipment", "91,310", "88,004", "At cost less accumulated depreciation"],
    ["Goodwill", "12,000", "12,000", "No impairment recorded in either year of the report"],
    ["Total liabilities", "301,777", "150,919", "Includes the current portion of debt"],
]


@dataclass(frozen=True, slots=True)
class Fixture:
    name: str
    data: bytes
    paragraphs: tuple[str, ...]
    tables: tuple[tuple[tuple[str, ...], ...], ...] = ()
    headings: tuple[str, ...] = field(default=())
    code: tuple[str, ...] = ()
    """Code blocks as a perfect reader returns them: lines, blank lines, indentation."""


def _pdf(**kwargs: Any) -> Any:
    import fpdf

    class Doc(fpdf.FPDF):  # type: ignore[misc]
        running = False

        def header(self) -> None:
            if self.running:
                self.set_font("Helvetica", size=8)
                self.cell(0, 6, "ACME Corporation - Annual Report 2021", align="C")
                self.ln(10)

        def footer(self) -> None:
            if self.running:
                self.set_y(-12)
                self.set_font("Helvetica", size=8)
                self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="C")

    pdf = Doc(**kwargs)
    pdf.set_auto_page_break(True, margin=18)
    return pdf


def _paragraphs(pdf: Any, texts: Sequence[str], size: int = 11) -> None:
    pdf.set_font("Helvetica", size=size)
    for text in texts:
        pdf.multi_cell(0, size * 0.45, text)
        pdf.ln(size * 0.45)


def plain() -> Fixture:
    pdf = _pdf()
    pdf.add_page()
    _paragraphs(pdf, PARAGRAPHS)
    return Fixture("paragraphs", bytes(pdf.output()), tuple(PARAGRAPHS))


def running_heads() -> Fixture:
    """Running header and footer on every page; paragraphs flow across page breaks."""
    pdf = _pdf()
    pdf.running = True
    pdf.alias_nb_pages()
    pdf.add_page()
    texts = [f"{p} {LOREM}" for p in PARAGRAPHS] * 3
    _paragraphs(pdf, texts)
    return Fixture("running headers", bytes(pdf.output()), tuple(texts))


def hyphenated() -> Fixture:
    """Lines broken by hand inside words, with a hyphen at the end of the line."""
    lines = [
        ("Management believes the regis-", "trant's internal control was effective"),
        ("and the noncontro-", "lling interests are shown separately in equity."),
    ]
    truth = (
        "Management believes the registrant's internal control was effective "
        "and the noncontrolling interests are shown separately in equity."
    )
    pdf = _pdf()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for first, second in lines:
        pdf.cell(0, 5, first, new_x="LMARGIN", new_y="NEXT")
        pdf.cell(0, 5, second, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.multi_cell(0, 5, PARAGRAPHS[0])
    return Fixture("hyphenation", bytes(pdf.output()), (truth, PARAGRAPHS[0]))


def two_columns() -> Fixture:
    pdf = _pdf()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    with pdf.text_columns(ncols=2, gutter=10) as cols:
        for text in PARAGRAPHS:
            with cols.paragraph(text_align="LEFT", bottom_margin=4) as par:
                par.write(text=text)
    return Fixture("two columns", bytes(pdf.output()), tuple(PARAGRAPHS))


def table() -> Fixture:
    """A ruled table with a header row and cells that wrap onto several lines."""
    pdf = _pdf()
    pdf.add_page()
    _paragraphs(pdf, PARAGRAPHS[:1])
    pdf.set_font("Helvetica", size=10)
    with pdf.table(col_widths=(50, 25, 25, 50)) as t:
        for row in TABLE:
            r = t.row()
            for cell in row:
                r.cell(cell)
    pdf.ln(6)
    _paragraphs(pdf, PARAGRAPHS[1:2])
    rows = tuple(tuple(r) for r in TABLE)
    return Fixture("table", bytes(pdf.output()), tuple(PARAGRAPHS[:2]), (rows,))


def outline() -> Fixture:
    """Bookmarked headings in a larger font over body paragraphs."""
    pdf = _pdf()
    pdf.add_page()
    heads = ("Results", "Outlook")
    for head, texts in zip(heads, (PARAGRAPHS[:2], PARAGRAPHS[2:4]), strict=True):
        pdf.start_section(head)
        pdf.set_font("Helvetica", "B", 16)
        pdf.cell(0, 10, head, new_x="LMARGIN", new_y="NEXT")
        _paragraphs(pdf, texts)
    return Fixture("outline", bytes(pdf.output()), tuple(PARAGRAPHS[:4]), headings=heads)


def encrypted() -> Fixture:
    """AES-256 with an owner password and an empty user password (opens without one)."""
    from fpdf.enums import EncryptionMethod

    pdf = _pdf()
    pdf.set_encryption(owner_password="owner-pw", encryption_method=EncryptionMethod.AES_256)
    pdf.add_page()
    _paragraphs(pdf, PARAGRAPHS[:3])
    return Fixture("encrypted (AES-256)", bytes(pdf.output()), tuple(PARAGRAPHS[:3]))


def _norm(text: str) -> str:
    return " ".join(text.split())


def paragraph_recall(truth: Sequence[str], blocks: Sequence[str]) -> float:
    """Share of the true paragraphs found exactly (whitespace-normalised) as one block."""
    got = {_norm(b) for b in blocks}
    return sum(_norm(p) in got for p in truth) / len(truth) if truth else 1.0


def code_recall(truth: Sequence[str], blocks: Sequence[str]) -> float:
    """Share of the true code blocks found exactly (every space and line) as one block."""
    got = list(blocks)
    found = 0
    for code in truth:
        if code in got:
            got.remove(code)
            found += 1
    return found / len(truth) if truth else 1.0


_SEPARATOR_ROW = re.compile(r"^\|(?:\s*:?-+:?\s*\|)+$")


def markdown_tables(blocks: Sequence[str]) -> list[list[list[str]]]:
    """Markdown tables in `blocks`, as rows of cells (separator row dropped)."""
    tables = []
    for block in blocks:
        lines = block.strip().split("\n")
        if len(lines) < 2 or not _SEPARATOR_ROW.match(lines[1].replace(" ", "")):
            continue
        rows = [
            [_norm(c).replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            for i, line in enumerate(lines)
            if i != 1
        ]
        tables.append(rows)
    return tables


def cell_recall(truth: Sequence[Sequence[Sequence[str]]], blocks: Sequence[str]) -> float:
    """Share of body cells found under their column header and in their row (by row label)."""
    found = markdown_tables(blocks)
    total = hits = 0
    for table in truth:
        header = [_norm(h) for h in table[0]]
        for row in table[1:]:
            label = _norm(row[0])
            for col in range(1, len(row)):
                total += 1
                hits += any(
                    _has(t, header[col], label, _norm(row[col])) for t in found if len(t) >= 2
                )
    return hits / total if total else 1.0


def _has(table: list[list[str]], column: str, label: str, value: str) -> bool:
    if column not in table[0]:
        return False
    c = table[0].index(column)
    return any(r and r[0] == label and len(r) > c and r[c] == value for r in table[1:])


# Fixtures for what browsers and document tools draw around the text (frames, bullets, code).

CODE = (
    "def total(rows):\n"
    '    """Sum the second column."""\n'
    "    result = 0\n"
    "    for row in rows:\n"
    "        result += row[1]  # the amount\n"
    "\n"
    "    return result"
)

ITEMS = (
    "The first item says that revenue grew in every region while costs stayed within the "
    "budget agreed at the start of the year, which the board welcomed.",
    "The second item is short.",
    "The third item notes that staff turnover fell for the third quarter in a row and that "
    "the new office opened on time and on budget.",
)


def framed_table() -> Fixture:
    """A ruled table on a page with a border drawn around it and white boxes behind the text
    (a browser prints page backgrounds and borders like that)."""
    pdf = _pdf()
    pdf.add_page()
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(4, 0, pdf.w - 8, pdf.h, style="F")  # the page's white background
    pdf.rect(-2, 20, pdf.w + 4, 60, style="F")  # a white band running off the page
    pdf.set_y(30)
    _paragraphs(pdf, PARAGRAPHS[:1])
    pdf.set_font("Helvetica", size=10)
    with pdf.table(col_widths=(50, 25, 25, 50)) as t:
        for row in TABLE:
            r = t.row()
            for cell in row:
                r.cell(cell)
    rows = tuple(tuple(r) for r in TABLE)
    return Fixture("framed table", bytes(pdf.output()), tuple(PARAGRAPHS[:1]), (rows,))


def long_table(count: int = 70) -> Fixture:
    """A ruled table running over two pages, its header row repeated on the second."""
    rows = [["Item", "2021", "2020"]] + [
        [f"Line item {n}", f"{n * 1000:,}", f"{n * 900:,}"] for n in range(1, count + 1)
    ]
    pdf = _pdf()
    pdf.add_page()
    _paragraphs(pdf, PARAGRAPHS[:1])
    pdf.set_font("Helvetica", size=10)
    with pdf.table(col_widths=(60, 40, 40), width=140, repeat_headings=1) as t:
        for row in rows:
            r = t.row()
            for cell in row:
                r.cell(cell)
    truth = (tuple(tuple(r) for r in rows),)
    return Fixture("table over two pages", bytes(pdf.output()), tuple(PARAGRAPHS[:1]), truth)


def drawn_bullets() -> Fixture:
    """A list whose bullets are small filled discs, not characters, its items spaced like
    the lines inside them (a browser prints `<ul>` like that)."""
    pdf = _pdf()
    pdf.add_page()
    _paragraphs(pdf, PARAGRAPHS[:1])
    pdf.set_font("Helvetica", size=11)
    for item in ITEMS:
        y = pdf.get_y()
        pdf.set_fill_color(0)
        pdf.ellipse(pdf.l_margin + 1, y + 1.6, 1.2, 1.2, style="F")
        pdf.set_x(pdf.l_margin + 5)
        pdf.multi_cell(0, 5, item, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)
    _paragraphs(pdf, PARAGRAPHS[1:2])
    items = tuple(f"- {item}" for item in ITEMS)
    return Fixture("drawn bullets", bytes(pdf.output()), (PARAGRAPHS[0], *items, PARAGRAPHS[1]))


def code_block(button: bool = False) -> Fixture:
    """Prose, then code in Courier (indented, a blank line, an aligned comment), then prose,
    three times; with `button`, a short label at the right edge of each code box (a `>>>`
    copy button)."""
    pdf = _pdf()
    pdf.add_page()
    for _ in range(3):
        _paragraphs(pdf, PARAGRAPHS[:1])
        pdf.set_font("Courier", size=10)
        top = pdf.get_y()
        for line in CODE.split("\n"):
            pdf.cell(0, 4.5, line, new_x="LMARGIN", new_y="NEXT")
        if button:
            pdf.set_xy(pdf.w - pdf.r_margin - 8, top - 1)
            pdf.cell(8, 4.5, ">>>")
            pdf.set_xy(pdf.l_margin, top + 4.5 * len(CODE.split("\n")))
        pdf.ln(5)
        _paragraphs(pdf, PARAGRAPHS[1:2])
    code = () if button else (CODE,) * 3  # the button's label ends the first line
    return Fixture("code", bytes(pdf.output()), tuple(PARAGRAPHS[:2]), code=code)


UNRULED = [
    ["Segment", "Revenue", "Margin", "Outlook"],
    ["Industrial", "1,204", "12.5%", "Stable"],
    ["Consumer", "987", "9.1%", "Growing"],
    ["Healthcare", "2,310", "18.0%", "Stable"],
    ["Energy", "45", "-3.2%", "Under review"],
    ["Total", "4,546", "13.4%", ""],
]


def unruled_table() -> Fixture:
    """A table set without rules: columns by position only, figures aligned right, an empty
    cell, between two paragraphs."""
    pdf = _pdf()
    pdf.add_page()
    _paragraphs(pdf, PARAGRAPHS[:1])
    widths = (55, 30, 30, 40)
    for r, row in enumerate(UNRULED):
        pdf.set_font("Helvetica", "B" if r == 0 else "", size=10)
        for c, (cell, width) in enumerate(zip(row, widths, strict=True)):
            pdf.cell(width, 6, cell, align="R" if c in (1, 2) else "L")
        pdf.ln(6)
    pdf.ln(6)
    _paragraphs(pdf, PARAGRAPHS[1:2])
    rows = tuple(tuple(r) for r in UNRULED)
    return Fixture("unruled table", bytes(pdf.output()), tuple(PARAGRAPHS[:2]), (rows,))


FIXTURES: tuple[Callable[[], Fixture], ...] = (
    plain,
    running_heads,
    hyphenated,
    two_columns,
    table,
    outline,
    encrypted,
    framed_table,
    long_table,
    unruled_table,
    drawn_bullets,
    code_block,
)
