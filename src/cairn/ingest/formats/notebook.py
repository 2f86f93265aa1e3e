"""Jupyter notebooks (`.ipynb`): doc_type `notebook`.

The cells are read in order as one Markdown document: Markdown cells as they are (their
headings build the section path), code cells as fenced code blocks in the kernel's language
(kept verbatim, never split), and short text outputs of code cells as `text` code blocks.
Images and rich outputs are left out. The title is the first `h1`, else the file name; the
kernel's language is the `language` metadata.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cairn.errors import IngestError
from cairn.ingest.formats import markdown
from cairn.types import ParsedDocument

_MAX_OUTPUT_LINES = 20
"""Text outputs longer than this are cut (with a note): a notebook is not a log."""


def read(path: Path, text: str) -> ParsedDocument:
    """Read a Jupyter notebook (nbformat 4, or 3's `worksheets`)."""
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(str(path), f"not a Jupyter notebook: invalid JSON ({exc.msg})") from exc
    if not isinstance(notebook, dict):
        raise IngestError(str(path), "not a Jupyter notebook: no cells")
    cells = notebook.get("cells")
    if cells is None:  # nbformat 3
        cells = [c for w in notebook.get("worksheets", []) for c in w.get("cells", [])]
    if not isinstance(cells, list):
        raise IngestError(str(path), "not a Jupyter notebook: no cells")
    language = _language(notebook)
    parts: list[str] = []
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        source = _joined(cell.get("source", cell.get("input", "")))
        kind = cell.get("cell_type")
        if kind == "markdown" and source.strip():
            parts.append(source.strip("\n"))
        elif kind == "code" and source.strip():
            parts.append(_fenced(source.strip("\n"), language))
            output = _text_output(cell.get("outputs", []))
            if output:
                parts.append(_fenced(output, "text"))
    parsed = markdown.read(path, "\n\n".join(parts))
    return ParsedDocument(
        title=parsed.title,
        blocks=parsed.blocks,
        doc_type="notebook",
        metadata={**parsed.metadata, "language": language},
    )


def _language(notebook: dict[str, Any]) -> str:
    metadata = notebook.get("metadata") or {}
    info = metadata.get("language_info") or {}
    kernel = metadata.get("kernelspec") or {}
    name = info.get("name") or kernel.get("language") or "python"
    return str(name).lower()


def _joined(source: object) -> str:
    if isinstance(source, list):
        return "".join(str(s) for s in source)
    return str(source or "")


def _fenced(code: str, info: str) -> str:
    fence = "```"
    while fence in code:
        fence += "`"
    return f"{fence}{info}\n{code}\n{fence}"


def _text_output(outputs: object) -> str:
    """The plain-text outputs of a code cell (streams and `text/plain` results), cut short."""
    if not isinstance(outputs, list):
        return ""
    texts: list[str] = []
    for output in outputs:
        if not isinstance(output, dict):
            continue
        if output.get("output_type") == "stream":
            texts.append(_joined(output.get("text", "")))
        elif output.get("output_type") in ("execute_result", "display_data"):
            data = output.get("data") or {}
            if "text/plain" in data and not any(k.startswith("image/") for k in data):
                texts.append(_joined(data["text/plain"]))
    lines = "".join(t if t.endswith("\n") else t + "\n" for t in texts if t).strip("\n")
    cut = lines.split("\n")
    if len(cut) > _MAX_OUTPUT_LINES:
        rest = len(cut) - _MAX_OUTPUT_LINES
        cut = [*cut[:_MAX_OUTPUT_LINES], f"... ({rest} more lines)"]
    return "\n".join(cut) if lines else ""
