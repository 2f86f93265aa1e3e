"""HTML files: pick the flavour (Confluence export, Sphinx, plain) and read the page.

Plain pages (doc_type `html`) are read from `<main>`, `<article>`, `[role=main]` or `<body>`,
without navigation, site header and footer, sidebars, forms, scripts and elements with
navigation classes (`nav-panel`, `breadcrumbs`, `sidebar`, ...); `h1`-`h6` build the
section path and anchors come from heading ids.
"""

from __future__ import annotations

from pathlib import Path

from cairn.ingest.formats import confluence, sphinx
from cairn.ingest.formats.blocks import title_from_stem
from cairn.ingest.formats.htmltree import (
    HtmlNode,
    HtmlWalker,
    classes,
    drop_all,
    find_first,
    first_present,
    has_class,
    parse_html,
    prepare,
    tag_of,
    text_of,
    title_heading,
)
from cairn.types import ParsedDocument

_CHROME_TAGS = frozenset({"nav", "footer", "aside", "form", "dialog"})
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "complementary"})
_CHROME_CLASSES = frozenset(
    {
        "nav-panel", "navbar", "navigation", "breadcrumb", "breadcrumbs", "sidebar",
        "skip-link", "site-header", "site-footer", "footer", "cookie-banner",
    }
)  # fmt: skip
_PAGER_RELS = frozenset({"next", "prev", "previous", "up"})
_CONTENT_HOLDERS = frozenset({"article", "main", "section"})


def read(path: Path, text: str) -> ParsedDocument:
    """Parse an HTML file and read it with the reader for its flavour."""
    root = parse_html(text)
    if confluence.is_confluence(root):
        return confluence.read(path, root)
    if sphinx.is_sphinx(root):
        return sphinx.read(path, root)
    return read_plain(path, root)


def read_plain(path: Path, root: HtmlNode) -> ParsedDocument:
    """Read the main content of an ordinary web page."""
    content = first_present(
        find_first(root, "main"),
        find_first(root, "article"),
        find_first(root, "*", role="main"),
        find_first(root, "body"),
        default=root,
    )
    prepare(content)
    drop_all(el for el in content.iter() if _is_chrome(el))
    h1 = find_first(content, "h1")
    page_title = find_first(root, "title")
    title = (
        (text_of(h1) if h1 is not None else "")
        or (text_of(page_title) if page_title is not None else "")
        or title_from_stem(path.stem)
    )
    walker = HtmlWalker(title_heading(content, title))
    return ParsedDocument(title=title, blocks=tuple(walker.walk(content)), doc_type="html")


def _is_chrome(el: HtmlNode) -> bool:
    """Navigation, site header/footer, sidebars, forms and hidden elements."""
    tag = tag_of(el)
    if tag in _CHROME_TAGS or el.get("role") in _CHROME_ROLES:
        return True
    if el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    if not _CHROME_CLASSES.isdisjoint(classes(el)):
        return True
    # A <header> inside an article holds its title; one around the page holds the site menu.
    if tag == "header" and not any(tag_of(a) in _CONTENT_HOLDERS for a in el.iterancestors()):
        return True
    # Texinfo's "Next: ..., Previous: ..., Up: ..." bar.
    return (
        tag == "div"
        and has_class(el, "header")
        and any(a.get("rel") in _PAGER_RELS for a in el.iter("a"))
    )
