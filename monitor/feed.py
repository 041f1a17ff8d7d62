"""What a dashboard needs from the engine, behind one object, with no Textual in it.

A `DataFeed` opens the store, computes Dashboards, and in live mode runs the collector's jobs; in
read-only mode it notices rows another process wrote. The Textual app (widgets/app.py) only calls it
from workers and renders what comes back, so the whole data path can be driven and tested headless.

Start-up is one sequence: `start_opening()` begins opening the store and computing the first
Dashboard in a thread as early as the CLI can call it (while Textual is still importing), and
`first_dashboard()` waits for that same work. Reload requests that arrive while one runs are merged
(`request` / `take_request`), so a burst of polls costs one re-read of the union of their tables.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from monitor.config import Config

if TYPE_CHECKING:  # polars, httpx and the store load in a thread, after Textual has started importing
    import httpx
    from apscheduler.schedulers.base import BaseScheduler

    from monitor.dashboard import Dashboard, DashboardLoader
    from monitor.dblock import CollectorLock
    from monitor.history import CompanyHistory, ModelHistory
    from monitor.jobs import Collector, PollResult
    from monitor.published import Publisher
    from monitor.valuation import Valuation
    from storage import Store

Mode = Literal["live", "read-only", "demo"]
log = logging.getLogger("tokentape.feed")


class DataFeed:
    def __init__(
        self,
        config: Config,
        mode: Mode,
        open_store: Callable[[], Store],
        transport: httpx.AsyncBaseTransport | None = None,
        token_days: int | None = None,
    ) -> None:
        """`token_days`: a shorter token history than the loader's default (a first screen's child process)."""
        self.config = config
        self.token_days = token_days
        self.mode: Mode = mode
        self._open_store = open_store
        self._transport = transport
        self.store: Store | None = None
        self.loader: DashboardLoader | None = None
        self.collector: Collector | None = None
        self.publisher: Publisher | None = None
        self._scheduler: BaseScheduler | None = None
        self._opening: Future[Dashboard] | None = None
        self._open_lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._pending_all = False
        self._pending: set[str] = set()
        self._dirty = False  # a request with no tables still recomputes (e.g. another display currency)
        self._reloading = False
        self._seen_poll: int | None = None
        self._lock: CollectorLock | None = None
        self.notice: str | None = None  # why a live dashboard became read-only, for the status line

    @classmethod
    def for_database(cls, config: Config, mode: Mode, db_path: Path, token_days: int | None = None) -> DataFeed:
        """The bundled demo data (a throwaway copy) in demo mode, else the database at `db_path`; only
        live mode creates it. Opening happens in `first_dashboard()`, which raises a one-line StorageError."""

        def open_store() -> Store:
            if mode == "demo":
                from monitor.demo import open_demo_store

                return open_demo_store(config)
            from storage import Store

            return Store.open(db_path, create=mode == "live")

        return cls(config, mode, open_store, token_days=token_days)

    @classmethod
    def for_store(
        cls, store: Store, config: Config, mode: Mode = "demo", transport: httpx.AsyncBaseTransport | None = None
    ) -> DataFeed:
        """A feed over a store that is already open (tests, benchmarks)."""
        return cls(config, mode, lambda: store, transport)

    # -- start-up ------------------------------------------------------------------------------------

    def start_opening(self) -> None:
        """Begin opening the store and computing the first Dashboard in a background thread."""
        with self._open_lock:
            if self._opening is None:
                pool = ThreadPoolExecutor(1, thread_name_prefix="tokentape-open")
                self._opening = pool.submit(self._open)
                pool.shutdown(wait=False)

    def first_dashboard(self) -> Dashboard:
        """The first Dashboard; raises what opening raised (e.g. StorageError, a one-line reason)."""
        self.start_opening()
        assert self._opening is not None
        return self._opening.result()

    def _open(self) -> Dashboard:
        from monitor.dashboard import TOKEN_WINDOW_DAYS, DashboardLoader

        store = self._open_store()
        if self.mode == "live":
            self._take_collector_lock(store)
        if self.mode == "live":
            try:
                store.sync_instruments(self.config.companies)
                from monitor.valuation import sync as sync_fundamentals

                sync_fundamentals(store, self.config)
            except sqlite3.Error as exc:
                from storage import StorageError
                from storage.db import describe_error

                raise StorageError(f"{store.path}: {describe_error(exc)}") from None
        loader = DashboardLoader(store, self.config, self.token_days or TOKEN_WINDOW_DAYS)
        self.store, self.loader = store, loader
        if self.mode == "read-only":
            self._seen_poll = store.newest_poll_id()
        return self.loader.load()

    def _take_collector_lock(self, store: Store) -> None:
        """One process polls into a database: when a `collect` (or another live dashboard) already does,
        this dashboard reads what it writes instead, and says so."""
        from monitor.dblock import CollectorLock

        self._lock = CollectorLock(store.path)
        try:
            holder = self._lock.acquire()
        except OSError as exc:
            holder, why = 0, f"cannot take the collector lock ({exc.strerror or exc})"
        else:
            why = self._lock.holder_message(holder or 0, store.path)
        if holder is not None:
            self.mode = "read-only"
            self.notice = f"{why}; this dashboard only reads it"
            log.warning("%s", self.notice)

    # -- reloads ---------------------------------------------------------------------------------------

    def request(self, tables: set[str] | frozenset[str] | None) -> bool:
        """Queue a re-read of `tables` (None: all). True when the caller should start a reload worker;
        False when one is already running and will pick this request up."""
        if self.loader is None:
            return False  # still opening: the first Dashboard will be the newest anyway
        with self._pending_lock:
            self._dirty = True
            if tables is None:
                self._pending_all = True
            else:
                self._pending |= tables
            if self._reloading:
                return False
            self._reloading = True
            return True

    def take_request(self) -> tuple[bool, set[str] | None]:
        """(True, tables) for the next merged request, or (False, None) once none is left: the worker stops."""
        with self._pending_lock:
            if not self._dirty:
                self._reloading = False
                return False, None
            tables = None if self._pending_all else set(self._pending)
            self._pending_all, self._pending, self._dirty = False, set(), False
            return True, tables

    def reload(self, tables: set[str] | None, display_currency: str) -> Dashboard:
        assert self.loader is not None, "first_dashboard() has not finished"
        return self.loader.load(tables, display_currency)

    def company_history(self, symbol: str, rng: str) -> CompanyHistory:
        """One company over one range (the company screen); raises HistoryError for an unknown symbol."""
        from monitor.history import company_history

        assert self.store is not None, "first_dashboard() has not finished"
        return company_history(self.store, self.config, symbol, rng)

    def model_history(self, model: str, rng: str) -> ModelHistory:
        """One model over one range (the model screen); raises HistoryError for an unknown model."""
        from monitor.history import model_history

        assert self.store is not None, "first_dashboard() has not finished"
        return model_history(self.store, self.config, model, rng)

    def valuation(self, dashboard: Dashboard) -> Valuation:
        """The valuation view's multiples for `dashboard`'s market caps (stored fundamentals, FX, last 7 token days)."""
        from monitor.valuation import load

        assert self.store is not None, "first_dashboard() has not finished"
        return load(self.store, self.config, dashboard)

    def has_new_rows(self) -> bool:
        """Read-only mode: a collector elsewhere records a poll after every write; a new poll id means news."""
        if self.store is None:
            return False
        newest = self.store.newest_poll_id()
        if newest == self._seen_poll:
            return False
        self._seen_poll = newest
        return True

    # -- live polling --------------------------------------------------------------------------------

    def start_polling(self, on_result: Callable[[PollResult], None]) -> None:
        """Live mode: every job at once, then on its cadence. Must run on the event loop (APScheduler 3)."""
        if self.mode != "live" or self.store is None or self.collector is not None:
            return
        from monitor.jobs import Collector, build_scheduler
        from monitor.published import Publisher

        self.collector = Collector(self.config, self.store, transport=self._transport)
        self.collector.listeners.append(on_result)
        # Readers of this database (and this dashboard's next start) open on what it computes after each poll.
        self.publisher = Publisher(self.store, self.config)
        self.collector.listeners.append(self.publisher.request)
        scheduler = build_scheduler(self.collector)
        scheduler.start()
        self._scheduler = scheduler

    def poll_all_now(self) -> list[str]:
        """The refresh key: every symbol due, and the job names to run now (empty unless live)."""
        if self.collector is None:
            return []
        self.collector.force_due()
        return self.collector.enabled_jobs()

    def next_runs(self) -> dict[str, float | None]:
        if self._scheduler is None:
            return {}
        from monitor.jobs import next_runs

        return next_runs(self._scheduler)

    async def close(self) -> None:
        import asyncio

        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self.collector is not None:
            await self.collector.aclose()
        if self.publisher is not None:
            await asyncio.to_thread(self.publisher.close)

    def close_store(self) -> None:
        if self.store is not None:
            self.store.close()
        if self._lock is not None:
            self._lock.release()
