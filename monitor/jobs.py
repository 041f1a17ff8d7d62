"""Polling jobs: one declaration per job in `JOBS`, and one runner, the `Collector`. The same
Collector serves the TUI (inside its loop) and `tokentape collect` (headless).

A run: fetch (async httpx, through the upstream's backoff gate) -> parse into plain rows
(monitor/sources) -> in one transaction, in a thread: the rows, each symbol's outcome and the poll
itself -> tell listeners which tables changed. A job never runs twice at once.

A failure about one symbol (Yahoo: "No data found, symbol may be delisted") is recorded against that
symbol in the upstream's own words while the job's other symbols go on. A failure of the upstream as a
whole (429, 5xx, timeouts, no connection) also backs that upstream off: exponential with jitter, never
sooner than Retry-After. What did arrive is stored either way; a failed fetch changes nothing stored.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote, quote_plus

import httpx

from monitor.config import Config, JobsConfig, SourceConfig
from monitor.markets import market_state
from monitor.sources import BackingOff, Row, UpstreamError, UpstreamHealth, make_client, openrouter, tencent, yahoo
from monitor.text import safe_text
from storage import Store
from storage.db import describe_error

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from monitor.alerts import AlertEngine

T = TypeVar("T")
log = logging.getLogger("tokentape.jobs")

# All symbols of one poll in one round trip (30 symbols: one burst every 30 s, the same total load).
FETCH_CONCURRENCY = 32
# httpcore re-checks every idle connection of a pool whenever a request finishes (O(requests x
# connections)); with 30 concurrent requests one 32-connection pool measured 1.7x one response, six
# small pools 1.2x (bench/fanout.py). So the fan-out is spread over a few small clients.
CLIENT_SHARDS = 6
# Every poll writes these, whatever it fetched, so listeners always re-read them.
POLL_TABLES = frozenset({"polls", "symbol_status"})
MAX_ERROR = 300
SNAPSHOT_KEY, ATTRIBUTION_KEY = "openrouter_snapshot_date", "openrouter_attribution"


# -- what a run fetched ------------------------------------------------------------------------------


@dataclass
class Fetched:
    """What one run of a job got: rows by table, and how each symbol it asked for fared."""

    rows: dict[str, list[Row]] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    reported_shares: dict[str, int] = field(default_factory=dict)
    served: dict[str, str | None] = field(default_factory=dict)  # symbol -> a problem met on the way, or None
    failed: dict[str, str] = field(default_factory=dict)  # symbol -> why it got no data
    # Symbols an upstream answered about (data or a refusal): they wait for their cadence; the others
    # (the upstream was down or backing off) are asked again at the next run.
    answered: set[str] = field(default_factory=set)
    error: str | None = None  # a failure of the job as a whole

    def serve(self, symbol: str, table: str, rows: list[Row], note: str | None = None) -> None:
        self.rows.setdefault(table, []).extend(rows)
        self.served[symbol] = note
        self.failed.pop(symbol, None)
        self.answered.add(symbol)

    def fail(self, symbol: str, exc: UpstreamError) -> None:
        self.failed[symbol] = str(exc)
        if not exc.upstream_wide and not isinstance(exc, BackingOff):
            self.answered.add(symbol)

    def summary(self) -> str | None:
        """The job's one-line error: which symbols failed and the first reason, then any job-wide failure."""
        parts = []
        if self.failed:
            asked = len(self.failed) + len(self.served)
            first = self.failed[min(self.failed)]  # by name, not by which answer came first: one run, one message
            parts.append(f"{len(self.failed)} of {asked} symbols failed ({_some(self.failed)}): {first}")
        if self.error:
            parts.append(self.error)
        return "; ".join(parts) or None


# -- the upstreams: shared clients and one backoff gate each -----------------------------------------


class Upstreams:
    """The HTTP side every fetch shares: the client shards, each upstream's settings and its backoff."""

    def __init__(self, config: Config, transport: httpx.AsyncBaseTransport | None, clock: Callable[[], float]) -> None:
        timeout = max(s.timeout_seconds for s in config.sources.values())
        per_shard = -(-FETCH_CONCURRENCY // CLIENT_SHARDS)
        self.clients = [make_client(timeout, transport, connections=per_shard) for _ in range(CLIENT_SHARDS)]
        self.sources = config.sources
        self.health = {name: UpstreamHealth() for name in config.sources}
        self.clock = clock

    async def call(
        self, upstream: str, request: Callable[[httpx.AsyncClient, SourceConfig], Awaitable[T]], shard: int = 0
    ) -> T:
        """One request, unless `upstream` is backing off. Its upstream-wide failures start or extend the
        backoff; any answer from the upstream (even "no such symbol") shows it is serving again."""
        health = self.health[upstream]
        if not health.ready(self.clock()):
            until = datetime.fromtimestamp(health.not_before, UTC).strftime("%H:%M:%S UTC")
            raise BackingOff(upstream, f"backing off until {until} after: {health.last_error}")
        serial = health.serial
        try:
            result = await request(self.clients[shard % len(self.clients)], self.sources[upstream])
        except UpstreamError as exc:
            if exc.upstream_wide:
                health.failed(self.clock(), exc)
            else:
                health.succeeded(serial)
            raise
        health.succeeded(serial)
        return result

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


@dataclass(frozen=True)
class JobContext:
    """What a job's fetch may use."""

    config: Config
    upstreams: Upstreams
    store: Store
    clock: Callable[[], float]


async def yahoo_charts(
    ctx: JobContext,
    symbols: Iterable[str],
    *,
    range_: str,
    interval: str,
    table: str,
    to_rows: Callable[[yahoo.Chart, str], list[Row]],
) -> Fetched:
    """One chart per symbol, all at once over the client shards; each symbol stored or failed on its own."""
    fetched = Fetched()
    semaphore = asyncio.Semaphore(FETCH_CONCURRENCY)

    async def one(index: int, symbol: str) -> None:
        async with semaphore:
            try:
                chart = await ctx.upstreams.call(
                    "yahoo",
                    lambda client, src: yahoo.fetch_chart(
                        client, src.base_url, symbol, timeout=src.timeout_seconds, range_=range_, interval=interval
                    ),
                    shard=index,
                )
                company = ctx.config.company(symbol)
                # The collector's clock or the machine's, whichever is later: a simulated clock never refuses real data.
                now = max(ctx.clock(), time.time())
                rows = to_rows(yahoo.check_times(chart, now, company.ipo_date if company else None), symbol)
            except UpstreamError as exc:
                fetched.fail(symbol, exc)
            else:
                fetched.serve(symbol, table, rows)

    await asyncio.gather(*(one(i, s) for i, s in enumerate(symbols)))
    return fetched


async def tencent_quotes(ctx: JobContext, symbols: list[str]) -> tuple[dict[str, tencent.TencentQuote], dict[str, str]]:
    """HK quotes for `symbols`, a batch of codes per request (a URL stays short whatever the watchlist):
    the fallback for prices, and the source of share counts. Returns the quotes found and, for each
    symbol of a failed batch, why; one batch failing never loses another's quotes."""
    found: dict[str, tencent.TencentQuote] = {}
    errors: dict[str, str] = {}
    semaphore = asyncio.Semaphore(CLIENT_SHARDS)

    async def one(index: int, batch: list[str]) -> None:
        async with semaphore:
            try:
                found.update(
                    await ctx.upstreams.call(
                        "tencent",
                        lambda client, src: tencent.fetch_quotes(
                            client, src.base_url, batch, timeout=src.timeout_seconds
                        ),
                        shard=index,
                    )
                )
            except UpstreamError as exc:
                errors.update(dict.fromkeys(batch, str(exc)))

    await asyncio.gather(*(one(i, b) for i, b in enumerate(tencent.batches(symbols))))
    return found, errors


# -- the jobs --------------------------------------------------------------------------------------


async def fetch_quotes(ctx: JobContext, symbols: tuple[str, ...]) -> Fetched:
    fetched = await yahoo_charts(
        ctx, symbols, range_="1d", interval=ctx.config.jobs.intraday_interval, table="quotes", to_rows=yahoo.quote_rows
    )
    hk_failed = sorted(s for s in fetched.failed if s.endswith(".HK"))
    if hk_failed:
        found, errors = await tencent_quotes(ctx, hk_failed)
        for symbol in hk_failed:
            if symbol in found:
                note = f"{fetched.failed[symbol]}; served by tencent"
                fetched.serve(symbol, "quotes", [tencent.quote_row(symbol, found[symbol])], note)
            else:
                fetched.failed[symbol] += f"; fallback {errors.get(symbol, 'tencent: no quote')}"
    return fetched


async def fetch_daily_bars(ctx: JobContext, symbols: tuple[str, ...], range_: str = "1y") -> Fetched:
    fetched = await yahoo_charts(
        ctx, symbols, range_=range_, interval="1d", table="daily_bars", to_rows=yahoo.daily_bar_rows
    )
    hk = [s for s in symbols if s.endswith(".HK")]
    if hk:
        found, errors = await tencent_quotes(ctx, hk)
        # Share counts are extra: their failure fails the job only if nothing else came; the bars stay either way.
        if errors and not fetched.served:
            fetched.error = errors[min(errors)]
        elif errors:
            log.warning("daily_bars: no share counts for %d symbols: %s", len(errors), errors[min(errors)])
        fetched.reported_shares = {s: q.total_shares for s, q in found.items() if q.total_shares}
        _check_shares(ctx.config, fetched.reported_shares)
    return fetched


def _check_shares(config: Config, reported: dict[str, int]) -> None:
    for symbol, count in reported.items():
        company = config.company(symbol)
        if company and company.total_shares and abs(count / company.total_shares - 1) > 0.05:
            log.warning(
                "%s: config total_shares %d differs from Tencent's %d by more than 5%%",
                symbol,
                company.total_shares,
                count,
            )


def fx_pairs(config: Config) -> dict[str, tuple[str, str]]:
    """Yahoo FX symbol -> (native, display currency), one per pair needed in either direction."""
    pairs: dict[str, tuple[str, str]] = {}
    for native in sorted({c.currency for c in config.companies}):
        for display in config.display_currencies:
            if native != display and yahoo.fx_symbol(display, native) not in pairs:
                pairs.setdefault(yahoo.fx_symbol(native, display), (native, display))
    # The valuation view: market caps and reported figures (e.g. CNY revenue) in USD.
    reported = {f.currency for f in config.fundamentals if f.currency} | {r.currency for r in config.references}
    if config.fundamentals or config.references:
        reported |= {c.currency for c in config.companies}
    for native in sorted(reported - {"USD"}):
        if yahoo.fx_symbol("USD", native) not in pairs:
            pairs.setdefault(yahoo.fx_symbol(native, "USD"), (native, "USD"))
    return pairs


async def fetch_fx(ctx: JobContext, symbols: tuple[str, ...]) -> Fetched:
    pairs = fx_pairs(ctx.config)
    return await yahoo_charts(
        ctx,
        symbols,
        range_="1d",
        interval="1d",
        table="fx",
        to_rows=lambda chart, symbol: [yahoo.fx_row(chart, *pairs[symbol])],
    )


async def fetch_export(ctx: JobContext, symbols: tuple[str, ...]) -> Fetched:
    have = await asyncio.to_thread(ctx.store.get_meta, SNAPSHOT_KEY)
    export = await ctx.upstreams.call(
        "openrouter",
        lambda client, src: openrouter.fetch_export(
            client, src.base_url, timeout=src.timeout_seconds, have_snapshot=have, now=max(ctx.clock(), time.time())
        ),
    )
    if export is None:
        return Fetched()
    # The whole snapshot, its date and its attribution land in one transaction or not at all.
    return Fetched(
        rows={"token_daily": export.rows},
        meta={SNAPSHOT_KEY: export.manifest.snapshot_date, ATTRIBUTION_KEY: export.manifest.attribution},
    )


async def fetch_models(ctx: JobContext, symbols: tuple[str, ...]) -> Fetched:
    rows = await ctx.upstreams.call(
        "openrouter",
        lambda client, src: openrouter.fetch_models(
            client, src.base_url, int(ctx.clock()), timeout=src.timeout_seconds
        ),
    )
    return Fetched(rows=catalogue_tables(rows, ctx.clock()))


def catalogue_tables(models: list[Row], at: float) -> dict[str, list[Row]]:
    """One catalogue poll's rows by table: the entries, and their prices as the UTC day of `at`'s observation for
    the price history (the store keeps only changes: Store.record_prices). They land in one transaction, so the
    history never disagrees with the catalogue; bench/history.py writes its synthetic catalogue through here too."""
    day = datetime.fromtimestamp(at, UTC).date().isoformat()
    return {"models": models, "model_prices": openrouter.price_rows(models, day)}


async def fetch_day_view(ctx: JobContext, symbols: tuple[str, ...]) -> Fetched:
    rows = await ctx.upstreams.call(
        "openrouter",
        lambda client, src: openrouter.fetch_day_view(client, src.base_url, timeout=src.timeout_seconds),
    )
    return Fetched(rows={"model_day_usage": rows})


async def fetch_weekly(ctx: JobContext, symbols: tuple[str, ...]) -> Fetched:
    rows = await ctx.upstreams.call(
        "openrouter",
        lambda client, src: openrouter.fetch_weekly_chart(client, src.base_url, timeout=src.timeout_seconds),
    )
    return Fetched(rows={"token_weekly": rows})


@dataclass(frozen=True)
class Every:
    """Every `seconds`. With `closed`, a job that polls symbol by symbol asks for a symbol whose market
    is not trading only every `closed` seconds (nights, weekends, lunch, holidays)."""

    seconds: Callable[[JobsConfig], int]
    closed: Callable[[JobsConfig], int] | None = None


@dataclass(frozen=True)
class AfterClose:
    """At start, then `minutes` after each watched market's close on weekdays."""

    minutes: Callable[[JobsConfig], int]


def _always(config: Config) -> bool:
    return True


def company_symbols(config: Config) -> tuple[str, ...]:
    return tuple(c.symbol for c in config.companies)


@dataclass(frozen=True)
class JobSpec:
    name: str
    upstream: str  # the upstream it polls (the HK quotes' fallback to Tencent aside)
    tables: frozenset[str]  # what it writes: the tables listeners re-read when its rows changed
    fetch: Callable[[JobContext, tuple[str, ...]], Awaitable[Fetched]]
    cadence: Every | AfterClose
    symbols: Callable[[Config], tuple[str, ...]] | None = None  # polled one by one, each with its own status
    enabled: Callable[[Config], bool] = _always


JOBS: tuple[JobSpec, ...] = (
    JobSpec(
        name="quotes",
        upstream="yahoo",
        tables=frozenset({"quotes"}),
        fetch=fetch_quotes,
        cadence=Every(lambda j: j.quotes_open_seconds, closed=lambda j: j.quotes_closed_seconds),
        symbols=company_symbols,
    ),
    JobSpec(
        name="daily_bars",
        upstream="yahoo",
        tables=frozenset({"daily_bars", "instruments"}),  # instruments: the share counts Tencent reports
        fetch=fetch_daily_bars,
        cadence=AfterClose(lambda j: j.daily_bars_after_close_minutes),
        symbols=company_symbols,
    ),
    JobSpec(
        name="fx",
        upstream="yahoo",
        tables=frozenset({"fx"}),
        fetch=fetch_fx,
        cadence=Every(lambda j: j.fx_seconds),
        symbols=lambda config: tuple(fx_pairs(config)),
        enabled=lambda config: bool(fx_pairs(config)),
    ),
    JobSpec(
        name="openrouter_export",
        upstream="openrouter",
        tables=frozenset({"token_daily"}),
        fetch=fetch_export,
        cadence=Every(lambda j: j.openrouter_export_seconds),
    ),
    JobSpec(
        name="openrouter_models",
        upstream="openrouter",
        tables=frozenset({"models", "model_prices"}),
        fetch=fetch_models,
        cadence=Every(lambda j: j.openrouter_models_seconds),
    ),
    JobSpec(
        name="openrouter_weekly",
        upstream="openrouter",
        tables=frozenset({"token_weekly"}),
        fetch=fetch_weekly,
        cadence=Every(lambda j: j.openrouter_weekly_seconds),
        enabled=lambda config: config.jobs.openrouter_weekly_seconds > 0,
    ),
    JobSpec(
        name="openrouter_day_view",
        upstream="openrouter",
        tables=frozenset({"model_day_usage"}),
        fetch=fetch_day_view,
        cadence=Every(lambda j: j.openrouter_day_view_seconds),
        enabled=lambda config: config.jobs.openrouter_day_view_seconds > 0,
    ),
)
JOB_SPECS = {spec.name: spec for spec in JOBS}


# -- the runner ------------------------------------------------------------------------------------


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

    def __init__(self, message: str, rows: int = 0) -> None:
        super().__init__(message)
        self.rows = rows


class Collector:
    def __init__(
        self,
        config: Config,
        store: Store,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.upstreams = Upstreams(config, transport, lambda: self.clock())
        self.listeners: list[Callable[[PollResult], None]] = []
        self._locks = {spec.name: asyncio.Lock() for spec in JOBS}
        self._last_polled: dict[tuple[str, str], float] = {}
        # Seconds a run may take before it is cancelled and recorded as failed; None: from the timeouts.
        self.job_deadline: float | None = None
        # The [[alert]] rules, evaluated after each job commits (a read-only dashboard has no Collector: never sends).
        self.alerts: AlertEngine | None = None
        if config.alerts:
            from monitor.alerts import AlertEngine

            upstreams = {spec.name: spec.upstream for spec in JOBS}
            self.alerts = AlertEngine(config, store, lambda: self.clock(), upstreams)

    @property
    def health(self) -> dict[str, UpstreamHealth]:
        return self.upstreams.health

    async def aclose(self, delivery_wait: float = 2.0) -> None:
        """`delivery_wait`: seconds alert deliveries still under way may take to finish."""
        if self.alerts is not None:
            await self.alerts.aclose(delivery_wait)
        await self.upstreams.aclose()

    def force_due(self) -> None:
        """Make every symbol due now (the refresh key), whatever its market's cadence."""
        self._last_polled.clear()

    def enabled_jobs(self) -> list[str]:
        return [spec.name for spec in JOBS if spec.enabled(self.config)]

    def api_key(self) -> str | None:
        env = self.config.sources["openrouter"].api_key_env
        return os.environ.get(env) if env else None

    def api_key_problem(self) -> str | None:
        """Why the key cannot be sent (a control character, e.g. the \\r of a CRLF .env file), or None.
        Never quotes the key."""
        key = self.api_key()
        if key and any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in key):
            env = self.config.sources["openrouter"].api_key_env
            return f"${env} contains a control character (a CRLF .env file?); fix it, the key is not sent"
        return None

    def deadline(self, spec: JobSpec, symbols: tuple[str, ...]) -> float:
        """How long one run may take: its requests in sequence (a fallback, manifest then file), each
        bounded by its timeout, for each round of the fan-out."""
        if self.job_deadline is not None:
            return self.job_deadline
        timeout = max(s.timeout_seconds for s in self.config.sources.values())
        rounds = -(-max(len(symbols), 1) // FETCH_CONCURRENCY)
        return timeout * (rounds + 3) + 5.0

    def due_symbols(self, job: str, now: float) -> tuple[str, ...]:
        """The job's symbols to poll now: at its cadence while their market trades, else at the slow one."""
        spec = JOB_SPECS[job]
        symbols = spec.symbols(self.config) if spec.symbols else ()
        cadence = spec.cadence
        if not isinstance(cadence, Every) or cadence.closed is None:
            return symbols
        when = datetime.fromtimestamp(now, UTC)
        due = []
        for symbol in symbols:
            company = self.config.company(symbol)
            trading = company is not None and market_state(self.config.markets[company.market], when).is_trading
            every = (cadence.seconds if trading else cadence.closed)(self.config.jobs)
            last = self._last_polled.get((job, symbol))
            if last is None or now - last >= every - 1:  # a second's slack: the scheduler fires a little early or late
                due.append(symbol)
        return tuple(due)

    async def run_job(self, job: str) -> PollResult | None:
        """Run one job now unless it is already running; None means it was skipped (running, or nothing due)."""
        return await self._run(JOB_SPECS[job])

    async def run_all_once(self) -> list[PollResult]:
        results = await asyncio.gather(*(self.run_job(job) for job in self.enabled_jobs()))
        return [r for r in results if r is not None]

    async def backfill_daily_bars(self) -> PollResult | None:
        """The daily_bars job over each symbol's whole history (range=max) instead of a year."""
        spec = JOB_SPECS["daily_bars"]
        return await self._run(replace(spec, fetch=partial(fetch_daily_bars, range_="max")))

    async def backfill_history(self, start: str, end: str, progress: Callable[[int, int], None]) -> int:
        """Keyed history, in windows of at most 366 days (the endpoint's limit), each stored as it arrives."""
        key = self.api_key()
        if not key:
            raise JobFailed(f"${self.config.sources['openrouter'].api_key_env} is not set; skipping keyed history")
        windows = []
        day, stop = datetime.fromisoformat(start).date(), datetime.fromisoformat(end).date()
        while day <= stop:
            window_end = min(stop, day + timedelta(days=365))
            windows.append((day.isoformat(), window_end.isoformat()))
            day = window_end + timedelta(days=1)
        changed = 0
        for done, (first, last) in enumerate(windows, start=1):
            try:
                rows = await self.upstreams.call("openrouter", _history_window(key, first, last))
            except UpstreamError as exc:
                raise JobFailed(self._clean(str(exc)) or "", changed) from None
            changed += await asyncio.to_thread(self.store.upsert, "token_daily", rows)
            progress(done, len(windows))
        return changed

    async def _run(self, spec: JobSpec) -> PollResult | None:
        lock = self._locks[spec.name]
        if lock.locked():
            return None
        async with lock:
            started = self.clock()
            symbols = self.due_symbols(spec.name, started)
            if spec.symbols and not symbols:
                return None
            deadline = self.deadline(spec, symbols)
            try:
                async with asyncio.timeout(deadline):
                    fetched = await spec.fetch(JobContext(self.config, self.upstreams, self.store, self.clock), symbols)
            except UpstreamError as exc:
                fetched = Fetched(error=str(exc))
            except TimeoutError:  # cancelled: what it fetched so far is dropped, the lock is released below
                fetched = Fetched(error=f"{spec.upstream}: job cancelled after its {deadline:g} s deadline")
            except Exception as exc:  # a bug, not an upstream fault: keep running, say what happened
                log.exception("job %s crashed", spec.name)
                fetched = Fetched(error=f"internal error: {type(exc).__name__}: {exc}")
            for symbol in fetched.answered:
                self._last_polled[(spec.name, symbol)] = started
            result = await asyncio.to_thread(self._commit, spec, fetched, started)
            if self.alerts is not None:  # on what was just stored, before listeners re-read it
                await self.alerts.after_poll(result.tables)
            self._report(spec, result)
            return result

    def _commit(self, spec: JobSpec, fetched: Fetched, started: float) -> PollResult:
        """The run's rows, its symbols' outcomes and its poll in one transaction. Never raises: if the
        database refuses, nothing of the run is stored and the failure is recorded (if it still can be)."""
        error = self._clean(fetched.summary())
        outcomes = [(s, True, self._clean(note)) for s, note in fetched.served.items()]
        outcomes += [(s, False, self._clean(why)) for s, why in fetched.failed.items()]
        rows = 0
        try:
            with self.store.transaction() as conn:
                rows = sum(self.store.upsert(table, table_rows, conn) for table, table_rows in fetched.rows.items())
                finished = self.clock()
                rows += self.store.set_reported_shares(fetched.reported_shares, int(finished), conn)
                for key, value in fetched.meta.items():
                    self.store.set_meta(key, value, conn)
                self.store.set_symbol_status(spec.name, outcomes, finished, conn)
                self.store.record_poll(spec.name, started, finished, error is None, error, rows, conn)
        except Exception as exc:  # disk full, read-only file, a bug: the job must not die of it
            finished, rows = self.clock(), 0
            error = self._clean(f"not stored: {describe_error(exc)}" + (f"; {error}" if error else ""))
            if not isinstance(exc, sqlite3.Error):
                log.exception("%s: could not store the poll's results", spec.name)
            try:
                self.store.record_poll(spec.name, started, finished, False, error, 0)
            except Exception as again:  # the listeners (stderr, status line) and the log still say it
                log.error("%s: could not record the failed poll either: %s", spec.name, describe_error(again))
                error = self._clean(f"{error}; the failed poll was not recorded either ({describe_error(again)})")
        return PollResult(spec.name, error is None, rows, error, started, finished, spec.tables | POLL_TABLES)

    async def prune(self) -> None:
        """Retention ([storage]), in a worker thread, batch by batch: polls queue behind a batch, never behind
        the whole prune. A failure is logged and retried at the next prune."""
        from monitor import retention

        try:
            await asyncio.to_thread(retention.prune, self.store, self.config, self.clock())
        except Exception as exc:
            log.warning("prune failed: %s", describe_error(exc))

    def _report(self, spec: JobSpec, result: PollResult) -> None:
        (log.info if result.ok else log.warning)(
            "%s (%s): %s, %d rows changed%s",
            spec.name,
            spec.upstream,
            "ok" if result.ok else "failed",
            result.rows,
            f": {result.error}" if result.error else "",
        )
        for listener in list(self.listeners):
            try:
                listener(result)
            except Exception:  # one broken listener must not stop the others or the job
                log.exception("a listener of %s failed", spec.name)

    def _clean(self, text: str | None) -> str | None:
        """What may be stored and shown: no API key in any form an error can print it (raw, repr'd, URL-
        encoded), no control or invisible characters, one line (the status bar), bounded length."""
        if text is None:
            return None
        key = self.api_key()
        if key:
            for form in sorted(_key_forms(key), key=len, reverse=True):
                text = text.replace(form, "***")
        text = safe_text(" ".join(text.split()))
        return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


def _history_window(
    key: str, first: str, last: str
) -> Callable[[httpx.AsyncClient, SourceConfig], Awaitable[list[Row]]]:
    return lambda client, src: openrouter.fetch_history(
        client, src.base_url, key, first, last, timeout=src.timeout_seconds
    )


def _key_forms(key: str) -> set[str]:
    """Each way a message may spell the key: as is, as repr() and bytes repr() escape it, URL-encoded,
    and without the stray whitespace or control characters that made a request fail."""
    stripped = "".join(c for c in key if c.isprintable() and not c.isspace())
    forms = {
        key,
        key.strip(),
        stripped,
        quote(key, safe=""),
        quote_plus(key),
        repr(key)[1:-1],
        repr(key.encode("utf-8", "replace"))[2:-1],
    }
    return {f for f in forms if len(f) >= 4}


def _some(symbols: Iterable[str], shown: int = 5) -> str:
    names = sorted(symbols)
    return ", ".join(names[:shown]) + (f" +{len(names) - shown} more" if len(names) > shown else "")


# -- scheduling ------------------------------------------------------------------------------------


PRUNE_JOB = "prune"


def build_scheduler(collector: Collector) -> AsyncIOScheduler:
    """An AsyncIOScheduler with every enabled job: run once at start, then on its cadence, never overlapping.

    Must be started from inside the running event loop (APScheduler 3 binds to it in start())."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    config = collector.config
    scheduler = AsyncIOScheduler(
        timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 120}
    )
    start = datetime.now(UTC)
    for name in collector.enabled_jobs():
        cadence = JOB_SPECS[name].cadence
        if isinstance(cadence, AfterClose):
            triggers = [DateTrigger(start)]
            for market in sorted({c.market for c in config.companies}):
                m = config.markets[market]
                at = datetime.combine(start.date(), m.close) + timedelta(minutes=cadence.minutes(config.jobs))
                triggers.append(CronTrigger(day_of_week="mon-fri", hour=at.hour, minute=at.minute, timezone=m.timezone))
            scheduler.add_job(collector.run_job, OrTrigger(triggers), args=[name], id=name, name=name)
        else:
            scheduler.add_job(
                collector.run_job,
                IntervalTrigger(seconds=cadence.seconds(config.jobs), timezone=UTC),
                args=[name],
                id=name,
                name=name,
                next_run_time=start,
            )
    # Retention, off the hot path: a minute after start (after the first polls and paint), then every few hours.
    every = config.storage.prune_every_hours * 3600
    scheduler.add_job(
        collector.prune,
        IntervalTrigger(seconds=every, timezone=UTC),
        id=PRUNE_JOB,
        name=PRUNE_JOB,
        next_run_time=start + timedelta(seconds=60),
    )
    return scheduler


def next_runs(scheduler: AsyncIOScheduler) -> dict[str, float | None]:
    return {job.id: job.next_run_time.timestamp() if job.next_run_time else None for job in scheduler.get_jobs()}
