"""Markdown files (CommonMark plus tables, via markdown-it-py): doc_type `markdown`.

Headings build the section path; anchors are GitHub-style heading slugs (`## Install it!` ->
`install-it`, repeats get `-1`, `-2`). YAML front matter is dropped from the text and its
simple `key: value` pairs become metadata. The title is the front-matter `title`, else the
first `h1`, else the file name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from cairn.ingest.formats.blocks import (
    BlockBuilder,
    clean_text,
    parse_key_values,
    render_table,
    title_from_stem,
)
from cairn.types import Block, ParsedDocument

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.tree import SyntaxTreeNode

_FRONT_MATTER = re.compile(
    r"\A(?:\ufeff)?---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S | re.M
)
_YAML_LINE = re.compile(r"^(?:\s*(?:#.*)?|[\w][\w .-]*:(?:\s.*)?|\s+\S.*|-\s.*)$")
_HTML_TAG = re.compile(r"<!--.*?-->|<[^>]+>", re.S)
_SLUG_DROP = re.compile(r"[^\w\- ]")


def read(
    path: Path,
    text: str,
    *,
    doc_type: str = "markdown",
    default_title: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> ParsedDocument:
    """Read Markdown source; `default_title` (used when there is no front-matter title or
    `h1`) and `metadata` let wrappers such as the Notion reader add what they know."""
    from markdown_it.tree import SyntaxTreeNode  # lazy: keep `import cairn...` fast

    meta = dict(metadata or {})
    front = _FRONT_MATTER.match(text)
    if front and all(_YAML_LINE.match(line) for line in front.group(1).splitlines()):
        meta.update(parse_key_values(front.group(1).splitlines()))
        text = text[front.end() :]
    root = SyntaxTreeNode(_parser().parse(text))
    headings = [n for n in root.walk() if n.type == "heading"]
    first_h1 = next((_inline(n) for n in headings if n.tag == "h1"), "")
    doc_title = meta.get("title") or first_h1 or default_title or title_from_stem(path.stem)
    h1_count = sum(1 for n in headings if n.tag == "h1")
    title_node = None
    if headings and headings[0].tag == "h1" and h1_count == 1 and _inline(headings[0]) == doc_title:
        title_node = headings[0]
    walker = _MarkdownWalker(title_node)
    walker.children(root)
    return ParsedDocument(
        title=doc_title, blocks=tuple(walker.out.blocks), doc_type=doc_type, metadata=meta
    )


@functools.cache
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table")


def github_slug(text: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to `-`."""
    return _SLUG_DROP.sub("", text.strip().lower()).replace(" ", "-")


class _MarkdownWalker:
    """Walks the markdown-it syntax tree once, emitting blocks."""

    def __init__(self, title_node: SyntaxTreeNode | None) -> None:
        self.out = BlockBuilder()
        self._title_node = title_node
        self._slugs: dict[str, int] = {}

    def children(self, node: SyntaxTreeNode) -> None:
        for child in node.children:
            self.node(child)

    def node(self, node: SyntaxTreeNode) -> None:
        kind = node.type
        if kind == "heading":
            text = _inline(node)
            anchor = self._unique_slug(text)
            if node is self._title_node:
                self.out.heading(1, text, anchor, in_path=False)
            elif text:
                self.out.heading(int(node.tag[1]), text, anchor)
        elif kind == "paragraph":
            self.out.emit("text", _inline(node))
        elif kind in ("fence", "code_block"):
            self.out.emit("code", node.content.strip("\n").rstrip())
        elif kind == "table":
            rows = [
                [_inline(cell) for cell in tr.children] for tr in node.walk() if tr.type == "tr"
            ]
            self.out.emit("table", render_table(rows))
        elif kind in ("bullet_list", "ordered_list"):
            items: list[list[Block]] = []
            for item in node.children:
                with self.out.capture() as blocks:
                    self.children(item)
                items.append(blocks)
            self.out.emit_list(items)
        elif kind == "html_block":
            self.out.emit("text", clean_text(_HTML_TAG.sub(" ", node.content)))
        elif kind != "hr":
            self.children(node)

    def _unique_slug(self, text: str) -> str:
        slug = github_slug(text)
        seen = self._slugs.get(slug)
        self._slugs[slug] = 0 if seen is None else seen + 1
        return slug if seen is None else f"{slug}-{seen + 1}"


def _inline(node: SyntaxTreeNode) -> str:
    """The plain text of a node's inline content (markup, link targets and HTML tags dropped)."""
    parts: list[str] = []
    _collect_inline(node, parts)
    return clean_text("".join(parts))


def _collect_inline(node: SyntaxTreeNode, parts: list[str]) -> None:
    for child in node.children:
        kind = child.type
        if kind in ("text", "code_inline"):
            parts.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif kind != "html_inline":
            _collect_inline(child, parts)
