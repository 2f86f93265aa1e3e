"""Small inline SVG charts for the HTML report: no scripts, no external assets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

FONT = "font-family='system-ui, -apple-system, Segoe UI, sans-serif' font-size='12'"
INK = "#1f2933"
MUTED = "#7b8794"
GRID = "#e4e7eb"
BAR = "#3e7cb1"
GOOD = "#2f9e44"
BAD = "#d6336c"
NEUTRAL = "#868e96"


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    value: float
    low: float
    high: float
    note: str = ""
    colour: str = BAR


def interval_bars(
    rows: Sequence[Row],
    *,
    width: int = 640,
    label_width: int = 190,
    lo: float = 0.0,
    hi: float = 1.0,
    bar: bool = True,
) -> str:
    """Horizontal bars (or dots) from `lo` to `hi` with confidence whiskers and value labels."""
    row_h = 24
    top = 22
    plot_w = width - label_width - 130
    height = top + row_h * len(rows) + 8

    def x(v: float) -> float:
        v = min(max(v, lo), hi)
        return label_width + (v - lo) / (hi - lo) * plot_w

    parts = [_open(width, height)]
    for tick in _ticks(lo, hi):
        tx = x(tick)
        parts.append(
            f"<line x1='{tx:.1f}' y1='{top - 6}' x2='{tx:.1f}' y2='{height - 6}' "
            f"stroke='{GRID}'/><text x='{tx:.1f}' y='{top - 10}' fill='{MUTED}' "
            f"text-anchor='middle'>{tick:g}</text>"
        )
    if lo < 0 < hi:
        zx = x(0)
        parts.append(
            f"<line x1='{zx:.1f}' y1='{top - 6}' x2='{zx:.1f}' y2='{height - 6}' stroke='{INK}'/>"
        )
    for i, row in enumerate(rows):
        cy = top + i * row_h + row_h / 2
        parts.append(
            f"<text x='{label_width - 8}' y='{cy + 4:.1f}' fill='{INK}' text-anchor='end'>"
            f"{escape(row.label)}</text>"
        )
        if bar:
            start = x(max(lo, 0.0))
            parts.append(
                f"<rect x='{start:.1f}' y='{cy - 7:.1f}' width='{max(x(row.value) - start, 0):.1f}'"
                f" height='14' rx='2' fill='{row.colour}' fill-opacity='0.75'/>"
            )
        else:
            parts.append(
                f"<circle cx='{x(row.value):.1f}' cy='{cy:.1f}' r='4.5' fill='{row.colour}'/>"
            )
        wl, wh = x(row.low), x(row.high)
        parts.append(
            f"<line x1='{wl:.1f}' y1='{cy:.1f}' x2='{wh:.1f}' y2='{cy:.1f}' stroke='{INK}' "
            f"stroke-width='1.4'/><line x1='{wl:.1f}' y1='{cy - 5:.1f}' x2='{wl:.1f}' "
            f"y2='{cy + 5:.1f}' stroke='{INK}' stroke-width='1.4'/><line x1='{wh:.1f}' "
            f"y1='{cy - 5:.1f}' x2='{wh:.1f}' y2='{cy + 5:.1f}' stroke='{INK}' stroke-width='1.4'/>"
        )
        text = f"{row.value:+.3f}" if lo < 0 else f"{row.value:.3f}"
        parts.append(
            f"<text x='{label_width + plot_w + 8}' y='{cy + 4:.1f}' fill='{INK}'>{text}"
            f"<tspan fill='{MUTED}'>{escape(row.note)}</tspan></text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def tag_grid(tags: Sequence[str], metrics: Sequence[str], cells: dict[tuple[str, str], Row]) -> str:
    """Small multiples: one column per metric, one row per tag, a dot with whiskers each."""
    label_w, col_w, row_h, top = 130, 155, 24, 40
    width = label_w + col_w * len(metrics) + 10
    height = top + row_h * len(tags) + 10
    parts = [_open(width, height)]
    for j, metric in enumerate(metrics):
        x0 = label_w + j * col_w + 10
        span = col_w - 45
        parts.append(
            f"<text x='{x0 + span / 2:.1f}' y='14' fill='{INK}' font-weight='600' "
            f"text-anchor='middle'>{escape(metric)}</text>"
        )
        for tick in (0.0, 0.5, 1.0):
            tx = x0 + tick * span
            parts.append(
                f"<line x1='{tx:.1f}' y1='{top - 10}' x2='{tx:.1f}' y2='{height - 6}' "
                f"stroke='{GRID}'/><text x='{tx:.1f}' y='{top - 14}' fill='{MUTED}' "
                f"font-size='10' text-anchor='middle'>{tick:g}</text>"
            )
        for i, tag in enumerate(tags):
            cell = cells.get((tag, metric))
            if cell is None:
                continue
            cy = top + i * row_h + row_h / 2
            lx, hx, vx = (x0 + v * span for v in (cell.low, cell.high, cell.value))
            parts.append(
                f"<line x1='{lx:.1f}' y1='{cy:.1f}' x2='{hx:.1f}' y2='{cy:.1f}' stroke='{INK}' "
                f"stroke-width='1.3'/><circle cx='{vx:.1f}' cy='{cy:.1f}' r='4' "
                f"fill='{cell.colour}'><title>{escape(tag)} {escape(metric)}: {cell.value:.3f} "
                f"[{cell.low:.3f}, {cell.high:.3f}]</title></circle>"
            )
    for i, tag in enumerate(tags):
        cy = top + i * row_h + row_h / 2
        parts.append(
            f"<text x='{label_w - 6}' y='{cy + 4:.1f}' fill='{INK}' text-anchor='end'>"
            f"{escape(tag)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _open(width: int, height: int) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' {FONT} role='img'>"
    )


def _ticks(lo: float, hi: float) -> list[float]:
    if lo >= 0:
        return [lo + (hi - lo) * i / 4 for i in range(5)]
    return [lo, lo / 2, 0.0, hi / 2, hi]
