"""Token leaderboard: by model or by maker, sortable, filterable. Renders a BoardView; never fetches."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from monitor.text import fmt_big, fmt_pp, fmt_share, safe_text, sparkline, truncate
from widgets.views import BoardRow, BoardView

SORTS = ("rank", "share", "d1", "d7")
COLUMNS = (("#", 3), ("±", 3), ("model", 24), ("maker", 10), ("tokens", 7), ("share", 6), ("Δ1d", 8), ("Δ7d", 8),
           ("trend", 8))
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


class Leaderboard(DataTable):
    DEFAULT_CSS = "Leaderboard { height: 1fr; }"

    def __init__(self, **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.view: BoardView | None = None
        self.sort = "rank"
        self.needle = ""
        self._shown: tuple | None = None
        self.renders = 0
        self.compact = False

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        for label, width in COMPACT if self.compact else COLUMNS:
            self.add_column(label, width=width, key=label)

    def set_compact(self, compact: bool) -> None:
        if compact != self.compact:
            self.compact = compact
            self.clear(columns=True)
            self._add_columns()
            self._shown = None
            if self.view is not None:
                self.show(self.view)

    def show(self, view: BoardView, sort: str | None = None, needle: str | None = None) -> bool:
        self.view = view
        self.sort = sort or self.sort
        self.needle = self.needle if needle is None else needle
        key = (view, self.sort, self.needle)
        if key == self._shown:
            return False
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
        return True

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Clicking a column header sorts by it (rank, share, Δ1d, Δ7d)."""
        by_label = {"#": "rank", "share": "share", "Δ1d": "d1", "Δ7d": "d7"}
        sort = by_label.get(str(event.label))
        if sort and self.view is not None:
            self.show(self.view, sort=sort)
