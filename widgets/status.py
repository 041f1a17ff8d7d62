"""Header (HKT clock, market states, data age) and status line (each job's last poll, next poll, error)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from monitor.text import safe_text, truncate
from widgets.views import StatusView

STATE_STYLE = {
    "open": "bold green",
    "pre-open": "yellow",
    "lunch": "yellow",
    "auction": "bold yellow",
    "closed": "dim",
    "holiday": "magenta",
}


def render_header(clock: str, markets: tuple[tuple[str, str], ...], data: str, currency: str, demo: bool) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(" tokentape ", style="bold reverse")
    if demo:
        text.append(" DEMO ", style="bold black on yellow")
    text.append(f" {clock} ")
    for market, state in markets:
        text.append(f" {market} ", style="bold")
        text.append(state, style=STATE_STYLE.get(state, ""))
    text.append(f"  {data}", style="dim")
    text.append(f"  {currency}", style="bold")
    return text


@dataclass(frozen=True)
class HeaderView:
    clock: str
    markets: tuple[tuple[str, str], ...]  # (market, state)
    data: str
    currency: str
    demo: bool


class MarketHeader(Static):
    DEFAULT_CSS = "MarketHeader { height: 1; background: $panel; }"

    view: reactive[HeaderView | None] = reactive(None, layout=False, init=False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)

    def watch_view(self, view: HeaderView | None) -> None:
        if view is not None:
            # One line of fixed height: the clock tick never changes the layout, so skip the relayout.
            self.update(render_header(view.clock, view.markets, view.data, view.currency, view.demo), layout=False)


def render_status(view: StatusView, width: int) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    if view.note:
        text.append(safe_text(view.note), style="bold yellow")
        text.append("\n")
    parts = []
    for job in view.jobs:
        mark, style = ("✓", "green") if job.ok else ("✗", "red") if job.ok is False else ("·", "dim")
        parts.append((f"{mark} {job.job} {job.last}" + (f" next {job.next}" if job.next else ""), style))
    for i, (part, style) in enumerate(parts):
        text.append(("  " if i else "") + part, style=style)
    errors = [j for j in view.jobs if j.error]
    if errors:
        text.append("\n")
        text.append(truncate(f"{errors[0].job}: {safe_text(errors[0].error)}", max(20, width - 2)), style="red")
    return text


class StatusLine(Static):
    DEFAULT_CSS = "StatusLine { height: auto; max-height: 3; background: $panel; }"

    view: reactive[StatusView | None] = reactive(None, init=False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)

    def watch_view(self, view: StatusView | None) -> None:
        if view is not None:
            self.update(render_status(view, self.size.width or 80))
