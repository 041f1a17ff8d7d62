"""Token share by maker over time: one sparkline row per maker, weekly (52 weeks) and daily.
Plain Unicode blocks: cheap over SSH and readable at 80 columns. Renders a ChartView; never fetches."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from monitor.text import fmt_pp, fmt_share, safe_text, sparkline, truncate
from widgets.views import ChartView


def render_chart(view: ChartView, width: int) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    if not view.series:
        return Text("no token data yet", style="dim")
    name_w, tail_w = 13, 17
    spark_w = max(8, width - name_w - tail_w - 2)
    daily_w = min(10, spark_w // 4)
    weekly_w = spark_w - daily_w - 1
    if view.weeks:
        shown = view.weeks[-weekly_w:]  # the sparkline draws the newest weeks that fit
        text.append(f"{'':{name_w}}weekly {shown[0]} … {shown[-1]} ({len(shown)} wk)", style="dim")
        text.append("\n")
    for s in view.series:
        text.append(f"{truncate(safe_text(s.maker), name_w - 1):<{name_w}}")
        text.append(f"{sparkline(s.weekly, weekly_w):<{weekly_w}} ", style="cyan")
        text.append(f"{sparkline(s.daily, daily_w):<{daily_w}}", style="magenta")
        text.append(f" {fmt_share(s.latest):>7}")
        style = "" if s.d7 is None else "green" if s.d7 > 0 else "red" if s.d7 < 0 else ""
        text.append(f" {fmt_pp(s.d7):>8}", style=style)
        text.append("\n")
    text.append(truncate("weekly: top 9 models + Others · then daily · share, Δ7d", width), style="dim")
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
