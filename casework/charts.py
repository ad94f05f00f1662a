"""Small inline-SVG charts: bars, lines and a funnel for the monthly report, and the money
flow of a suspected scheme (案件线索) for the console.

Pure functions returning an ``<svg>`` element as text, sized by its viewBox so that it scales
to the page (and prints on A4) and inherits the page's font. Every label is escaped; each
mark carries ``data-label`` and ``data-value`` so a test can read the chart back.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from models.schemes import COLLECTOR, CONTROLLER, PAYOUT, Scheme, SchemeMember
from schemas.glossary import (
    DIRECTION_NAMES,
    OUTSIDE_ROLE,
    OUTSIDE_ROLE_NAMES,
    ROLE_NAMES,
    yuan_short,
)
from schemas.glossary import name as named

FONT_SIZE = 12
BAR_COLOR = "#b03a2e"
MUTED = "#8c8c8c"
GRID = "#e3e3e3"
SERIES_COLORS = ("#b03a2e", "#2e6fb0", "#3f8f4f", "#c98a1b")
FONT_FAMILY = "'Noto Sans CJK SC', 'Noto Sans SC', 'PingFang SC', 'Microsoft YaHei', sans-serif"


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


def _svg(
    chart_id: str,
    title: str,
    width: float,
    height: float,
    body: list[str],
    own_size: bool = False,
) -> str:
    """``own_size``: the chart states its size in pixels and its font (it is shown as an image,
    which inherits neither), instead of filling the page's width."""
    size = (
        f'width="{width:.0f}" height="{height:.0f}" font-family="{FONT_FAMILY}" '
        if own_size
        else 'width="100%" '
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(chart_id)}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" {size}role="img" '
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


# -- the money flow of a suspected scheme -------------------------------------------------------

# A flow may name an account with no lead of its own in the scheme (its source lead is not
# among the leads yet): it is drawn, in a column of its own, so that no flow is left out.
OUTSIDE = OUTSIDE_ROLE
ROLE_COLORS = {COLLECTOR: "#b03a2e", CONTROLLER: "#a86b00", PAYOUT: "#2e6fb0", OUTSIDE: MUTED}
ROLE_FILLS = {COLLECTOR: "#f9e7e5", CONTROLLER: "#fcf1dc", PAYOUT: "#e3edf8", OUTSIDE: "#f3f3f3"}
DOWNSTREAM_COLOR = "#4a5561"
UPSTREAM_COLOR = "#7a3ea8"
UPSTREAM_DASH = "7 4"
BOX_WIDTH, BOX_HEIGHT, ROW_PITCH = 196, 64, 86
HEADER_HEIGHT, LEGEND_HEIGHT, MARGIN = 34, 34, 16
MIN_GAP = 190  # between columns: room for the arrows and their labels
LABEL_HEIGHT = 32  # two lines of a flow's label
# A label sits this far into the gap next to its source, just above its arrow: arrows that
# cross do so mid-gap, so their labels stay apart and each stays by its own arrow.
LABEL_AT = 0.36
LABEL_RISE = 19  # from the arrow up to the label's middle
# Characters XML cannot carry even escaped: dropped, so one odd byte in a bank's report
# cannot make the picture unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: str) -> str:
    """Text for an SVG element or attribute: escaped, characters XML forbids dropped."""
    return escape(_NOT_XML.sub("", value))


money_text = yuan_short  # an amount for a label: 万元 and 亿元, k and M yuan


def transfers_text(transfers: int, lang: str = "zh") -> str:
    if lang == "zh":
        return f"{transfers:,}笔"
    return f"{transfers:,} transfer{'' if transfers == 1 else 's'}"


def short_account(account_id: str) -> str:
    """An account number short enough for a box; the full number is in the box's title."""
    return account_id if len(account_id) <= 12 else f"{account_id[:4]}…{account_id[-6:]}"


def role_name(role: str, lang: str = "zh") -> str:
    if role == OUTSIDE:
        return OUTSIDE_ROLE_NAMES[0 if lang == "zh" else 1]
    return named(ROLE_NAMES, role, lang)


def direction_name(direction: str, lang: str = "zh") -> str:
    return named(DIRECTION_NAMES, direction, lang)


def _clip(text: str, width: float) -> str:
    """The text, cut with an ellipsis to fit the width (cut before escaping, never inside an
    entity)."""
    if text_width(text) <= width:
        return text
    while text and text_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


@dataclass(frozen=True, slots=True)
class _Box:
    account_id: str
    role: str  # a scheme role, or OUTSIDE
    member: SchemeMember | None
    column: int
    x: float  # left edge
    y: float  # top edge

    @property
    def middle(self) -> float:
        return self.y + BOX_HEIGHT / 2


@dataclass(slots=True)
class _Label:
    index: int  # of the flow
    lines: tuple[str, str]
    x: float  # centre
    y: float  # centre
    width: float


def _ordered_columns(scheme: Scheme) -> list[tuple[str, list[str]]]:
    """(role, accounts) per column, left to right: collectors, controllers, payout accounts,
    then accounts with no lead. The first column's largest collector is on top; each further
    account sits level with the accounts it exchanges money with (fewer crossing arrows)."""
    members = {m.account_id: m for m in scheme.members}
    outside = sorted(
        {a for f in scheme.flows for a in (f.from_account, f.to_account)} - members.keys()
    )
    groups = [
        (role, [m.account_id for m in scheme.members if m.role == role])
        for role in (COLLECTOR, CONTROLLER, PAYOUT)
    ]
    groups = [(role, accounts) for role, accounts in groups if accounts]
    if outside:
        groups.append((OUTSIDE, outside))
    neighbours: dict[str, set[str]] = defaultdict(set)
    for flow in scheme.flows:
        neighbours[flow.from_account].add(flow.to_account)
        neighbours[flow.to_account].add(flow.from_account)
    placed: dict[str, int] = {}
    columns = []
    for index, (role, accounts) in enumerate(groups):
        if index == 0:
            ordered = sorted(
                accounts, key=lambda a: (-members[a].money_raised_fen if a in members else 0, a)
            )
        else:

            def level(account: str) -> tuple[float, str]:
                rows = [placed[n] for n in sorted(neighbours[account]) if n in placed]
                return (sum(rows) / len(rows) if rows else math.inf, account)

            ordered = sorted(accounts, key=level)
        placed.update((account, row) for row, account in enumerate(ordered))
        columns.append((role, ordered))
    return columns


def _cubic(p0: float, p1: float, p2: float, p3: float, t: float) -> float:
    u = 1 - t
    return u * u * u * p0 + 3 * u * u * t * p1 + 3 * u * t * t * p2 + t * t * t * p3


def _point_at_x(
    xs: tuple[float, float, float, float], ys: tuple[float, float, float, float], x: float
) -> float:
    """The y of a left-to-right (or right-to-left) cubic curve where it passes x."""
    low, high = 0.0, 1.0
    rising = xs[3] >= xs[0]
    for _ in range(40):
        middle = (low + high) / 2
        if (_cubic(*xs, middle) < x) == rising:
            low = middle
        else:
            high = middle
    return _cubic(*ys, (low + high) / 2)


def _arrowhead(x: float, y: float, pointing: int, color: str) -> str:
    """A filled triangle with its tip at (x, y), pointing right (1) or left (-1)."""
    back = x - pointing * 9
    return (
        f'<polygon points="{x:.1f},{y:.1f} {back:.1f},{y - 4.5:.1f} {back:.1f},{y + 4.5:.1f}" '
        f'fill="{color}"/>'
    )


def _spread(labels: list[_Label]) -> None:
    """Move overlapping labels down until none overlaps another (in a fixed order)."""
    settled: list[_Label] = []
    for label in sorted(labels, key=lambda item: (item.y, item.index)):
        moved = True
        while moved:
            moved = False
            for other in settled:
                side_by_side = abs(label.x - other.x) < (label.width + other.width) / 2 + 4
                if side_by_side and abs(label.y - other.y) < LABEL_HEIGHT:
                    label.y = other.y + LABEL_HEIGHT
                    moved = True
        settled.append(label)


def scheme_flow_chart(scheme: Scheme, lang: str = "zh", chart_id: str = "scheme-flow") -> str:
    """A scheme's money flow: its accounts in columns by role (collecting accounts on the left,
    controlling ones in the middle, payout accounts on the right), each box with the account,
    its bank and county and its role, and an arrow per flow with its amount and number of
    transfers; money from a listed sender (资金来源, upstream) is dashed. The chart grows with
    the number of accounts and states its own size and font (the console shows it as an
    image). Each box carries ``data-account`` and ``data-role``, each flow ``data-from``,
    ``data-to``, ``data-direction`` and ``data-value`` (fen)."""
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be zh or en, not {lang!r}")
    members = {m.account_id: m for m in scheme.members}
    columns = _ordered_columns(scheme)
    tallest = max(len(accounts) for _, accounts in columns)
    label_lines = [
        (money_text(f.amount_fen, lang), transfers_text(f.transfers, lang)) for f in scheme.flows
    ]
    widest_label = max((text_width(line) for pair in label_lines for line in pair), default=0)
    gap = max(MIN_GAP, math.ceil((widest_label / 2 + 8) / LABEL_AT))
    boxes: dict[str, _Box] = {}
    for column, (role, accounts) in enumerate(columns):
        top = HEADER_HEIGHT + (tallest - len(accounts)) * ROW_PITCH / 2
        for row, account in enumerate(accounts):
            boxes[account] = _Box(
                account,
                role,
                members.get(account),
                column,
                MARGIN + column * (BOX_WIDTH + gap),
                top + row * ROW_PITCH + (ROW_PITCH - BOX_HEIGHT) / 2,
            )

    # Where each arrow leaves and enters a box: forward arrows leave on the right and enter on
    # the left, backward ones the other way, arrows within a column loop out on the right.
    # The ends on one side of a box are spread along it, in the order of the other ends.
    sides: dict[tuple[str, str], list[tuple[float, int, str]]] = defaultdict(list)
    for index, flow in enumerate(scheme.flows):
        source, target = boxes[flow.from_account], boxes[flow.to_account]
        if source.column < target.column:
            out_side, in_side = "right", "left"
        elif source.column > target.column:
            out_side, in_side = "left", "right"
        else:
            out_side = in_side = "right"
        sides[(source.account_id, out_side)].append((target.middle, index, "from"))
        sides[(target.account_id, in_side)].append((source.middle, index, "to"))
    ends: dict[tuple[int, str], tuple[float, float]] = {}
    for (account, side), attached in sides.items():
        box = boxes[account]
        x = box.x + (BOX_WIDTH if side == "right" else 0)
        for position, (_, index, end) in enumerate(sorted(attached)):
            ends[(index, end)] = (x, box.y + BOX_HEIGHT * (position + 1) / (len(attached) + 1))

    largest = max((f.amount_fen for f in scheme.flows), default=1) or 1
    arrows, labels = [], []
    for index, flow in enumerate(scheme.flows):
        (x0, y0), (x1, y1) = ends[(index, "from")], ends[(index, "to")]
        upstream = flow.direction == "upstream"
        color = UPSTREAM_COLOR if upstream else DOWNSTREAM_COLOR
        line_width = 1.5 + 3 * flow.amount_fen / largest
        lines = label_lines[index]
        width = max(text_width(line) for line in lines) + 8
        if x0 == x1:  # within a column: a loop out to the right
            bulge = min(30 + abs(y1 - y0) / 4, gap * 0.4)
            xs, ys = (x0, x0 + bulge, x0 + bulge, x1), (y0, y0, y1, y1)
            pointing = -1
            label = _Label(index, lines, x0 + bulge * 0.75 + 6 + width / 2, (y0 + y1) / 2, width)
        else:
            pointing = 1 if x1 > x0 else -1
            bend = abs(x1 - x0) / 2
            xs = (x0, x0 + pointing * bend, x1 - pointing * bend, x1)
            ys = (y0, y0, y1, y1)
            label_x = x0 + pointing * gap * LABEL_AT
            label_y = _point_at_x(xs, ys, label_x) - LABEL_RISE
            label = _Label(index, lines, label_x, label_y, width)
        labels.append(label)
        dash = f' stroke-dasharray="{UPSTREAM_DASH}"' if upstream else ""
        arrows.append(
            f'<g class="flow" data-from="{xml_text(flow.from_account)}" '
            f'data-to="{xml_text(flow.to_account)}" data-direction="{xml_text(flow.direction)}" '
            f'data-label="{xml_text(flow.from_account)}→{xml_text(flow.to_account)}" '
            f'data-value="{flow.amount_fen}" data-transfers="{flow.transfers}">'
            f"<title>{xml_text(direction_name(flow.direction, lang))}: "
            f"{xml_text(flow.from_account)} → {xml_text(flow.to_account)}, "
            f"{xml_text(lines[0])}, {xml_text(lines[1])}</title>"
            f'<path d="M{xs[0]:.1f},{ys[0]:.1f} C{xs[1]:.1f},{ys[1]:.1f} '
            f'{xs[2]:.1f},{ys[2]:.1f} {xs[3]:.1f},{ys[3]:.1f}" fill="none" stroke="{color}" '
            f'stroke-width="{line_width:.1f}"{dash}/>'
            + _arrowhead(x1, y1, pointing, color)
            + "</g>"
        )
    _spread(labels)

    body = []
    for column, (role, accounts) in enumerate(columns):
        centre = MARGIN + column * (BOX_WIDTH + gap) + BOX_WIDTH / 2
        name = role_name(role, lang)
        heading = f"{name}（{len(accounts)}）" if lang == "zh" else f"{name}s ({len(accounts)})"
        body.append(
            f'<text x="{centre:.1f}" y="20" text-anchor="middle" font-weight="bold" '
            f'fill="{ROLE_COLORS[role]}" data-column="{role}">{xml_text(heading)}</text>'
        )
    body.extend(arrows)
    for box in boxes.values():
        body.append(_box(box, lang))
    for label in labels:
        flow = scheme.flows[label.index]
        color = UPSTREAM_COLOR if flow.direction == "upstream" else DOWNSTREAM_COLOR
        body.append(
            f'<text class="flow-label" data-flow="{label.index}" x="{label.x:.1f}" '
            f'y="{label.y - 2:.1f}" text-anchor="middle" fill="{color}" stroke="#fff" '
            f'stroke-width="3" stroke-linejoin="round" paint-order="stroke">'
            f'{xml_text(label.lines[0])}<tspan x="{label.x:.1f}" dy="14">'
            f"{xml_text(label.lines[1])}</tspan></text>"
        )

    bottom = max(
        [HEADER_HEIGHT + tallest * ROW_PITCH] + [label.y + LABEL_HEIGHT / 2 for label in labels]
    )
    right = max(
        [MARGIN + len(columns) * BOX_WIDTH + (len(columns) - 1) * gap]
        + [label.x + label.width / 2 for label in labels]
    )
    legend_y = bottom + 22
    legend_x: float = MARGIN
    for direction, color, dash in (
        ("downstream", DOWNSTREAM_COLOR, ""),
        ("upstream", UPSTREAM_COLOR, f' stroke-dasharray="{UPSTREAM_DASH}"'),
    ):
        name = direction_name(direction, lang)
        body.append(
            f'<g class="legend" data-direction="{direction}">'
            f'<line x1="{legend_x}" y1="{legend_y - 4:.1f}" x2="{legend_x + 30}" '
            f'y2="{legend_y - 4:.1f}" stroke="{color}" stroke-width="2"{dash}/>'
            f'<text x="{legend_x + 36}" y="{legend_y:.1f}" fill="{MUTED}">{xml_text(name)}</text>'
            "</g>"
        )
        legend_x += 36 + text_width(name) + 24
    title = (
        f"案件线索 {scheme.scheme_id} 资金流向"
        if lang == "zh"
        else f"Scheme {scheme.scheme_id}: money flows"
    )
    width = max(right + MARGIN, legend_x)
    return _svg(chart_id, title, width, bottom + LEGEND_HEIGHT, body, own_size=True)


def _box(box: _Box, lang: str) -> str:
    member = box.member
    color, fill = ROLE_COLORS[box.role], ROLE_FILLS[box.role]
    x, y, inner = box.x, box.y, BOX_WIDTH - 18
    hop_mark, hop_width = "", 0.0
    if member is not None and member.hop > 0:  # reached by a money trail only
        hop = f"第{member.hop}跳" if lang == "zh" else f"hop {member.hop}"
        hop_width = text_width(hop) + 8
        hop_mark = (
            f'<text x="{x + BOX_WIDTH - 9:.1f}" y="{y + 18:.1f}" text-anchor="end" '
            f'fill="{color}" class="hop">{xml_text(hop)}</text>'
        )
    place = " · ".join(part for part in (member.bank_id, member.county) if part) if member else ""
    about = box.account_id
    if member is not None and member.customer_name:
        about += f" {member.customer_name}"
    dash = ' stroke-dasharray="4 3"' if member is None else ""
    return (
        f'<g class="account" data-account="{xml_text(box.account_id)}" '
        f'data-role="{box.role}" data-label="{xml_text(box.account_id)}" '
        f'data-value="{member.money_raised_fen if member else 0}">'
        f"<title>{xml_text(about)}</title>"
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="5" '
        f'fill="{fill}" stroke="{color}" stroke-width="1.5"{dash}/>'
        f'<text x="{x + 9:.1f}" y="{y + 18:.1f}" font-weight="bold" fill="{color}">'
        f"{xml_text(_clip(role_name(box.role, lang), inner - hop_width))}</text>{hop_mark}"
        f'<text x="{x + 9:.1f}" y="{y + 36:.1f}" class="account-number">'
        f"{xml_text(_clip(short_account(box.account_id), inner))}</text>"
        f'<text x="{x + 9:.1f}" y="{y + 54:.1f}" fill="{MUTED}">'
        f"{xml_text(_clip(place, inner))}</text></g>"
    )
