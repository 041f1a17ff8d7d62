"""Header (HKT clock, market states, data age) and status line (each job's last poll, next poll, error)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from monitor.text import safe_text, truncate
from widgets.views import StatusView

STATE_STYLE = {"open": "bold green", "lunch": "yellow", "closed": "dim", "holiday": "magenta"}


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


class MarketHeader(Static):
    DEFAULT_CSS = "MarketHeader { height: 1; background: $panel; }"

    def __init__(self, **kwargs):
        super().__init__("", **kwargs)
        self.shown: tuple | None = None

    def show(self, clock: str, markets: tuple[tuple[str, str], ...], data: str, currency: str, demo: bool) -> bool:
        key = (clock, markets, data, currency, demo)
        if key == self.shown:
            return False
        self.shown = key
        # One line of fixed height: the clock tick never changes the layout, so skip the relayout.
        self.update(render_header(*key), layout=False)
        return True


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

    def __init__(self, **kwargs):
        super().__init__("", **kwargs)
        self.view: StatusView | None = None

    def show(self, view: StatusView) -> bool:
        if view == self.view:
            return False
        self.view = view
        self.update(render_status(view, self.size.width or 80))
        return True
