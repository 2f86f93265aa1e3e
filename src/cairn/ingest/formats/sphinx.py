"""Sphinx-built HTML (the Python docs and most Read the Docs sites): doc_type `sphinx`.

Only the article is read (`div.body`, `[itemprop=articleBody]` or `[role=main]`), without
navigation, sidebars, tables of contents and `¶` permalinks. API entries (`dl.py.function`,
`dl.c.member`, `dl.std.cmdoption`, ...) become a signature block anchored at the entry's id
(`dataclasses.field`) followed by their description, with the API name appended to the
section path so a chunk can link to `library/dataclasses.html#dataclasses.field`.
"""

from __future__ import annotations

import re
from pathlib import Path

from cairn.ingest.formats.blocks import clean_text, title_from_stem
from cairn.ingest.formats.htmltree import (
    HtmlNode,
    HtmlWalker,
    drop_all,
    find_all,
    find_first,
    first_present,
    has_class,
    prepare,
    tag_of,
    text_of,
    title_heading,
)
from cairn.types import ParsedDocument

_CHROME_CLASSES = frozenset(
    {
        "headerlink", "toctree-wrapper", "sphinxsidebar", "related", "footer", "contents",
        "viewcode-link", "clearer", "rst-footer-buttons", "wy-breadcrumbs", "linenos",
    }
)  # fmt: skip
_PYTHON_NAME = re.compile(r"^[A-Za-z_][\w.]*$")


def is_sphinx(root: HtmlNode) -> bool:
    """Whether the page was built by Sphinx (its scripts, generator tag or `¶` permalinks)."""
    for el in root.iter("script", "meta"):
        if "documentation_options" in (el.get("id") or "") + (el.get("src") or ""):
            return True
        if el.get("name") == "generator" and "sphinx" in (el.get("content") or "").lower():
            return True
    body = find_first(root, "div", class_="body")
    return body is not None and find_first(body, "a", class_="headerlink") is not None


def read(path: Path, root: HtmlNode) -> ParsedDocument:
    """Read a parsed Sphinx page."""
    article = first_present(
        find_first(root, "*", itemprop="articleBody"),
        find_first(root, "div", class_="body"),
        find_first(root, "*", role="main"),
        find_first(root, "body"),
        default=root,
    )
    prepare(article)
    drop_all(find_all(article, tags=("nav",), class_names=_CHROME_CLASSES))
    h1 = find_first(article, "h1")
    title = (
        (text_of(h1) if h1 is not None else "") or _html_title(root) or title_from_stem(path.stem)
    )
    walker = SphinxWalker(title_heading(article, title))
    return ParsedDocument(title=title, blocks=tuple(walker.walk(article)), doc_type="sphinx")


class SphinxWalker(HtmlWalker):
    """The HTML walker plus Sphinx API entries and line blocks."""

    def element(self, el: HtmlNode) -> None:
        if tag_of(el) == "dl" and _is_api_entry(el):
            self._api_entry(el)
        elif tag_of(el) == "div" and has_class(el, "line-block"):
            self.out.emit("text", text_of(el))
        else:
            super().element(el)

    def _api_entry(self, dl: HtmlNode) -> None:
        signatures: list[HtmlNode] = []
        for child in dl:
            tag = tag_of(child)
            if tag == "dt":
                signatures.append(child)
            elif tag == "dd":
                self._api_body(dl, signatures, child)
                signatures = []
            elif tag:
                self.element(child)
        if signatures:
            self._api_body(dl, signatures, None)

    def _api_body(self, dl: HtmlNode, signatures: list[HtmlNode], body: HtmlNode | None) -> None:
        """Emit the signatures as one code block, then the description, under the API name."""
        anchor = next((a for a in (dt.get("id") for dt in signatures) if a), None)
        name = _api_name(dl, signatures[0], anchor) if signatures else None
        with self.out.scope(name, anchor):
            self.out.emit("code", "\n".join(t for t in map(text_of, signatures) if t))
            if body is not None:
                self.container(body)


def _is_api_entry(dl: HtmlNode) -> bool:
    dt = next((c for c in dl if tag_of(c) == "dt"), None)
    return dt is not None and (has_class(dt, "sig-object") or has_class(dt, "sig"))


def _api_name(dl: HtmlNode, dt: HtmlNode, anchor: str | None) -> str:
    """`dataclasses.field` for Python objects (their id is the dotted name), else the
    signature's name (`PyObject_GetAttr`, `-c`, `LOAD_FAST`)."""
    if has_class(dl, "py") and anchor and _PYTHON_NAME.match(anchor):
        return anchor
    parts = [
        text_of(el)
        for el in dt.iter("span")
        if has_class(el, "sig-name") or (has_class(el, "sig-prename") and has_class(dl, "py"))
    ]
    return clean_text("".join(parts)) or anchor or text_of(dt)[:80]


def _html_title(root: HtmlNode) -> str:
    title = find_first(root, "title")
    if title is None:
        return ""
    # "dataclasses — Data Classes — Python 3.11.2 documentation": drop the project suffix.
    return text_of(title).rsplit(" \u2014 ", 1)[0]
