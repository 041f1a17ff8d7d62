"""Soak: the collector against a loopback upstream where 30 % of responses are faulty, for N minutes.

Reports crashes (must be 0: an exception escaping a job, or a poll recorded as an internal error),
rows lost (must be 0: a table's row count going down, or an acknowledged row missing at the end),
PRAGMA integrity_check, and RSS growth. Time is simulated for backoff and market hours (each round
advances the collector's clock by a minute) so every job keeps polling; the network I/O is real.

    .venv/bin/python bench/soak.py --minutes 10 [--fault-rate 0.3]

Hostile mode (`--hostile`): the cases of issue 13 in rotation, a good round after each: a body trickled
out a piece at a time, a body past the size cap, a gzip bomb, Tencent inf/nan while Yahoo is down for HK,
a zero price and a market time in 2100, a manifest from 9999 with OSC escapes in its attribution, a
redirect to another host and a redirect loop, and the ordinary faults. After every good round the good
data must be what the dashboard shows (its frames, as the screen draws them). Reported: RSS of the first
and the last minute (target: last within 1.2x of first), open file descriptors, polls ok/failed per job.

    .venv/bin/python bench/soak.py --hostile --minutes 10
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
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


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def hostile_cases(upstream: FakeUpstream) -> list[tuple[str, Callable[[], None]]]:
    """(name, arm): each arms the loopback upstream with one hostile case of issue 13 for the next round."""
    from monitor.sources import openrouter, yahoo
    from tests.payloads import PRICES, export_csv, manifest_for, yahoo_chart
    from tests.upstream import Reply, fault_replies, gzip_bomb, padded

    chart = "/v8/finance/chart/"
    manifest_path = "/api/v1/datasets/exports/rankings-daily/latest.manifest.json"

    def drip() -> None:
        good = upstream.routes["/api/v1/models"].body
        upstream.fail_next("/api/v1/models", Reply(200, good, drip=0.2, pieces=30))  # 6 s in all, 0.2 s a read
        upstream.fail_next(manifest_path, Reply(200, upstream.routes[manifest_path].body, drip=0.2, pieces=30))

    def big() -> None:
        body = json.dumps(yahoo_chart("NVDA", "USD", PRICES["NVDA"][1], 185.0)).encode()
        upstream.fail_next(f"{chart}NVDA", Reply(200, padded(body, yahoo.MAX_CHART + 1)))
        upstream.fail_next("/api/v1/models", Reply(200, padded(b'{"data": []}', openrouter.MAX_MODELS + 1)))

    def bomb() -> None:
        upstream.fail_next("/api/v1/models", gzip_bomb(256 * 2**20))
        upstream.fail_next(f"{chart}META", gzip_bomb(256 * 2**20))

    def tencent_inf() -> None:
        upstream.fail_next(chart, *[Reply(500, b"down")] * 40)
        for code, record in list(upstream.tencent_records.items()):
            fields = record.split('"')[1].split("~")
            fields[3], fields[4] = "inf", "nan"
            upstream.tencent_records[code] = f'v_{code}="{"~".join(fields)}";'

    def absurd_yahoo() -> None:
        for symbol, meta in (("NVDA", {"regularMarketPrice": 0}), ("GOOGL", {"regularMarketTime": 4102444800})):
            body = yahoo_chart(symbol, "USD", PRICES[symbol][1], PRICES[symbol][2])
            body["chart"]["result"][0]["meta"].update(meta)
            upstream.fail_next(f"{chart}{symbol}", *[Reply(200, json.dumps(body).encode())] * 2)

    def future_manifest() -> None:
        manifest = manifest_for(export_csv(), "9999-12-31")
        manifest["attribution"] = (
            "Source: OpenRouter \x1b]52;c;cm0gLXJmIH4=\x07\x1b]8;;https://x\x07x\x1b]8;;\x07\x1b[2J"
        )
        upstream.fail_next(manifest_path, Reply(200, json.dumps(manifest).encode()))

    def redirects() -> None:
        elsewhere = upstream.base_url.replace("127.0.0.1", "localhost")
        upstream.fail_next("/api/v1/models", Reply(302, b"", {"Location": f"{elsewhere}/api/v1/models"}))
        upstream.fail_next(manifest_path, *[Reply(302, b"", {"Location": manifest_path})] * 10)
        upstream.fail_next(f"{chart}MSFT", Reply(302, b"", {"Location": f"{elsewhere}{chart}MSFT"}))

    def ordinary() -> None:
        for path, reply in zip((chart, "/api/", "/q="), random.sample(fault_replies(), 3), strict=True):
            upstream.fail_next(path, *[reply] * 5)

    return [
        ("drip", drip),
        ("50 MB body", big),
        ("gzip bomb", bomb),
        ("tencent inf/nan", tencent_inf),
        ("yahoo 0 / 2100", absurd_yahoo),
        ("manifest 9999 + OSC", future_manifest),
        ("redirects", redirects),
        ("ordinary faults", ordinary),
    ]


async def hostile_soak(minutes: float) -> int:
    from monitor.dashboard import DashboardLoader
    from tests.payloads import PRICES

    upstream = FakeUpstream()
    upstream.record_requests = False
    upstream.start()
    serve_everything(upstream)
    folder = Path(tempfile.mkdtemp(prefix="tokentape-hostile-soak-"))
    logging.basicConfig(filename=folder / "soak.log", level=logging.INFO)
    config = parse_config(loopback_config_text(upstream.base_url), folder / "c.toml")
    assert_loopback(config, upstream.base_url)
    store = Store.open(folder / "soak.db")
    store.sync_instruments(config.companies)
    clock = [time.time()]
    collector = Collector(config, store, clock=lambda: clock[0])
    cases = hostile_cases(upstream)
    ok: dict[str, int] = {}
    failed: dict[str, int] = {}
    crashes = rows_lost = not_shown = 0
    counts = {t: 0 for t in TABLES}
    samples: list[tuple[float, float, int]] = []  # (elapsed, RSS MB, open fds)
    served_snapshot = "2026-10-08"
    start = time.monotonic()
    end = start + minutes * 60
    round_no = 0
    while time.monotonic() < end:
        round_no += 1
        good = round_no % 2 == 0
        bump = 1 + (round_no % 50) / 100
        upstream.faults.clear()
        serve_everything(upstream, bump=bump)  # the good data (also restores Tencent after an inf round)
        if good:
            day = f"2026-{10 + (round_no // 2 % 40 + 9) // 31:02d}-{(round_no // 2 % 40 + 9) % 31 + 1:02d}"
            serve_export(upstream, revised_export() if round_no % 4 == 0 else serve_bytes(), day)
            served_snapshot = max(served_snapshot, day)
        else:
            _, arm = cases[(round_no // 2) % len(cases)]
            arm()
        collector.force_due()
        try:
            results = await asyncio.wait_for(collector.run_all_once(), ROUND_TIMEOUT)
        except Exception as exc:  # counting, not handling (a hang past ROUND_TIMEOUT counts too)
            crashes += 1
            print(f"CRASH: {type(exc).__name__}: {exc}", file=sys.stderr)
            results = []
        for r in results:
            (ok if r.ok else failed)[r.job] = (ok if r.ok else failed).get(r.job, 0) + 1
            if r.error and ("internal error" in r.error or "\x1b" in r.error or "\n" in r.error):
                crashes += 1
                print(f"BAD MESSAGE in {r.job}: {r.error!r}", file=sys.stderr)
        if good:
            dash = DashboardLoader(store, config).load()
            price = dash.companies.filter(symbol="NVDA")["price"].to_list()
            expected = round(PRICES["NVDA"][1][-1] * bump, 6)
            if not price or round(price[0], 6) != expected or dash.token_snapshot != served_snapshot:
                not_shown += 1
                print(
                    f"  round {round_no}: screen shows NVDA {price} (want {expected}), "
                    f"tokens {dash.token_snapshot} (want {served_snapshot})",
                    file=sys.stderr,
                )
            if "\x1b" in dash.attribution:
                crashes += 1
        for t in TABLES:
            n = store.count(t)
            rows_lost += max(0, counts[t] - n)
            counts[t] = max(counts[t], n)
        clock[0] += 1000  # past any backoff (capped at 900 s): every good round is really asked for
        gc.collect()
        samples.append((time.monotonic() - start, rss_mb(), fd_count()))
        if round_no % 20 == 0:
            print(
                f"  round {round_no}: {sum(ok.values())} ok, {sum(failed.values())} failed, "
                f"RSS {samples[-1][1]:.1f} MB, fds {samples[-1][2]}",
                file=sys.stderr,
            )
    await collector.aclose()
    integrity = store.conn().execute("PRAGMA integrity_check").fetchone()[0]
    store.close()
    upstream.stop()
    elapsed = samples[-1][0] if samples else 0.0
    first = [s for s in samples if s[0] <= 60] or samples[:1]
    last = [s for s in samples if s[0] >= elapsed - 60] or samples[-1:]
    rss_first, rss_last = max(s[1] for s in first), max(s[1] for s in last)
    fds_first, fds_last = max(s[2] for s in first), max(s[2] for s in last)  # sockets in flight vary within a round
    print(f"hostile soak: {minutes:g} min, {round_no} rounds ({round_no // 2} hostile, {len(cases)} cases in rotation)")
    print(
        f"  RSS max first minute {rss_first:.1f} MB, last minute {rss_last:.1f} MB "
        f"(x{rss_last / rss_first:.2f}, target <= 1.2)"
    )
    print(f"  open fds max first minute {fds_first}, last minute {fds_last} (target: no growth)")
    for job in sorted(set(ok) | set(failed)):
        print(f"  {job:<18} {ok.get(job, 0):>4} ok {failed.get(job, 0):>4} failed")
    print(
        f"  crashes {crashes} (target 0) · rows lost {rows_lost} (target 0) · good data not on screen "
        f"{not_shown} (target 0) · integrity {integrity}; log {folder / 'soak.log'}"
    )
    healthy = rss_last <= 1.2 * rss_first and fds_last <= fds_first
    return 0 if crashes == rows_lost == not_shown == 0 and integrity == "ok" and healthy else 1


def serve_bytes() -> bytes:
    from tests.payloads import export_csv

    data: bytes = export_csv()
    return data


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--hostile", action="store_true", help="the cases of issue 13 in rotation, good data between")
    args = parser.parse_args()
    if args.hostile:
        sys.exit(asyncio.run(hostile_soak(args.minutes)))
    sys.exit(asyncio.run(soak(args.minutes, args.fault_rate)))
