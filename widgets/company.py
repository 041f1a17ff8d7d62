"""The company screen: one company's price over a range beside its maker's OpenRouter token share on the same
date axis, its models' launch markers, key stats and its models. `escape` returns to the dashboard as it was.

Data comes from the DataFeed in a worker thread (feed.company_history) and is turned into an immutable
CompanyView there; the screen only draws views. A range switch re-reads only that range (index lookups).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Static

from monitor.history import RANGE_LABELS, RANGES
from monitor.text import fmt_big, fmt_pct, fmt_pp, fmt_price, fmt_share, safe_text, truncate
from widgets.charts import Axis, ChartPane, Marker, PriceSeries, ShareSeries, price_chart, share_chart, volume_chart
from widgets.footer import NARROW, KeyFooter
from widgets.keys import DRILL_BINDINGS

if TYPE_CHECKING:
    from monitor.dashboard import Dashboard
    from monitor.history import CompanyHistory


@dataclass(frozen=True)
class ModelRow:
    key: str
    name: str
    rank: int | None
    tokens: int | None
    share: float | None
    d7: float | None


@dataclass(frozen=True)
class CompanyView:
    symbol: str
    name: str
    currency: str
    range: str
    start: str
    end: str
    first_date: str | None  # the first date with a price on the chart
    axis: Axis
    price: PriceSeries | None
    has_ohlc: bool
    has_volume: bool
    share: ShareSeries
    share_caption: str
    markers: tuple[Marker, ...]
    launches: tuple[tuple[str, str, str], ...]  # (date, model, source)
    stats: tuple[tuple[str, str], ...]
    models: tuple[ModelRow, ...]
    notes: tuple[str, ...]
    attribution: str


def short(slug: str) -> str:
    from widgets.viewmodels import short_model

    return short_model(slug)


def marker_label(slug: str) -> str:
    """`minimax/minimax-m2.5-20260211` -> `m2.5`: the maker is the screen's, so its name is left off."""
    author, _, _ = slug.partition("/")
    name = short(slug)
    return name[len(author) + 1 :] if name.startswith(author + "-") and len(name) > len(author) + 1 else name


def company_view(history: CompanyHistory, dashboard: Dashboard | None) -> CompanyView:
    """CompanyHistory (+ the dashboard's latest numbers for stats and models) -> the view. Runs in a worker."""
    from monitor.history import GAP_SECONDS, INTRADAY, segments

    intraday = history.range in INTRADAY and not history.intraday.is_empty()
    day_x: dict[date, float] = {}
    if intraday:
        stamps = history.intraday["ts"].to_list()
        days = history.intraday["day"].to_list()
        times = history.intraday["time"].to_list()
        multi_day = days[0] != days[-1]
        labels = (
            tuple(f"{day[5:]} {time}" for day, time in zip(days, times, strict=True)) if multi_day else tuple(times)
        )
        for i, day in enumerate(days):
            day_x.setdefault(date.fromisoformat(day), float(i))
        breaks = tuple(
            i for i in range(1, len(stamps)) if days[i] != days[i - 1] or stamps[i] - stamps[i - 1] > GAP_SECONDS
        )
        axis = Axis(0.0, float(max(1, len(stamps) - 1)), intraday=True, labels=labels)
        volumes = tuple(history.intraday["volume"].to_list())
        price: PriceSeries | None = PriceSeries(
            xs=tuple(float(i) for i in range(len(stamps))),
            close=tuple(history.intraday["price"].to_list()),
            volume=volumes if any(v is not None for v in volumes) else (),
            breaks=breaks,
        )
        has_ohlc, has_volume = False, any(v is not None for v in volumes)
    else:
        left = history.start.toordinal()
        axis = Axis(float(left), float(max(history.end.toordinal(), left + 1)))
        bars = history.bars.filter(history.bars["close"].is_not_null()) if history.bars.height else history.bars
        price = None
        if bars.height:
            price = PriceSeries(
                xs=tuple(float(d.toordinal()) for d in bars["date"].to_list()),
                close=tuple(bars["close"].to_list()),
                open=tuple(bars["open"].to_list()) if history.has_ohlc else (),
                high=tuple(bars["high"].to_list()) if history.has_ohlc else (),
                low=tuple(bars["low"].to_list()) if history.has_ohlc else (),
                volume=tuple(bars["volume"].to_list()) if history.has_volume else (),
            )
        has_ohlc, has_volume = history.has_ohlc, history.has_volume
    if price is not None and history.ipo_price is not None and history.range not in INTRADAY:
        price = replace(price, reference=history.ipo_price, reference_label=f"IPO {fmt_price(history.ipo_price)}")

    def x_of(day: date) -> float | None:
        if intraday:
            return day_x.get(day)
        return float(day.toordinal())

    share_days: list[date] = history.share["date"].to_list()
    runs = []
    for run in segments(share_days, history.share["share"].to_list()):
        points = tuple((x, v) for d, v in run if (x := x_of(d)) is not None)
        if points:
            runs.append(points)
    weekly = tuple(
        (x, v)
        for w, v in history.weekly.select("week", "share").iter_rows()
        if v is not None and (x := x_of(w)) is not None and axis.left <= x <= axis.right
    )
    markers = tuple(
        Marker(x, marker_label(launch.model)) for launch in history.launches if (x := x_of(launch.day)) is not None
    )
    stored = len(share_days)
    absent = sum(1 for v in history.share["share"].to_list() if v is None)
    caption_parts = []
    if stored:
        caption_parts.append(f"daily ● {stored} day{'s' if stored != 1 else ''}")
    if absent:
        caption_parts.append(f"{absent} not in top 50")
    if weekly:
        caption_parts.append("weekly ◆ before")
    if not history.authors:
        caption_parts = ["no OpenRouter maker configured for this company"]
    elif not stored and not weekly:
        caption_parts.append("no token data on this range")
    else:
        caption_parts.append("gap: not stored/ranked")
    return CompanyView(
        symbol=history.symbol,
        name=history.name,
        currency=history.currency,
        range=history.range,
        start=history.start.isoformat(),
        end=history.end.isoformat(),
        first_date=history.first_date.isoformat() if history.first_date else None,
        axis=axis,
        price=price,
        has_ohlc=has_ohlc,
        has_volume=has_volume,
        share=ShareSeries(runs=tuple(runs), weekly=weekly),
        share_caption=" · ".join(caption_parts),
        markers=markers,
        launches=tuple((launch.day.isoformat(), launch.model, launch.source) for launch in history.launches),
        stats=_stats(history, dashboard),
        models=_models(history, dashboard),
        notes=history.notes,
        attribution=history.attribution,
    )


def _stats(history: CompanyHistory, dashboard: Dashboard | None) -> tuple[tuple[str, str], ...]:
    row: dict[str, Any] = {}
    if dashboard is not None:
        rows = dashboard.companies.filter(dashboard.companies["symbol"] == history.symbol).to_dicts()
        row = rows[0] if rows else {}
    cur = history.currency
    price = row.get("price", history.last_close)
    stats = [
        ("last", f"{cur} {fmt_price(price)}" + (f" ({row['price_date']})" if row.get("price_date") else "")),
        ("change", f"{row['change']:+,.2f} {fmt_pct(row.get('change_pct'))}" if row.get("change") is not None else "—"),
        ("day range", _span(history.day_range) if history.day_range else "— (no high/low stored)"),
        ("52w range", _span(history.range_52w) if history.range_52w else "—"),
        ("mcap", fmt_big(row.get("market_cap"), cur)),
    ]
    display = row.get("display_currency")
    if display and display != cur:
        stats.append((f"mcap {display}", fmt_big(row.get("market_cap_display"), display)))
    ipo = "—"
    if history.ipo_price and history.ipo_date:
        ipo = f"{fmt_price(history.ipo_price)} ({history.ipo_date.isoformat()})"
    stats += [
        ("IPO", ipo),
        ("vs IPO", fmt_pct(row.get("move_ipo"))),
        ("1d · 5d", f"{fmt_pct(row.get('change_pct'))} · {fmt_pct(row.get('move_5d'))}"),
        ("1m · YTD", f"{fmt_pct(row.get('move_1m'))} · {fmt_pct(row.get('move_ytd'))}"),
        ("tokens", f"{fmt_share(row.get('token_share'))} Δ7d {fmt_pp(row.get('token_share_change_7d'))}"),
    ]
    return tuple(stats)


def _span(pair: tuple[float, float]) -> str:
    return f"{fmt_price(pair[0])} – {fmt_price(pair[1])}"


def _demo(view: CompanyView) -> bool:
    return any("demo" in note for note in view.notes)


def _models(history: CompanyHistory, dashboard: Dashboard | None) -> tuple[ModelRow, ...]:
    if dashboard is None or not history.authors or dashboard.models.is_empty():
        return ()
    models = dashboard.models.filter(dashboard.models["author"].is_in(list(history.authors)))
    return tuple(
        ModelRow(
            r["model_permaslug"], short(r["model_permaslug"]), r["rank"], r["total_tokens"], r["share"], r["d_share_7d"]
        )
        for r in models.iter_rows(named=True)
    )


def chart_draws(view: CompanyView, candles: bool) -> dict[str, tuple[object, Callable[[int, int], str]]]:
    """Each chart pane's (key, draw(width, height)): the key changes exactly when the drawing would."""
    draws: dict[str, tuple[object, Callable[[int, int], str]]] = {}
    axis, markers, shares = view.axis, view.markers, view.share
    if view.price is not None:
        series, with_candles = view.price, candles and view.has_ohlc
        draws["#price"] = (
            (view, with_candles),
            lambda w, h: price_chart(series, axis, markers, w, h, with_candles),
        )
        draws["#volume"] = (view, lambda w, h: volume_chart(series, axis, w, h))
    draws["#share"] = (view, lambda w, h: share_chart(shares, axis, markers, w, h))
    return draws


def range_bar(current: str) -> Text:
    text = Text()
    for i, rng in enumerate(RANGES, start=1):
        label = RANGE_LABELS.get(rng, rng)
        if rng == current:
            text.append(f"[{i} {label}]", style="bold reverse")
        else:
            text.append(f" {i} {label} ", style="dim")
        text.append(" ")
    return text


COMPANY_BINDINGS: list[BindingType] = [
    *DRILL_BINDINGS,
    Binding("k", "candles", "Line/Candles", id="candles", tooltip="Line or candlesticks (needs OHLC bars)"),
    *(Binding(str(i), f"set_range({i - 1})", RANGE_LABELS.get(r, r), show=False) for i, r in enumerate(RANGES, 1)),
]


class CompanyScreen(Screen[None]):
    DRILL_DOWN = True  # the dashboard's panel keys are off here (DrillDownMixin.check_action)
    DEFAULT_CSS = """
    CompanyScreen { layout: vertical; }
    CompanyScreen #co-title { height: 2; padding: 0 1; }
    CompanyScreen #co-body { layout: horizontal; height: 1fr; }
    CompanyScreen #co-charts { width: 1fr; height: 100%; }
    CompanyScreen #co-side { width: 50; height: 100%; padding-left: 1; }
    CompanyScreen .drill-title { height: auto; color: $text-muted; text-style: bold; }
    CompanyScreen #price { height: 2fr; }
    CompanyScreen #volume { height: 5; }
    CompanyScreen #share { height: 1fr; }
    CompanyScreen #co-models { height: auto; max-height: 12; }
    CompanyScreen #co-launches, CompanyScreen #co-stats { height: auto; }
    CompanyScreen.-narrow #co-body { layout: vertical; overflow-y: auto; }
    CompanyScreen.-narrow #co-charts { width: 100%; height: auto; }
    CompanyScreen.-narrow #price { height: 9; }
    CompanyScreen.-narrow #share { height: 7; }
    CompanyScreen.-narrow #co-side { width: 100%; height: auto; padding-left: 0; }
    """

    BINDINGS = COMPANY_BINDINGS
    view: reactive[CompanyView | None] = reactive(None, init=False)
    candles: reactive[bool] = reactive(False, init=False)

    def __init__(self, symbol: str, rng: str = "IPO") -> None:
        super().__init__()
        self.symbol = symbol
        self.range = rng
        self._loads = 0
        self._models_shown: tuple[ModelRow, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="co-title")
        with Container(id="co-body"):
            with Vertical(id="co-charts"):
                yield Static("", id="price-title", classes="drill-title")
                yield ChartPane(id="price")
                yield Static("", id="volume-note", classes="drill-title")
                yield ChartPane(id="volume")
                yield Static("", id="share-title", classes="drill-title")
                yield ChartPane(id="share")
            with VerticalScroll(id="co-side"):
                yield Static("", id="co-stats")
                yield Static("", id="co-launches")
                yield Static("Models · latest token day · enter opens", classes="drill-title")
                yield DataTable(id="co-models", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one("#co-models", DataTable)
        for label, width in (("#", 3), ("model", 15), ("tokens", 7), ("share", 6), ("Δ7d", 7)):
            table.add_column(label, width=width, key=label)
        self.query_one("#co-title", Static).update(Text(f"{self.symbol} · loading…"))
        self.load()

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW, "-narrow")

    # -- data ------------------------------------------------------------------------------------------

    def load(self) -> None:
        self._loads += 1
        self._load_worker(self.range, self._loads)

    @work(thread=True, group="company", exit_on_error=False)
    def _load_worker(self, rng: str, seq: int) -> None:
        app: Any = self.app
        try:
            history = app.feed.company_history(self.symbol, rng)
            view = company_view(history, app.dashboard)
            # The charts are drawn here too, at the panes' current sizes, so the UI loop only shows text.
            for pane_id, (key, draw) in chart_draws(view, self.candles).items():
                self.query_one(pane_id, ChartPane).prepare(key, draw)
        except Exception as exc:  # the screen says so and keeps what it showed
            app.call_from_thread(app.notify, f"{self.symbol}: {exc}", severity="error", markup=False)
            return
        app.call_from_thread(self._apply, view, seq)

    def _apply(self, view: CompanyView, seq: int) -> None:
        if seq == self._loads:  # an older range's answer that arrived late is dropped
            self.view = view

    def watch_view(self) -> None:
        self._draw()

    def watch_candles(self) -> None:
        self._draw()

    def _draw(self) -> None:
        view = self.view
        if view is None:
            return
        title = Text()
        title.append(f"{safe_text(view.name)} {view.symbol}", style="bold")
        title.append(f" · {view.currency} · {view.start} … {view.end}", style="dim")
        title.append(f" · {'candles' if self.candles and view.has_ohlc else 'line'} (k)", style="dim")
        title.append("\n")
        title.append_text(range_bar(view.range))
        self.query_one("#co-title", Static).update(title)
        price_title = f"Price {view.currency} · " + ("intraday" if view.axis.intraday else "daily bars")
        notes = list(view.notes)
        if self.candles and not view.has_ohlc:
            notes.insert(0, "candles need OHLC bars")
        price_pane = self.query_one("#price", ChartPane)
        if view.price is None:
            price_title += " · no price bars on this range"
        price_pane.display = view.price is not None
        self.query_one("#price-title", Static).update(Text(" · ".join([price_title, *notes]), style="bold"))
        draws = chart_draws(view, self.candles)
        if "#price" in draws:
            price_pane.show(*draws["#price"])
        volume = self.query_one("#volume", ChartPane)
        volume.display = view.has_volume and view.price is not None
        self.query_one("#volume-note", Static).update(
            "Volume"
            if volume.display
            else "Volume · none stored" + (" (demo: daily closes only)" if _demo(view) else "")
        )
        if volume.display and "#volume" in draws:
            volume.show(*draws["#volume"])
        share_pane = self.query_one("#share", ChartPane)
        has_share = bool(view.share.runs or view.share.weekly)
        share_pane.display = has_share
        self.query_one("#share-title", Static).update(
            Text(f"Maker token share · OpenRouter UTC day D = trading day D · {view.share_caption}", style="bold")
        )
        if has_share:
            share_pane.show(*draws["#share"])
        stats = Text()
        stats.append("Key stats\n", style="bold")
        for label, value in view.stats:
            stats.append(f"{label:<10}", style="dim")
            stats.append(f"{value}\n")
        self.query_one("#co-stats", Static).update(stats)
        launches = Text()
        launches.append(f"Launches on this range ({len(view.launches)})\n", style="bold")
        for day, model, source in view.launches:
            launches.append(f"│ {day} ", style="magenta")
            launches.append(truncate(short(model), 20))
            launches.append(f" {source}\n", style="dim")
        if not view.launches:
            launches.append("none: a model launches on its first stored day after one without it\n", style="dim")
        self.query_one("#co-launches", Static).update(launches)
        if view.models == self._models_shown:
            return  # the models do not change with the range: no table rebuild (and no relayout) on a switch
        self._models_shown = view.models
        table = self.query_one("#co-models", DataTable)
        table.clear()
        for m in view.models:
            table.add_row(
                Text(str(m.rank) if m.rank else "—", justify="right"),
                Text(truncate(safe_text(m.name), 15)),
                Text(fmt_big(m.tokens), justify="right"),
                Text(fmt_share(m.share), justify="right"),
                Text(fmt_pp(m.d7), justify="right"),
                key=m.key,
            )

    # -- keys ------------------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_set_range(self, index: int) -> None:
        rng = RANGES[max(0, min(len(RANGES) - 1, index))]
        if rng != self.range:
            self.range = rng
            self.load()

    def action_shift_range(self, step: int) -> None:
        self.action_set_range(RANGES.index(self.range) + step)

    def action_candles(self) -> None:
        self.candles = not self.candles

    @on(DataTable.RowSelected, "#co-models")
    def _open_model(self, event: DataTable.RowSelected) -> None:
        from widgets.model import ModelScreen

        event.stop()
        if event.row_key.value:
            self.app.push_screen(ModelScreen(event.row_key.value))
