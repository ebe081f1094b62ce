"""Scorecard charts drawn on the server as SVG (no JavaScript), each with its figures as a table for screen readers.

Every chart is an ``<svg role="img">`` labelled by its own ``<title>`` and ``<desc>``; every text in it is
escaped here, so a template may insert ``chart.svg`` as it is. Colour never carries meaning alone: statuses are
also written out, the forecast band is also in the table. Pure: no I/O.

Units follow the formulas: a percent figure is a fraction (0.82 is 82%), a change in one is in percentage points.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from feedback.scorecard.formulas import Change, Status, Trend
from feedback.scorecard.measures import Unit

# GOV.UK Frontend palette: text, secondary text, borders, and the status colours.
_TEXT: Final = "#0b0c0c"
_SECONDARY: Final = "#505a5f"
_RULE: Final = "#b1b4b6"
_BAR: Final = "#1d70b8"
_BAND: Final = "#d2e2f1"
_STATUS_COLOUR: Final = {
    Status.green: "#00703c",
    Status.amber: "#f47738",
    Status.red: "#d4351c",
    Status.no_data: "#b1b4b6",
    Status.no_target: "#b1b4b6",
}
STATUS_TEXT: Final = {
    Status.green: "On target",
    Status.amber: "Near target",
    Status.red: "Off target",
    Status.no_data: "No data",
    Status.no_target: "No target set",
}
_TREND_TEXT: Final = {Trend.better: "better", Trend.worse: "worse", Trend.unchanged: "no change"}
_FONT: Final = 'font-family="Arial, Helvetica, sans-serif"'
_CHART_ID: Final = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
# Characters XML 1.0 cannot hold at all (most control characters): dropped rather than breaking the page.
_NOT_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True, slots=True)
class DataTable:
    """The chart's figures as text, in reading order: render as ``<table>`` with ``caption`` and ``<th>``s."""

    caption: str
    head: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Chart:
    svg: str
    table: DataTable


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float


@dataclass(frozen=True, slots=True)
class LineSeries:
    """One line over the chart's periods; ``None`` leaves a gap. ``low``/``high`` draw an interval band."""

    name: str
    values: Sequence[float | None]
    low: Sequence[float | None] | None = None
    high: Sequence[float | None] | None = None
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class Tile:
    """One measure on the red / amber / green board."""

    name: str
    value: float | None
    unit: Unit
    status: Status
    target: float | None = None
    change: Change | None = None


# --- numbers for people -----------------------------------------------------------------------------------------


def format_value(value: float | None, unit: Unit) -> str:
    if value is None or not math.isfinite(value):
        return "No data"
    if unit is Unit.percent:
        return f"{value * 100:.1f}%"
    if unit is Unit.percentage_points:
        return f"{value:+.1f} pp"
    if unit is Unit.seconds:
        seconds = round(value)
        if seconds < 60:
            return f"{seconds} s"
        if seconds < 3600:
            return f"{seconds // 60} min {seconds % 60:02d} s"
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if unit is Unit.number:
        return f"{value:,.0f}"
    if unit is Unit.hours:
        return f"{value:,.1f} hours"
    if unit is Unit.days:
        return f"{value:,.1f} days"
    return f"{value:,.2f}"


def format_change(change: Change | None, unit: Unit, *, short: bool = False) -> str:
    """The change on the previous month in words; ``short`` fits a tile ("+3.0 pp, better")."""
    if change is None:
        return "No previous month"
    if unit is Unit.percent:
        delta = f"{change.delta * 100:+.1f} pp"
    elif unit is Unit.seconds:
        delta = f"{change.delta:+.0f} s"
    elif unit is Unit.number:
        delta = f"{change.delta:+,.0f}"
    else:
        delta = f"{change.delta:+,.1f}"
    if short:
        return f"{delta}, {_TREND_TEXT[change.trend]}"
    return f"{delta} on previous month ({_TREND_TEXT[change.trend]})"


# --- charts -------------------------------------------------------------------------------------------------------


def bar_chart(chart_id: str, title: str, description: str, bars: Sequence[Bar], unit: Unit) -> Chart:
    """Horizontal bars, one per category, with the value written at each bar; negative values go left of zero."""
    width, label_width, value_width, row_height, top = 640, 170, 90, 32, 12
    height = top * 2 + max(1, len(bars)) * row_height
    plot_left, plot_right = label_width, width - value_width
    lowest = min([0.0, *(bar.value for bar in bars)])
    highest = max([0.0, *(bar.value for bar in bars)])
    span = (highest - lowest) or 1.0

    def x(value: float) -> float:
        return plot_left + (value - lowest) / span * (plot_right - plot_left)

    body: list[str] = []
    if not bars:
        body.append(_text(width / 2, height / 2, "No data for this period", anchor="middle"))
    for index, bar in enumerate(bars):
        y = top + index * row_height
        start, end = sorted((x(0.0), x(bar.value)))
        body.append(_text(plot_left - 8, y + row_height / 2 + 5, bar.label, anchor="end"))
        body.append(
            f'<rect x="{start:.1f}" y="{y + 6:.1f}" width="{max(end - start, 1):.1f}" '
            f'height="{row_height - 12}" fill="{_BAR}"/>'
        )
        body.append(_text(plot_right + 8, y + row_height / 2 + 5, format_value(bar.value, unit)))
    if bars:
        body.append(_line(x(0.0), top, x(0.0), height - top, _TEXT))
    table = DataTable(title, ("Category", "Value"), tuple((bar.label, format_value(bar.value, unit)) for bar in bars))
    return Chart(_svg(chart_id, title, description, width, height, body), table)


def line_chart(
    chart_id: str,
    title: str,
    description: str,
    periods: Sequence[str],
    series: Sequence[LineSeries],
    unit: Unit,
) -> Chart:
    """Lines over periods (months, weeks), with a shaded band where a series gives ``low`` and ``high``."""
    for line in series:
        for values in (line.values, line.low, line.high):
            if values is not None and len(values) != len(periods):
                raise ValueError(f"series {line.name!r} needs one value per period")
    width, height = 640, 300
    left, right, top, bottom = 72, 16, 16, 64
    known = [
        value
        for line in series
        for values in (line.values, line.low or (), line.high or ())
        for value in values
        if value is not None and math.isfinite(value)
    ]
    lowest, highest, step = _axis(min([0.0, *known]), max([0.0, *known]))
    span = highest - lowest

    def x(index: int) -> float:
        steps = max(len(periods) - 1, 1)
        return left + index / steps * (width - left - right)

    def y(value: float) -> float:
        return top + (highest - value) / span * (height - top - bottom)

    body: list[str] = []
    for tick in (lowest + i * step for i in range(round(span / step) + 1)):
        body.append(_line(left, y(tick), width - right, y(tick), _RULE))
        body.append(_text(left - 6, y(tick) + 4, format_value(tick, unit), anchor="end", size=12))
    body.append(_line(left, y(lowest), width - right, y(lowest), _TEXT))
    every = max(1, math.ceil(len(periods) / 8))  # at most eight period labels fit under the axis
    for index, period in enumerate(periods):
        if index % every == 0 or index == len(periods) - 1:
            body.append(_text(x(index), height - bottom + 18, period, anchor="middle", size=12))
    for line in series:
        if line.low is not None and line.high is not None:
            for run in _runs([(i, lo, hi) for i, (lo, hi) in enumerate(zip(line.low, line.high, strict=True))]):
                outline = [(x(i), y(hi)) for i, _, hi in run] + [(x(i), y(lo)) for i, lo, _ in reversed(run)]
                points = " ".join(f"{px:.1f},{py:.1f}" for px, py in outline)
                body.append(f'<polygon points="{points}" fill="{_BAND}" stroke="none"/>')
    for number, line in enumerate(series):
        colour = _BAR if number % 2 == 0 else _TEXT
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        for run in _runs([(i, value, value) for i, value in enumerate(line.values)]):
            points = " ".join(f"{x(i):.1f},{y(value):.1f}" for i, value, _ in run)
            body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="3"{dash}/>')
            body.extend(f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="3.5" fill="{colour}"/>' for i, value, _ in run)
    legend_y = height - 18
    for number, line in enumerate(series):
        colour = _BAR if number % 2 == 0 else _TEXT
        lx = left + number * 200
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        if line.low is not None:
            body.append(f'<rect x="{lx}" y="{legend_y - 7}" width="28" height="14" fill="{_BAND}"/>')
        body.append(
            f'<line x1="{lx}" y1="{legend_y}" x2="{lx + 28}" y2="{legend_y}" stroke="{colour}" stroke-width="3"{dash}/>'
        )
        label = f"{line.name} (with interval)" if line.low is not None else line.name
        body.append(_text(lx + 34, legend_y + 5, label, size=12))
    if not known:
        body.append(_text(width / 2, height / 2, "No data for this period", anchor="middle"))

    head = ["Period"]
    for line in series:
        head.append(line.name)
        if line.low is not None and line.high is not None:
            head.extend((f"{line.name}: low", f"{line.name}: high"))
    rows = []
    for index, period in enumerate(periods):
        row = [period]
        for line in series:
            row.append(format_value(line.values[index], unit))
            if line.low is not None and line.high is not None:
                row.extend((format_value(line.low[index], unit), format_value(line.high[index], unit)))
        rows.append(tuple(row))
    return Chart(_svg(chart_id, title, description, width, height, body), DataTable(title, tuple(head), tuple(rows)))


def rag_tiles(chart_id: str, title: str, description: str, tiles: Sequence[Tile]) -> Chart:
    """A board of measures, each a tile with its figure, status in words, target and change on last month."""
    columns, tile_width, tile_height, gap = 3, 204, 138, 10
    rows_needed = max(1, math.ceil(len(tiles) / columns))
    width = columns * tile_width + (columns - 1) * gap
    height = rows_needed * tile_height + (rows_needed - 1) * gap
    body: list[str] = []
    if not tiles:
        body.append(_text(width / 2, height / 2, "No measures to show", anchor="middle"))
    for index, tile in enumerate(tiles):
        tx = index % columns * (tile_width + gap)
        ty = index // columns * (tile_height + gap)
        colour = _STATUS_COLOUR[tile.status]
        body.append(f'<g transform="translate({tx},{ty})">')
        body.append(
            f'<rect x="0.5" y="0.5" width="{tile_width - 1}" height="{tile_height - 1}" '
            f'fill="#ffffff" stroke="{_RULE}"/>'
        )
        body.append(f'<rect x="0" y="0" width="8" height="{tile_height}" fill="{colour}"/>')
        for line_number, name_line in enumerate(_wrapped(tile.name, width=24, lines=2)):
            body.append(_text(18, 22 + 17 * line_number, name_line, size=13, weight="bold"))
        body.append(_text(18, 74, format_value(tile.value, tile.unit), size=22, weight="bold"))
        body.append(_text(18, 96, STATUS_TEXT[tile.status], size=13))
        target = "No target set" if tile.target is None else f"Target {format_value(tile.target, tile.unit)}"
        body.append(_text(18, 114, target, size=12, colour=_SECONDARY))
        change = format_change(tile.change, tile.unit, short=True)
        body.append(_text(18, 130, _clipped(change, 30), size=12, colour=_SECONDARY))
        body.append("</g>")
    table = DataTable(
        title,
        ("Measure", "Figure", "Status", "Target", "Change"),
        tuple(
            (
                tile.name,
                format_value(tile.value, tile.unit),
                STATUS_TEXT[tile.status],
                "No target set" if tile.target is None else format_value(tile.target, tile.unit),
                format_change(tile.change, tile.unit),
            )
            for tile in tiles
        ),
    )
    return Chart(_svg(chart_id, title, description, width, height, body), table)


# --- drawing -----------------------------------------------------------------------------------------------------


def _svg(chart_id: str, title: str, description: str, width: int, height: int, body: list[str]) -> str:
    if not _CHART_ID.match(chart_id):
        raise ValueError(f"a chart id is lower-case letters, digits and hyphens, got {chart_id!r}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" class="cv-chart">'
        f'<title id="{chart_id}-title">{_escaped(title)}</title>'
        f'<desc id="{chart_id}-desc">{_escaped(description)}</desc>' + "".join(body) + "</svg>"
    )


def _text(
    x: float,
    y: float,
    content: str,
    *,
    anchor: str = "start",
    size: int = 14,
    weight: str = "normal",
    colour: str = _TEXT,
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" font-weight="{weight}" '
        f'fill="{colour}" {_FONT}>{_escaped(content)}</text>'
    )


def _escaped(text: str) -> str:
    return escape(_NOT_XML.sub("", text))


def _line(x1: float, y1: float, x2: float, y2: float, colour: str) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" stroke-width="1"/>'


def _clipped(text: str, length: int) -> str:
    """Shorten a tile's text to fit; the full text is in the table."""
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def _wrapped(text: str, *, width: int, lines: int) -> list[str]:
    """Break text at spaces into at most ``lines`` lines of about ``width`` characters; the last is clipped."""
    result: list[str] = []
    words = text.split()
    while words and len(result) < lines - 1:
        line = words.pop(0)
        while words and len(line) + 1 + len(words[0]) <= width:
            line += " " + words.pop(0)
        result.append(line)
    if words:
        result.append(_clipped(" ".join(words), width))
    return result


def _runs(points: list[tuple[int, float | None, float | None]]) -> list[list[tuple[int, float, float]]]:
    """Consecutive points with both values known: a gap (None) breaks a line or band."""
    runs: list[list[tuple[int, float, float]]] = [[]]
    for index, first, second in points:
        if first is None or second is None or not (math.isfinite(first) and math.isfinite(second)):
            runs.append([])
        else:
            runs[-1].append((index, first, second))
    return [run for run in runs if run]


def _nice_step(span: float) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about four ticks over ``span``."""
    # Spans too small to tell apart on a chart (down to subnormal floats) get the smallest step shown.
    raw = max(span / 4, 1e-9)
    magnitude = math.pow(10.0, math.floor(math.log10(raw)))
    for multiple in (1.0, 2.0, 2.5, 5.0):
        if raw <= multiple * magnitude:
            return multiple * magnitude
    return 10.0 * magnitude


def _axis(lowest: float, highest: float) -> tuple[float, float, float]:
    """An axis range on round numbers holding every value (and zero), and the step between its ticks."""
    if highest == lowest:
        highest = lowest + 1.0
    step = _nice_step(highest - lowest)
    return math.floor(lowest / step) * step, math.ceil(highest / step) * step, step
