"""Soak: the collector against a loopback upstream where 30 % of responses are faulty, for N minutes.

Reports crashes (must be 0: an exception escaping a job, or a poll recorded as an internal error),
rows lost (must be 0: a table's row count going down, or an acknowledged row missing at the end),
PRAGMA integrity_check, and RSS growth. Time is simulated for backoff and market hours (each round
advances the collector's clock by a minute) so every job keeps polling; the network I/O is real.

    .venv/bin/python bench/soak.py --minutes 10 [--fault-rate 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import assert_loopback

from monitor.config import parse_config
from monitor.jobs import Collector
from storage import Store
from tests.conftest import loopback_config_text
from tests.payloads import revised_export, serve_everything, serve_export
from tests.upstream import FakeUpstream

ROUND_TIMEOUT = 120.0  # one round of every job; requests time out after 2 s, so only a hang gets here
TABLES = ("quotes", "daily_bars", "fx", "token_daily", "token_weekly", "models")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


async def soak(minutes: float, fault_rate: float) -> int:
    upstream = FakeUpstream()
    upstream.record_requests = False
    upstream.start()
    serve_everything(upstream)
    folder = Path(tempfile.mkdtemp(prefix="tokentape-soak-"))
    logging.basicConfig(filename=folder / "soak.log", level=logging.INFO)
    config = parse_config(loopback_config_text(upstream.base_url), folder / "c.toml")
    assert_loopback(config, upstream.base_url)
    store = Store.open(folder / "soak.db")
    store.sync_instruments(config.companies)
    clock = [time.time()]
    collector = Collector(config, store, clock=lambda: clock[0])
    upstream.fault_rate = fault_rate
    counts = {t: 0 for t in TABLES}
    crashes = rows_lost = polls = failed = 0
    acked_quote_keys: set[tuple[str, int]] = set()
    gc.collect()
    rss_start = rss_mb()
    end = time.monotonic() + minutes * 60
    round_no = 0
    while time.monotonic() < end:
        round_no += 1
        if round_no % 7 == 0:  # new prices now and then, and a new export snapshot, so there is real writing
            upstream.fault_rate = 0.0
            serve_everything(upstream, bump=1 + (round_no % 50) / 100)
            export = revised_export() if round_no % 14 == 0 else serve_bytes()
            serve_export(upstream, export, f"2026-10-{9 + round_no % 20:02d}")
            upstream.fault_rate = fault_rate
        collector.force_due()
        try:
            results = await asyncio.wait_for(collector.run_all_once(), ROUND_TIMEOUT)
        except Exception as exc:  # counting, not handling (a hang past ROUND_TIMEOUT counts too)
            crashes += 1
            print(f"CRASH: {type(exc).__name__}: {exc}", file=sys.stderr)
            results = []
        for r in results:
            polls += 1
            failed += not r.ok
            if r.error and r.error.startswith("internal error"):
                crashes += 1
                print(f"CRASH in {r.job}: {r.error}", file=sys.stderr)
        for t in TABLES:
            n = store.count(t)
            if n < counts[t]:
                rows_lost += counts[t] - n
            counts[t] = max(counts[t], n)
        acked_quote_keys |= set(store.conn().execute("SELECT symbol, ts FROM quotes").fetchall())
        clock[0] += 60
        if round_no % 20 == 0:
            print(
                f"  round {round_no}: {polls} polls, {failed} failed, {upstream.faults_served} faults, "
                f"RSS {rss_mb():.1f} MB",
                file=sys.stderr,
            )
    await collector.aclose()
    present = set(store.conn().execute("SELECT symbol, ts FROM quotes").fetchall())
    rows_lost += len(acked_quote_keys - present)
    integrity = store.conn().execute("PRAGMA integrity_check").fetchone()[0]
    gc.collect()
    rss_end = rss_mb()
    store.close()
    upstream.stop()
    print(
        f"soak: {minutes:g} min, fault rate {fault_rate:.0%}, {round_no} rounds, {polls} polls "
        f"({failed} failed), {upstream.faults_served} faults injected of {upstream.request_count} requests"
    )
    print(
        f"  crashes {crashes} (target 0) · rows lost {rows_lost} (target 0) · integrity {integrity} · "
        f"RSS {rss_start:.1f} -> {rss_end:.1f} MB ({rss_end - rss_start:+.1f})"
    )
    print(f"  final rows: {counts}; log {folder / 'soak.log'}")
    return 0 if crashes == 0 and rows_lost == 0 and integrity == "ok" else 1


def serve_bytes() -> bytes:
    from tests.payloads import export_csv

    data: bytes = export_csv()
    return data


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    args = parser.parse_args()
    sys.exit(asyncio.run(soak(args.minutes, args.fault_rate)))
