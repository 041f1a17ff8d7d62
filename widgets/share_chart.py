"""Token share by maker over time: one bar row per maker, weekly (52 weeks) and daily, all rows on one
scale so bars compare across makers; a week or day with no data is a gap, never a zero bar.
Plain Unicode blocks: cheap over SSH and readable at 80 columns. Renders a ChartView; never fetches."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from monitor.text import SPARK, fmt_pp, fmt_share, safe_text, truncate
from widgets.style import DIM, move_style
from widgets.views import ChartSeries, ChartView

GAP = "·"  # a week or day with no data


def bars(values: Sequence[float | None], width: int, high: float) -> str:
    """The last `width` values as blocks from 0 to `high` (one scale for every row); None is a gap."""
    out = []
    for value in list(values)[-width:]:
        if value is None or not math.isfinite(value):
            out.append(GAP)
        else:
            out.append(SPARK[min(7, max(0, int(value / high * 7.999)))] if high > 0 else SPARK[0])
    return "".join(out)


RANGES = ("52W", "7D", "30D", "90D")
RANGE_DAYS = {"7D": 7, "30D": 30, "90D": 90}
NAME_W, TAIL_W = 13, 17


def _high(values: Iterable[float | None]) -> float:
    """The one scale's top: the highest value drawn. Not the highest stored: a peak scrolled off the chart
    would flatten every bar on it, and the first screen (which reads only what it draws) would differ."""
    return max((v for v in values if v is not None and math.isfinite(v)), default=0.0)


def _tail(text: Text, s: ChartSeries) -> None:
    text.append(f" {fmt_share(s.latest):>7}")
    d7 = fmt_pp(s.d7)
    text.append(f" {d7:>8}", style=move_style(d7))
    text.append("\n")


def render_chart(view: ChartView, width: int, share_range: str = "52W") -> Text:
    if not view.series:
        return Text("no token data yet", style=DIM)
    if share_range in RANGE_DAYS and view.days:
        return _render_days(view, width, RANGE_DAYS[share_range])
    text = Text(no_wrap=True, overflow="ellipsis")
    spark_w = max(8, width - NAME_W - TAIL_W - 2)
    daily_w = min(10, spark_w // 4)
    weekly_w = spark_w - daily_w - 1
    high = _high(v for s in view.series for v in (*s.weekly[-weekly_w:], *s.daily[-daily_w:]))
    if view.weeks:
        shown = view.weeks[-weekly_w:]  # the bars show the newest weeks that fit
        text.append(f"{'':{NAME_W}}{f'weekly {shown[0][2:]}…{shown[-1][2:]}':<{weekly_w}} daily", style=DIM)
        text.append("\n")
    for s in view.series:
        text.append(f"{truncate(safe_text(s.maker), NAME_W - 1):<{NAME_W}}")
        text.append(f"{bars(s.weekly, weekly_w, high):<{weekly_w}} ", style="cyan")
        text.append(f"{bars(s.daily, daily_w, high):<{daily_w}}", style="magenta")
        _tail(text, s)
    notes = (
        f"52W · one scale 0–{fmt_share(high)} · {GAP} no data · w: 7D/30D/90D",
        "weekly: share of the top 9 models + Others (52-week chart)",
        "daily, share, Δ7d: share of the top 50 + other (daily export)",
    )
    text.append("\n".join(truncate(note, width) for note in notes), style=DIM)
    return text


def _weekly_by_day(view: ChartView, s: ChartSeries) -> dict[date, float]:
    """Each day of a week the weekly chart covers, with that week's share (week strings are week starts)."""
    out: dict[date, float] = {}
    for week, value in zip(view.weeks, s.weekly, strict=True):
        if value is not None and math.isfinite(value):
            start = date.fromisoformat(week)
            out.update({start + timedelta(days=n): value for n in range(7)})
    return out


def _render_days(view: ChartView, width: int, span: int) -> Text:
    """The last `span` UTC days, daily where the export is stored, the weekly chart's share before the first
    stored day (its own colour), a gap where neither has data; several days share a column when they must."""
    text = Text(no_wrap=True, overflow="ellipsis")
    cols = max(7, width - NAME_W - TAIL_W - 1)
    end = date.fromisoformat(view.days[-1])
    first_stored = date.fromisoformat(view.days[0])
    days = [end - timedelta(days=n) for n in range(span - 1, -1, -1)]
    per_col = -(-span // cols)  # ceiling: a column is one day, or a few
    groups = [days[i : i + per_col] for i in range(0, span, per_col)]
    index = {date.fromisoformat(d): i for i, d in enumerate(view.days)}
    cells: list[list[tuple[float | None, str]]] = []  # per series, per column: (value, style)
    for s in view.series:
        weekly = _weekly_by_day(view, s)
        row: list[tuple[float | None, str]] = []
        for group in groups:
            daily = [v for d in group if d in index and (v := s.daily[index[d]]) is not None]
            before = [weekly[d] for d in group if d < first_stored and d in weekly]
            if daily:
                row.append((sum(daily) / len(daily), "magenta"))
            elif before:
                row.append((sum(before) / len(before), "cyan"))
            else:
                row.append((None, DIM))
        cells.append(row)
    high = _high(value for row in cells for value, _ in row)
    text.append(f"{'':{NAME_W}}{span}D {days[0].isoformat()[2:]}…{end.isoformat()[2:]}", style=DIM)
    text.append(f" · {per_col} days a column" if per_col > 1 else "", style=DIM)
    text.append("\n")
    for s, row in zip(view.series, cells, strict=True):
        text.append(f"{truncate(safe_text(s.maker), NAME_W - 1):<{NAME_W}}")
        for value, style in row:
            text.append(GAP if value is None else bars([value], 1, high), style=style)
        text.append(" " * max(0, cols - len(groups)))
        _tail(text, s)
    notes = (
        f"{span}D · one scale 0–{fmt_share(high)} · {GAP} no data · w: next range",
        "daily: share of the top 50 + other (daily export); before its first stored day, the weekly",
        "chart's share (top 9 models + Others) in its own colour",
    )
    text.append("\n".join(truncate(note, width) for note in notes), style=DIM)
    return text


class ShareChart(Static):
    DEFAULT_CSS = "ShareChart { height: auto; }"

    view: reactive[ChartView | None] = reactive(None, init=False)
    share_range: reactive[str] = reactive("52W", init=False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.renders = 0

    def watch_view(self, view: ChartView | None) -> None:
        self.renders += 1
        self.refresh_chart()

    def watch_share_range(self) -> None:
        self.refresh_chart()

    def next_range(self) -> None:
        self.share_range = RANGES[(RANGES.index(self.share_range) + 1) % len(RANGES)]

    def refresh_chart(self) -> None:
        if self.view is not None:
            self.update(render_chart(self.view, max(40, self.size.width or 70), self.share_range))

    def on_resize(self) -> None:
        self.refresh_chart()
