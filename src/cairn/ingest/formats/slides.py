"""PowerPoint presentations (`.pptx`, via python-pptx): doc_type `pptx`.

One section per slide, `Slide 3: <slide title>` (`Slide 3` when it has none), with the
slide number as the block's page. Shapes are read top to bottom, left to right (groups
included): a text box of one paragraph is a paragraph, of several a list indented by bullet
level; tables are Markdown tables with their first row as header, charts a `Chart: <title>`
paragraph and a table of their data (a row per category, a column per series); the speaker
notes follow as a paragraph starting `Speaker notes:`. The title comes from the core
properties, then the first slide's title, then the file name.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from cairn.ingest.formats.blocks import BlockBuilder, clean_text, title_from_stem
from cairn.ingest.formats.office import (
    core_metadata,
    core_title,
    format_number,
    require,
    table_blocks,
)
from cairn.types import Block, ParsedDocument

if TYPE_CHECKING:
    from pptx.chart.chart import Chart
    from pptx.shapes.base import BaseShape
    from pptx.slide import Slide


def read(path: Path, data: bytes) -> ParsedDocument:
    """Read every slide of a `.pptx` file into blocks, one section per slide."""
    pptx = require(path, "pptx")
    presentation = pptx.Presentation(io.BytesIO(data))
    blocks: list[Block] = []
    first_title = ""
    count = 0
    for number, slide in enumerate(presentation.slides, start=1):
        count = number
        heading = _slide_title(slide)
        first_title = first_title or heading
        out = BlockBuilder()
        out.heading(1, f"Slide {number}: {heading}" if heading else f"Slide {number}", None)
        title_shape = _title_shape(slide)
        for shape in _reading_order(slide.shapes):
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            _shape(out, shape, number)
        notes = _notes(slide)
        if notes:
            out.emit("text", f"Speaker notes: {notes}", page=number)
        if not out.blocks and heading:  # a title-only slide still says what it is about
            out.emit("text", heading, page=number)
        blocks.extend(out.blocks)
    properties = presentation.core_properties
    metadata = core_metadata(properties)
    metadata["slides"] = str(count)
    return ParsedDocument(
        title=core_title(properties) or first_title or title_from_stem(path.stem),
        blocks=tuple(blocks),
        doc_type="pptx",
        metadata=metadata,
    )


def _shape(out: BlockBuilder, shape: BaseShape, page: int) -> None:
    if getattr(shape, "has_chart", False):
        _chart(out, shape.chart, page)  # type: ignore[attr-defined]
    elif getattr(shape, "has_table", False):
        table = shape.table  # type: ignore[attr-defined]
        rows = [[clean_text(cell.text) for cell in row.cells] for row in table.rows]
        for text in table_blocks(rows):
            out.emit("table", text, page=page)
    elif getattr(shape, "has_text_frame", False):
        paragraphs = [
            (p.level, clean_text(p.text))
            for p in shape.text_frame.paragraphs  # type: ignore[attr-defined]
        ]
        paragraphs = [(level, text) for level, text in paragraphs if text]
        if len(paragraphs) == 1:
            out.emit("text", paragraphs[0][1], page=page)
        elif paragraphs:
            lines = ["  " * level + "- " + text for level, text in paragraphs]
            out.emit("list", "\n".join(lines), page=page)


def _chart(out: BlockBuilder, chart: Chart, page: int) -> None:
    """A chart's data as a table: one row per category, one column per series."""
    try:
        title = clean_text(chart.chart_title.text_frame.text) if chart.has_title else ""
        plot = chart.plots[0]
        categories = [clean_text(str(c)) for c in plot.categories]
        series = [(clean_text(s.name or ""), list(s.values)) for s in plot.series]
    except (KeyError, ValueError, AttributeError, IndexError, TypeError):
        return  # an unusual chart part: the slide's text is still read
    if not series:
        return
    length = max(len(values) for _, values in series)
    categories += [str(n + 1) for n in range(len(categories), length)]
    rows = [["Category", *(name or f"Series {n + 1}" for n, (name, _) in enumerate(series))]]
    for index, category in enumerate(categories):
        cells = [category]
        for _, values in series:
            value = values[index] if index < len(values) else None
            cells.append("" if value is None else format_number(value))
        rows.append(cells)
    out.emit("text", f"Chart: {title}" if title else "Chart:", page=page)
    for text in table_blocks(rows):
        out.emit("table", text, page=page)


def _reading_order(shapes: Iterable[BaseShape]) -> Iterator[BaseShape]:
    """Shapes top to bottom, then left to right; the shapes of a group in its place."""

    def position(shape: BaseShape) -> tuple[int, int]:
        return (shape.top or 0, shape.left or 0)

    for shape in sorted(shapes, key=position):
        inner = getattr(shape, "shapes", None)
        if inner is not None:  # a group shape
            yield from _reading_order(inner)
        else:
            yield shape


def _title_shape(slide: Slide) -> BaseShape | None:
    try:
        return slide.shapes.title
    except (KeyError, AttributeError):
        return None


def _slide_title(slide: Slide) -> str:
    shape = _title_shape(slide)
    if shape is None or not getattr(shape, "has_text_frame", False):
        return ""
    return clean_text(shape.text_frame.text)  # type: ignore[attr-defined]


def _notes(slide: Slide) -> str:
    if not slide.has_notes_slide:
        return ""
    frame = slide.notes_slide.notes_text_frame
    return clean_text(frame.text) if frame is not None else ""
