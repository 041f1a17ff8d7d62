"""The Textual app: one start-up sequence, one owner of what is on screen, and the keys.

Start-up, in order: (1) when the database's writer published a dashboard that is still current
(monitor/published.py), the real screen built from it, in the very first frame; otherwise the last
screen from the cache, if any, painted at once and marked cached, then (2) the first screen from the
database, computed by a second process while this one imported Textual (widgets/first_screen.py);
(3) this process's own first Dashboard (polars), which the later reloads build on; (4) live jobs
(live mode) or the watch for another process's writes (read-only mode). Afterwards a job's result
(`PollFinished`) asks the feed to re-read only the tables that changed, in a worker thread (SQLite and
polars never run on the UI loop); the worker posts `DashboardReady`; the app sets the screen's `views`,
and each panel repaints only if its part changed. Reload requests that arrive while a reload runs
merge into the next one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App
from textual.screen import Screen

from monitor.config import Config
from monitor.feed import DataFeed
from monitor.markets import HKT
from widgets import screen_cache
from widgets.app_alerts import AlertsMixin
from widgets.app_commands import CommandsMixin
from widgets.app_drilldown import DrillDownMixin
from widgets.dashboard import DashboardScreen
from widgets.first_screen import FirstScreen
from widgets.keys import APP_BINDINGS
from widgets.messages import DashboardReady, FirstScreenReady, PollFinished
from widgets.views import ScreenViews, StatusView

if TYPE_CHECKING:
    from monitor.dashboard import Dashboard

log = logging.getLogger("tokentape.app")
STARTED = time.monotonic()  # this module is imported within ~0.2 s of the process start
# The longest the own data path waits for the child's first screen to be drawn before it starts anyway.
FIRST_PAINT_WAIT_SECONDS = 1.0


def cache_file_for(source: str, config_path: Path) -> Path:
    """The screen cache of one database (or "demo") and config file."""
    return screen_cache.cache_path(source, config_path)


class TokentapeApp(AlertsMixin, DrillDownMixin, CommandsMixin, App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "tokentape"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = APP_BINDINGS

    def __init__(
        self,
        config: Config,
        feed: DataFeed,
        *,
        log_file: Path | None = None,
        clock: Callable[[], float] = time.time,
        cache_file: Path | None = None,
        first_screen: FirstScreen | None = None,
        first_views: ScreenViews | None = None,
    ) -> None:
        """`cache_file`: where the last screen is kept (see `cache_file_for`); None keeps none.
        `first_screen`: a child process computing the first screen while this one starts, if any.
        `first_views`: the first screen already built (from the dashboard the database's writer published)."""
        super().__init__()
        self.config = config
        self.feed = feed
        self.log_file = log_file
        self.clock = clock
        self.cache_file = cache_file
        self.first_screen = first_screen
        self.first_views = first_views
        # The real first screen, when there is one, makes the last session's screen pointless.
        self.cached = screen_cache.load(cache_file) if cache_file is not None and first_views is None else None
        self.open_error: Exception | None = None
        self.dashboard: Dashboard | None = None
        self.currency = config.display_currency
        self.last_export: Path | None = None
        self.animation_level = "none"  # SSH-friendly: nothing moves unless data changed
        # Set once the child's first screen is on the terminal (or it failed): only then does this process
        # import polars for its own data path, which would otherwise hold the GIL while that screen renders.
        self._first_screen_painted = threading.Event()
        self._init_alerts()

    @property
    def mode(self) -> str:
        return self.feed.mode

    @property
    def dashboard_screen(self) -> DashboardScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, DashboardScreen)
        return screen

    def get_default_screen(self) -> Screen[Any]:
        return DashboardScreen(self.config, self.clock)

    # -- start-up: cached screen -> database -> live jobs ----------------------------------------------

    def on_mount(self) -> None:
        log.info("start-up: mounted after %.3f s", time.monotonic() - STARTED)
        self.set_keymap(self.config.keys)
        if self.first_views is not None:
            log.info("start-up: first screen from the dashboard the database's writer published")
            # After the first layout, not before: the tables fit their columns to the width it gives them, so the
            # first screen with data is drawn once, as it stays, instead of at a guessed width and then again.
            self.call_after_refresh(self._show_first_screen, self.first_views)
        elif self.cached is not None:
            made = datetime.fromtimestamp(self.cached.made_at, UTC).astimezone(HKT).strftime("%H:%M HKT")
            note = f"cached screen from {made} · reading the database…"
            self.dashboard_screen.views = dataclasses.replace(self.cached, status=StatusView((), note))
        # Ages on cards and in the status line are shown in whole minutes: a 30 s refresh is enough.
        self.set_interval(30.0, self._age_worker)
        self._open_worker()

    @work(thread=True, group="open", exit_on_error=False)
    def _open_worker(self) -> None:
        if self.first_views is not None:
            self._first_screen_painted.wait(FIRST_PAINT_WAIT_SECONDS)
        elif self.first_screen is not None:
            views = self.first_screen.result()  # waits on the child's pipe: holds no GIL
            if views is not None:
                self.post_message(FirstScreenReady(views))
                self._first_screen_painted.wait(FIRST_PAINT_WAIT_SECONDS)
        try:
            dashboard = self.feed.first_dashboard()
        except Exception as exc:  # e.g. the database vanished: the CLI prints one line and exits 2
            self.open_error = exc  # before the exit: the CLI reads it once run() returns
            self._from_worker(self.exit, None, 2)
            return
        self._alert_seen = 0 if self.mode == "demo" else self._newest_alert_id()  # the demo's alerts are news
        self.post_message(DashboardReady(dashboard, self._views_for(dashboard)))
        self._from_worker(self._start_updates)

    def _start_updates(self) -> None:
        if self.feed.notice:  # e.g. another process collects into this database: this one only reads
            self.notify(self.feed.notice, severity="warning", markup=False, timeout=30)
        if self.mode == "live":
            self.feed.start_polling(lambda result: self.post_message(PollFinished(result)))
        elif self.mode == "read-only":
            self.set_interval(self.config.ui.read_only_check_seconds, self._watch_worker)

    def _from_worker(self, callback: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        """Call into the app from a worker thread, unless the app has stopped meanwhile (thread
        workers cannot be cancelled, so they may finish during shutdown)."""
        if self.is_running:
            with contextlib.suppress(RuntimeError):  # the app stopped between the check and the call
                self.call_from_thread(callback, *args, **kwargs)

    async def on_unmount(self) -> None:
        if self.first_screen is not None:
            self.first_screen.cancel()
        await self.feed.close()

    # -- data ----------------------------------------------------------------------------------------

    def request_reload(self, tables: Iterable[str] | None = None) -> None:
        """Re-read `tables` (None: everything; empty: recompute only) off the UI loop."""
        if self.feed.request(None if tables is None else set(tables)):
            self._reload_worker()

    @work(thread=True, group="reload", exit_on_error=False)
    def _reload_worker(self) -> None:
        while True:
            more, tables = self.feed.take_request()
            if not more:
                return
            try:
                dashboard = self.feed.reload(tables, self.currency)
                views = self._views_for(dashboard)
            except Exception as exc:  # keep the last good screen; say what went wrong
                log.exception("reload failed")
                self._from_worker(self.notify, f"could not read the database: {exc}", severity="error", markup=False)
                continue
            self.post_message(DashboardReady(dashboard, views))

    @work(thread=True, group="watch", exclusive=True, exit_on_error=False)
    def _watch_worker(self) -> None:
        if self.feed.has_new_rows():
            self._from_worker(self.request_reload, None)

    @work(thread=True, group="ages", exclusive=True, exit_on_error=False)
    def _age_worker(self) -> None:
        """Ages and stale marks depend on the clock only: rebuild the views, not the analytics."""
        if self.dashboard is not None:
            self.post_message(DashboardReady(self.dashboard, self._views_for(self.dashboard)))

    def _views_for(self, dashboard: Dashboard) -> ScreenViews:
        """Dashboard -> plain views: runs in worker threads, not on the UI loop."""
        from widgets.viewmodels import screen_views

        db_path = str(self.feed.store.path) if self.feed.store is not None else ""
        return screen_views(dashboard, self.config, self.clock(), self.mode, self.feed.next_runs(), db_path)

    @on(PollFinished)
    def _on_poll_finished(self, message: PollFinished) -> None:
        # polls always changed (the status line); data tables only when rows changed.
        self.request_reload(message.result.changed | {"polls"})

    @on(FirstScreenReady)
    def _on_first_screen(self, message: FirstScreenReady) -> None:
        log.info("start-up: first screen from the database after %.3f s", time.monotonic() - STARTED)
        if self.is_running and self.dashboard is None:
            self._show_first_screen(message.views)
        else:
            self._first_screen_painted.set()

    def _show_first_screen(self, views: ScreenViews) -> None:
        self.dashboard_screen.views = views
        # Two refreshes: the tables fit their columns to the width the first layout gave them, then redraw.
        self.call_after_refresh(self.call_after_refresh, self._first_screen_drawn)

    def _first_screen_drawn(self) -> None:
        log.info("start-up: first screen from the database drawn after %.3f s", time.monotonic() - STARTED)
        self._first_screen_painted.set()

    @on(DashboardReady)
    def _on_dashboard_ready(self, message: DashboardReady) -> None:
        # An age refresh built from an older dashboard must not undo a newer reload that overtook it.
        if not self.is_running or (self.dashboard and message.dashboard.generated_at < self.dashboard.generated_at):
            return
        if self.dashboard is None:
            log.info("start-up: own dashboard after %.3f s", time.monotonic() - STARTED)
        self.dashboard = message.dashboard
        self.dashboard_screen.views = message.views
        self._show_alert_note()
        self._alerts_worker()
        if self.cache_file is not None:
            self._save_screen(message.views)

    @work(thread=True, group="cache", exclusive=True, exit_on_error=False)
    def _save_screen(self, views: ScreenViews) -> None:
        if self.cache_file is not None:
            screen_cache.save(self.cache_file, views)

    # -- actions -------------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        jobs = self.feed.poll_all_now()
        if not jobs or self.feed.collector is None:
            self.notify("demo and read-only modes do not poll" if self.mode != "live" else "starting…")
            self.request_reload()
            return
        self.notify("polling every upstream…")
        for job in jobs:
            self.run_worker(self.feed.collector.run_job(job), group=f"refresh-{job}", exit_on_error=False)

    def action_currency(self) -> None:
        options = self.config.display_currencies
        if self.mode == "demo":  # only the currencies the bundled FX rate converts to
            from monitor.demo import DEMO_CURRENCIES

            options = tuple(c for c in options if c in DEMO_CURRENCIES) or options
        index = options.index(self.currency) + 1 if self.currency in options else 0
        self.currency = self.dashboard_screen.currency = options[index % len(options)]
        self.request_reload(())  # recompute only: no table needs re-reading

    def action_view(self) -> None:
        self.dashboard_screen.toggle_board_mode()

    def action_sort(self) -> None:
        self.dashboard_screen.next_sort()

    def action_next_panel(self) -> None:
        self.dashboard_screen.next_panel()

    def action_filter(self) -> None:
        self.dashboard_screen.open_filter()

    def action_share_range(self) -> None:
        from widgets.share_chart import ShareChart

        self.dashboard_screen.query_one(ShareChart).next_range()
