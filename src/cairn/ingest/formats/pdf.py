"""PDF files (pdfplumber on pdfminer.six): doc_type `pdf`, paragraphs and tables per page.

- Paragraphs come from the layout (`pdf_layout`): vertical gaps, indentation and font size
  between lines, two-column pages read column by column, hyphenated words joined again,
  list items apart (a bullet glyph, or a small filled disc or square drawn left of the line:
  browsers draw `<ul>` bullets so), words split by a font change joined again.
- Lines in a monospaced font are a `code` block with their lines, blank lines and
  indentation; the chunker never splits it.
- Running headers and footers (a line in the page margin that repeats, page numbers
  wildcarded, on at least half of the pages) and bare page numbers are dropped; so is a page
  whose body text is nearly all links (a table of contents; a file of nothing else is
  `EmptyDocument`, skipped by the `empty` rule like a page of HTML navigation).
- Ruled tables are extracted as tables and emitted as one Markdown `table` block each (first
  row as the header), which the chunker never splits; a table running on at the top of the
  next page with the same columns joins it (its repeated header dropped). Rectangles that
  draw no rule (a page border or background, a white box, a band running off the page) are
  ignored when looking for tables; empty grid rows and columns are dropped. Tables set
  without rules are found by their aligned columns (`pdf_layout.aligned_tables`).
- The section path comes from the outline (bookmarks) when the file has one, else from
  lines set in a larger font than the body; a definition term whose name is set larger
  (`print(*objects, sep=' ')`, `class property(fget=None)`) opens a section named by the
  term (`print`) below them, and its signature stays in the text.
- Every block's anchor is `page=N`, so chunk URIs and citations read `file.pdf#page=N`.
- The title is the metadata title, else the cover's largest text, else the first heading
  (or a short first line set on its own), else the file name; never an id-like string
  such as an SEC accession number. A web page's `Page — Site` title is `Page` when the first
  heading reads so, and a first heading that only repeats the title is left out of the
  section paths (as the HTML reader does). The creation date is kept as `metadata["date"]`
  (`YYYY-MM-DD`).
- Encrypted files open with the empty password (AES needs `cryptography`, a dependency);
  other encrypted, corrupt and image-only (scanned) PDFs raise `IngestError` saying why.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.errors import EmptyDocument, IngestError
from cairn.ingest.formats import pdf_layout as lay
from cairn.ingest.formats.blocks import clean_text, is_placeholder_title, title_from_stem
from cairn.types import Block, ParsedDocument

if TYPE_CHECKING:
    from pdfplumber.page import Page
    from pdfplumber.pdf import PDF

ENCRYPTED = "encrypted PDF: remove the password and ingest it again"
SCANNED = "no extractable text (scanned PDF? run OCR first)"
NAVIGATION = "nothing to index: every page is a table of contents (links only)"

_ID_LIKE = re.compile(r"^[\W\d_]*$|^[\w.-]*\d[\w.-]*$")
_PDF_DATE = re.compile(r"D?:?(\d{4})(\d{2})?(\d{2})?")
_MAX_HEADING_CHARS = 150
_NAVIGATION_CHARS = 100
_TITLE_SEPARATORS = (" \u2014 ", " \u2013 ", " | ", " - ", " \u00b7 ", " :: ")
_TERM_RANK = 1000.0
"""Outline rank of a definition term: inside every size heading, a sibling of the next term."""


@dataclass(frozen=True, slots=True)
class _OutlineEntry:
    level: int
    title: str
    page: int


def read(path: Path, data: bytes) -> ParsedDocument:
    """Read a PDF's text layer into paragraph and table blocks (`Block.page` is 1-based)."""
    pdf = _open(path, data)
    try:
        return _read(path, pdf)
    finally:
        pdf.close()


def _read(path: Path, pdf: PDF) -> ParsedDocument:
    pages: list[tuple[int, lay.PageItems, list[lay.Line]]] = []
    sizes: Counter[float] = Counter()
    failed: list[str] = []
    for number, page in enumerate(pdf.pages, start=1):
        try:
            items, margins, words = _page_items(page)
        except Exception as exc:  # one damaged page should not lose the whole document
            failed.append(
                f"page {number} could not be read ({type(exc).__name__}): its text is missing"
            )
            continue
        for word in words:
            sizes[round(word.size, 1)] += len(word.text)
        pages.append((number, items, margins))
    body = sizes.most_common(1)[0][0] if sizes else 10.0
    running = _running_lines(pages)
    outline = _outline(pdf)
    blocks, first_heading = _blocks(pages, running, outline, body)
    if not blocks:
        if failed:
            raise IngestError(str(path), "corrupt PDF: no page could be read")
        if any(items.navigation for _number, items, _margins in pages):
            raise EmptyDocument(str(path), NAVIGATION)
        raise IngestError(str(path), SCANNED)
    metadata = {"pages": str(len(pdf.pages))}
    info = _info(pdf)
    if info.get("Author"):
        metadata["author"] = info["Author"]
    date = _date(info.get("CreationDate") or info.get("ModDate") or "")
    if date:
        metadata["date"] = date
    if failed:
        metadata["unreadable_pages"] = ", ".join(w.split()[1] for w in failed)
    title = next(
        (
            t
            for t in (_page_title(info.get("Title", ""), first_heading), first_heading)
            if _good_title(t)
        ),
        title_from_stem(path.stem),
    )
    return ParsedDocument(
        title=title,
        blocks=tuple(_without_title_root(blocks, title)),
        doc_type="pdf",
        metadata=metadata,
        warnings=tuple(failed),
    )


def _page_items(page: Page) -> tuple[lay.PageItems, list[lay.Line], list[lay.Word]]:
    """One page: its paragraphs and tables in reading order, its margin lines, its words."""
    tables: list[lay.TableItem] = []
    width, height = float(page.width), float(page.height)
    # A box drawn around the whole page (a border, a background) is no table: its edges
    # would swallow the real tables inside it into one page-sized grid that is then refused.
    unframed = page.filter(lambda obj: not _is_frame(obj, width, height))
    for found_table in unframed.find_tables():
        rows = _trimmed(tuple(tuple(c or "" for c in row) for row in found_table.extract()))
        if _is_table(rows):
            x0, top, x1, bottom = found_table.bbox
            tables.append(lay.TableItem(x0, top, x1, bottom, rows))
    words = [
        lay.Word(
            w["text"],
            w["x0"],
            w["x1"],
            w["top"],
            w["bottom"],
            float(w.get("size", 10.0)),
            str(w.get("fontname", "")),
        )
        for w in page.extract_words(extra_attrs=["size", "fontname"], x_tolerance_ratio=0.15)
        if not any(_inside(w, t) for t in tables)
    ]
    lines = lay.group_lines(words)
    margins = lay.margin_lines(lines, height)
    if _links_only(page, words):
        return lay.PageItems(navigation=True), margins, words
    margin_ids = {id(ln) for ln in margins}
    unruled, lines = lay.aligned_tables(
        [ln for ln in lines if id(ln) not in margin_ids], accept=_is_table
    )
    lines = [*lines, *margins]
    tables.extend(unruled)
    body = lay.body_size(words)
    marks = _bullet_marks(page)
    items = lay.PageItems()
    found: list[lay.Paragraph | lay.TableItem] = []
    for stream in lay.reading_order(lines, width):
        found.extend(lay.paragraphs(stream, body, marks))
    # Tables go before the first paragraph below them (reading order by position).
    for table in tables:
        at = next((i for i, p in enumerate(found) if p.top > table.top), len(found))
        found.insert(at, table)
    items.items = found
    return items, margins, words


def _links_only(page: Page, words: list[lay.Word]) -> bool:
    """Nine tenths of the page's body text (and a few lines of it) lie inside link areas: a
    table of contents or another page of navigation, whose entries repeat the headings. Text
    set larger than the body (the page's title) does not count."""
    try:
        annots = page.annots
    except Exception:  # a damaged annotation array: read the page as text
        return False
    links = [
        a
        for a in annots
        if str(getattr((a.get("data") or {}).get("Subtype"), "name", "")) == "Link"
    ]
    body = lay.body_size(words)
    words = [w for w in words if w.size <= body * 1.08]
    total = sum(len(w.text) for w in words)
    if not links or total < _NAVIGATION_CHARS:
        return False
    linked = sum(
        len(w.text)
        for w in words
        if any(
            a["x0"] - 1 <= w.x0
            and w.x1 <= a["x1"] + 1
            and a["top"] - 2 <= w.top
            and w.bottom <= a["bottom"] + 2
            for a in links
        )
    )
    return linked >= 0.9 * total


def _is_frame(obj: dict[str, Any], width: float, height: float) -> bool:
    """No table rule: a rectangle spanning most of the page both ways (a page border or
    background), one running off the page (a bleed), or a white fill without a stroke (it
    draws no edge on a white page)."""
    if obj.get("object_type") != "rect":
        return False
    if obj["x1"] - obj["x0"] > 0.8 * width and obj["bottom"] - obj["top"] > 0.5 * height:
        return True
    if obj["x0"] < -1 or obj["top"] < -1 or obj["x1"] > width + 1 or obj["bottom"] > height + 1:
        return True
    colour = obj.get("non_stroking_color")
    white = isinstance(colour, (tuple, list)) and len(colour) in (1, 3) and min(colour) >= 0.99
    return bool(obj.get("fill") and not obj.get("stroke") and white)


def _bullet_marks(page: Page) -> list[lay.Mark]:
    """Small filled squares and discs: list bullets that were drawn rather than typed."""
    found: list[lay.Mark] = []
    for obj in (*page.curves, *page.rects):
        w, h = obj["x1"] - obj["x0"], obj["bottom"] - obj["top"]
        if obj.get("fill") and 1.0 <= w <= 7.0 and 1.0 <= h <= 7.0 and abs(w - h) <= 1.0:
            found.append(lay.Mark(obj["x0"], obj["top"], obj["x1"], obj["bottom"]))
    return found


def _trimmed(rows: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    """The grid without rows and columns that are empty throughout (slivers between rules)."""
    rows = tuple(row for row in rows if any(c.strip() for c in row))
    width = max(map(len, rows), default=0)
    keep = [i for i in range(width) if any(i < len(r) and r[i].strip() for r in rows)]
    return tuple(tuple(row[i] if i < len(row) else "" for i in keep) for row in rows)


def _is_table(rows: tuple[tuple[str, ...], ...]) -> bool:
    """A grid of short cells, mostly filled, not a ruled box around running text or code."""
    cells = [c.strip() for row in rows for c in row]
    if len(rows) < 2 or max(len(r) for r in rows) < 2:
        return False
    if sum(bool(c) for c in cells) < 0.6 * len(cells) or max(len(c) for c in cells) > 400:
        return False
    return sum(sum(bool(c.strip()) for c in row) >= 2 for row in rows) >= 2


def _inside(word: dict[str, Any], table: lay.TableItem) -> bool:
    cx = (word["x0"] + word["x1"]) / 2
    cy = (word["top"] + word["bottom"]) / 2
    return bool(table.x0 <= cx <= table.x1 and table.top <= cy <= table.bottom)


def _running_lines(pages: list[tuple[int, lay.PageItems, list[lay.Line]]]) -> set[str]:
    """Margin lines (digits wildcarded) repeated on at least half of the pages (and two)."""
    if len(pages) < 2:
        return set()
    seen: Counter[str] = Counter()
    for _number, _items, margins in pages:
        seen.update({lay.running_key(ln.text) for ln in margins})
    return {key for key, n in seen.items() if n >= max(2, len(pages) / 2)}


def _blocks(
    pages: list[tuple[int, lay.PageItems, list[lay.Line]]],
    running: set[str],
    outline: list[_OutlineEntry],
    body: float,
) -> tuple[list[Block], str]:
    blocks: list[Block] = []
    path: list[tuple[float, str]] = []  # (rank, title): smaller rank is outer
    first_heading = ""
    first_line = ""
    cover = _cover_title(pages, body)
    pending: Block | None = None
    by_page: dict[int, list[_OutlineEntry]] = {}
    for entry in outline:
        by_page.setdefault(entry.page, []).append(entry)

    def open_heading(rank: float, title: str) -> None:
        while path and path[-1][0] >= rank:
            path.pop()
        path.append((rank, title))

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            blocks.append(pending)
            pending = None

    last_table: tuple[int, tuple[tuple[str, ...], ...]] | None = None  # (block index, rows)
    for number, items, _margins in pages:
        entries = list(by_page.get(number, []))
        matched: set[int] = set()
        page_start = True
        for item in items.items:
            if isinstance(item, lay.TableItem):
                flush()
                if page_start and last_table is not None and _continues(last_table[1], item.rows):
                    # A table running on from the previous page: one table, its header once.
                    index, rows = last_table
                    more = item.rows[1:] if item.rows[0] == rows[0] else item.rows
                    rows = rows + more
                    text = lay.markdown_table(rows)
                    blocks[index] = dataclasses.replace(blocks[index], text=text)
                    last_table = (index, rows)
                else:
                    text = lay.markdown_table(item.rows)
                    if text:
                        blocks.append(_block("table", text, path, number))
                        last_table = (len(blocks) - 1, item.rows)
                page_start = False
                continue
            text = item.text
            if lay.running_key(text) in running or lay.is_page_number(text):
                continue
            page_start = False
            last_table = None
            heading_rank: float | None = None
            if outline:
                hit = next(
                    (i for i, e in enumerate(entries) if i not in matched and _same(e.title, text)),
                    None,
                )
                if hit is not None:
                    # Entries before the matched one are opened first, at their own levels.
                    for i in range(hit + 1):
                        if i not in matched:
                            open_heading(entries[i].level, entries[i].title)
                            matched.add(i)
                    heading_rank = entries[hit].level
            elif (
                (item.size > body * 1.15 or (item.size > body * 1.08 and _all_large(item, body)))
                and len(text) <= _MAX_HEADING_CHARS
                and item.lines <= 3
                and not item.code
            ):
                heading_rank = -round(item.size * 2) / 2
                open_heading(heading_rank, text)
            if heading_rank is not None:
                flush()
                first_heading = first_heading or text
                continue
            term = _term_name(item, body)
            if term:
                # A definition term (`print(*objects, sep=' ')` with `print` set larger)
                # opens a section named by the term and stays in the text.
                flush()
                open_heading(_TERM_RANK, term)
                pending = _block("code" if item.code else "text", text, path, number)
                continue
            if (
                pending is not None
                and pending.page != number
                and pending.kind == "text"
                and not item.code
                and not pending.text.endswith((".", ":", "!", "?"))
                and text[:1].islower()
            ):  # a paragraph running on from the previous page
                pending = _block("text", lay.join_lines([pending.text, text]), [], 0, pending)
                continue
            if (
                pending is not None
                and pending.page != number
                and pending.kind == "code"
                and item.code
            ):  # a code block running on from the previous page
                pending = _block("code", f"{pending.text}\n{text}", [], 0, pending)
                continue
            flush()
            if (
                not blocks
                and not item.code
                and len(text) <= 100
                and item.lines == 1
                and text[-1:] not in ".:;,"
            ):
                first_line = first_line or text  # a title line set in the body font
            pending = _block("code" if item.code else "text", text, path, number)
        for i, entry in enumerate(entries):  # bookmarks whose title was not found in the text
            if i not in matched:
                open_heading(entry.level, entry.title)
    flush()
    return blocks, cover or first_heading or first_line


def _cover_title(pages: list[tuple[int, lay.PageItems, list[lay.Line]]], body: float) -> str:
    """The largest text on the first page with text, when it stands out as a title."""
    for _number, items, _margins in pages:
        paragraphs = [p for p in items.items if isinstance(p, lay.Paragraph)]
        if not paragraphs:
            continue
        top = max(paragraphs, key=lambda p: p.size)
        if top.size > body * 1.15 and len(top.text) <= _MAX_HEADING_CHARS:
            return top.text
        return ""
    return ""


def _continues(rows: tuple[tuple[str, ...], ...], more: tuple[tuple[str, ...], ...]) -> bool:
    """`more` (first on its page) carries on `rows` (last on the page before): same columns."""
    return bool(more) and max(map(len, rows)) == max(map(len, more))


def _all_large(item: lay.Paragraph, body: float) -> bool:
    """Every word of the first line is set larger than the body: a minor heading."""
    return all(w.size > body * 1.08 for w in item.first if any(c.isalnum() for c in w.text))


def _term_name(item: lay.Paragraph, body: float) -> str:
    """The name a definition term defines (`print` in `print(*objects, sep=' ')`, `property` in
    `class property(fget=None)`): the words set larger than the body near the line's start,
    with a qualifier touching them (`subprocess.` + `run`). Empty for anything else."""
    words = item.first
    if not words or item.lines > 3 or len(item.text) > 300:
        return ""
    big = [
        i
        for i, w in enumerate(words)
        if w.size > body * 1.08 and sum(c.isalnum() for c in w.text) >= 2
    ]
    if not big or big[0] > 2:
        return ""
    start = end = big[0]
    while start > 0 and words[start].x0 - words[start - 1].x1 <= 0.15 * words[start].size:
        start -= 1
    while end + 1 < len(words) and end + 1 in big:
        end += 1
    return lay.join_words(words[start : end + 1])


def _block(
    kind: str, text: str, path: list[tuple[float, str]], page: int, like: Block | None = None
) -> Block:
    if like is not None:
        return Block(
            kind=like.kind, text=text, section=like.section, anchor=like.anchor, page=like.page
        )
    return Block(
        kind="table" if kind == "table" else "code" if kind == "code" else "text",
        text=text,
        section=tuple(title for _rank, title in path),
        anchor=f"page={page}",
        page=page,
    )


def _same(title: str, text: str) -> bool:
    a, b = clean_text(title).lower(), clean_text(text).lower()
    return bool(a) and (a == b or (len(b) <= len(a) + 12 and b.startswith(a)) or b.endswith(a))


def _outline(pdf: PDF) -> list[_OutlineEntry]:
    """Bookmarks resolved to 1-based page numbers; [] when there are none or they are broken."""
    try:
        from pdfminer.pdftypes import resolve1
    except ImportError:  # pragma: no cover - pdfminer comes with pdfplumber
        return []
    pages = {page.page_obj.pageid: i for i, page in enumerate(pdf.pages, start=1)}
    found: list[_OutlineEntry] = []
    try:
        for level, title, dest, action, _se in pdf.doc.get_outlines():
            target = resolve1(dest) if dest is not None else None
            if target is None and action is not None:
                target = resolve1(resolve1(action).get("D"))
            if isinstance(target, (bytes, str)):
                target = resolve1(pdf.doc.get_dest(target))
            if isinstance(target, dict):
                target = resolve1(target.get("D"))
            if not isinstance(target, list) or not target:
                continue
            ref = target[0]
            page = pages.get(getattr(ref, "objid", None))
            text = clean_text(str(title or ""))
            if page is not None and text:
                found.append(_OutlineEntry(int(level), text, page))
    except Exception:  # no outline, or a broken one: fall back to font-size headings
        return []
    return found


def _info(pdf: PDF) -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        for key, value in pdf.metadata.items():
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            if isinstance(value, str) and clean_text(value):
                found[str(key)] = clean_text(value)
    except Exception:  # a broken info dictionary is not worth failing the document for
        return {}
    return found


def _page_title(title: str, heading: str) -> str:
    """`Page — Site` (a web page's title, printed to PDF by a browser) as `Page` when the
    first heading reads `Page`: the site's name on every page tells no page apart."""
    if not heading or _same_text(title, heading):
        return title
    full, page = clean_text(title).casefold(), clean_text(heading).casefold()
    for separator in _TITLE_SEPARATORS:
        if full.startswith(page + separator) or full.endswith(separator + page):
            return heading
    return title


def _same_text(a: str, b: str) -> bool:
    return clean_text(a).casefold() == clean_text(b).casefold()


def _without_title_root(blocks: list[Block], title: str) -> list[Block]:
    """Section paths without a first heading that merely repeats the title, when every
    section sits under it (the page's one `h1`), as the HTML reader leaves it out."""
    roots = {b.section[0] for b in blocks if b.section}
    if len(roots) != 1 or not _same_text(next(iter(roots)), title):
        return blocks
    return [dataclasses.replace(b, section=b.section[1:]) for b in blocks]


def _good_title(title: str) -> bool:
    """Not empty, not a placeholder, not an id such as `0000909832-21-000014` or `scan0001`."""
    text = clean_text(title)
    if is_placeholder_title(text) or len(text) > _MAX_HEADING_CHARS:
        return False
    if text.lower().startswith("microsoft word -"):
        return False
    return not _ID_LIKE.match(text)


def _date(value: str) -> str:
    match = _PDF_DATE.match(value.strip())
    if match is None or not 1900 <= int(match.group(1)) <= 2200:
        return ""
    year, month, day = match.group(1), match.group(2) or "01", match.group(3) or "01"
    return f"{year}-{month}-{day}"


def _open(path: Path, data: bytes) -> PDF:
    if b"%PDF-" not in data[:1024]:
        raise IngestError(str(path), "not a PDF file (no %PDF header)")
    try:
        import pdfplumber
        from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise IngestError(str(path), "PDF support needs `pip install pdfplumber`") from exc
    try:
        pdf = pdfplumber.open(io.BytesIO(data), password="")
        len(pdf.pages)  # forces the page tree to load, where truncation shows up
    except Exception as exc:
        cause = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc
        if isinstance(cause, PDFPasswordIncorrect):
            raise IngestError(str(path), ENCRYPTED) from exc
        if isinstance(cause, PDFEncryptionError):
            raise IngestError(str(path), f"{ENCRYPTED} ({_short(cause)})") from exc
        raise IngestError(str(path), f"corrupt or truncated PDF ({_short(cause)})") from exc
    return pdf


def _short(exc: BaseException) -> str:
    message = clean_text(str(exc)) or type(exc).__name__
    return message[:120]
