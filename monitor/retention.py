"""Retention: what `[storage]` says may go, deleted in small batches, and the freed pages handed back.

Only the history that grows by the minute is pruned: intraday quote bars older than `intraday_days`, and only
for days whose daily bar is stored (a day without one keeps its quotes: they are all there is of it), and poll
records older than `poll_days` (each job's newest poll and its counters live on in `job_state`). Each batch is
one short write transaction, so a collector's polls queue behind it for milliseconds at most.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.config import Config
from storage import Store

log = logging.getLogger(__name__)

BATCH_ROWS = 2000  # rows per write transaction: a few milliseconds of the write lock (bench/history.py)
VACUUM_PAGES = 256  # pages handed back per incremental_vacuum step
LAST_PRUNE_KEY = "last_prune"


@dataclass
class PruneReport:
    at: float
    dry_run: bool
    quotes: int = 0
    polls: int = 0
    batches: int = 0
    longest_batch_ms: float = 0.0
    free_pages: int = 0

    def line(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (
            f"{verb} {self.quotes} intraday quote rows and {self.polls} poll records "
            f"({self.batches} batches, longest {self.longest_batch_ms:.1f} ms; {self.free_pages} free pages left)"
        )


def _zone(config: Config, market: str | None) -> ZoneInfo:
    m = config.markets.get(market or "")
    return m.zone if m is not None else ZoneInfo("UTC")


def _day_start(day: date, zone: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


def quote_ranges(store: Store, config: Config, now: float) -> Iterator[tuple[str, int, int]]:
    """(symbol, start_ts, end_ts) spans of intraday quotes that may go: whole local days before the window,
    each with its daily bar stored; consecutive such days merge when the days between them hold no quotes."""
    days = config.storage.intraday_days
    if days == 0:
        return
    symbols = store.conn().execute("SELECT symbol, market FROM instruments ORDER BY symbol").fetchall()
    for symbol, market in symbols:
        zone = _zone(config, market)
        first = store.first_quote_ts(symbol)
        if first is None:
            continue
        cutoff = datetime.fromtimestamp(now, zone).date() - timedelta(days=days)  # days before this may go
        first_day = datetime.fromtimestamp(first, zone).date()
        if first_day >= cutoff:
            continue
        bars = [
            date.fromisoformat(r[0])
            for r in store.conn().execute(
                "SELECT date FROM daily_bars WHERE symbol = ? AND date BETWEEN ? AND ? ORDER BY date",
                (symbol, first_day.isoformat(), (cutoff - timedelta(days=1)).isoformat()),
            )
        ]
        span: tuple[int, int] | None = None
        for day in bars:
            start, end = _day_start(day, zone), _day_start(day + timedelta(days=1), zone)
            if span is not None and (span[1] == start or store.count_quotes(symbol, span[1], start) == 0):
                span = (span[0], end)
                continue
            if span is not None:
                yield symbol, *span
            span = (start, end)
        if span is not None:
            yield symbol, *span


def prune(store: Store, config: Config, now: float | None = None, dry_run: bool = False) -> PruneReport:
    """Delete (or with dry_run count) what retention lets go, then hand the freed pages back to the disk."""
    now = time.time() if now is None else now
    report = PruneReport(at=now, dry_run=dry_run)

    def timed(step: int, took: float) -> int:
        report.batches += 1
        report.longest_batch_ms = max(report.longest_batch_ms, took * 1000)
        return step

    for symbol, start, end in list(quote_ranges(store, config, now)):
        if dry_run:
            report.quotes += store.count_quotes(symbol, start, end)
            continue
        while True:
            t0 = time.perf_counter()
            n = timed(store.prune_quotes(symbol, start, end, BATCH_ROWS), time.perf_counter() - t0)
            report.quotes += n
            if n < BATCH_ROWS:
                break
    if config.storage.poll_days:
        before = now - config.storage.poll_days * 86400
        while True:
            t0 = time.perf_counter()
            n = store.prune_polls(before, BATCH_ROWS, dry_run=dry_run)
            n = timed(n, time.perf_counter() - t0) if not dry_run else n
            report.polls += n
            if dry_run or n < BATCH_ROWS:
                break
    if dry_run:
        report.free_pages = _free_pages(store)
        return report
    report.free_pages = _free_pages(store)
    while report.free_pages:
        t0 = time.perf_counter()
        left = store.incremental_vacuum(VACUUM_PAGES)
        timed(0, time.perf_counter() - t0)
        if left >= report.free_pages:  # not an auto_vacuum=INCREMENTAL file: `tokentape db vacuum` converts it
            break
        report.free_pages = left
    store.set_meta(LAST_PRUNE_KEY, json.dumps(asdict(report)))
    log.info("prune: %s", report.line())
    return report


def _free_pages(store: Store) -> int:
    return int(store.conn().execute("PRAGMA freelist_count").fetchone()[0])


def last_prune(store: Store) -> str:
    """When the last prune ran and what it did, in one line ("never" if it has not)."""
    raw = store.get_meta(LAST_PRUNE_KEY)
    if not raw:
        return "never"
    try:
        fields = json.loads(raw)
        report = PruneReport(**fields)
    except (ValueError, TypeError):
        return "unreadable"
    return f"{datetime.fromtimestamp(report.at, UTC):%Y-%m-%d %H:%M:%SZ}: {report.line()}"
