"""Peer moves: 1d, 5d, 1m, YTD, since IPO and market cap for every watched company, plus group medians.
Sortable both ways by every column (medians stay last); columns are kept by importance as the terminal
narrows. Renders a MovesView; never fetches."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from monitor.text import fmt_big, fmt_pct, fmt_price, fmt_share, safe_text, truncate
from widgets.columns import Column, fit_columns
from widgets.style import DIM, move
from widgets.views import MovesRow, MovesView

# Display order; priority 0 is kept first (name, price, 1d, mcap, token share), the rest as room allows.
COLUMNS = (
    Column("name", 14, 0, grow=4),
    Column("symbol", 8, 6),
    Column("price", 9, 1),
    Column("as of", 5, 5),
    Column("1d", 7, 2),
    Column("5d", 7, 7),
    Column("1m", 7, 8),
    Column("YTD", 9, 9),
    Column("IPO", 9, 10),
    Column("mcap", 9, 3),
    Column("tokens", 6, 4),
)
# Column -> the MovesRow field it sorts by.
SORT_FIELDS = {
    "name": "name",
    "symbol": "symbol",
    "price": "price",
    "as of": "as_of",
    "1d": "change_pct",
    "5d": "move_5d",
    "1m": "move_1m",
    "YTD": "move_ytd",
    "IPO": "move_ipo",
    "mcap": "market_cap_display",
    "tokens": "token_share",
}
TEXT_FIELDS = {"name", "symbol"}


def sort_rows(rows: tuple[MovesRow, ...], sort: str | None, descending: bool) -> list[MovesRow]:
    """Companies by `sort` (None: the watchlist's order), those without a value last; medians stay below."""
    companies = [r for r in rows if not r.symbol.startswith("median")]
    medians = [r for r in rows if r.symbol.startswith("median")]
    if sort is None:
        return companies + medians
    present = [r for r in companies if getattr(r, sort) not in (None, "")]
    missing = [r for r in companies if getattr(r, sort) in (None, "")]

    def key(r: MovesRow) -> object:
        value = getattr(r, sort)
        return value.lower() if isinstance(value, str) else value

    return sorted(present, key=key, reverse=descending) + missing + medians


class PeerMoves(DataTable):
    DEFAULT_CSS = "PeerMoves { height: auto; max-height: 18; }"

    view: reactive[MovesView | None] = reactive(None, init=False)
    sort: reactive[str | None] = reactive(None, init=False)  # a MovesRow field; None: the watchlist's order
    descending: reactive[bool] = reactive(True, init=False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.renders = 0
        self._shown: tuple[object, ...] | None = None
        self._layout: tuple[tuple[str, int], ...] = ()

    def watch_view(self) -> None:
        self._redraw()

    def watch_sort(self) -> None:
        self._redraw()

    def watch_descending(self) -> None:
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def sort_by(self, sort: str | None) -> None:
        """Sort by a MovesRow field: numbers largest first, names A-Z; the same field again reverses."""
        if sort == self.sort and sort is not None:
            self.descending = not self.descending
        else:
            self.sort, self.descending = sort, sort not in TEXT_FIELDS

    def next_sort(self) -> None:
        """The `s` key while this table has focus: each column in its natural direction, then reversed,
        then the next column; after the last, the watchlist's order."""
        if self.sort is not None and self.descending == (self.sort not in TEXT_FIELDS):
            self.descending = not self.descending
            return
        fields = [SORT_FIELDS[label] for label, _ in self._layout]
        position = fields.index(self.sort) + 1 if self.sort in fields else 0
        self.sort_by(fields[position] if position < len(fields) else None)

    @property
    def sort_label(self) -> str:
        column = next((label for label, field in SORT_FIELDS.items() if field == self.sort), "watchlist")
        return f"{column}{('▼' if self.descending else '▲') if self.sort else ''}"

    def _redraw(self) -> None:
        view = self.view
        width = self.outer_size.width or 80
        layout = fit_columns(COLUMNS, max(20, width - 2))  # 2: room for the vertical scrollbar
        key = (view, self.sort, self.descending, layout)
        if view is None or key == self._shown:
            return
        self._shown = key
        self.renders += 1
        if layout != self._layout:
            self.clear(columns=True)
            for label, col_width in layout:
                self.add_column(label, width=col_width, key=label)
            self._layout = layout
        columns = dict(layout)
        for label in columns:
            text = f"mcap {view.display_currency}" if label == "mcap" else label
            if self.sort is not None and SORT_FIELDS[label] == self.sort:
                text += "▼" if self.descending else "▲"
            self.columns[ColumnKey(label)].label = Text(text)
        self.clear()
        for row in sort_rows(view.rows, self.sort, self.descending):
            median = row.symbol.startswith("median")
            cells = {
                "name": Text(truncate(safe_text(row.name), columns["name"]), style="italic dim" if median else ""),
                "symbol": Text(row.symbol if not median else "", style=DIM),
                "price": Text(fmt_price(row.price), justify="right"),
                "as of": Text(row.as_of, style=DIM),
                "1d": move(fmt_pct(row.change_pct, 1)),
                "5d": move(fmt_pct(row.move_5d, 1)),
                "1m": move(fmt_pct(row.move_1m, 1)),
                "YTD": move(fmt_pct(row.move_ytd, 1)),
                "IPO": move(fmt_pct(row.move_ipo, 1)),
                "mcap": Text(fmt_big(row.market_cap_display), justify="right"),
                "tokens": Text(fmt_share(row.token_share), justify="right"),
            }
            self.add_row(*(cells[label] for label in columns), key=row.symbol)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Clicking a column header sorts by it; clicking it again reverses the order."""
        self.sort_by(SORT_FIELDS.get(str(event.column_key.value)))
