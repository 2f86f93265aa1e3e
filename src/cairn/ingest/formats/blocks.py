"""What every reader needs to build blocks: whitespace cleaning, tables, lists and the outline.

`BlockBuilder` collects blocks in reading order while tracking the heading path (the
outline) above them, so a reader only says "here is a heading" and "here is a paragraph".
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

from cairn.types import Block, BlockKind

_SCOPE_LEVEL = 100
"""Outline level of a scope (an API entry): deeper than any heading."""


def clean_text(text: str) -> str:
    """Collapse every run of whitespace (newlines, tabs, non-breaking spaces) to one space."""
    return " ".join(text.split())


def render_table(rows: Iterable[Sequence[str]]) -> str:
    """Render rows as plain text: one row per line, cells joined by `" | "`, empty rows dropped."""
    return "\n".join(" | ".join(cells) for cells in rows if any(cells))


def markdown_table(
    rows: Iterable[Sequence[str | None]], *, cell: Callable[[str], str] = clean_text
) -> str:
    """Rows as a GitHub-flavoured Markdown table, the first row its header: each cell cleaned
    by `cell` (whitespace collapsed by default) with `|` escaped, empty rows dropped, short
    rows padded to the widest. The one renderer of the PDF, Office and spreadsheet readers."""
    cleaned = [[cell(c or "").replace("|", "\\|") for c in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if not cleaned:
        return ""
    width = max(len(row) for row in cleaned)
    cleaned = [row + [""] * (width - len(row)) for row in cleaned]
    lines = ["| " + " | ".join(cleaned[0]) + " |", "|" + "---|" * width]
    lines.extend("| " + " | ".join(row) + " |" for row in cleaned[1:])
    return "\n".join(lines)


PLACEHOLDER_TITLES = frozenset(
    {
        "untitled",
        "untitled document",
        "title",
        "document",
        "presentation",
        "powerpoint presentation",
        "microsoft word",
    }
)
"""Titles that office suites and PDF writers fill in by default: never a document's title."""


def is_placeholder_title(title: str) -> bool:
    """Empty, or a default title an application filled in (`Untitled`, `Presentation`)."""
    text = clean_text(title).lower()
    return not text or text in PLACEHOLDER_TITLES


def title_from_stem(stem: str) -> str:
    """A readable title from a file stem: `getting_started-guide` -> `getting started guide`."""
    return clean_text(stem.replace("_", " ").replace("-", " ")) or stem


@dataclasses.dataclass(slots=True)
class _Heading:
    level: int
    title: str
    anchor: str | None
    in_path: bool


class BlockBuilder:
    """Collects blocks in reading order and stamps each with the outline above it."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._stack: list[_Heading] = []
        self._section: tuple[str, ...] = ()
        self._anchor: str | None = None

    @property
    def section(self) -> tuple[str, ...]:
        """The heading path above the next block, outermost first."""
        return self._section

    @property
    def anchor(self) -> str | None:
        """The nearest anchor above the next block."""
        return self._anchor

    def heading(self, level: int, title: str, anchor: str | None, *, in_path: bool = True) -> None:
        """Open a heading of `level` (1-6); `in_path=False` for the document title."""
        while self._stack and self._stack[-1].level >= level:
            self._stack.pop()
        self._stack.append(_Heading(level, title, anchor, in_path))
        self._refresh()

    @contextmanager
    def scope(self, title: str | None, anchor: str | None) -> Iterator[None]:
        """Nest the blocks emitted inside under `title` (if any) and `anchor` (if any)."""
        saved = list(self._stack)
        self._stack.append(_Heading(_SCOPE_LEVEL, title or "", anchor, title is not None))
        self._refresh()
        try:
            yield
        finally:
            self._stack = saved
            self._refresh()

    @contextmanager
    def capture(self) -> Iterator[list[Block]]:
        """Collect the blocks emitted inside into the yielded list instead of the output."""
        saved = self.blocks
        captured: list[Block] = []
        self.blocks = captured
        try:
            yield captured
        finally:
            self.blocks = saved

    def emit(self, kind: BlockKind, text: str, *, page: int | None = None) -> None:
        """Append a block under the current outline; blank text is ignored."""
        if text and not text.isspace():
            self.blocks.append(
                Block(kind=kind, text=text, section=self._section, anchor=self._anchor, page=page)
            )

    def extend(self, blocks: Iterable[Block]) -> None:
        """Append already-built blocks unchanged."""
        self.blocks.extend(blocks)

    def emit_list(self, items: Iterable[Sequence[Block]]) -> None:
        """Emit a list from the blocks of each item: one `- ` line per item.

        Later paragraphs of an item and nested lists are indented under it; a code block or a
        table inside an item ends the list block there and is emitted whole, so it stays intact.
        """
        lines: list[str] = []
        for item in items:
            first = True
            for block in item:
                if block.kind == "text":
                    lines.append(("- " if first else "  ") + block.text)
                    first = False
                elif block.kind == "list":
                    lines.extend("  " + line for line in block.text.split("\n"))
                else:
                    self.emit("list", "\n".join(lines))
                    lines = []
                    self.blocks.append(block)
        self.emit("list", "\n".join(lines))

    def _refresh(self) -> None:
        self._section = tuple(h.title for h in self._stack if h.in_path and h.title)
        self._anchor = next((h.anchor for h in reversed(self._stack) if h.anchor), None)


def prefix_first(blocks: list[Block], label: str) -> list[Block]:
    """Prefix the first block with `label: ` when it is a paragraph (used for admonitions)."""
    if blocks and blocks[0].kind == "text":
        sep = " " if label.endswith(":") else ": "
        blocks[0] = dataclasses.replace(blocks[0], text=f"{label}{sep}{blocks[0].text}")
    return blocks


_FRONT_KEY = re.compile(r"^([A-Za-z_][\w .-]{0,63}):[ \t]*(.*?)\s*$")


def parse_key_values(lines: Iterable[str]) -> dict[str, str]:
    """Simple `key: value` pairs (YAML-ish front matter); nested or empty values are skipped."""
    found: dict[str, str] = {}
    for line in lines:
        match = _FRONT_KEY.match(line)
        if match is None or not match.group(2):
            continue
        value = match.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif value.startswith("[") and value.endswith("]"):
            value = ", ".join(v.strip().strip("\"'") for v in value[1:-1].split(","))
        found[match.group(1).strip()] = value
    return found
