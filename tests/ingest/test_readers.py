"""Tests for `cairn.ingest.readers`: every format, outlines and anchors, and bad input."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cairn.errors import IngestError
from cairn.ingest.formats import pdf as pdf_format
from cairn.ingest.formats.markdown import github_slug
from cairn.ingest.readers import SUPPORTED_SUFFIXES, read_document
from cairn.types import Block, ParsedDocument

FIXTURES = Path(__file__).parent / "fixtures"
PYTHON_DOCS = Path("/usr/share/doc/python3.11/html")
NAVIGATION_TEXT = (
    "Previous topic",
    "Next topic",
    "Navigation",
    "Table of Contents",
    "This Page",
    "Show Source",
    "Quick search",
    "Report a Bug",
    "\u00b6",
)


def read(name: str, data: bytes | str) -> ParsedDocument:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return read_document(Path(name), raw)


def reason(name: str, data: bytes | str) -> str:
    with pytest.raises(IngestError) as info:
        read(name, data)
    assert info.value.path == name
    return info.value.reason


def blocks_with(doc: ParsedDocument, needle: str) -> list[Block]:
    return [b for b in doc.blocks if needle in b.text]


def only(blocks: list[Block]) -> Block:
    assert len(blocks) == 1, blocks
    return blocks[0]


# --- Sphinx: the real Python docs -------------------------------------------------------------


def python_doc(relative: str) -> ParsedDocument:
    path = PYTHON_DOCS / relative
    if not path.is_file():
        pytest.skip(f"{path} is not installed")
    return read_document(path, path.read_bytes())


def test_sphinx_dataclasses_api_entry_has_its_own_anchor_and_section() -> None:
    doc = python_doc("library/dataclasses.html")
    assert doc.doc_type == "sphinx"
    assert doc.title == "dataclasses — Data Classes"

    field_blocks = [b for b in doc.blocks if b.anchor == "dataclasses.field"]
    signature = field_blocks[0]
    assert signature.kind == "code"
    assert signature.text.startswith("dataclasses.field(*, default=MISSING, default_factory=")
    assert signature.section == ("Module contents", "dataclasses.field")
    # The description follows under the same anchor and section path.
    assert all(b.section[-1] == "dataclasses.field" for b in field_blocks)
    assert any("default_factory: If provided" in b.text for b in field_blocks)
    # Intro text before the first h2 links to the page's top section.
    assert doc.blocks[0].anchor == "module-dataclasses"
    assert doc.blocks[0].section == ()


def test_sphinx_page_has_main_content_only() -> None:
    doc = python_doc("library/dataclasses.html")
    for block in doc.blocks:
        for text in NAVIGATION_TEXT:
            assert text not in block.text, (text, block)
        assert doc.title not in block.section
    assert "Python 3.11" not in " ".join(b.text for b in doc.blocks[:3])


def test_sphinx_keeps_code_verbatim_and_walks_each_element_once() -> None:
    doc = python_doc("library/dataclasses.html")
    code = blocks_with(doc, "class InventoryItem:")[0]
    assert code.kind == "code"
    assert code.anchor == "module-dataclasses"
    assert "\n    name: str\n    unit_price: float\n" in code.text
    # Items of lists nested in an API entry's body appear once, not once per ancestor.
    item = only(blocks_with(doc, "weakref_slot: If true"))
    assert item.kind == "list"
    assert item.text.startswith("- weakref_slot: If true")
    for block in doc.blocks:
        if block.kind != "code":
            assert "  " not in block.text.replace("\n  ", "\n"), block


def test_sphinx_admonitions_and_version_notes_become_labelled_text() -> None:
    doc = python_doc("library/functions.html")
    note = only(blocks_with(doc, "When compiling a string with multi-line code"))
    assert note.text.startswith("Note: When compiling")
    assert note.anchor == "compile"
    assert note.section[-1] == "compile"
    warning = only(blocks_with(doc, "It is possible to crash the Python interpreter"))
    assert warning.text.startswith("Warning: ")
    assert any(b.text.startswith("Changed in version 3.") for b in doc.blocks)
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.text.startswith("Built-in Functions\n")
    assert "abs()" in table.text


def test_sphinx_sections_follow_headings() -> None:
    doc = python_doc("tutorial/controlflow.html")
    assert doc.title == "4. More Control Flow Tools"
    first_if = next(b for b in doc.blocks if b.anchor == "if-statements")
    assert first_if.section == ("4.1. if Statements",)
    nested = [b for b in doc.blocks if len(b.section) == 2]
    assert nested, "expected h3 sections under h2 sections"
    assert any(b.kind == "code" and b.text.startswith(">>> ") for b in doc.blocks)


def test_synthetic_sphinx_page_without_the_python_docs() -> None:
    page = """<!DOCTYPE html><html><head>
    <meta name="generator" content="Sphinx 7.2" /><title>spam — Spam &#8212; Demo docs</title>
    </head><body>
    <div class="related" role="navigation"><h3>Navigation</h3><ul><li>index</li></ul></div>
    <div class="body" role="main">
      <section id="module-spam"><h1>spam — Spam<a class="headerlink" href="#module-spam">¶</a></h1>
      <p>Spam   makes
         eggs.</p>
      <div class="toctree-wrapper compound"><ul><li>Other page</li></ul></div>
      <dl class="py class"><dt class="sig sig-object py" id="spam.Can">
        <em class="property">class </em><span class="sig-prename descclassname">spam.</span><span
        class="sig-name descname">Can</span><a class="headerlink" href="#spam.Can">¶</a></dt>
      <dd><p>A can of spam.</p>
        <dl class="py method"><dt class="sig sig-object py" id="spam.Can.open">
          <span class="sig-name descname">open</span>()<a class="headerlink">¶</a></dt>
        <dd><p>Open it.</p></dd></dl>
        <dl class="glossary"><dt id="term-tin">tin</dt><dd><p>The metal.</p></dd></dl>
      </dd></dl>
      <p>After the class.</p>
      </section>
    </div>
    <div class="sphinxsidebar"><h3>Previous topic</h3></div></body></html>"""
    doc = read("spam.html", page)
    assert doc.doc_type == "sphinx"
    assert doc.title == "spam — Spam"
    got = [(b.kind, b.text, b.section, b.anchor) for b in doc.blocks]
    assert got == [
        ("text", "Spam makes eggs.", (), "module-spam"),
        ("code", "class spam.Can", ("spam.Can",), "spam.Can"),
        ("text", "A can of spam.", ("spam.Can",), "spam.Can"),
        ("code", "open()", ("spam.Can", "spam.Can.open"), "spam.Can.open"),
        ("text", "Open it.", ("spam.Can", "spam.Can.open"), "spam.Can.open"),
        ("text", "tin: The metal.", ("spam.Can",), "term-tin"),
        ("text", "After the class.", (), "module-spam"),
    ]


# --- Plain HTML and Confluence -----------------------------------------------------------------

PLAIN_PAGE = """<!doctype html>
<html><head><title>Widgets | ACME</title><style>p { color: red }</style></head>
<body>
<header><a href="/">ACME home</a><nav><a href="/docs">Docs</a></nav></header>
<main>
  <h1>Widget guide</h1>
  <p>Widgets   are
     small.<br>They spin.</p>
  <h2 id="install">Install</h2>
  <pre>pip install widget
    --upgrade</pre>
  <h3><a name="linux"></a>On Linux</h3>
  <ul><li>apt <ul><li>needs sudo</li></ul></li><li>snap</li></ul>
  <h2 id="sizes">Sizes</h2>
  <table><thead><tr><th>Size</th><th>Weight</th></tr></thead>
    <tbody><tr><td>S</td><td>1 kg</td></tr><tr><td>L</td><td>3 kg</td></tr></tbody></table>
  <div class="admonition warning"><p class="admonition-title">Warning</p><p>Hot.</p></div>
  <form><input name="q"><button>Search</button></form>
  <script>var tracking = 1;</script>
</main>
<aside>Related posts</aside>
<footer>Copyright ACME</footer>
</body></html>"""


def test_plain_html_main_content_outline_and_blocks() -> None:
    doc = read("widgets.html", PLAIN_PAGE)
    assert doc.doc_type == "html"
    assert doc.title == "Widget guide"
    got = [(b.kind, b.text, b.section, b.anchor) for b in doc.blocks]
    assert got == [
        ("text", "Widgets are small. They spin.", (), None),
        ("code", "pip install widget\n    --upgrade", ("Install",), "install"),
        ("list", "- apt\n  - needs sudo\n- snap", ("Install", "On Linux"), "linux"),
        ("table", "Size | Weight\nS | 1 kg\nL | 3 kg", ("Sizes",), "sizes"),
        ("text", "Warning: Hot.", ("Sizes",), "sizes"),
    ]


def test_plain_html_without_main_uses_body_and_title_tag() -> None:
    doc = read(
        "page.htm",
        "<html><head><title>Release notes</title></head><body><nav>Menu</nav>"
        "<div><h2 id='v2'>Version 2</h2>Loose text <b>here</b>.<p>Para.</p></div></body></html>",
    )
    assert doc.title == "Release notes"
    assert [(b.text, b.section, b.anchor) for b in doc.blocks] == [
        ("Loose text here.", ("Version 2",), "v2"),
        ("Para.", ("Version 2",), "v2"),
    ]


def test_html_permalinks_pager_bars_and_code_inside_lists() -> None:
    page = """<html><body>
    <div class="header"><p>Next: <a rel="next" href="b.html">B</a>, Up: <a rel="up">T</a></p></div>
    <h1>Tools<a class="headerlink" href="#tools">¶</a></h1>
    <h2>Build<span><a class="mark" href="#build" id="build">#</a></span></h2>
    <ul><li>Run: <pre>make \\
  all</pre></li><li>Done <a href="#build">¶</a></li></ul>
    <dl><dt>Deploy</dt><dd><pre>./ship</pre></dd></dl>
    </body></html>"""
    doc = read("tools.html", page)
    assert doc.title == "Tools"
    assert [(b.kind, b.text, b.section, b.anchor) for b in doc.blocks] == [
        ("list", "- Run:", ("Build",), "build"),
        ("code", "make \\\n  all", ("Build",), "build"),
        ("list", "- Done", ("Build",), "build"),
        ("text", "Deploy", ("Build",), "build"),
        ("code", "./ship", ("Build",), "build"),
    ]


def test_html_declared_charset_and_xml_declaration() -> None:
    page = (
        '<?xml version="1.0" encoding="iso-8859-1"?>\n<html><head>'
        '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"></head>'
        "<body><p>Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e</p></body></html>"
    ).encode("latin-1")
    doc = read("menu.html", page)
    assert doc.blocks[0].text == "Café crème brûlée"


def test_confluence_export_page() -> None:
    path = FIXTURES / "Deployment-Runbook_65538.html"
    doc = read_document(path, path.read_bytes())
    assert doc.doc_type == "confluence"
    assert doc.title == "Deployment Runbook"
    assert doc.metadata["breadcrumbs"] == "Platform Team > Operations"
    assert doc.metadata["space"] == "Platform Team"
    assert doc.metadata["author"] == "Ada Lovelace"
    everything = "\n".join(b.text for b in doc.blocks)
    for chrome in ("Attachments", "rollout-diagram.png", "Document generated", "Created by"):
        assert chrome not in everything
    assert doc.blocks[0].text.startswith("This runbook describes")
    warning = only(blocks_with(doc, "Never deploy on Fridays"))
    assert warning.text == "Warning: Never deploy on Fridays after 15:00."
    code = next(b for b in doc.blocks if b.kind == "code")
    assert code.text == (
        "./deploy.sh --env prod \\\n    --service billing\nkubectl rollout status deploy/billing"
    )
    assert code.section == ("Prerequisites", "Rollout")
    assert code.anchor == "DeploymentRunbook-Rollout"
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.text == "Environment | Approver\nstaging | any engineer\nprod | on-call lead"


# --- Markdown and Notion ------------------------------------------------------------------------

MARKDOWN = """---
title: Service Guide
owner: "platform team"
tags: [ops, billing]
nested:
  key: skipped
---

# Service Guide

Intro   paragraph
on two lines with `inline code` and a [link](https://example.com).

## Setup

```bash
make install
    indented line
```

    legacy indented code

| Name | Port |
|------|------|
| api  | 8080 |

## Setup

- first
- second
  - nested

  continued paragraph

1. one
2. two

<!-- a comment -->

### Deep *dive*
Text.
"""


def test_markdown_blocks_sections_and_slugs() -> None:
    doc = read("guide.md", MARKDOWN)
    assert doc.doc_type == "markdown"
    assert doc.title == "Service Guide"
    assert dict(doc.metadata) == {
        "title": "Service Guide",
        "owner": "platform team",
        "tags": "ops, billing",
    }
    got = [(b.kind, b.text, b.section, b.anchor) for b in doc.blocks]
    assert got == [
        (
            "text",
            "Intro paragraph on two lines with inline code and a link.",
            (),
            "service-guide",
        ),
        ("code", "make install\n    indented line", ("Setup",), "setup"),
        ("code", "legacy indented code", ("Setup",), "setup"),
        ("table", "Name | Port\napi | 8080", ("Setup",), "setup"),
        (
            "list",
            "- first\n- second\n  - nested\n  continued paragraph",
            ("Setup",),
            "setup-1",
        ),
        ("list", "- one\n- two", ("Setup",), "setup-1"),
        ("text", "Text.", ("Setup", "Deep dive"), "deep-dive"),
    ]


def test_markdown_code_inside_list_item_stays_whole() -> None:
    doc = read("steps.md", "- Install:\n\n  ```\n  pip install x\n    --pre\n  ```\n- Run it\n")
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("list", "- Install:"),
        ("code", "pip install x\n  --pre"),
        ("list", "- Run it"),
    ]


def test_markdown_title_falls_back_to_file_name_and_keeps_several_h1() -> None:
    doc = read("release_notes.markdown", "# One\n\ntext a\n\n# Two\n\ntext b\n")
    assert doc.title == "One"
    assert [b.section for b in doc.blocks] == [("One",), ("Two",)]
    doc = read("release_notes.md", "Just text.\n")
    assert doc.title == "release notes"


def test_markdown_leading_rule_is_not_front_matter() -> None:
    doc = read("rules.md", "---\nJust a paragraph after a rule.\n\nMore text\n---\n")
    assert dict(doc.metadata) == {}
    assert doc.blocks[0].text == "Just a paragraph after a rule."


def test_github_slug() -> None:
    assert github_slug("Install it, now!") == "install-it-now"
    assert github_slug("  `foo()` & bar_baz ") == "foo--bar_baz"
    assert github_slug("Ünïcode Straße") == "ünïcode-straße"


NOTION_ID = "0123456789abcdef0123456789abcdef"


def test_notion_page_properties_go_to_metadata() -> None:
    page = """# Q3 Roadmap

Status: In progress
Owner: Ada Lovelace
Tags: planning, q3

We will ship billing v2.

## Risks

- Vendor delays
"""
    doc = read(f"exports/Q3 Roadmap {NOTION_ID}.md", page)
    assert doc.doc_type == "notion"
    assert doc.title == "Q3 Roadmap"
    assert doc.metadata["notion_id"] == NOTION_ID
    assert doc.metadata["Status"] == "In progress"
    assert doc.metadata["Tags"] == "planning, q3"
    assert [b.text for b in doc.blocks] == ["We will ship billing v2.", "- Vendor delays"]
    assert doc.blocks[1].section == ("Risks",)


def test_notion_page_without_properties_keeps_first_paragraph() -> None:
    doc = read(f"Notes {NOTION_ID}.md", "# Notes\n\nThis is: not a property list\nbut prose.\n")
    assert doc.blocks[0].text == "This is: not a property list but prose."
    assert set(doc.metadata) == {"notion_id"}


def test_notion_database_rows() -> None:
    table = "Name,Status,Owner\nShip v2,Done,Ada\nWrite docs,,Grace\n"
    for suffix in ("", "_all"):
        doc = read(f"Tasks {NOTION_ID}{suffix}.csv", table)
        assert doc.doc_type == "notion"
        assert doc.title == "Tasks"
        assert [(b.text, b.section) for b in doc.blocks] == [
            ("Name: Ship v2; Status: Done; Owner: Ada", ("Ship v2",)),
            ("Name: Write docs; Owner: Grace", ("Write docs",)),
        ]


# --- CSV and plain text -------------------------------------------------------------------------


def test_csv_rows_grouped_with_header_repeated() -> None:
    rows = "\n".join(f"{i};item {i};{i * 1.5}" for i in range(1, 46))
    doc = read("inventory.csv", f"id;name;price\n{rows}\n")
    assert doc.doc_type == "csv"
    assert doc.title == "inventory"
    assert [b.kind for b in doc.blocks] == ["table", "table", "table"]
    for block in doc.blocks:
        assert block.text.split("\n")[0] == "id | name | price"
    assert [len(b.text.split("\n")) - 1 for b in doc.blocks] == [20, 20, 5]
    assert "21 | item 21 | 31.5" in doc.blocks[1].text
    assert doc.metadata["rows"] == "45"


def test_plain_text_paragraphs_title_and_code() -> None:
    text = (
        "Office handbook\n\n"
        "Lunch is   served\nat noon.\n\n"
        "Wi-Fi\n-----\n\n"
        "    ssid: guest\n      password: hunter2\n\n"
        "Ask the front desk.\n"
    )
    doc = read("handbook.txt", text)
    assert doc.doc_type == "text"
    assert doc.title == "Office handbook"
    assert [(b.kind, b.text, b.section) for b in doc.blocks] == [
        ("text", "Lunch is served at noon.", ()),
        ("code", "ssid: guest\n  password: hunter2", ("Wi-Fi",)),
        ("text", "Ask the front desk.", ("Wi-Fi",)),
    ]


def test_plain_text_long_first_line_uses_file_name() -> None:
    doc = read("notes-2024.text", "word " * 40)
    assert doc.title == "notes 2024"
    assert doc.blocks[0].text == ("word " * 40).strip()


def test_file_without_suffix_is_sniffed() -> None:
    assert read("README", "Read me first.\n\nThen this.").doc_type == "text"
    assert read("page", "<!DOCTYPE html><html><body><p>Hi</p></body></html>").doc_type == "html"


# --- PDF ----------------------------------------------------------------------------------------


def make_pdf(
    pages: list[str], *, title: str | None = None, owner: str | None = None, user: str | None = None
) -> bytes:
    fpdf = pytest.importorskip("fpdf")
    pdf = fpdf.FPDF()
    if title:
        pdf.set_title(title)
    if owner:
        pdf.set_encryption(owner_password=owner, user_password=user)
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def test_pdf_pages_paragraphs_and_metadata_title() -> None:
    first = "Quarterly report\n\n" + "Revenue grew in every region this quarter. " * 6
    second = "Costs stayed flat. " * 12
    doc = read("report.pdf", make_pdf([first, second], title="Q3 Report"))
    assert doc.doc_type == "pdf"
    assert doc.title == "Q3 Report"
    assert doc.metadata["pages"] == "2"
    assert [b.page for b in doc.blocks] == [1, 1, 2]
    assert doc.blocks[0].text == "Quarterly report"
    assert doc.blocks[1].text == ("Revenue grew in every region this quarter. " * 6).strip()
    assert doc.blocks[2].text.startswith("Costs stayed flat. Costs stayed flat.")
    assert all(b.kind == "text" for b in doc.blocks)


def test_pdf_title_falls_back_to_first_line() -> None:
    data = make_pdf(["Travel policy\n\nBook trains when the trip is short."])
    doc = read("memo.pdf", data)
    assert doc.title == "Travel policy"
    # Recognised by its content too, whatever the file is called.
    assert read("memo", data).doc_type == "pdf"


def test_pdf_encrypted_with_a_password_is_refused() -> None:
    data = make_pdf(["Top secret."], owner="owner-pw", user="user-pw")
    assert reason("locked.pdf", data) == pdf_format.ENCRYPTED
    assert reason("locked.pdf", data) == "encrypted PDF: remove the password and ingest it again"


def test_pdf_encrypted_with_empty_user_password_is_read() -> None:
    doc = read("restricted.pdf", make_pdf(["Readable text."], owner="owner-pw"))
    assert doc.blocks[0].text == "Readable text."


def test_pdf_truncated_or_corrupt() -> None:
    data = make_pdf(["Some text that will be cut off. " * 20])
    assert reason("cut.pdf", data[: len(data) // 2]).startswith("corrupt or truncated PDF")
    assert reason("junk.pdf", b"%PDF-1.7\n" + bytes(range(32, 127)) * 20).startswith(
        "corrupt or truncated PDF"
    )
    assert reason("fake.pdf", b"plain words, not a PDF") == "not a PDF file (no %PDF header)"


def test_pdf_without_text_layer() -> None:
    fpdf = pytest.importorskip("fpdf")
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 100, 100, style="F")
    assert reason("scan.pdf", bytes(pdf.output())) == (
        "no extractable text (scanned PDF? run OCR first)"
    )


# --- Bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n  "])
@pytest.mark.parametrize("name", ["a.md", "a.txt", "a.pdf", "a.html", "a.csv"])
def test_empty_files(name: str, data: bytes) -> None:
    assert reason(name, data) == "empty file"


def test_bom_only_file_is_empty() -> None:
    assert reason("a.txt", "\ufeff".encode("utf-16")) == "empty file"


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200),
        b"PK\x03\x04\x14\x00\x06\x00word/document.xml",
        bytes(range(1, 32)) * 20 + b"some text",
    ],
)
def test_binary_junk_is_refused(data: bytes) -> None:
    assert reason("notes.md", data) == "binary content, not a supported text format"


def test_unsupported_suffix() -> None:
    assert reason("slides.key", b"whatever") == "unsupported file type '.key'"
    assert reason("DATA.XYZ", b"whatever") == "unsupported file type '.xyz'"
    assert {".md", ".markdown", ".html", ".htm", ".pdf", ".txt", ".text", ".csv"} <= (
        SUPPORTED_SUFFIXES
    )


@pytest.mark.parametrize(
    "encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32", "cp1252", "latin-1"]
)
def test_text_encodings(encoding: str) -> None:
    text = (
        "Résumé of the café meeting\n\n"
        "The naïve façade was discussed; the committee's coöperation was praised. "
        "Déjà vu: the same agenda as last year, with crème brûlée afterwards.\n"
    )
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    doc = read("minutes.txt", data)
    assert doc.title == "Résumé of the café meeting"
    assert "coöperation" in doc.blocks[0].text
    assert "crème brûlée" in doc.blocks[0].text


def test_mostly_utf8_text_keeps_its_characters() -> None:
    data = "Grüße aus Köln — schön!\n\nMehr Text über Straßen.".encode() + b" caf\xe9"
    doc = read("greeting.txt", data)
    assert doc.title == "Grüße aus Köln — schön!"
    assert doc.blocks[0].text == "Mehr Text über Straßen. caf\ufffd"


def test_undecodable_text() -> None:
    assert reason("mystery.txt", bytes(range(0x80, 0x100)) * 8) == "unknown text encoding"


def test_parser_failures_become_ingest_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert reason("comment.html", "<!-- only a comment -->").startswith("could not parse HTML")

    from cairn.ingest.formats import markdown

    def explode(path: Path, text: str) -> ParsedDocument:
        raise ValueError("bad\n   token")

    monkeypatch.setattr(markdown, "read", explode)
    assert reason("x.md", "# Title") == "could not parse Markdown: bad token"


def test_document_without_text_is_refused() -> None:
    assert reason("blank.html", "<html><body><nav>Menu</nav></body></html>") == (
        "no text content found"
    )


@pytest.mark.integration
def test_import_is_lazy() -> None:
    code = textwrap.dedent(
        """
        import sys
        import cairn.ingest.readers
        heavy = ("lxml", "pdfplumber", "pdfminer", "docx", "pptx", "openpyxl", "tree_sitter",
                 "bs4", "markdown_it", "charset_normalizer")
        print(",".join(m for m in heavy if m in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
