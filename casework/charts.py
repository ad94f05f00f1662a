"""Small inline-SVG charts for the monthly report: bars, lines and a funnel.

Pure functions returning an ``<svg>`` element as text, sized by its viewBox so that it scales
to the page (and prints on A4) and inherits the page's font. Every label is escaped; each
mark carries ``data-label`` and ``data-value`` so a test can read the chart back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

FONT_SIZE = 12
BAR_COLOR = "#b03a2e"
MUTED = "#8c8c8c"
GRID = "#e3e3e3"
SERIES_COLORS = ("#b03a2e", "#2e6fb0", "#3f8f4f", "#c98a1b")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[int]
    color: str = SERIES_COLORS[0]


def text_width(text: str, font_size: int = FONT_SIZE) -> float:
    """Rough width of a label: a CJK character is about one em, Latin about half of one."""
    return sum(font_size if ord(c) > 0x2E7F else font_size * 0.55 for c in text)


def nice_step(largest: int, ticks: int = 4) -> int:
    """An integer axis step of 1, 2 or 5 times a power of ten giving about ``ticks`` lines."""
    if largest <= ticks:
        return 1
    raw = largest / ticks
    power = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if multiple * power >= raw:
            return int(multiple * power)
    return int(10 * power)  # not reached: 10 * power >= raw always


def _svg(chart_id: str, title: str, width: float, height: float, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(chart_id)}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="100%" role="img" '
        f'aria-label="{escape(title)}" font-size="{FONT_SIZE}">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _no_data(chart_id: str, title: str, width: int, message: str) -> str:
    return _svg(
        chart_id,
        title,
        width,
        40,
        [
            f'<text x="{width / 2:.0f}" y="24" text-anchor="middle" fill="{MUTED}">'
            f"{escape(message)}</text>"
        ],
    )


def bar_chart(
    bars: Sequence[tuple[str, int]],
    title: str,
    chart_id: str,
    width: int = 640,
    color: str = BAR_COLOR,
    no_data: str = "—",
) -> str:
    """Horizontal bars, one per (label, value), in the given order."""
    if not bars:
        return _no_data(chart_id, title, width, no_data)
    row = 24
    label_width = max(text_width(label) for label, _ in bars) + 12
    value_room = text_width(f"{max(v for _, v in bars):,}") + 10
    scale_width = max(width - label_width - value_room, 40)
    largest = max(max(v for _, v in bars), 1)
    body = []
    for index, (label, value) in enumerate(bars):
        y = index * row + 4
        length = scale_width * value / largest
        body.append(
            f'<g data-label="{escape(label)}" data-value="{value}">'
            f'<text x="{label_width - 8:.1f}" y="{y + 14}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_width:.1f}" y="{y + 2}" width="{length:.1f}" height="{row - 8}" '
            f'fill="{color}"/>'
            f'<text x="{label_width + length + 4:.1f}" y="{y + 14}">{value:,}</text></g>'
        )
    return _svg(chart_id, title, width, len(bars) * row + 8, body)


def line_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    title: str,
    chart_id: str,
    width: int = 640,
    height: int = 220,
    no_data: str = "—",
) -> str:
    """One line per series over the categories (e.g. months), with a y grid and a legend."""
    if not categories or not series:
        return _no_data(chart_id, title, width, no_data)
    left, right, top, bottom, legend = 44, 32, 12, 28, 22  # room for centred labels
    plot_width, plot_height = width - left - right, height - top - bottom - legend
    largest = max((v for s in series for v in s.values), default=0)
    step = nice_step(largest)
    ceiling = max(step * math.ceil(largest / step), step)
    gap = plot_width / max(len(categories) - 1, 1)

    def x_of(index: int) -> float:
        return left + (index * gap if len(categories) > 1 else plot_width / 2)

    def y_of(value: int) -> float:
        return top + plot_height - plot_height * value / ceiling

    body = []
    for tick in range(0, ceiling + 1, step):
        y = y_of(tick)
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}">{tick}</text>'
        )
    for index, category in enumerate(categories):
        body.append(
            f'<text x="{x_of(index):.1f}" y="{top + plot_height + 18}" text-anchor="middle">'
            f"{escape(category)}</text>"
        )
    for number, line in enumerate(series):
        points = [(x_of(i), y_of(v)) for i, v in enumerate(line.values)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        body.append(
            f'<g data-series="{escape(line.name)}">'
            f'<polyline points="{path}" fill="none" stroke="{line.color}" stroke-width="2"/>'
        )
        body.extend(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{line.color}" '
            f'data-label="{escape(category)}" data-value="{value}"/>'
            for (x, y), category, value in zip(points, categories, line.values, strict=False)
        )
        body.append("</g>")
        legend_x = left + number * 150
        legend_y = height - 8
        body.append(
            f'<rect x="{legend_x}" y="{legend_y - 9}" width="14" height="4" fill="{line.color}"/>'
            f'<text x="{legend_x + 20}" y="{legend_y}">{escape(line.name)}</text>'
        )
    return _svg(chart_id, title, width, height, body)


def funnel_chart(
    stages: Sequence[tuple[str, int]],
    title: str,
    chart_id: str,
    width: int = 640,
    color: str = "#2e6fb0",
    no_data: str = "—",
) -> str:
    """Centred bars, widest first: how many items reached each stage."""
    if not stages or max(v for _, v in stages) == 0:
        return _no_data(chart_id, title, width, no_data)
    row = 28
    label_width = max(text_width(label) for label, _ in stages) + 16
    room = width - label_width - text_width(f"{max(v for _, v in stages):,}") - 16
    largest = max(v for _, v in stages)
    centre = label_width + room / 2
    body = []
    for index, (label, value) in enumerate(stages):
        y = index * row + 4
        length = max(room * value / largest, 2)
        body.append(
            f'<g data-label="{escape(label)}" data-value="{value}">'
            f'<text x="{label_width - 8:.1f}" y="{y + 17}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{centre - length / 2:.1f}" y="{y + 2}" width="{length:.1f}" '
            f'height="{row - 6}" fill="{color}" fill-opacity="{1 - index * 0.12:.2f}"/>'
            f'<text x="{centre + length / 2 + 6:.1f}" y="{y + 17}">{value:,}</text></g>'
        )
    return _svg(chart_id, title, width, len(stages) * row + 8, body)
