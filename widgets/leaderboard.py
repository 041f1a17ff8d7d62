"""Token leaderboard: by model or by maker, sortable both ways by any column, filterable. Renders a
BoardView; never fetches. Columns are kept by importance as the terminal narrows, never cut."""

from __future__ import annotations

from functools import partial
from typing import Any

from textual.reactive import reactive
from textual.widgets import DataTable

from monitor.text import fmt_big, fmt_pp, fmt_share, safe_text, sparkline, truncate
from widgets import style
from widgets.columns import Column, fit_columns
from widgets.style import DIM, move_style
from widgets.table import CellSpec, RowTable, spec
from widgets.views import BoardRow, BoardView

# Display order; priority 0 is kept first, the highest number is dropped first as the terminal narrows.
COLUMNS = (
    Column("#", 3, 1),
    Column("±", 3, 8),
    Column("model", 20, 0, grow=10),
    Column("maker", 10, 5),
    Column("tokens", 7, 6),
    Column("share", 6, 2),
    Column("Δ1d", 8, 3),
    Column("Δ7d", 8, 4),
    Column("trend", 8, 7),
)
# Column -> the BoardRow field it sorts by.
SORT_FIELDS = {
    "#": "rank",
    "model": "name",
    "maker": "maker",
    "tokens": "tokens",
    "share": "share",
    "Δ1d": "d1",
    "Δ7d": "d7",
}
ASCENDING_FIRST = {"rank", "name", "maker"}  # the natural direction of these; numbers go largest first
# The `s` key's cycle: each sort in its natural direction, then reversed.
SORTS = (
    ("rank", False),
    ("rank", True),
    ("share", True),
    ("share", False),
    ("d1", True),
    ("d1", False),
    ("d7", True),
    ("d7", False),
)


def _rank_change(value: int | None) -> CellSpec:
    if not value:
        return spec("")
    return spec(f"{'▲' if value > 0 else '▼'}{abs(value)}", style.UP if value > 0 else style.DOWN)


def sort_rows(rows: tuple[BoardRow, ...], sort: str, descending: bool | None = None) -> list[BoardRow]:
    """Rows by `sort` (a BoardRow field); rows without a value always last, whichever the direction."""
    if descending is None:
        descending = sort not in ASCENDING_FIRST
    present = [r for r in rows if getattr(r, sort) is not None]
    missing = [r for r in rows if getattr(r, sort) is None]

    def key(r: BoardRow) -> object:
        value = getattr(r, sort)
        return value.lower() if isinstance(value, str) else value

    return sorted(present, key=key, reverse=descending) + missing


def matches(row: BoardRow, needle: str) -> bool:
    """The filter matches the slug (the row's key), the display name and the maker."""
    return any(needle in text.lower() for text in (row.key, row.name, row.maker))


def visible_rows(view: BoardView, sort: str, needle: str, descending: bool | None = None) -> list[BoardRow]:
    needle = needle.lower().strip()
    rows = sort_rows(view.rows, sort, descending)
    if needle:
        rows = [r for r in rows if matches(r, needle)]
    return rows


def _name(row: BoardRow, width: int) -> CellSpec:
    """The name cut to fit, keeping the tag that tells two rows of one name apart."""
    if not row.tag:
        return spec(truncate(safe_text(row.name), width))
    return spec(truncate(safe_text(row.name), max(4, width - len(row.tag) - 1)) + " ", "", None, (row.tag, DIM))


def _move(shown: str) -> CellSpec:
    return spec(shown, move_style(shown), "right")


def cell(row: BoardRow, column: str, widths: dict[str, int]) -> CellSpec:
    """What one cell of a row shows (formatted only for the rows drawn or read)."""
    if column == "#":
        return spec(str(row.rank) if row.rank else "—", "", "right")
    if column == "±":
        return _rank_change(row.rank_change)
    if column == "model":
        return _name(row, widths.get("model", 20))
    if column == "maker":
        return spec(truncate(safe_text(row.maker), widths.get("maker", 10)))
    if column == "tokens":
        return spec(fmt_big(row.tokens), "", "right")
    if column == "share":
        return spec(fmt_share(row.share), "", "right")
    if column == "Δ1d":
        return _move(fmt_pp(row.d1))
    if column == "Δ7d":
        return _move(fmt_pp(row.d7))
    return spec(sparkline(row.trend, widths.get("trend", 0)), "cyan")  # trend


class Leaderboard(RowTable):
    """The board redraws once per distinct (view, sort, direction, filter, columns): setting any of them to
    the value it already has does nothing. A new view with the same rows in view updates them in place
    (see widgets/table.py)."""

    DEFAULT_CSS = "Leaderboard { height: 1fr; }"

    view: reactive[BoardView | None] = reactive(None, init=False)
    sort: reactive[str] = reactive("rank", init=False)
    descending: reactive[bool] = reactive(False, init=False)
    needle: reactive[str] = reactive("", init=False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._shown: tuple[object, ...] | None = None
        self._format = partial(cell, widths={})
        self.renders = 0

    def on_resize(self) -> None:
        self._redraw()

    def watch_view(self) -> None:
        self._redraw()

    def watch_sort(self) -> None:
        self._redraw()

    def watch_descending(self) -> None:
        self._redraw()

    def watch_needle(self) -> None:
        self._redraw()

    def sort_by(self, sort: str, descending: bool | None = None) -> None:
        """Sort by a BoardRow field; the same field again reverses the direction."""
        if descending is None:
            descending = (not self.descending) if sort == self.sort else sort not in ASCENDING_FIRST
        self.sort, self.descending = sort, descending

    def next_sort(self) -> None:
        """The `s` key: rank ▲▼, share ▼▲, Δ1d ▼▲, Δ7d ▼▲, round again."""
        current = (self.sort, self.descending)
        self.sort_by(*SORTS[(SORTS.index(current) + 1) % len(SORTS)] if current in SORTS else SORTS[0])

    @property
    def sort_label(self) -> str:
        column = next((label for label, field in SORT_FIELDS.items() if field == self.sort), self.sort)
        return f"{column}{'▼' if self.descending else '▲'}"

    def _fit(self) -> tuple[tuple[str, int], ...]:
        width = self.outer_size.width or 80
        return fit_columns(COLUMNS, max(20, width - 2))  # 2: room for the vertical scrollbar

    def _redraw(self) -> None:
        view = self.view
        layout = self._fit()
        key = (view, self.sort, self.descending, self.needle, layout)
        if view is None or key == self._shown:
            return
        home = self._shown is not None and key[1:4] != self._shown[1:4]  # a new sort or filter: back to the top
        self._shown = key
        self.renders += 1
        if layout != self._layout:
            self._format = partial(cell, widths=dict(layout))
        names = {"model": view.mode, "maker": "author" if view.mode == "maker" else "maker", "Δ1d": view.d1_label}
        arrow = "▼" if self.descending else "▲"
        labels = {}
        for label, _ in layout:
            text = names.get(label, label)
            if SORT_FIELDS.get(label) == self.sort:
                text += arrow
            labels[label] = text
        rows = visible_rows(view, self.sort, self.needle, self.descending)
        self.show(layout, labels, [(row.key, row) for row in rows], self._format, home)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Clicking a column header sorts by it; clicking it again reverses the order."""
        sort = SORT_FIELDS.get(str(event.column_key.value))
        if sort:
            self.sort_by(sort)
