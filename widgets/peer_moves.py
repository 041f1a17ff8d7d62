"""Peer moves: 1d, 5d, 1m, YTD, since IPO and market cap for every watched company, plus group medians.
Sortable both ways by every column (medians stay last); columns are kept by importance as the terminal
narrows. Renders a MovesView; never fetches."""

from __future__ import annotations

import math
from typing import Any

from textual.reactive import reactive
from textual.widgets import DataTable

from monitor.text import fmt_big, fmt_pct, fmt_price, fmt_share, safe_text, truncate
from widgets.columns import Column, fit_columns
from widgets.style import DIM, move_style
from widgets.table import CellSpec, RowTable, spec
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


def _move(shown: str) -> CellSpec:
    return spec(shown, move_style(shown), "right")


def cell(row: MovesRow, column: str, widths: dict[str, int]) -> CellSpec:
    """What one cell of a row shows (formatted only for the rows drawn or read)."""
    median = row.symbol.startswith("median")
    if column == "name":
        return spec(truncate(safe_text(row.name), widths["name"]), "italic dim" if median else "")
    if column == "symbol":
        return spec(row.symbol if not median else "", DIM)
    if column == "price":
        return spec(fmt_price(row.price), "", "right")
    if column == "as of":
        return spec(row.as_of, DIM)
    if column == "mcap":
        return spec(fmt_big(row.market_cap_display), "", "right")
    if column == "tokens":
        return spec(fmt_share(row.token_share), "", "right")
    return _move(fmt_pct(getattr(row, SORT_FIELDS[column]), 1))  # 1d, 5d, 1m, YTD, IPO


class Cells:
    """`cell` for one set of column widths, kept by what a cell shows (its column and the value it is made
    from): a refresh that moves one field of every row formats each other cell's value once, not once a row."""

    def __init__(self, widths: dict[str, int]) -> None:
        self.widths = widths
        self._made: dict[tuple[object, ...], CellSpec] = {}

    def __call__(self, row: MovesRow, column: str) -> CellSpec:
        field = SORT_FIELDS[column]
        value = getattr(row, field)
        # -0.0 == 0.0 as a key, but a price of -0.0 shows '-0.00': zeros are told apart by their sign.
        sign = math.copysign(1.0, value) if value == 0 and isinstance(value, float) else None
        key = (column, value, sign, field in TEXT_FIELDS and row.symbol.startswith("median"))
        found = self._made.get(key)
        if found is None:
            if len(self._made) >= 4096:
                self._made.clear()
            found = self._made[key] = cell(row, column, self.widths)
        return found


class PeerMoves(RowTable):
    """Redraws once per distinct (view, sort, direction, columns); a new view updates the rows that changed
    in place (see widgets/table.py), so the cursor and the scroll position stay where they were."""

    DEFAULT_CSS = "PeerMoves { height: auto; max-height: 18; }"

    # repaint=False: `show` repaints what changed (the lines of the rows that changed, or the whole table on a
    # new order or header); a repainting reactive would redraw every line on every new view.
    view: reactive[MovesView | None] = reactive(None, init=False, repaint=False)
    sort: reactive[str | None] = reactive(None, init=False, repaint=False)  # a MovesRow field; None: watchlist order
    descending: reactive[bool] = reactive(True, init=False, repaint=False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.renders = 0
        self._shown: tuple[object, ...] | None = None
        self._format = Cells({})

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
        home = self._shown is not None and key[1:3] != self._shown[1:3]  # a new sort: back to the top
        self._shown = key
        self.renders += 1
        if layout != self._layout:
            self._format = Cells(dict(layout))
        labels = {}
        for label, _ in layout:
            text = f"mcap {view.display_currency}" if label == "mcap" else label
            if self.sort is not None and SORT_FIELDS[label] == self.sort:
                text += "▼" if self.descending else "▲"
            labels[label] = text
        rows = sort_rows(view.rows, self.sort, self.descending)
        self.show(layout, labels, [(row.symbol, row) for row in rows], self._format, home)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Clicking a column header sorts by it; clicking it again reverses the order."""
        self.sort_by(SORT_FIELDS.get(str(event.column_key.value)))
