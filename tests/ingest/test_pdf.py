"""The PDF reader on fixtures with known truth: paragraphs, tables, pages, titles, encryption."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import pytest

from cairn.config import ChunkSettings
from cairn.errors import IngestError
from cairn.ingest.chunking import chunk_document
from cairn.ingest.formats import pdf as pdf_format
from cairn.ingest.formats import pdf_layout
from cairn.types import ParsedDocument

from . import pdf_truth as truth

fpdf = pytest.importorskip("fpdf")


def read(name: str, data: bytes) -> ParsedDocument:
    return pdf_format.read(Path(name), data)


class WordCounter:
    def count(self, text: str) -> int:
        return len(text.split())


@pytest.mark.parametrize("make", truth.FIXTURES, ids=lambda f: f.__name__)
def test_every_fixture_paragraph_is_recovered_exactly(make: Callable[[], truth.Fixture]) -> None:
    fixture = make()
    doc = read("fixture.pdf", fixture.data)
    texts = [b.text for b in doc.blocks]
    missing = [p for p in fixture.paragraphs if p not in texts]
    assert missing == []
    assert truth.paragraph_recall(fixture.paragraphs, texts) == 1.0


def test_running_header_footer_and_page_numbers_are_dropped() -> None:
    doc = read("report.pdf", truth.running_heads().data)
    assert int(doc.metadata["pages"]) >= 2
    assert not [b.text for b in doc.blocks if "ACME" in b.text or "Page " in b.text]


def test_table_is_one_markdown_block_with_headers_and_never_split() -> None:
    fixture = truth.table()
    doc = read("balance.pdf", fixture.data)
    tables = [b for b in doc.blocks if b.kind == "table"]
    assert len(tables) == 1
    assert tables[0].text.startswith("| Item | 2021 | 2020 | Notes |\n|---|---|---|---|\n")
    assert "| Total current assets | 536,245 | 260,202 |" in tables[0].text
    assert truth.cell_recall(fixture.tables, [b.text for b in doc.blocks]) == 1.0
    # A chunk budget far below the table's size still keeps the table whole in one chunk.
    settings = ChunkSettings(target_tokens=16, overlap_tokens=4, min_tokens=0)
    _text, drafts = chunk_document(doc, WordCounter(), settings)
    assert [d.text for d in drafts if "| Item |" in d.text] == [tables[0].text]


def test_outline_gives_sections_and_every_chunk_anchors_its_page() -> None:
    doc = read("outline.pdf", truth.outline().data)
    assert [b.section for b in doc.blocks] == [("Results",)] * 2 + [("Outlook",)] * 2
    assert doc.title == "Results"
    pages = read("long.pdf", truth.running_heads().data)
    assert {b.page for b in pages.blocks} == set(range(1, int(pages.metadata["pages"]) + 1))
    _text, drafts = chunk_document(pages, WordCounter(), ChunkSettings())
    assert drafts and all(d.anchor == f"page={d.page}" for d in drafts)


def test_font_size_headings_without_outline_nest() -> None:
    pdf = fpdf.FPDF()
    pdf.set_title("ACME 2021")  # not the first heading, which stays the root of the paths
    pdf.add_page()
    for size, text in ((20, "Annual report"), (15, "Risks"), (11, truth.PARAGRAPHS[0])):
        pdf.set_font("Helvetica", size=size)
        pdf.multi_cell(0, size * 0.5, text)
        pdf.ln(4)
    doc = read("r.pdf", bytes(pdf.output()))
    assert [(b.section, b.text) for b in doc.blocks] == [
        (("Annual report", "Risks"), truth.PARAGRAPHS[0])
    ]


@pytest.mark.parametrize(
    ("meta_title", "expected"),
    [
        ("0000909832-21-000014", "acme corp annual report 2021"),
        ("Untitled", "acme corp annual report 2021"),
        ("ACME Corp 10-K 2021", "ACME Corp 10-K 2021"),
    ],
)
def test_title_is_never_an_id(meta_title: str, expected: str) -> None:
    pdf = fpdf.FPDF()
    pdf.set_title(meta_title)
    pdf.set_creation_date(datetime.datetime(2021, 3, 15, tzinfo=datetime.UTC))
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 5, truth.PARAGRAPHS[0])
    doc = read("acme-corp_annual-report-2021.pdf", bytes(pdf.output()))
    assert doc.title == expected
    assert doc.metadata["date"] == "2021-03-15"


def test_aes_with_empty_user_password_opens_and_other_passwords_are_refused() -> None:
    doc = read("aes.pdf", truth.encrypted().data)
    assert doc.blocks[0].text == truth.PARAGRAPHS[0]
    pdf = fpdf.FPDF()
    from fpdf.enums import EncryptionMethod

    pdf.set_encryption("owner", "user", encryption_method=EncryptionMethod.AES_256)
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.cell(0, 5, "secret")
    with pytest.raises(IngestError) as err:
        read("locked.pdf", bytes(pdf.output()))
    assert err.value.reason == pdf_format.ENCRYPTED


def test_hyphen_joining_keeps_real_hyphens() -> None:
    assert pdf_layout.join_lines(["the regis-", "trant's report"]) == "the registrant's report"
    assert pdf_layout.join_lines(["ten-", "Year plan"]) == "ten- Year plan"
    assert pdf_layout.join_lines(["a 2021-", "22 result"]) == "a 2021- 22 result"
    assert pdf_layout.join_lines(["fixed in gh-", "57684."]) == "fixed in gh-57684."


def test_markdown_table_flattens_multi_line_cells_and_escapes_pipes() -> None:
    text = pdf_layout.markdown_table([["Name", "Value"], ["a|b", "line one\nline two"]])
    assert text == "| Name | Value |\n|---|---|\n| a\\|b | line one line two |"


def test_a_larger_bracket_does_not_make_a_line_a_heading() -> None:
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=20)
    pdf.multi_cell(0, 10, "Lists")
    pdf.ln(4)
    pdf.set_font("Helvetica", size=11)
    pdf.write(5, "list.index")
    pdf.set_font("Helvetica", size=16)
    pdf.write(5, "(")
    pdf.set_font("Helvetica", size=11)
    pdf.write(5, "x, start, end")
    pdf.set_font("Helvetica", size=16)
    pdf.write(5, ")")
    pdf.set_font("Helvetica", size=11)
    pdf.write(5, " returns the index of the first item equal to x.")
    pdf.ln(12)
    pdf.multi_cell(0, 5, truth.PARAGRAPHS[0])
    doc = read("lists.pdf", bytes(pdf.output()))
    assert doc.title == "Lists"  # the heading repeating the title is no section of its own
    assert [b.section for b in doc.blocks] == [(), ()]
    assert doc.blocks[0].text.startswith("list.index")


SPEC = Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf")


@pytest.mark.skipif(not SPEC.exists(), reason="Debian's shared-mime-info PDF is not installed")
def test_a_real_docbook_pdf_keeps_word_gaps_outline_and_cover_title() -> None:
    doc = read(SPEC.name, SPEC.read_bytes())
    assert doc.title == "Shared MIME-info Database"
    texts = [b.text for b in doc.blocks]
    assert "• <MIME>/magic (contains a mapping from file contents to MIME types)" in texts
    assert ("2. Unified system", "2.1. Directory layout") in {b.section[:2] for b in doc.blocks}
    assert all(b.anchor == f"page={b.page}" for b in doc.blocks)


def test_ingest_gives_page_anchored_uris_and_lists_locked_and_scanned_files(
    tmp_path: Path,
) -> None:
    from cairn.config import Settings
    from cairn.embed.hashing import HashingEmbedder, WhitespaceTokenizer
    from cairn.ingest.pipeline import ingest
    from cairn.store.sqlite import SQLiteStore

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "report.pdf").write_bytes(truth.running_heads().data)
    locked = fpdf.FPDF()
    locked.set_encryption("owner", "user")
    locked.add_page()
    locked.set_font("Helvetica", size=11)
    locked.cell(0, 5, "secret")
    (corpus / "locked.pdf").write_bytes(bytes(locked.output()))
    scan = fpdf.FPDF()
    scan.add_page()
    scan.rect(10, 10, 100, 100, style="F")
    (corpus / "scan.pdf").write_bytes(bytes(scan.output()))
    store = SQLiteStore(tmp_path / "ws" / "cairn.db")
    try:
        report = ingest(
            [corpus],
            store=store,
            embedder=HashingEmbedder(),
            tokenizer=WhitespaceTokenizer(),
            settings=Settings(workspace=tmp_path / "ws"),
        )
        assert report.ingested == 1
        assert sorted((Path(p).name, r) for p, r in report.failures) == [
            ("locked.pdf", pdf_format.ENCRYPTED),
            ("scan.pdf", pdf_format.SCANNED),
        ]
        hit = store.lexical_search("dividend forty cents", 1)[0]
        assert hit.chunk.anchored_uri == f"{(corpus / 'report.pdf').as_uri()}#page={hit.chunk.page}"
    finally:
        store.close()


def test_a_definition_term_set_larger_opens_a_section_named_by_it_and_stays_in_the_text() -> None:
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=20)
    pdf.multi_cell(0, 10, "Built-in functions")
    pdf.ln(4)
    for name, args, text in (
        ("abs", "(x)", "Return the absolute value."),
        ("len", "(s)", "Count."),
    ):
        pdf.set_font("Helvetica", "B", size=12)
        pdf.write(5, name)
        pdf.set_font("Helvetica", size=10)
        pdf.write(5, f" {args} and more arguments")
        pdf.ln(12)
        pdf.multi_cell(0, 5, f"{text} {truth.LOREM}")
        pdf.ln(4)
    doc = read("functions.pdf", bytes(pdf.output()))
    assert [(b.section, b.text.split(".")[0]) for b in doc.blocks] == [
        (("abs",), "abs (x) and more arguments"),
        (("abs",), "Return the absolute value"),
        (("len",), "len (s) and more arguments"),
        (("len",), "Count"),
    ]


def test_a_page_that_fails_to_parse_is_reported_and_the_rest_indexed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cairn.config import Settings
    from cairn.embed.hashing import HashingEmbedder, WhitespaceTokenizer
    from cairn.ingest.pipeline import ingest
    from cairn.store.sqlite import SQLiteStore

    pdf = fpdf.FPDF()
    for number in (1, 2, 3):
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        pdf.set_y(60)  # below the top margin, where running heads are looked for
        pdf.multi_cell(0, 5, f"Page {number} says the dividend is {40 + number} cents.")
    real = pdf_format._page_items

    def damaged_second_page(page: object) -> object:
        # What pdfminer does on a page whose content stream it cannot decode.
        if getattr(page, "page_number", 0) == 2:
            raise ValueError("stream ended early")
        return real(page)  # type: ignore[arg-type]

    monkeypatch.setattr(pdf_format, "_page_items", damaged_second_page)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "dividends.pdf").write_bytes(bytes(pdf.output()))
    doc = read("dividends.pdf", bytes(pdf.output()))
    assert doc.warnings == ("page 2 could not be read (ValueError): its text is missing",)
    assert doc.metadata["unreadable_pages"] == "2"
    assert sorted({b.page for b in doc.blocks}) == [1, 3]

    store = SQLiteStore(tmp_path / "ws" / "cairn.db")
    try:
        report = ingest(
            [corpus],
            store=store,
            embedder=HashingEmbedder(),
            tokenizer=WhitespaceTokenizer(),
            settings=Settings(workspace=tmp_path / "ws"),
        )
    finally:
        store.close()
    assert (report.ingested, report.failed) == (1, 0)
    assert report.as_dict()["warnings"] == [
        {"path": str(corpus / "dividends.pdf"), "message": doc.warnings[0]}
    ]
