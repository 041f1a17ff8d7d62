"""Peer moves: 1d, 5d, 1m, YTD, since IPO and market cap for every watched company, plus group medians.
Renders a MovesView; never fetches."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable

from monitor.text import fmt_big, fmt_pct, fmt_price, fmt_share, safe_text, truncate
from widgets.views import MovesView

COLUMNS = (
    ("name", 15),
    ("symbol", 8),
    ("price", 10),
    ("1d", 8),
    ("5d", 8),
    ("1m", 8),
    ("YTD", 9),
    ("IPO", 9),
    ("mcap", 9),
    ("tokens", 7),
)


def _pct(value: float | None) -> Text:
    style = "" if value is None else "green" if value > 0 else "red" if value < 0 else ""
    return Text(fmt_pct(value, 1), style=style, justify="right")


class PeerMoves(DataTable):
    DEFAULT_CSS = "PeerMoves { height: auto; max-height: 18; }"

    view: reactive[MovesView | None] = reactive(None, init=False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.renders = 0

    def on_mount(self) -> None:
        for label, width in COLUMNS:
            self.add_column(label, width=width, key=label)

    def watch_view(self, view: MovesView | None) -> None:
        if view is None:
            return
        self.renders += 1
        self.columns[self.ordered_columns[8].key].label = Text(f"mcap {view.display_currency}")
        self.clear()
        for row in view.rows:
            median = row.symbol.startswith("median")
            self.add_row(
                Text(truncate(safe_text(row.name), 15), style="italic dim" if median else ""),
                Text(row.symbol if not median else "", style="dim"),
                Text(fmt_price(row.price), justify="right"),
                _pct(row.change_pct),
                _pct(row.move_5d),
                _pct(row.move_1m),
                _pct(row.move_ytd),
                _pct(row.move_ipo),
                Text(fmt_big(row.market_cap_display), justify="right"),
                Text(fmt_share(row.token_share), justify="right"),
                key=row.symbol,
            )
