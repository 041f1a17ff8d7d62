"""History growth: databases of 1 month, 1 year and 3 years synthesised at the default config's rates
(deterministic seed; every table filled, polls included), measured side by side in one run:
read-only first paint vs the bare Textual app (bench/bare_app.py), one dashboard reload after a quote poll,
`snapshot --format json`, and the DB size before and after default retention (with the longest write-lock hold
of the prune). Targets (issue 15): at 3 years first paint <= 1.5x the bare app, reload <= 50 ms, snapshot within
1.2x of the 1-month figure, DB <= 100 MiB after retention.

    .venv/bin/python bench/history.py [--spans 1m,1y,3y] [--runs 3]
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import PY, ROOT, Homes, ScreenTimeout, TmuxServer, home_env, median, shell_command, time_to_screen

SPANS = {"1m": 30, "1y": 365, "3y": 1095}
MODELS_PER_DAY = 300
M = re.MULTILINE
PRESENT = ["MiniMax 0100.HK", "Zhipu 2513.HK", re.compile(r"^ +1 +\S.*\d\.\d\d%", M)]
ABSENT = ["cached screen", "reading the database"]


def synthesise(path: Path, days: int, seed: int = 15) -> float:
    """The default config's watchlist, polled at its rates for `days` days ending now; returns seconds taken."""
    from monitor.config import load_config
    from monitor.markets import market_state
    from storage import Store

    t0 = time.perf_counter()
    rng = random.Random(seed)
    config = load_config(str(ROOT / "config.toml"))
    store = Store.open(path)
    store.sync_instruments(config.companies)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    jobs = config.jobs
    prices = {c.symbol: rng.uniform(20, 500) for c in config.companies}
    conn = store.conn()
    day = start.date()
    poll_id = 0
    while day <= end.date():
        quotes, bars, polls = [], [], []
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        for c in config.companies:
            market = config.markets[c.market]
            traded = False
            for minute in range(0, 24 * 60, 2):  # the 2m intraday interval
                when = midnight + timedelta(minutes=minute)
                if when > end or not market_state(market, when).is_trading:
                    continue
                traded = True
                prices[c.symbol] *= 1 + rng.gauss(0, 0.001)
                p = prices[c.symbol]
                quotes.append((c.symbol, int(when.timestamp()), p, p * 0.99, rng.uniform(1e3, 1e5), "yahoo"))
            if traded:
                p = prices[c.symbol]
                bars.append((c.symbol, day.isoformat(), p, p * 1.02, p * 0.98, p, rng.uniform(1e5, 1e7), "yahoo"))
        # polls: quotes every 30 s in HK hours (~7 h) and every 15 min otherwise; fx hourly; the rest rarely
        open_polls, closed_polls = 7 * 3600 // jobs.quotes_open_seconds, 17 * 3600 // jobs.quotes_closed_seconds
        for n in range(open_polls + closed_polls):
            poll_id += 1
            t = midnight.timestamp() + n * 86400 / (open_polls + closed_polls)
            ok = rng.random() > 0.01
            polls.append(("quotes", t, t + 0.4, int(ok), None if ok else "yahoo: HTTP 500", 13))
        for h in range(24):
            t = midnight.timestamp() + h * 3600
            polls.append(("fx", t, t + 0.3, 1, None, 3))
        for name, per_day in (("openrouter_export", 8), ("openrouter_weekly", 4), ("openrouter_models", 1)):
            polls += [(name, midnight.timestamp() + k * 86400 / per_day, 0.0, 1, None, 1) for k in range(per_day)]
        polls.append(("daily_bars", midnight.timestamp() + 9 * 3600, 0.0, 1, None, 13))
        fx = [
            (pair, int(midnight.timestamp()) + h * 3600, rate * (1 + rng.gauss(0, 1e-4)), "yahoo")
            for h in range(24)
            for pair, rate in (("HKDUSD", 0.128), ("HKDCNY", 0.92), ("USDCNY", 7.2))
        ]
        total = 10**11
        tokens = [
            (
                day.isoformat(),
                f"maker{m % 40}/model-{m}",
                f"maker{m % 40}",
                m + 1,
                total // (m + 2),
                1 / (m + 2),
                day.isoformat(),
                "t",
            )
            for m in range(MODELS_PER_DAY)
        ]
        for m, author in enumerate(("minimax", "z-ai", "openai", "google", "anthropic")):
            tokens[m] = (
                day.isoformat(),
                f"{author}/model",
                author,
                m + 1,
                total // (m + 2),
                1 / (m + 2),
                day.isoformat(),
                "t",
            )
        with store.transaction() as tx:
            tx.executemany("INSERT OR REPLACE INTO quotes VALUES (?,?,?,?,?,?)", quotes)
            tx.executemany("INSERT OR REPLACE INTO daily_bars VALUES (?,?,?,?,?,?,?,?)", bars)
            tx.executemany("INSERT OR REPLACE INTO fx VALUES (?,?,?,?)", fx)
            tx.executemany("INSERT OR REPLACE INTO token_daily VALUES (?,?,?,?,?,?,?,?)", tokens)
            if day.weekday() == 0:
                weekly = [
                    (day.isoformat(), f"{a}/model", a, 10**9, "t") for a in ("minimax", "z-ai", "openai", "google")
                ]
                tx.executemany("INSERT OR REPLACE INTO token_weekly VALUES (?,?,?,?,?)", weekly)
            for job, started, finished, ok, error, rows in polls:
                store.record_poll(job, started, finished or started + 0.5, bool(ok), error, rows, tx)
        day += timedelta(days=1)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return time.perf_counter() - t0


def snapshot_seconds(db: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(
            [
                PY,
                "-m",
                "monitor.cli",
                "snapshot",
                "--format",
                "json",
                "--db",
                str(db),
                "--config",
                str(ROOT / "config.toml"),
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - t0)
    return median(times)


def reload_ms(db: Path, runs: int) -> float:
    """One dashboard reload after a quote poll: the quote poll's tables re-read, the frames recomputed."""
    from monitor.config import load_config
    from monitor.dashboard import DashboardLoader
    from storage import Store

    store = Store.open(db, create=False)
    loader = DashboardLoader(store, load_config(str(ROOT / "config.toml")))
    loader.load()
    times = []
    for _ in range(runs * 5):
        t0 = time.perf_counter()
        loader.load({"quotes", "polls", "symbol_status"})
        times.append(time.perf_counter() - t0)
    store.close()
    return median(times) * 1000


def first_paint(server: TmuxServer, homes: Homes, db: Path | None, runs: int) -> float:
    times = []
    for _ in range(runs):
        env = home_env(homes.new())
        if db is None:
            cmd = shell_command([PY, str(ROOT / "bench" / "bare_app.py")], env, cwd=ROOT)
            times.append(time_to_screen(server, cmd, ["MiniMax 0100.HK"], (), timeout=60).seconds)
        else:
            argv = [PY, "-m", "monitor.cli", "--read-only", "--db", str(db), "--config", str(ROOT / "config.toml")]
            cmd = shell_command(argv, env, cwd=ROOT)
            times.append(time_to_screen(server, cmd, PRESENT, ABSENT, timeout=60).seconds)
    return median(times)


def prune(db: Path) -> tuple[float, float]:
    """Default retention on the database: (seconds, longest batch in ms)."""
    from monitor import retention
    from monitor.config import load_config
    from storage import Store

    store = Store.open(db)
    t0 = time.perf_counter()
    report = retention.prune(store, load_config(str(ROOT / "config.toml")))
    store.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return time.perf_counter() - t0, report.longest_batch_ms


def main(spans: list[str], runs: int) -> int:
    folder = Path(tempfile.mkdtemp(prefix="tokentape-history-"))
    homes, server = Homes(), TmuxServer()
    rows = []
    try:
        floor = first_paint(server, homes, None, runs)
        print(f"bare app first paint: {floor:.3f} s", flush=True)
        for span in spans:
            db = folder / f"{span}.db"
            took = synthesise(db, SPANS[span])
            size_before = db.stat().st_size / 2**20
            print(f"{span}: synthesised in {took:.0f} s, {size_before:.0f} MiB", flush=True)
            snap = snapshot_seconds(db, runs)
            reload = reload_ms(db, runs)
            try:
                paint = first_paint(server, homes, db, runs) / floor
            except ScreenTimeout as exc:
                print(f"{span}: first paint not reached: {str(exc)[:300]}", file=sys.stderr)
                paint = float("nan")
            prune_s, longest = prune(db)
            size_after = db.stat().st_size / 2**20
            rows.append((span, size_before, size_after, snap, paint, reload, prune_s, longest))
            print(f"  {rows[-1]}", flush=True)
            db.unlink()
    finally:
        server.close()
        homes.close()
    print(
        "\n| history | DB before | DB after retention | snapshot json | first paint (x bare) | reload "
        "| prune (longest batch) |"
    )
    print("|---|---|---|---|---|---|---|")
    for span, before, after, snap, paint, reload, prune_s, longest in rows:
        print(
            f"| {span} | {before:.0f} MiB | {after:.0f} MiB | {snap:.2f} s | {paint:.2f}x | {reload:.1f} ms "
            f"| {prune_s:.1f} s ({longest:.0f} ms) |"
        )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", default="1m,1y,3y")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sys.exit(main(args.spans.split(","), args.runs))
