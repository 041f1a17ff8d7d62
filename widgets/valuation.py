"""The valuation view (key `v`): per company with fundamentals, and per private reference, the market cap, the
12-month revenue and P/S, the latest ARR and P/ARR, the maker's token share over the last 7 stored days, its
OpenRouter spend (share, newest day, run-rate; `~` marks estimates) and the revenue the cap needs at the reference
multiple; the highlighted row's sources, dates and spend notes below the table; and a scatter of token share (x)
against market cap (y, log).

Data comes from the DataFeed in a worker thread (feed.valuation, monitor/valuation.py) and is turned into an
immutable ValuationView there; the screen only draws views. `s` sorts, `escape` returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual_plotext.plot import Plot

from monitor.text import fmt_big, fmt_share, safe_text, truncate
from widgets.charts import Y_LABEL, ChartPane
from widgets.footer import NARROW, KeyFooter

if TYPE_CHECKING:
    from monitor.valuation import Valuation

SORTS = ("cap", "ps", "p_arr", "tokens", "name")


@dataclass(frozen=True)
class ValRow:
    key: str
    name: str
    kind: str  # "company" or "reference"
    cap: float | None  # display currency
    cap_usd: float | None
    revenue: float | None  # USD, 12-month basis
    basis: str | None
    ps: float | None
    arr: float | None
    arr_as_of: str | None
    arr_kind: str  # ARR, API-ARR
    p_arr: float | None
    tokens: float | None
    cap_per_pp: float | None
    stale: tuple[str, ...]
    detail: tuple[str, ...]
    spend_share: float | None = None  # 7d, of all makers' known OpenRouter spend
    spend_day: float | None = None  # USD on the maker's newest day with known spend
    spend_kind: str | None = None  # reported, estimate, estimate+reported
    run_rate: float | None = None  # USD a year (an estimate: the window's mean day x 365)
    estimated: bool = False  # the 7d figures include estimates
    revenue_needed: float | None = None  # USD: cap at the reference P/ARR


@dataclass(frozen=True)
class ValuationView:
    display_currency: str
    rows: tuple[ValRow, ...]
    notes: tuple[str, ...]
    as_of: str
    token_days: tuple[str, ...]
    demo: bool


def fmt_multiple(value: float | None) -> str:
    from monitor.valuation import fmt_multiple as fmt

    return fmt(value)


def valuation_view(val: Valuation) -> ValuationView:
    """Valuation -> the view. Runs in a worker."""
    from monitor.valuation import HINT, source_line

    rows: list[ValRow] = []
    for r in val.rows.iter_rows(named=True):
        stale = tuple(n for n, flag in (("revenue", r["revenue_stale"]), ("ARR", r["arr_stale"])) if flag)
        detail = [source_line(s) for s in val.sources.get(r["symbol"], [])]
        if r["revenue_basis"]:
            detail.insert(0, f"revenue basis {r['revenue_basis']} ({r['revenue_age_months']:.0f} months old)")
        if not r["has_fundamentals"]:
            detail.append(HINT)
        if stale:
            detail.append(f"stale (> 15 months): {', '.join(stale)}")
        rows.append(
            ValRow(
                key=r["symbol"],
                name=r["name"],
                kind="company",
                cap=r["market_cap_display"],
                cap_usd=r["market_cap_usd"],
                revenue=r["revenue_12m_usd"],
                basis=r["revenue_basis"],
                ps=r["ps"],
                arr=r["arr_usd"],
                arr_as_of=r["arr_as_of"],
                arr_kind=r["arr_kind"] or "ARR",
                p_arr=r["p_arr"],
                tokens=r["token_share_7d"],
                cap_per_pp=r["cap_per_pp_usd"],
                stale=stale,
                detail=(r["shares_note"],) * bool(r["shares_note"])
                + tuple(detail)
                + _spend_detail(val, r["name"], r["spend_coverage_7d"]),
                spend_share=r["spend_share_7d"],
                spend_day=r["spend_usd_day"],
                spend_kind=r["spend_kind"],
                run_rate=r["run_rate_usd"],
                estimated=bool(r["spend_7d_is_estimate"]),
                revenue_needed=r["revenue_needed_usd"],
            )
        )
    for r in val.references.iter_rows(named=True):
        detail = ["private reference: valuation, annualised revenue", *map(source_line, val.sources.get(r["name"], []))]
        rows.append(
            ValRow(
                key="ref:" + r["name"],
                name=r["name"] + " (ref)",
                kind="reference",
                cap=r["valuation_display"],
                cap_usd=r["valuation_usd"],
                revenue=None,
                basis=None,
                ps=None,
                arr=r["arr_usd"],
                arr_as_of=r["as_of"],
                arr_kind="ARR",
                p_arr=r["p_arr"],
                tokens=r["token_share_7d"],
                cap_per_pp=None,
                stale=("valuation",) if r["stale"] else (),
                detail=tuple(detail) + _spend_detail(val, r["name"], r["spend_coverage_7d"]),
                spend_share=r["spend_share_7d"],
                estimated=bool(r["spend_7d_is_estimate"]),
            )
        )
    days = val.token_days
    notes = [f"fx {n}" for n in val.fx_notes]
    if days:
        notes.append(f"token share 7d: OpenRouter {days[0]} … {days[-1]} ({len(days)} stored days, token-weighted)")
    if val.spend_days:
        notes.append(
            f"spend: OpenRouter {val.spend_days[0]} … {val.spend_days[-1]} ({len(val.spend_days)} days); "
            "~ = includes estimates (tokens x that day's list price), r = reported by OpenRouter"
        )
    if val.reference_multiple:
        name, multiple = val.reference_multiple
        notes.append(f"need rev = cap / {name}'s P/ARR {fmt_multiple(multiple)}")
    return ValuationView(val.display_currency, tuple(rows), tuple(notes), val.as_of, days, val.is_demo)


def _spend_detail(val: Valuation, name: str, coverage: float | None = None) -> tuple[str, ...]:
    """The row's spend notes; `coverage`, the share of its 7-day tokens whose spend is known, says how far its
    spend share can be read beside its token share."""
    lines = [n[len(name) + 2 :] for n in val.spend_notes if n.startswith(name + ": ")]
    if coverage is not None:
        lines.insert(0, f"spend share counts known spend only: {fmt_share(coverage)} of its 7-day tokens are priced")
    shown = [line for line in lines if not line.startswith("unknown")]
    unknown = [line.removeprefix("unknown spend, ") for line in lines if line.startswith("unknown")]
    if unknown:
        more = f" (+{len(unknown) - 2} more)" if len(unknown) > 2 else ""
        shown.append("unknown spend — " + "; ".join(unknown[:2]) + more)
    return tuple(shown)


def _money(value: float | None, estimate: bool, reported: bool = False) -> str:
    if value is None:
        return "—"
    return ("~" if estimate else "") + fmt_big(value) + (" r" if reported and not estimate else "")


def sort_rows(rows: tuple[ValRow, ...], by: str) -> list[ValRow]:
    """Descending by the figure (missing last); by name ascending."""
    if by == "name":
        return sorted(rows, key=lambda r: r.name.lower())
    attr = {"cap": "cap_usd", "ps": "ps", "p_arr": "p_arr", "tokens": "tokens"}[by]
    return sorted(rows, key=lambda r: (getattr(r, attr) is None, -(getattr(r, attr) or 0.0)))


def scatter_chart(rows: tuple[ValRow, ...], width: int, height: int) -> str:
    """Token share 7d (x, percent) against market cap (y, USD, log10), one labelled point per row with both."""
    points = [(r.tokens * 100, math.log10(r.cap_usd), r.name) for r in rows if r.tokens and r.cap_usd]
    if not points:
        return ""
    plot = Plot()
    plot.clear_figure()
    plot.plotsize(width, height)
    plot._set_size(width, height)
    plot.theme("clear")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    high_x = max(xs) * 1.25 or 1.0
    low_y, high_y = math.floor(min(ys)), math.ceil(max(ys))
    if high_y == low_y:
        high_y += 1
    plot.xlim(0, high_x)
    plot.ylim(low_y - 0.1, high_y + 0.1)
    plot.yticks(list(range(low_y, high_y + 1)), [_cap_label(10.0**t).rjust(Y_LABEL) for t in range(low_y, high_y + 1)])
    step = max(1, round(high_x / 4))
    plot.xticks([float(t) for t in range(0, int(high_x) + 1, step)], [f"{t}%" for t in range(0, int(high_x) + 1, step)])
    plot.scatter(xs, ys, marker="●", color="cyan")
    for x, y, name in points:
        plot.text(
            name.replace(" (ref)", "*"), x + high_x / max(1, width - Y_LABEL) * 2, y, color="yellow", alignment="left"
        )
    return str(plot.build())


def _cap_label(value: float) -> str:
    return "US$" + fmt_big(value)


VALUATION_BINDINGS: list[BindingType] = [
    Binding("escape", "back", "Back", id="back", tooltip="Back to the dashboard, as it was"),
    Binding("s", "sort_by", "Sort", id="sort", tooltip="Sort by cap, P/S, P/ARR, token share or name"),
]


class ValuationScreen(Screen[None]):
    DRILL_DOWN = True  # the dashboard's panel keys are off here (DrillDownMixin.check_action)
    DEFAULT_CSS = """
    ValuationScreen { layout: vertical; }
    ValuationScreen #val-title { height: 1; padding: 0 1; }
    ValuationScreen #val-table { height: auto; max-height: 12; }
    ValuationScreen #val-detail { height: auto; max-height: 7; padding: 0 1; color: $text-muted; }
    ValuationScreen #val-chart-title { height: 1; padding: 0 1; text-style: bold; color: $text-muted; }
    ValuationScreen #val-scatter { height: 1fr; min-height: 6; }
    """

    BINDINGS = VALUATION_BINDINGS
    view: reactive[ValuationView | None] = reactive(None, init=False)
    sort: reactive[str] = reactive("cap", init=False)

    def __init__(self) -> None:
        super().__init__()
        self._narrow: bool | None = None
        self._valuation: Valuation | None = None

    def compose(self) -> ComposeResult:
        yield Static("Valuation · loading…", id="val-title")
        yield DataTable(id="val-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="val-detail")
        yield Static("Token share 7d (x) vs market cap (y, log) · * private reference", id="val-chart-title")
        yield ChartPane(id="val-scatter")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.load()

    def on_resize(self) -> None:
        narrow = self.size.width < NARROW
        if narrow != self._narrow:
            self._narrow = narrow
            self._draw()

    def load(self) -> None:
        self._load_worker()

    @work(thread=True, group="valuation", exclusive=True, exit_on_error=False)
    def _load_worker(self) -> None:
        app: Any = self.app
        try:
            dashboard = app.dashboard
            if dashboard is None:
                dashboard = app.feed.first_dashboard()
            val = app.feed.valuation(dashboard)
            view = valuation_view(val)
            pane = self.query_one("#val-scatter", ChartPane)
            pane.prepare(view, lambda w, h: scatter_chart(view.rows, w, h))
        except Exception as exc:  # the screen says so and keeps what it showed
            app.call_from_thread(app.notify, f"valuation: {exc}", severity="error", markup=False)
            return
        app.call_from_thread(setattr, self, "_valuation", val)
        app.call_from_thread(setattr, self, "view", view)

    def export_view(self, svg: str) -> None:
        """The export key here: the valuation view as JSON, CSV, Markdown and the screen (SVG)."""
        if self._valuation is None:
            self.notify("nothing to export yet", severity="warning")
            return
        self._export_worker(self._valuation, svg)

    @work(thread=True, group="valuation-export", exit_on_error=False)
    def _export_worker(self, val: Valuation, svg: str) -> None:
        from pathlib import Path

        from monitor.valuation import ValuationError, export_folder

        app: Any = self.app
        export_dir = app.config.ui.export_dir
        root = Path(export_dir).expanduser() if export_dir else Path.home() / "tokentape-exports"
        try:
            folder = export_folder(val, root, svg)
        except ValuationError as exc:
            app._from_worker(app.notify, str(exc), severity="error", timeout=10, markup=False)
            return
        app.last_export = folder
        app._from_worker(app.notify, f"exported the valuation view to {folder}", timeout=8, markup=False)

    def watch_view(self) -> None:
        self._draw()

    def watch_sort(self) -> None:
        self._draw()

    def _columns(self) -> list[tuple[str, int]]:
        display = self.view.display_currency if self.view else ""
        cols = [("company", 18), (f"cap {display}", 8), ("rev 12m $", 9), ("P/S", 7), ("ARR $", 8)]
        cols += [("ARR as of", 10), ("P/ARR", 12), ("tok 7d", 6), ("$/pp", 7)]
        cols += [("spend 7d", 8), ("spend $ day", 11), ("run-rate $", 10), ("need rev $", 10)]
        if self._narrow:
            keep = {"company", f"cap {display}", "rev 12m $", "P/S", "ARR $", "P/ARR", "tok 7d"}
            cols = [
                (label, 15 if label == "company" else 9 if label == "P/ARR" else w)
                for label, w in cols
                if label in keep
            ]
        return cols

    def _draw(self) -> None:
        view = self.view
        if view is None:
            return
        title = Text()
        title.append("Valuation", style="bold")
        title.append(
            f" · {view.display_currency} · ages to {view.as_of} · sort {self.sort} (s) · escape back", style="dim"
        )
        if view.demo:
            title.append(" · DEMO: bundled reported fundamentals", style="bold yellow")
        self.query_one("#val-title", Static).update(title)
        table = self.query_one("#val-table", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        columns = self._columns()
        labels = [label for label, _ in columns]
        for label, width in columns:
            table.add_column(label, width=width, key=label)
        for row in sort_rows(view.rows, self.sort):
            cells = {
                "company": Text(truncate(safe_text(row.name), 18), style="italic" if row.kind == "reference" else ""),
                labels[1]: Text(fmt_big(row.cap), justify="right"),
                "rev 12m $": Text(fmt_big(row.revenue) + ("!" if "revenue" in row.stale else ""), justify="right"),
                "P/S": Text(fmt_multiple(row.ps), justify="right"),
                "ARR $": Text(fmt_big(row.arr), justify="right"),
                "ARR as of": Text(row.arr_as_of or "—"),
                "P/ARR": Text(_p_arr(row), justify="right"),
                "tok 7d": Text(fmt_share(row.tokens), justify="right"),
                "$/pp": Text(fmt_big(row.cap_per_pp), justify="right"),
                "spend 7d": Text(
                    ("~" if row.estimated and row.spend_share is not None else "") + fmt_share(row.spend_share),
                    justify="right",
                ),
                "spend $ day": Text(
                    _money(row.spend_day, (row.spend_kind or "reported") != "reported", reported=True),
                    justify="right",
                ),
                "run-rate $": Text(_money(row.run_rate, True), justify="right"),
                "need rev $": Text(fmt_big(row.revenue_needed), justify="right"),
            }
            table.add_row(*(cells[label] for label in labels), key=row.key)
        if view.rows:
            table.move_cursor(row=min(max(cursor, 0), len(view.rows) - 1))
        self._show_detail()
        self.query_one("#val-scatter", ChartPane).show(view, lambda w, h: scatter_chart(view.rows, w, h))

    def _show_detail(self) -> None:
        view = self.view
        if view is None:
            return
        table = self.query_one("#val-table", DataTable)
        rows = sort_rows(view.rows, self.sort)
        text = Text()
        if rows and 0 <= table.cursor_row < len(rows):
            row = rows[table.cursor_row]
            text.append(safe_text(row.name), style="bold")
            text.append(": ")
            text.append(" │ ".join(safe_text(d) for d in row.detail) or "—")
        if view.notes:
            text.append("\n" + " · ".join(view.notes))
        self.query_one("#val-detail", Static).update(text)

    @on(DataTable.RowHighlighted, "#val-table")
    def _highlighted(self) -> None:
        self._show_detail()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_sort_by(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]


def _p_arr(row: ValRow) -> str:
    text = fmt_multiple(row.p_arr)
    return text + (" API" if row.arr_kind == "API-ARR" and row.p_arr is not None else "")
