"""Token leaderboard: by model or by maker, sortable, filterable. Renders a BoardView; never fetches."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable

from monitor.text import fmt_big, fmt_pp, fmt_share, safe_text, sparkline, truncate
from widgets.views import BoardRow, BoardView

SORTS = ("rank", "share", "d1", "d7")
COLUMNS = (
    ("#", 3),
    ("±", 3),
    ("model", 24),
    ("maker", 10),
    ("tokens", 7),
    ("share", 6),
    ("Δ1d", 8),
    ("Δ7d", 8),
    ("trend", 8),
)
# Below 120 columns: no rank-change or trend column, a narrower name.
COMPACT = (("#", 3), ("model", 20), ("maker", 9), ("tokens", 7), ("share", 6), ("Δ1d", 8), ("Δ7d", 8))


def _delta(value: float | None) -> Text:
    style = "" if value is None else "green" if value > 0 else "red" if value < 0 else ""
    return Text(fmt_pp(value), style=style, justify="right")


def _rank_change(value: int | None) -> Text:
    if not value:
        return Text("")
    return Text(f"{'▲' if value > 0 else '▼'}{abs(value)}", style="green" if value > 0 else "red")


def sort_rows(rows: tuple[BoardRow, ...], sort: str) -> list[BoardRow]:
    if sort == "rank":
        return sorted(rows, key=lambda r: (r.rank is None, r.rank or 0))
    field = {"share": "share", "d1": "d1", "d7": "d7"}[sort]
    return sorted(rows, key=lambda r: (getattr(r, field) is None, -(getattr(r, field) or 0.0)))


def visible_rows(view: BoardView, sort: str, needle: str) -> list[BoardRow]:
    needle = needle.lower().strip()
    rows = sort_rows(view.rows, sort)
    if needle:
        rows = [r for r in rows if needle in r.name.lower() or needle in r.maker.lower()]
    return rows


class Leaderboard(DataTable[Text]):
    """The board redraws once per distinct (view, sort, filter, compact): setting any of them to the value it
    already has does nothing."""

    DEFAULT_CSS = "Leaderboard { height: 1fr; }"

    view: reactive[BoardView | None] = reactive(None, init=False)
    sort: reactive[str] = reactive("rank", init=False)
    needle: reactive[str] = reactive("", init=False)
    compact: reactive[bool] = reactive(False, init=False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._shown: tuple[object, ...] | None = None
        self.renders = 0

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        for label, width in COMPACT if self.compact else COLUMNS:
            self.add_column(label, width=width, key=label)

    def watch_compact(self) -> None:
        self.clear(columns=True)
        self._add_columns()
        self._shown = None
        self._redraw()

    def watch_view(self) -> None:
        self._redraw()

    def watch_sort(self) -> None:
        self._redraw()

    def watch_needle(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        view = self.view
        key = (view, self.sort, self.needle, self.compact)
        if view is None or key == self._shown:
            return
        self._shown = key
        self.renders += 1
        columns = dict(COMPACT if self.compact else COLUMNS)
        self.columns[self.ordered_columns[list(columns).index("model")].key].label = Text(view.mode)
        self.clear()
        for row in visible_rows(view, self.sort, self.needle):
            cells = {
                "#": Text(str(row.rank) if row.rank else "—", justify="right"),
                "±": _rank_change(row.rank_change),
                "model": Text(truncate(safe_text(row.name), columns["model"])),
                "maker": Text(truncate(safe_text(row.maker), columns["maker"])),
                "tokens": Text(fmt_big(row.tokens), justify="right"),
                "share": Text(fmt_share(row.share), justify="right"),
                "Δ1d": _delta(row.d1),
                "Δ7d": _delta(row.d7),
                "trend": Text(sparkline(row.trend, columns.get("trend", 0)), style="cyan"),
            }
            self.add_row(*(cells[label] for label in columns), key=row.key)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Clicking a column header sorts by it (rank, share, Δ1d, Δ7d)."""
        by_label = {"#": "rank", "share": "share", "Δ1d": "d1", "Δ7d": "d7"}
        sort = by_label.get(str(event.label))
        if sort:
            self.sort = sort
