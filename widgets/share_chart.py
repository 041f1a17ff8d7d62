"""Token share by maker over time: one bar row per maker, weekly (52 weeks) and daily, all rows on one
scale so bars compare across makers; a week or day with no data is a gap, never a zero bar.
Plain Unicode blocks: cheap over SSH and readable at 80 columns. Renders a ChartView; never fetches."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from monitor.text import SPARK, fmt_pp, fmt_share, safe_text, truncate
from widgets.style import DIM, move_style
from widgets.views import ChartView

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


def render_chart(view: ChartView, width: int) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    if not view.series:
        return Text("no token data yet", style=DIM)
    name_w, tail_w = 13, 17
    spark_w = max(8, width - name_w - tail_w - 2)
    daily_w = min(10, spark_w // 4)
    weekly_w = spark_w - daily_w - 1
    values = [v for s in view.series for v in (*s.weekly, *s.daily) if v is not None and math.isfinite(v)]
    high = max(values, default=0.0)
    if view.weeks:
        shown = view.weeks[-weekly_w:]  # the bars show the newest weeks that fit
        text.append(f"{'':{name_w}}{f'weekly {shown[0][2:]}…{shown[-1][2:]}':<{weekly_w}} daily", style=DIM)
        text.append("\n")
    for s in view.series:
        text.append(f"{truncate(safe_text(s.maker), name_w - 1):<{name_w}}")
        text.append(f"{bars(s.weekly, weekly_w, high):<{weekly_w}} ", style="cyan")
        text.append(f"{bars(s.daily, daily_w, high):<{daily_w}}", style="magenta")
        text.append(f" {fmt_share(s.latest):>7}")
        d7 = fmt_pp(s.d7)
        text.append(f" {d7:>8}", style=move_style(d7))
        text.append("\n")
    notes = (
        f"one scale 0–{fmt_share(high)} · {GAP} no data",
        "weekly: share of the top 9 models + Others (52-week chart)",
        "daily, share, Δ7d: share of the top 50 + other (daily export)",
    )
    text.append("\n".join(truncate(note, width) for note in notes), style=DIM)
    return text


class ShareChart(Static):
    DEFAULT_CSS = "ShareChart { height: auto; }"

    view: reactive[ChartView | None] = reactive(None, init=False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.renders = 0

    def watch_view(self, view: ChartView | None) -> None:
        self.renders += 1
        self.refresh_chart()

    def refresh_chart(self) -> None:
        if self.view is not None:
            self.update(render_chart(self.view, max(40, self.size.width or 70)))

    def on_resize(self) -> None:
        self.refresh_chart()
