"""Plain text files: doc_type `text`.

Paragraphs are separated by blank lines and whitespace-normalised, except indented paragraphs
(every line starting with 4 spaces or a tab), which are kept verbatim as code. A paragraph of
one line underlined with `===` or `---` is a heading. The title is the first line when it is
short (and then not repeated as a paragraph), else the file name.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from cairn.ingest.formats.blocks import BlockBuilder, clean_text, title_from_stem
from cairn.types import ParsedDocument

_MAX_TITLE = 100
_BLANK_LINES = re.compile(r"\n[ \t]*\n")
_UNDERLINE = re.compile(r"^(=+|-+)$")


def read(path: Path, text: str) -> ParsedDocument:
    """Read a plain text file."""
    chunks = [p for p in _BLANK_LINES.split(text.strip("\n")) if p.strip()]
    first = chunks[0].strip().split("\n")[0].strip() if chunks else ""
    title = clean_text(first) if 0 < len(first) <= _MAX_TITLE else title_from_stem(path.stem)
    out = BlockBuilder()
    for index, chunk in enumerate(chunks):
        lines = chunk.rstrip().split("\n")
        if len(lines) == 2 and _UNDERLINE.match(lines[1].strip()) and lines[0].strip():
            heading = clean_text(lines[0])
            level = 1 if lines[1].strip()[0] == "=" else 2
            out.heading(level, heading, None, in_path=not (index == 0 and heading == title))
        elif index == 0 and len(chunks) > 1 and clean_text(chunk) == title:
            continue  # the title line on its own
        elif all(line.startswith(("    ", "\t")) for line in lines if line.strip()):
            out.emit("code", _dedent(lines))
        else:
            out.emit("text", clean_text(chunk))
    return ParsedDocument(title=title, blocks=tuple(out.blocks), doc_type="text")


def _dedent(lines: list[str]) -> str:
    return textwrap.dedent("\n".join(lines)).strip("\n")
