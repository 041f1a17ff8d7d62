"""Charts on one date axis, drawn with plotext (through textual-plotext's Plot) into plain text.

Every pane of one screen gets the same x range and y labels of the same width, so a column of the
price chart is the same day as that column of the token share chart. x is a day number (date.toordinal)
for daily ranges and a bar index for intraday ones (nights and weekends take no room). Lines use braille
dots, the IPO price a dotted line, launch markers a vertical bar with the model's short name on top:
readable without colour (NO_COLOR), where colour only adds to them.
A chart is rebuilt only when its view or its size changed.

A line is drawn through at most four points a braille column and run (`envelope`): five days of 30-second quotes
are ~4,000 points for ~200 dot columns, and plotext's cost grows with the points. The points kept are stored ones,
and the line through them lights exactly the dots the full line would.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget
from textual_plotext.plot import Plot

Y_LABEL = 9  # every pane's y labels are this wide, so the plot areas start in the same column


@dataclass(frozen=True)
class Axis:
    """The x range shared by every pane. Daily: x is a day number, labelled as a date. Intraday: x is a bar
    index and `labels[i]` names bar i."""

    left: float
    right: float
    intraday: bool = False
    labels: tuple[str, ...] = ()

    def ticks(self, width: int) -> list[tuple[float, str]]:
        """Evenly spaced ticks, as many as fit `width` columns with room between their labels."""
        from datetime import date

        span = self.right - self.left
        label_width = 11 if not self.intraday else max((len(label) for label in self.labels), default=5) + 1
        count = max(2, min(9, (width - Y_LABEL) // (label_width + 3)))
        if span <= 0:
            count = 1
        ticks: list[tuple[float, str]] = []
        for i in range(count):
            x = round(self.left + span * i / max(1, count - 1))
            if self.intraday:
                label = self.labels[int(x)] if 0 <= x < len(self.labels) else ""
            else:
                label = date.fromordinal(int(x)).isoformat()
            if not ticks or ticks[-1][0] != x:
                ticks.append((x, label))
        return ticks


@dataclass(frozen=True)
class Marker:
    x: float
    label: str


@dataclass(frozen=True)
class PriceSeries:
    xs: tuple[float, ...]
    close: tuple[float, ...]
    open: tuple[float | None, ...] = ()
    high: tuple[float | None, ...] = ()
    low: tuple[float | None, ...] = ()
    volume: tuple[float | None, ...] = ()
    reference: float | None = None  # the IPO price
    reference_label: str = ""
    breaks: tuple[int, ...] = ()  # the indices that start a new run after a gap (a night, the lunch break)


@dataclass(frozen=True)
class ShareSeries:
    """Runs of daily share (a gap between runs is a day not stored or not in the top 50) and weekly points."""

    runs: tuple[tuple[tuple[float, float], ...], ...]
    weekly: tuple[tuple[float, float], ...]


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        return [low]
    raw = (high - low) / max(1, count)
    step = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * step:
            step *= factor
            break
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9 and len(ticks) < 12:
        ticks.append(round(value, 10))
        value += step
    return ticks


def plot_columns(width: int) -> int:
    """The columns of plotext's plot area in a chart `width` cells wide: y labels of Y_LABEL cells and one axis
    cell on the left, one frame cell on the right."""
    return width - Y_LABEL - 2


def envelope(
    xs: Sequence[float], ys: Sequence[float], left: float, right: float, bins: int, breaks: Collection[int] = ()
) -> tuple[list[float], list[float]]:
    """The points of a line that `bins` dot columns from `left` to `right` can show, in order: the points that
    fall in one column (by plotext's own rounding, so a group never straddles two columns) and in one run (a
    group also ends at each of `breaks`, the indices that start a run after a gap) keep their first, lowest,
    highest and last point. Every point kept is a stored one, unchanged; the series' first, last, high and low
    are kept, and so are both ends of every gap. The line through them lights exactly the dots the full line
    would: within a column it spans the group's low to high, and between two groups it is the same segment (the
    last point of one to the first of the next)."""
    n = len(xs)
    if n <= 4 or bins < 2 or not right > left:
        return list(xs), list(ys)
    scale = (bins - 1) / (right - left)
    cuts = frozenset(breaks)

    def column(x: float) -> int:
        return math.floor(round(0.5 + scale * (x - left), 8))  # plotext's get_matrix_data

    keep: list[int] = []
    first = low = high = 0
    current = column(xs[0])
    for i in range(1, n):
        here = column(xs[i])
        if here != current or i in cuts:
            keep.extend(sorted({first, low, high, i - 1}))
            first = low = high = i
            current = here
        elif ys[i] < ys[low]:
            low = i
        elif ys[i] > ys[high]:
            high = i
    keep.extend(sorted({first, low, high, n - 1}))
    return [xs[k] for k in keep], [ys[k] for k in keep]


def _label(text: str) -> str:
    return text[-Y_LABEL:].rjust(Y_LABEL)


def _price_label(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}" if abs(value) < 100 else f"{value:,.1f}"


def _base(plot: Plot, width: int, height: int, axis: Axis, x_labels: bool) -> None:
    plot.clear_figure()
    plot.plotsize(width, height)
    plot._set_size(width, height)
    plot.theme("clear")
    plot.xlim(axis.left, axis.right)
    ticks = axis.ticks(width)
    plot.xticks([x for x, _ in ticks], [label if x_labels else "" for _, label in ticks])


def _y_axis(plot: Plot, low: float, high: float, fmt: Any, height: int) -> None:
    pad = (high - low) * 0.06 or abs(high) * 0.05 or 1.0
    low, high = low - pad, high + pad
    plot.ylim(low, high)
    ticks = nice_ticks(low, high, max(2, min(5, height // 3)))
    plot.yticks(ticks, [_label(fmt(t)) for t in ticks])


def _markers(
    plot: Plot, markers: Sequence[Marker], levels: Sequence[float], axis: Axis, width: int, with_labels: bool
) -> None:
    """A vertical bar at each launch; labels on the first of `levels` where they do not run into the label before
    them (else the next level; else left out: the launch list beside the chart names every launch)."""
    columns = max(1, plot_columns(width))
    ends = [-1.0] * len(levels)
    for marker in markers:
        plot.vline(marker.x, "magenta")
        if not with_labels:
            continue
        column = (marker.x - axis.left) / max(1e-9, axis.right - axis.left) * columns
        for i, level in enumerate(levels):
            if column > ends[i] + 1:
                plot.text(marker.label, marker.x, level, color="magenta", alignment="left")
                ends[i] = column + len(marker.label)
                break


def price_chart(
    series: PriceSeries, axis: Axis, markers: Sequence[Marker], width: int, height: int, candles: bool
) -> str:
    plot = Plot()
    _base(plot, width, height, axis, x_labels=True)
    values = [*series.close, *(v for v in series.high if v is not None), *(v for v in series.low if v is not None)]
    if series.reference is not None:
        values.append(series.reference)
    if not values:
        return ""
    low, high = min(values), max(values)
    _y_axis(plot, low, high, _price_label, height)
    span = (high - low) or abs(high) or 1.0
    row = span * 1.12 / max(1, height - 4)  # one text row of the plot area, in price units
    levels = (high + span * 0.05, high + span * 0.05 - row)
    if series.reference is not None:
        plot.plot([axis.left, axis.right], [series.reference, series.reference], marker="·", color="yellow")
        plot.text(series.reference_label, axis.left, series.reference, color="yellow", alignment="left")
    if candles and series.open:
        data = {
            "Open": list(series.open),
            "High": list(series.high),
            "Low": list(series.low),
            "Close": list(series.close),
        }
        plot.candlestick(list(series.xs), data)
    else:
        bins = 2 * plot_columns(width)  # braille: two dots a column
        xs, ys = envelope(series.xs, series.close, axis.left, axis.right, bins, series.breaks)
        plot.plot(xs, ys, marker="braille", color="cyan")
    _markers(plot, markers, levels, axis, width, with_labels=True)
    return str(plot.build())


def volume_chart(series: PriceSeries, axis: Axis, width: int, height: int) -> str:
    """Volume as block columns under the price chart, in the same columns as plotext's plot area (y labels of
    Y_LABEL cells and one axis cell on the left, one frame cell on the right). Drawn directly: plotext's bar
    chart costs ~25 ms for a year of bars, this ~1 ms."""
    points = [(x, v) for x, v in zip(series.xs, series.volume, strict=False) if v is not None and v >= 0]
    columns = plot_columns(width)
    if not points or columns < 2 or height < 1:
        return ""
    span = max(1e-9, axis.right - axis.left)
    tallest = [0.0] * columns
    for x, v in points:
        column = round((x - axis.left) / span * (columns - 1))
        if 0 <= column < columns:
            tallest[column] = max(tallest[column], v)
    high = max(tallest) or 1.0
    levels = [round(v / high * height * 8) for v in tallest]
    lines = []
    for row in range(height):
        floor = (height - 1 - row) * 8
        cells = "".join(" " if n <= floor else SPARK_BLOCKS[min(8, n - floor)] for n in levels)
        label = _label(_big(high)) if row == 0 else " " * Y_LABEL
        lines.append(f"{label}│\x1b[34m{cells}\x1b[0m│")
    return "\n".join(lines)


SPARK_BLOCKS = " ▁▂▃▄▅▆▇█"


def _big(value: float) -> str:
    for divisor, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= divisor:
            return f"{value / divisor:.1f}{suffix}"
    return f"{value:.0f}"


def share_chart(series: ShareSeries, axis: Axis, markers: Sequence[Marker], width: int, height: int) -> str:
    plot = Plot()
    _base(plot, width, height, axis, x_labels=True)
    values = [v for run in series.runs for _, v in run] + [v for _, v in series.weekly]
    if not values:
        return ""
    low, high = 0.0, max(values)
    _y_axis(plot, low, high, lambda t: f"{t * 100:.2f}%", height)
    if series.weekly:
        plot.scatter([x for x, _ in series.weekly], [v for _, v in series.weekly], marker="◆", color="green")
    for run in series.runs:
        if len(run) == 1:
            plot.scatter([run[0][0]], [run[0][1]], marker="●", color="magenta+")
        else:
            xs, ys = envelope([x for x, _ in run], [v for _, v in run], axis.left, axis.right, 2 * plot_columns(width))
            plot.plot(xs, ys, marker="braille", color="magenta+")
    _markers(plot, markers, (), axis, width, with_labels=False)
    return str(plot.build())


class ChartPane(Widget):
    """A chart as text. `draw(width, height) -> str` is set with the view; the text is rebuilt only when the
    view or the size changed (`renders` counts the builds)."""

    DEFAULT_CSS = "ChartPane { height: 1fr; }"

    view: reactive[object | None] = reactive(None, init=False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.draw: Any = None
        self.renders = 0
        self._key: tuple[object, int, int] | None = None
        self._text = Text("")
        self._prepared: tuple[tuple[object, int, int], Text] | None = None

    def show(self, view: object, draw: Any) -> None:
        self.draw = draw
        self.view = view

    def prepare(self, view: object, draw: Any) -> None:
        """Draw `view` at the pane's current size now, from a worker thread: render() then only shows it."""
        width, height = self.size.width, self.size.height
        if width > Y_LABEL + 4 and height > 2 and self.display:
            text = Text.from_ansi(draw(width, height), no_wrap=True)
            self._prepared = ((view, width, height), text)

    def watch_view(self) -> None:
        self.refresh()

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        key = (self.view, width, height)
        if key != self._key and self.draw is not None and width > Y_LABEL + 4 and height > 2:
            self._key = key
            self.renders += 1
            prepared = self._prepared
            if prepared is not None and prepared[0] == key:
                self._text = prepared[1]
            else:
                self._text = Text.from_ansi(self.draw(width, height), no_wrap=True)
            self._prepared = None
        return self._text
