"""The Textual dashboard.

Data flow: a job (APScheduler, on this loop) stores rows and its listener posts `PollFinished`; the
app asks a single reload worker (a thread: SQLite and polars never run on the UI loop) to re-read only
the tables that changed; the worker posts `DashboardReady`; the app turns the Dashboard into immutable
views and hands each widget its view. A widget given the view it already shows does nothing, so one
new quote re-renders one card and the moves table, not the screen. Reload requests that arrive while
a reload runs are merged into the next one: bursts collapse to the newest data.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, HorizontalScroll, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Input, Static

from monitor import screen_cache
from monitor.config import Config
from monitor.markets import HKT, market_state
from widgets.cards import CompanyCard
from widgets.help import HelpScreen, render_help
from widgets.leaderboard import SORTS, Leaderboard
from widgets.peer_moves import PeerMoves
from widgets.share_chart import ShareChart
from widgets.status import MarketHeader, StatusLine
from widgets.views import ScreenViews, StatusView

if TYPE_CHECKING:  # polars and the store load in a worker, after the first frame (see __init__)
    from monitor.dashboard import Dashboard, DashboardLoader
    from storage import Store

log = logging.getLogger("tokentape.app")
NARROW = 120


class PollFinished(Message):
    """A job finished; `result.changed` names the tables whose rows changed."""

    def __init__(self, result) -> None:
        super().__init__()
        self.result = result


class DashboardReady(Message):
    """Fresh numbers for every panel. Only the newest one matters, so a queued one is replaced."""

    def __init__(self, dashboard: Dashboard, views: ScreenViews) -> None:
        super().__init__()
        self.dashboard = dashboard
        self.views = views

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DashboardReady)


class TokentapeApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "tokentape"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("r", "refresh", "Refresh", id="refresh", tooltip="Poll every upstream now"),
        Binding("e", "export", "Export", id="export", tooltip="Write the screen (SVG), CSV and JSON to a folder"),
        Binding("c", "currency", "Currency", id="currency", tooltip="Switch the display currency"),
        Binding("m", "view", "Model/Maker", id="view", tooltip="Leaderboard by model or by maker"),
        Binding("s", "sort", "Sort", id="sort", tooltip="Sort the leaderboard by rank, share, Δ1d or Δ7d"),
        Binding("tab", "next_panel", "Next panel", id="next_panel", tooltip="Move to the next panel"),
        Binding("slash", "filter", "Filter", id="filter", tooltip="Filter the leaderboard by model or maker"),
        Binding("question_mark", "help", "Help", id="help", tooltip="Keys, config and log file"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit tokentape"),
    ]

    def __init__(self, config: Config, store: Store | None = None, mode: str = "live", log_file: Path | None = None,
                 clock: Callable[[], float] = time.time, transport=None,
                 prepare: Callable[[], tuple] | None = None, initial: tuple | None = None,
                 cached: ScreenViews | None = None, cache_file: Path | None = None):
        """The data comes one of three ways: `store` (tests); `initial`, a (store, loader, dashboard) the
        CLI computed while Textual imported; or `prepare`, a callable returning that tuple, run in a
        worker after the first frame, which shows `cached` (the last screen) meanwhile."""
        super().__init__()
        self.config = config
        self.store = store
        self.mode = mode  # live | read-only | demo
        self.log_file = log_file
        self.clock = clock
        self.transport = transport
        self.prepare = prepare
        self.prepare_error: Exception | None = None
        self.initial = initial
        self.cached = cached
        self.cache_file = cache_file
        self.loader: DashboardLoader | None = None
        if store is not None:
            from monitor import dashboard  # polars: only when a store is given directly (tests)

            self.loader = dashboard.DashboardLoader(store, config)
        self.dashboard: Dashboard | None = None
        self.views: ScreenViews | None = None
        self.currency = config.display_currency
        self.board_mode = "model"
        self.collector = None
        self.scheduler = None
        self.last_export: Path | None = None
        self._reload_lock = threading.Lock()
        self._pending_all = False
        self._pending_tables: set[str] = set()
        self._reload_running = False
        self._seen_poll: int | None = None
        self._watched_markets = sorted({c.market for c in config.companies})  # for the 1 s clock tick
        # SSH-friendly: nothing moves unless data changed.
        self.animation_level = "none"

    # -- layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield MarketHeader(id="header")
        with VerticalScroll(id="body"):
            with HorizontalScroll(id="cards"):
                for company in self.config.companies:
                    if company.group != "index":
                        yield CompanyCard(company.symbol, id=_card_id(company.symbol))
            with Horizontal(id="middle"):
                with Vertical(id="board-pane"):
                    yield Static("", id="board-title", classes="pane-title")
                    yield Input(placeholder="filter models and makers (esc clears)", id="filter")
                    yield Leaderboard(id="board")
                with Vertical(id="chart-pane"):
                    yield Static("Token share by maker · OpenRouter", id="chart-title", classes="pane-title")
                    yield ShareChart(id="chart")
            with Vertical(id="moves-pane"):
                yield Static("", id="moves-title", classes="pane-title")
                yield PeerMoves(id="moves")
        yield StatusLine(id="status")
        yield Footer()

    async def on_mount(self) -> None:
        self.set_keymap(self.config.keys)
        self.query_one("#filter", Input).display = False
        self.on_resize()
        self.tick_clock()
        self.set_interval(1.0, self.tick_clock)
        # Ages on cards and in the status line are shown in whole minutes: a 30 s refresh is enough.
        self.set_interval(30.0, self.tick_ages)
        if self.initial is not None:
            self.store, self.loader, dashboard = self.initial
            self.initial = None
            self.show_dashboard(dashboard, self._views_for(dashboard))  # the first frame is the full screen
            self._start(reload=False)
        elif self.prepare is not None:
            if self.cached is not None:
                age = datetime.fromtimestamp(self.cached.made_at, UTC).astimezone(HKT).strftime("%H:%M HKT")
                note = f"cached screen from {age} · reading the database…"
                self.show_views(ScreenViews(**{**self.cached.__dict__, "status": StatusView((), note)}))
            # Start the data path once the cached frame is out: importing polars holds the GIL, and
            # doing it while Textual paints measured slower for both.
            if self.cached is not None:
                self.set_timer(0.25, self._prepare_worker)
            else:
                self.call_after_refresh(self._prepare_worker)
        else:
            self._start()

    def _from_worker(self, callback: Callable, *args, **kwargs) -> None:
        """Call into the app from a worker thread, unless the app has stopped meanwhile (thread
        workers cannot be cancelled, so they may finish during shutdown)."""
        if not self.is_running:
            return
        try:
            self.call_from_thread(callback, *args, **kwargs)
        except RuntimeError:  # the app stopped between the check and the call
            pass

    @work(thread=True, group="prepare", exit_on_error=False)
    def _prepare_worker(self) -> None:
        try:
            store, loader, dashboard = self.prepare()
        except Exception as exc:  # e.g. the database vanished: the CLI prints one line and exits 2
            self.prepare_error = exc
            self._from_worker(self.exit, None, 2)
            return
        self.store, self.loader = store, loader
        self.post_message(DashboardReady(dashboard, self._views_for(dashboard)))
        self._from_worker(self._start, False)

    def _start(self, reload: bool = True) -> None:
        """Everything that needs the store: the first read (unless prepared), jobs or the read-only watcher."""
        if reload:
            self.request_reload()
        if self.mode == "live":
            from monitor.jobs import Collector, build_scheduler

            self.collector = Collector(self.config, self.store, transport=self.transport)
            self.collector.listeners.append(lambda result: self.post_message(PollFinished(result)))
            self.scheduler = build_scheduler(self.collector)
            self.scheduler.start()
        elif self.mode == "read-only":
            self.set_interval(self.config.ui.read_only_check_seconds, self.check_for_new_rows)

    async def on_unmount(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        if self.collector is not None:
            await self.collector.aclose()

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW, "-narrow")
        self.query_one(Leaderboard).set_compact(self.size.width < NARROW)

    # -- data --------------------------------------------------------------------------------------

    def request_reload(self, tables: set[str] | frozenset[str] | None = None) -> None:
        """Re-read `tables` (None: everything) off the UI loop; merged with any reload already queued."""
        if self.loader is None:
            return  # still preparing: the prepared dashboard will be the newest anyway
        with self._reload_lock:
            if tables is None:
                self._pending_all = True
            else:
                self._pending_tables |= set(tables)
            if self._reload_running:
                return
            self._reload_running = True
        self._reload_worker()

    @work(thread=True, group="reload", exit_on_error=False)
    def _reload_worker(self) -> None:
        first = True
        while True:
            with self._reload_lock:
                if not first and not self._pending_all and not self._pending_tables:
                    self._reload_running = False
                    return
                tables = None if self._pending_all else set(self._pending_tables)
                self._pending_all, self._pending_tables = False, set()
            first = False
            try:
                dashboard = self.loader.load(tables, self.currency)
                views = self._views_for(dashboard)
            except Exception as exc:  # keep the last good screen; say what went wrong
                log.exception("reload failed")
                self._from_worker(self.notify, f"could not read the database: {exc}", severity="error")
                continue
            self.post_message(DashboardReady(dashboard, views))

    @on(PollFinished)
    def on_poll_finished(self, message: PollFinished) -> None:
        # polls always changed (the status line); data tables only when rows changed.
        self.request_reload(message.result.changed | {"polls"})

    @on(DashboardReady)
    def on_dashboard_ready(self, message: DashboardReady) -> None:
        # An age refresh built from an older dashboard must not undo a newer reload that overtook it.
        if self.dashboard is not None and message.dashboard.generated_at < self.dashboard.generated_at:
            return
        self.show_dashboard(message.dashboard, message.views)

    def show_dashboard(self, dashboard: Dashboard, views: ScreenViews) -> None:
        if not self.is_running:
            return
        self.dashboard = dashboard
        self.show_views(views)
        if self.cache_file is not None:
            self._save_screen(views)

    @work(thread=True, group="cache", exclusive=True, exit_on_error=False)
    def _save_screen(self, views: ScreenViews) -> None:
        screen_cache.save(self.cache_file, views)

    def check_for_new_rows(self) -> None:
        """Read-only mode: a collector elsewhere records a poll after every write; a new poll id means news."""
        self._check_worker()

    @work(thread=True, group="watch", exclusive=True, exit_on_error=False)
    def _check_worker(self) -> None:
        newest = self.store.newest_poll_id()
        if newest != self._seen_poll:
            first = self._seen_poll is None
            self._seen_poll = newest
            if not first:
                self._from_worker(self.request_reload, None)

    # -- rendering ---------------------------------------------------------------------------------

    def _views_for(self, dashboard: Dashboard) -> ScreenViews:
        """Dashboard -> plain views (polars work): runs in worker threads, not on the UI loop."""
        from monitor import present

        return present.screen_views(dashboard, self.config, self.clock(), self.mode, self._next_runs(),
                                    str(self.store.path) if self.store is not None else "")

    def show_views(self, views: ScreenViews) -> None:
        """Hand each widget its view; widgets whose view did not change do nothing."""
        if not self.is_running:
            return  # a worker finished while the app was shutting down: its screen is gone
        self.views = views
        for card in views.cards:
            widget = self.query(f"#{_card_id(card.symbol)}")
            if widget:
                widget.first(CompanyCard).show(card)
        board = views.boards[self.board_mode]
        self.query_one("#board-title", Static).update(
            f"Tokens by {self.board_mode} · sort {self.query_one(Leaderboard).sort} · {board.caption}")
        self.query_one(Leaderboard).show(board)
        self.query_one(ShareChart).show(views.chart)
        self.query_one("#moves-title", Static).update(
            f"Peer moves · market cap in {views.moves.display_currency} · prices: Yahoo (Tencent fallback)")
        self.query_one(PeerMoves).show(views.moves)
        self.query_one(StatusLine).show(views.status)
        self.tick_clock()

    def _next_runs(self) -> dict[str, float | None]:
        if self.scheduler is None:
            return {}
        from monitor.jobs import next_runs

        return next_runs(self.scheduler)

    def tick_clock(self) -> None:
        if not self.is_running:
            return
        at = datetime.fromtimestamp(self.clock(), UTC)
        clock = at.astimezone(HKT).strftime("%a %m-%d %H:%M:%S HKT")
        markets = tuple((m, market_state(self.config.markets[m], at).state) for m in self._watched_markets)
        views = self.views
        self.query_one(MarketHeader).show(clock, markets, views.data_age if views else "loading…", self.currency,
                                          bool(views and views.demo))

    def tick_ages(self) -> None:
        """Ages and stale marks depend on the clock only: rebuild the views, not the analytics."""
        if self.dashboard is not None:
            self._age_worker(self.dashboard)

    @work(thread=True, group="ages", exclusive=True, exit_on_error=False)
    def _age_worker(self, dashboard: Dashboard) -> None:
        self.post_message(DashboardReady(dashboard, self._views_for(dashboard)))

    # -- actions -----------------------------------------------------------------------------------

    async def action_refresh(self) -> None:
        if self.collector is None:
            self.notify("demo and read-only modes do not poll" if self.mode != "live" else "starting…")
            self.request_reload()
            return
        self.collector.force_due()
        self.notify("polling every upstream…")
        for job in self.collector.enabled_jobs():
            self.run_worker(self.collector.run_job(job), group=f"refresh-{job}", exit_on_error=False)

    def action_currency(self) -> None:
        options = self.config.display_currencies
        self.currency = options[(options.index(self.currency) + 1) % len(options)] if self.currency in options \
            else options[0]
        self.request_reload(set())  # recompute only: no table needs re-reading

    def action_view(self) -> None:
        self.board_mode = "maker" if self.board_mode == "model" else "model"
        if self.views is not None:
            self.show_views(self.views)  # both boards are in the views already

    def action_sort(self) -> None:
        board = self.query_one(Leaderboard)
        board.sort = SORTS[(SORTS.index(board.sort) + 1) % len(SORTS)]
        if self.views is not None:
            self.show_views(self.views)

    def action_next_panel(self) -> None:
        panels = [self.query_one("#cards"), self.query_one(Leaderboard), self.query_one(PeerMoves)]
        current = next((i for i, p in enumerate(panels) if p.has_focus), -1)
        target = panels[(current + 1) % len(panels)]
        target.focus()
        target.scroll_visible()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def on_filter_changed(self, event: Input.Changed) -> None:
        board = self.query_one(Leaderboard)
        if board.view is not None:
            board.show(board.view, needle=event.value)

    def on_key(self, event) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and box.display:
            box.value = ""
            box.display = False
            self.query_one(Leaderboard).focus()
            event.stop()

    def action_help(self) -> None:
        keys = {b.id: b for b in self.BINDINGS if isinstance(b, Binding)}
        active = {binding_id: self.config.keys.get(binding_id, b.key) for binding_id, b in keys.items()}
        rows = [(binding_id, active[binding_id], b.description) for binding_id, b in keys.items()]
        attribution = self.dashboard.attribution if self.dashboard else ""
        self.push_screen(HelpScreen(render_help(rows, str(self.log_file or "—"), str(self.config.path), attribution)))

    def action_export(self) -> None:
        if self.dashboard is None:
            self.notify("nothing to export yet", severity="warning")
            return
        svg = self.export_screenshot(title="tokentape")
        self._export_worker(self.dashboard, svg)

    @work(thread=True, group="export", exit_on_error=False)
    def _export_worker(self, dashboard: Dashboard, svg: str) -> None:
        from monitor import export

        root = Path(self.config.ui.export_dir).expanduser() if self.config.ui.export_dir else \
            Path.home() / "tokentape-exports"
        try:
            folder = export.export_folder(dashboard, root, svg)
        except export.ExportError as exc:
            self._from_worker(self.notify, str(exc), severity="error", timeout=10)
            return
        self.last_export = folder
        self._from_worker(self.notify, f"exported to {folder}", timeout=8)

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.id not in ("quit",):
                key = self.config.keys.get(binding.id, binding.key)
                yield SystemCommand(f"{binding.description} ({key})", binding.tooltip,
                                    lambda action=binding.action: self.run_action(action))


def _card_id(symbol: str) -> str:
    return "card-" + "".join(ch if ch.isalnum() else "_" for ch in symbol)
