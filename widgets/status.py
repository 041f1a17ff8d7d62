"""Header (HKT clock, market states, data age) and status line (each job's last poll, next poll, error)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from monitor.text import safe_text, truncate
from widgets import style
from widgets.style import DIM
from widgets.views import StatusView

STATE_STYLE = {
    "open": "bold green",
    "pre-open": "yellow",
    "lunch": "yellow",
    "auction": "bold yellow",
    "closed": "dim",
    "holiday": "magenta",
}


MODE_BADGES = {"demo": " DEMO ", "read-only": " READ-ONLY ", "live": " LIVE "}


def render_header(view: HeaderView, width: int = 200) -> Text:
    """One line that is never cut: the mode, the clock and the market states come first; the name of
    the app, the currency and the data age are left out, in that order, when the terminal is narrow."""
    badge = MODE_BADGES.get(view.mode, "")
    markets = [(f" {market} ", "bold") for market, _ in view.markets]
    states = [(state, STATE_STYLE.get(state, "")) for _, state in view.markets]
    parts: list[tuple[int, list[tuple[str, str]]]] = [
        (3, [(" tokentape ", "bold reverse")]),
        (0, [(badge, style.DEMO if view.mode == "demo" else "bold reverse")] if badge else []),
        (0, [(f" {view.clock} ", "bold" if view.mode == "demo" else "")]),
        (1, [segment for pair in zip(markets, states, strict=True) for segment in pair]),
        (4, [(f"  {view.data}", DIM)]),
        (2, [(f"  {view.currency}", "bold")]),
    ]
    dropped: set[int] = set()
    for level in (3, 4, 2, 1):
        if sum(cell_len(t) for i, (_, segs) in enumerate(parts) if i not in dropped for t, _ in segs) <= width:
            break
        dropped |= {i for i, (p, _) in enumerate(parts) if p == level}
    text = Text(no_wrap=True, overflow="ellipsis")
    for i, (_, segments) in enumerate(parts):
        if i not in dropped:
            for segment, look in segments:
                text.append(segment, style=look)
    return text


@dataclass(frozen=True)
class HeaderView:
    clock: str
    markets: tuple[tuple[str, str], ...]  # (market, state)
    data: str
    currency: str
    demo: bool
    mode: str = "live"


class MarketHeader(Static):
    DEFAULT_CSS = "MarketHeader { height: 1; background: $panel; }"

    view: reactive[HeaderView | None] = reactive(None, layout=False, init=False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)

    def watch_view(self, view: HeaderView | None) -> None:
        self._paint()

    def on_resize(self) -> None:
        self._paint()

    def _paint(self) -> None:
        if self.view is not None:
            # One line of fixed height: the clock tick never changes the layout, so skip the relayout.
            self.update(render_header(self.view, self.size.width or 200), layout=False)


def render_status(view: StatusView, width: int) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    if view.note:
        text.append(safe_text(view.note), style="bold yellow")
        if view.jobs:
            text.append("\n")
    parts = []
    for job in view.jobs:
        mark, look = ("✓", "green") if job.ok else ("✗", style.DOWN) if job.ok is False else ("·", DIM)
        parts.append((f"{mark} {job.job} {job.last}" + (f" next {job.next}" if job.next else ""), look))
    for i, (part, look) in enumerate(parts):
        text.append(("  " if i else "") + part, style=look)
    errors = [j for j in view.jobs if j.error]
    if errors:
        text.append("\n")
        text.append(truncate(f"{errors[0].job}: {safe_text(errors[0].error)}", max(20, width - 2)), style=style.DOWN)
    return text


class StatusLine(Static):
    DEFAULT_CSS = "StatusLine { height: auto; max-height: 3; background: $panel; }"

    view: reactive[StatusView | None] = reactive(None, init=False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self._lines = -1  # lines shown: the line's height follows them, so only a new count needs a layout

    def watch_view(self, view: StatusView | None) -> None:
        if view is not None:
            text = render_status(view, self.size.width or 80)
            lines = text.plain.count("\n") + 1
            self.update(text, layout=lines != self._lines)  # a layout here reflows the whole screen
            self._lines = lines
