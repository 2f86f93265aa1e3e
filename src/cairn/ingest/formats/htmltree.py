"""Parse HTML with lxml and walk the element tree once, turning it into blocks.

The walker knows plain HTML: headings build the outline, `p` becomes text, `pre` code,
`table` a table, `ul`/`ol` a list, `dl` term/definition text and admonition boxes
(`div.admonition`, as Sphinx and MkDocs write them) a "Note: ..." paragraph. Readers for
flavoured HTML (Sphinx, Confluence) pick the content root, strip their own chrome and
subclass `HtmlWalker` where they need more.

lxml is used directly rather than through BeautifulSoup: it is about 25 times faster to parse,
which matters for a documentation set of hundreds of pages.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from typing import Protocol, cast

from cairn.ingest.formats.blocks import BlockBuilder, clean_text, prefix_first, render_table
from cairn.types import Block


class HtmlNode(Protocol):
    """The part of `lxml.html.HtmlElement` the readers use (lxml ships no type hints)."""

    text: str | None
    tail: str | None

    @property
    def tag(self) -> object:
        """The tag name; not a `str` for comments and processing instructions."""

    def get(self, key: str, default: str | None = None) -> str | None: ...
    def __iter__(self) -> Iterator[HtmlNode]: ...
    def itertext(self) -> Iterator[str]: ...
    def iter(self, *tags: str) -> Iterator[HtmlNode]: ...
    def iterancestors(self) -> Iterator[HtmlNode]: ...
    def getparent(self) -> HtmlNode | None: ...
    def getprevious(self) -> HtmlNode | None: ...
    def drop_tree(self) -> None: ...
    def xpath(self, path: str) -> list[HtmlNode]: ...


HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")

_XML_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>")

_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "caption", "center", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
        "header", "hgroup", "hr", "li", "main", "menu", "nav", "ol", "p", "pre", "section",
        "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "listing", "xmp",
        *HEADINGS,
    }
)  # fmt: skip

_SKIP_TAGS = frozenset(
    {
        "script", "style", "template", "noscript", "svg", "canvas", "iframe", "object",
        "embed", "button", "input", "select", "textarea", "head", "title", "meta", "link",
        "hr", "img", "br", "wbr", "area", "map", "audio", "video", "source", "track",
    }
)  # fmt: skip

_NEVER_TEXT = (
    "script", "style", "template", "noscript", "svg", "button", "input", "select", "textarea",
)  # fmt: skip
_PERMALINK_MARKS = frozenset({"#", "\u00b6", "\u00a7", "\U0001f517", "link", "permalink"})


def parse_html(text: str) -> HtmlNode:
    """Parse a whole HTML document; raises lxml's `ParserError` when there is nothing to parse."""
    import lxml.html  # type: ignore[import-untyped]  # lazy: keep `import cairn...` fast

    return cast(HtmlNode, lxml.html.document_fromstring(_XML_DECLARATION.sub("", text, count=1)))


def tag_of(el: HtmlNode) -> str:
    """The lower-case tag name, or `""` for comments and processing instructions."""
    tag = el.tag
    return tag.lower() if isinstance(tag, str) else ""


def classes(el: HtmlNode) -> list[str]:
    """The element's class names."""
    return (el.get("class") or "").split()


def has_class(el: HtmlNode, name: str) -> bool:
    """Whether `name` is one of the element's classes."""
    return name in classes(el)


def text_of(el: HtmlNode) -> str:
    """All text inside `el`, whitespace-normalised."""
    return clean_text("".join(el.itertext()))


def find_first(root: HtmlNode, tag: str, **attrs: str) -> HtmlNode | None:
    """The first `tag` element (`"*"` for any) in `root`, itself included, whose attributes
    equal `attrs`; `class_` matches one class name. Uses XPath, so it is fast on big pages."""
    wanted_class = attrs.pop("class_", None)
    conditions = [f"@{key}='{value}'" for key, value in attrs.items()]
    if wanted_class is not None:
        conditions.append(
            f"contains(concat(' ', normalize-space(@class), ' '), ' {wanted_class} ')"
        )
    test = f"[{' and '.join(conditions)}]" if conditions else ""
    found = root.xpath(f"(descendant-or-self::{tag}{test})[1]")
    return found[0] if found else None


def find_all(
    root: HtmlNode, tags: Collection[str] = (), class_names: Collection[str] = ()
) -> list[HtmlNode]:
    """Every element under `root` that has one of `tags` or one of `class_names`."""
    wanted = frozenset(class_names)
    return [
        el
        for el in root.iter()
        if isinstance(el.tag, str)
        and (el.tag in tags or not wanted.isdisjoint((el.get("class") or "").split()))
    ]


def first_present(*nodes: HtmlNode | None, default: HtmlNode) -> HtmlNode:
    """The first node that is not None, else `default` (lxml elements without children are
    falsy, so `or` cannot be used to chain them)."""
    return next((node for node in nodes if node is not None), default)


def drop_all(elements: Iterable[HtmlNode]) -> None:
    """Remove elements (keeping the text that follows them)."""
    for el in list(elements):
        if el.getparent() is not None:
            el.drop_tree()


def prepare(root: HtmlNode) -> None:
    """Drop scripts, styles, form controls and `¶`/`#` permalinks, and turn `<br>` into a line
    break so words do not run together."""
    drop_all(root.iter(*_NEVER_TEXT))
    for link in [a for a in root.iter("a") if _is_permalink(a)]:
        if link.get("id") or link.get("name"):  # keep the target, lose the mark
            drop_all(list(link))
            link.text = None
        else:
            drop_all([link])
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")


def _is_permalink(a: HtmlNode) -> bool:
    if has_class(a, "headerlink"):
        return True
    return (a.get("href") or "").startswith("#") and text_of(a).lower() in _PERMALINK_MARKS


def heading_anchor(heading: HtmlNode) -> str | None:
    """The id that links to a heading: its own, an `<a id|name>` inside it, the id of the
    `<section>` it opens (Sphinx puts ids there) or of an empty `<a>`/`<span>` just before it."""
    if anchor := heading.get("id"):
        return anchor
    for a in heading.iter("a"):
        if anchor := a.get("id") or a.get("name"):
            return anchor
    parent = heading.getparent()
    if parent is not None and (tag_of(parent) == "section" or has_class(parent, "section")):
        first = next((c for c in parent if tag_of(c) in HEADINGS), None)
        if first is heading:
            return parent.get("id")
    previous = heading.getprevious()
    if (
        previous is not None
        and tag_of(previous) in ("a", "span")
        and not text_of(previous)
        and (anchor := previous.get("id") or previous.get("name"))
    ):
        return anchor
    return None


def title_heading(root: HtmlNode, title: str) -> HtmlNode | None:
    """The heading that merely repeats the document title: the first heading, when it is the
    only `h1` and reads the same as `title`. It is left out of section paths."""
    first: HtmlNode | None = None
    h1_count = 0
    for el in root.iter(*HEADINGS):
        if first is None:
            first = el
        if tag_of(el) == "h1":
            h1_count += 1
    if first is not None and tag_of(first) == "h1" and h1_count == 1 and text_of(first) == title:
        return first
    return None


class HtmlWalker:
    """Walks an element tree once, depth first, emitting blocks into a `BlockBuilder`."""

    def __init__(self, title_el: HtmlNode | None = None) -> None:
        self.out = BlockBuilder()
        self._title_el = title_el

    def walk(self, root: HtmlNode) -> list[Block]:
        """Emit the blocks of `root` and return every block emitted so far."""
        self.element(root)
        return self.out.blocks

    def element(self, el: HtmlNode) -> None:
        """Emit the blocks of one element."""
        tag = tag_of(el)
        if not tag or tag in _SKIP_TAGS:
            return
        if tag in HEADINGS:
            self.heading(el, int(tag[1]))
        elif tag == "p":
            self.out.emit("text", text_of(el))
        elif tag in ("pre", "listing", "xmp"):
            self.out.emit("code", "".join(el.itertext()).strip("\n").rstrip())
        elif tag in ("ul", "ol", "menu"):
            self.bullets(el)
        elif tag == "table":
            self.table(el)
        elif tag == "dl":
            self.definitions(el)
        elif label := self.admonition_label(el):
            self.admonition(el, label)
        else:
            self.container(el)

    def container(self, el: HtmlNode, skip: HtmlNode | None = None) -> None:
        """Emit mixed content: loose inline text becomes paragraphs between the child blocks."""
        buffer = [el.text or ""]
        for child in el:
            tag = tag_of(child)
            if child is skip or tag in _BLOCK_TAGS:
                self.out.emit("text", clean_text("".join(buffer)))
                if child is not skip:
                    self.element(child)
                buffer = [child.tail or ""]
            else:
                if tag and tag not in _SKIP_TAGS:
                    buffer.extend(child.itertext())
                buffer.append(child.tail or "")
        self.out.emit("text", clean_text("".join(buffer)))

    def heading(self, el: HtmlNode, level: int) -> None:
        """Open a section; the title heading anchors blocks but stays out of the path."""
        text = text_of(el)
        if el is self._title_el:
            self.out.heading(level, text, heading_anchor(el), in_path=False)
        elif text:
            self.out.heading(level, text, heading_anchor(el))

    def bullets(self, el: HtmlNode) -> None:
        """Emit a list block, one `- ` line per item (code and tables inside stay whole)."""
        items: list[list[Block]] = []
        for child in el:
            if not tag_of(child):
                continue
            with self.out.capture() as item:
                if tag_of(child) == "li":
                    self.container(child)
                else:
                    self.element(child)
            items.append(item)
        self.out.emit_list(items)

    def table(self, el: HtmlNode) -> None:
        """Emit a table block: header row first, then one line per row."""
        caption = next((c for c in el if tag_of(c) == "caption"), None)
        if caption is not None:
            self.out.emit("text", text_of(caption))
        head: list[list[str]] = []
        body: list[list[str]] = []
        for tr in _rows(el):
            cells = [c for c in tr if tag_of(c) in ("td", "th")]
            row = [text_of(c) for c in cells]
            parent = tr.getparent()
            in_head = parent is not None and tag_of(parent) == "thead"
            all_th = bool(cells) and all(tag_of(c) == "th" for c in cells)
            (head if in_head or (all_th and not head and not body) else body).append(row)
        self.out.emit("table", render_table(head + body))

    def definitions(self, el: HtmlNode) -> None:
        """Emit a definition list: each definition's first paragraph reads `term: definition`,
        under the term's id when it has one (glossary entries link to `#term-...`)."""
        terms: list[HtmlNode] = []
        for child in el:
            tag = tag_of(child)
            if tag == "dt":
                terms.append(child)
            elif tag == "dd":
                self._definition(terms, child)
                terms = []
            elif tag:
                self.element(child)
        if terms:
            self._definition(terms, None)

    def _definition(self, terms: list[HtmlNode], body: HtmlNode | None) -> None:
        term = ", ".join(t for t in (text_of(dt) for dt in terms) if t)
        anchor = next((a for a in (dt.get("id") for dt in terms) if a), None)
        with self.out.scope(None, anchor):
            with self.out.capture() as blocks:
                if body is not None:
                    self.container(body)
            if term and blocks and blocks[0].kind == "text":
                prefix_first(blocks, term)
            else:
                self.out.emit("text", term)
            self.out.extend(blocks)

    def admonition_label(self, el: HtmlNode) -> str | None:
        """The label of a call-out box (`Note`, `Warning`, ...), or None for other elements."""
        if tag_of(el) not in ("div", "aside", "section"):
            return None
        if not has_class(el, "admonition"):
            return None
        title = next((c for c in el if has_class(c, "admonition-title")), None)
        return text_of(title) if title is not None else "Note"

    def admonition(self, el: HtmlNode, label: str) -> None:
        """Emit a call-out box with its label in front: `Note: ...`."""
        title = next((c for c in el if has_class(c, "admonition-title")), None)
        with self.out.capture() as blocks:
            self.container(el, skip=title)
        self.out.extend(prefix_first(blocks, label))


def _rows(table: HtmlNode) -> Iterator[HtmlNode]:
    """The table's own rows (not those of tables nested in its cells), in order."""
    for child in table:
        tag = tag_of(child)
        if tag == "tr":
            yield child
        elif tag in ("thead", "tbody", "tfoot"):
            yield from (tr for tr in child if tag_of(tr) == "tr")
