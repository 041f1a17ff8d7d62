"""Polling jobs and their scheduling. The same Collector serves the TUI (inside its loop) and
`tokentape collect` (headless).

Every job: fetch (async httpx) -> parse (pure) -> store in one transaction (in a thread, off the
loop) -> record the poll -> tell listeners which tables changed. A job never runs twice at once.
A failure stores nothing from that fetch, records a failed poll with a one-line reason, and backs
that upstream off (exponential with jitter, never sooner than Retry-After).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from monitor.config import Config
from monitor.markets import market_state
from monitor.sources import UpstreamError, UpstreamHealth, make_client
from monitor.sources import openrouter, tencent, yahoo
from storage import Store

log = logging.getLogger("tokentape.jobs")

JOB_TABLES = {
    "quotes": frozenset({"quotes"}),
    "daily_bars": frozenset({"daily_bars", "instruments"}),
    "fx": frozenset({"fx"}),
    "openrouter_export": frozenset({"token_daily"}),
    "openrouter_models": frozenset({"models"}),
    "openrouter_weekly": frozenset({"token_weekly"}),
}
JOBS = tuple(JOB_TABLES)
# All symbols of one poll in one round trip (30 symbols: one burst every 30 s, the same total load).
FETCH_CONCURRENCY = 32
# httpcore re-checks every idle connection of a pool whenever a request finishes (O(requests x
# connections)); with 30 concurrent requests one 32-connection pool measured 1.7x one response, six
# small pools 1.2x (bench/fanout.py). So the fan-out is spread over a few small clients.
CLIENT_SHARDS = 6


@dataclass(frozen=True)
class PollResult:
    job: str
    ok: bool
    rows: int
    error: str | None
    started: float
    finished: float
    tables: frozenset[str] = field(default_factory=frozenset)

    @property
    def changed(self) -> frozenset[str]:
        """Tables whose rows changed: only these need re-reading and re-rendering."""
        return self.tables if self.rows else frozenset()


class JobFailed(Exception):
    """Some of a job's work failed; what did succeed has been stored. str() is the one-line reason."""

    def __init__(self, message: str, rows: int = 0):
        super().__init__(message)
        self.rows = rows


class Collector:
    def __init__(self, config: Config, store: Store, transport: httpx.AsyncBaseTransport | None = None,
                 clock: Callable[[], float] = time.time):
        self.config = config
        self.store = store
        self.clock = clock
        timeout = max(s.timeout_seconds for s in config.sources.values())
        per_shard = -(-FETCH_CONCURRENCY // CLIENT_SHARDS)
        self.clients = [make_client(timeout, transport, connections=per_shard) for _ in range(CLIENT_SHARDS)]
        self.client = self.clients[0]
        self.health = {name: UpstreamHealth() for name in ("yahoo", "tencent", "openrouter")}
        self.listeners: list[Callable[[PollResult], None]] = []
        self._locks = {job: asyncio.Lock() for job in JOBS}
        self._last_quote_fetch: dict[str, float] = {}
        self._jobs: dict[str, Callable[[], Awaitable[int]]] = {
            "quotes": self.poll_quotes, "daily_bars": self.poll_daily_bars, "fx": self.poll_fx,
            "openrouter_export": self.poll_openrouter_export, "openrouter_models": self.poll_models,
            "openrouter_weekly": self.poll_weekly,
        }

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()

    def client_for(self, index: int) -> httpx.AsyncClient:
        return self.clients[index % len(self.clients)]

    def force_due(self) -> None:
        """Make every symbol due for a quote now (the refresh key), whatever its market's cadence."""
        self._last_quote_fetch.clear()

    def enabled_jobs(self) -> list[str]:
        return [j for j in JOBS if not (j == "openrouter_weekly" and self.config.jobs.openrouter_weekly_seconds == 0)]

    async def run_job(self, job: str) -> PollResult | None:
        """Run one job now unless it is already running; None means it was skipped (running, or nothing due)."""
        lock = self._locks[job]
        if lock.locked():
            return None
        async with lock:
            started = self.clock()
            try:
                rows = await self._jobs[job]()
                ok, error = True, None
            except _NothingDue:
                return None
            except (UpstreamError, JobFailed) as exc:
                ok, error, rows = False, str(exc), getattr(exc, "rows", 0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug, not an upstream fault: keep running, say what happened
                log.exception("job %s crashed", job)
                ok, error, rows = False, f"internal error: {type(exc).__name__}: {exc}"[:300], 0
            finished = self.clock()
            error = _one_line(self._redact(error))
            await asyncio.to_thread(self.store.record_poll, job, started, finished, ok, error, rows)
            result = PollResult(job, ok, rows, error, started, finished, JOB_TABLES[job] | {"polls"})
            (log.info if ok else log.warning)("%s: %s, %d rows changed%s", job, "ok" if ok else "failed", rows,
                                              f": {error}" if error else "")
            for listener in self.listeners:
                listener(result)
            return result

    async def run_all_once(self) -> list[PollResult]:
        results = await asyncio.gather(*(self.run_job(job) for job in self.enabled_jobs()))
        return [r for r in results if r is not None]

    def _redact(self, text: str | None) -> str | None:
        key = self.api_key()
        return text.replace(key, "***") if text and key else text

    def api_key(self) -> str | None:
        env = self.config.sources["openrouter"].api_key_env
        return os.environ.get(env) if env else None

    async def _store(self, write: Callable[[], int]) -> int:
        return await asyncio.to_thread(write)

    def _gate(self, upstream: str) -> None:
        health = self.health[upstream]
        if not health.ready(self.clock()):
            until = datetime.fromtimestamp(health.not_before, UTC).strftime("%H:%M:%S UTC")
            raise UpstreamError(upstream, f"backing off until {until} after: {health.last_error}")

    async def _guarded(self, upstream: str, call: Coroutine):
        """Run one upstream call, updating that upstream's backoff state; skip it while backing off."""
        try:
            self._gate(upstream)
        except UpstreamError:
            call.close()  # never started: close it so it is not reported as un-awaited
            raise
        try:
            result = await call
        except UpstreamError as exc:
            self.health[upstream].failed(self.clock(), exc)
            raise
        self.health[upstream].succeeded()
        return result

    async def _yahoo_charts(self, symbols: list[str], range_: str, interval: str,
                            to_rows: Callable[[yahoo.Chart, str], list[dict]]) -> tuple[list[dict], dict[str, str]]:
        """One chart per symbol, all at once over the client shards: (rows, {symbol: error})."""
        src = self.config.sources["yahoo"]
        semaphore = asyncio.Semaphore(FETCH_CONCURRENCY)
        rows: list[dict] = []
        failed: dict[str, str] = {}

        async def one(index: int, symbol: str) -> None:
            async with semaphore:
                try:
                    chart = await self._guarded("yahoo", yahoo.fetch_chart(
                        self.client_for(index), src.base_url, symbol, timeout=src.timeout_seconds, range_=range_,
                        interval=interval))
                    rows.extend(to_rows(chart, symbol))
                except UpstreamError as exc:
                    failed[symbol] = str(exc)

        await asyncio.gather(*(one(i, s) for i, s in enumerate(symbols)))
        return rows, failed

    # -- quotes ----------------------------------------------------------------------------------

    def due_symbols(self, now: float) -> list[str]:
        """Symbols to poll now: those whose market is open, and the rest at the slow closed-market cadence."""
        when = datetime.fromtimestamp(now, UTC)
        due = []
        for company in self.config.companies:
            is_open = market_state(self.config.markets[company.market], when).is_open
            cadence = self.config.jobs.quotes_open_seconds if is_open else self.config.jobs.quotes_closed_seconds
            last = self._last_quote_fetch.get(company.symbol)
            if last is None or now - last >= cadence - 1:
                due.append(company.symbol)
        return due

    async def poll_quotes(self) -> int:
        now = self.clock()
        symbols = self.due_symbols(now)
        if not symbols:
            raise _NothingDue()
        rows, failed = await self._yahoo_charts(symbols, "1d", self.config.jobs.intraday_interval, yahoo.quote_rows)
        hk_failed = [s for s in failed if s.endswith(".HK")]
        if hk_failed:
            tsrc = self.config.sources["tencent"]
            try:
                found = await self._guarded("tencent", tencent.fetch_quotes(
                    self.client, tsrc.base_url, hk_failed, timeout=tsrc.timeout_seconds))
                for symbol, q in found.items():
                    rows.append(tencent.quote_row(symbol, q))
                    failed.pop(symbol, None)
            except UpstreamError as exc:
                for symbol in hk_failed:
                    failed[symbol] += f"; fallback {exc}"
        for symbol in symbols:
            if symbol not in failed:
                self._last_quote_fetch[symbol] = now
        changed = await self._store(lambda: self.store.upsert("quotes", rows))
        if failed:
            first = next(iter(failed.values()))
            raise JobFailed(f"{len(failed)} of {len(symbols)} symbols failed ({_some(failed)}): {first}", changed)
        return changed

    # -- daily bars and share counts ---------------------------------------------------------------

    async def poll_daily_bars(self, range_: str = "1y") -> int:
        rows, failed = await self._yahoo_charts([c.symbol for c in self.config.companies], range_, "1d",
                                                yahoo.daily_bar_rows)
        shares: dict[str, int] = {}
        hk = [c.symbol for c in self.config.companies if c.symbol.endswith(".HK")]
        share_error = None
        if hk:
            tsrc = self.config.sources["tencent"]
            try:
                found = await self._guarded("tencent", tencent.fetch_quotes(
                    self.client, tsrc.base_url, hk, timeout=tsrc.timeout_seconds))
                shares = {s: q.total_shares for s, q in found.items() if q.total_shares}
            except UpstreamError as exc:
                share_error = str(exc)
        now = int(self.clock())

        def write() -> int:
            with self.store.transaction() as conn:
                return self.store.upsert("daily_bars", rows, conn) + self.store.set_reported_shares(shares, now, conn)

        changed = await self._store(write)
        self._check_shares(shares)
        if failed:
            first = next(iter(failed.values()))
            raise JobFailed(f"{len(failed)} of {len(self.config.companies)} symbols failed ({_some(failed)}): {first}",
                            changed)
        if share_error and not rows:
            raise JobFailed(share_error, changed)
        return changed

    def _check_shares(self, reported: dict[str, int]) -> None:
        for symbol, count in reported.items():
            company = self.config.company(symbol)
            if company and company.total_shares and abs(count / company.total_shares - 1) > 0.05:
                log.warning("%s: config total_shares %d differs from Tencent's %d by more than 5%%",
                            symbol, company.total_shares, count)

    # -- fx ----------------------------------------------------------------------------------------

    def fx_pairs(self) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        for native in sorted({c.currency for c in self.config.companies}):
            for display in self.config.display_currencies:
                if native != display and (native, display) not in pairs and (display, native) not in pairs:
                    pairs.append((native, display))
        return pairs

    async def poll_fx(self) -> int:
        pairs = self.fx_pairs()
        if not pairs:
            raise _NothingDue()
        src = self.config.sources["yahoo"]
        rows = []
        for base, quote in pairs:
            chart = await self._guarded("yahoo", yahoo.fetch_chart(
                self.client, src.base_url, yahoo.fx_symbol(base, quote), timeout=src.timeout_seconds, range_="1d",
                interval="1d"))
            rows.append(yahoo.fx_row(chart, base, quote))
        return await self._store(lambda: self.store.upsert("fx", rows))

    # -- openrouter --------------------------------------------------------------------------------

    async def poll_openrouter_export(self) -> int:
        src = self.config.sources["openrouter"]
        have = await asyncio.to_thread(self.store.get_meta, "openrouter_snapshot_date")
        export = await self._guarded("openrouter", openrouter.fetch_export(
            self.client, src.base_url, timeout=src.timeout_seconds, have_snapshot=have))
        if export is None:
            return 0

        def write() -> int:
            # The whole snapshot, its date and its attribution land in one transaction or not at all.
            with self.store.transaction() as conn:
                changed = self.store.upsert("token_daily", export.rows, conn)
                self.store.set_meta("openrouter_snapshot_date", export.manifest.snapshot_date, conn)
                self.store.set_meta("openrouter_attribution", export.manifest.attribution, conn)
                return changed

        return await self._store(write)

    async def poll_models(self) -> int:
        src = self.config.sources["openrouter"]
        rows = await self._guarded("openrouter", openrouter.fetch_models(
            self.client, src.base_url, int(self.clock()), timeout=src.timeout_seconds))
        return await self._store(lambda: self.store.upsert("models", rows))

    async def poll_weekly(self) -> int:
        src = self.config.sources["openrouter"]
        rows = await self._guarded("openrouter", openrouter.fetch_weekly_chart(
            self.client, src.base_url, timeout=src.timeout_seconds))
        return await self._store(lambda: self.store.upsert("token_weekly", rows))

    async def backfill_history(self, start: str, end: str, progress: Callable[[int, int], None]) -> int:
        """Keyed history, in windows of at most 366 days (the endpoint's limit)."""
        key = self.api_key()
        if not key:
            raise JobFailed(f"${self.config.sources['openrouter'].api_key_env} is not set; skipping keyed history")
        src = self.config.sources["openrouter"]
        windows = []
        day = datetime.fromisoformat(start).date()
        stop = datetime.fromisoformat(end).date()
        while day <= stop:
            window_end = min(stop, day + timedelta(days=365))
            windows.append((day.isoformat(), window_end.isoformat()))
            day = window_end + timedelta(days=1)
        changed = 0
        for done, (a, b) in enumerate(windows, start=1):
            try:
                rows = await self._guarded("openrouter", openrouter.fetch_history(
                    self.client, src.base_url, key, a, b, timeout=src.timeout_seconds))
            except UpstreamError as exc:
                raise JobFailed(self._redact(str(exc)) or "", changed) from None
            changed += await self._store(lambda rows=rows: self.store.upsert("token_daily", rows))
            progress(done, len(windows))
        return changed


class _NothingDue(Exception):
    pass


MAX_ERROR = 300


def _some(symbols, shown: int = 5) -> str:
    names = sorted(symbols)
    return ", ".join(names[:shown]) + (f" +{len(names) - shown} more" if len(names) > shown else "")


def _one_line(error: str | None) -> str | None:
    """Poll errors go to a one-line status bar: no newlines, bounded length."""
    if error is None:
        return None
    error = " ".join(error.split())
    return error if len(error) <= MAX_ERROR else error[: MAX_ERROR - 1] + "…"


def build_scheduler(collector: Collector):
    """An AsyncIOScheduler with every job: run once at start, then on its cadence, never overlapping.

    Must be started from inside the running event loop (APScheduler 3 binds to it in start())."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    config = collector.config
    jobs = config.jobs
    scheduler = AsyncIOScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1,
                                                              "misfire_grace_time": 120})
    start = datetime.now(UTC)
    every = {
        "quotes": jobs.quotes_open_seconds, "fx": jobs.fx_seconds,
        "openrouter_export": jobs.openrouter_export_seconds, "openrouter_models": jobs.openrouter_models_seconds,
        "openrouter_weekly": jobs.openrouter_weekly_seconds,
    }
    for job in collector.enabled_jobs():
        if job == "daily_bars":
            # At start, then a few minutes after each watched market's close on weekdays.
            triggers = [DateTrigger(start)]
            for market in sorted({c.market for c in config.companies}):
                m = config.markets[market]
                close = m.sessions[-1][1]
                at = datetime.combine(start.date(), close) + timedelta(minutes=jobs.daily_bars_after_close_minutes)
                triggers.append(CronTrigger(day_of_week="mon-fri", hour=at.hour, minute=at.minute, timezone=m.timezone))
            trigger = OrTrigger(triggers)
            scheduler.add_job(collector.run_job, trigger, args=[job], id=job, name=job)
        else:
            scheduler.add_job(collector.run_job, IntervalTrigger(seconds=every[job], timezone=UTC), args=[job],
                              id=job, name=job, next_run_time=start)
    return scheduler


def next_runs(scheduler) -> dict[str, float | None]:
    return {job.id: job.next_run_time.timestamp() if job.next_run_time else None for job in scheduler.get_jobs()}
