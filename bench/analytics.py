"""Analytics at scale: a year of 15-second quotes for 30 symbols (~10 M rows) and two years of daily
token usage for 400 models, in SQLite. Measures computing every panel from the database cold (target
<= 1 s) and the refresh after one new poll (target <= 50 ms), and compares with the same headline
results computed by SQL inside SQLite.

    .venv/bin/python bench/analytics.py [--db PATH] [--runs 5]

Without --db the data is built (~1-2 min) in a temporary folder that is removed at the end; with --db PATH
it is built there the first time and reused afterwards.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from common import line, median

from monitor.config import Config, parse_config
from monitor.dashboard import DashboardLoader
from storage import Store
from tests.conftest import ROOT

SYMBOLS = 30
MODELS = 400
DAYS_TOKENS = 730


def config_30(folder: Path) -> Config:
    text = (ROOT / "config.toml").read_text()
    text = text[: text.index("[[company]]")]
    for i in range(SYMBOLS):
        text += (
            f'\n[[company]]\nname = "Co {i}"\nsymbol = "{1000 + i:04d}.HK"\ncurrency = "HKD"\n'
            f'total_shares = 1_000_000_000\nipo_date = "2025-06-01"\nipo_price = 50.0\n'
            f'openrouter_authors = ["author{i}"]\ngroup = "{"core" if i < 2 else "peer"}"\n'
        )
    return parse_config(text, folder / "c.toml")


def build(db: Path, config: Config) -> None:
    store = Store.open(db)
    store.sync_instruments(config.companies)
    rng = random.Random(7)
    end = date(2026, 10, 7)
    trading = [end - timedelta(d) for d in range(365) if (end - timedelta(d)).weekday() < 5][::-1]
    print(f"building {db}: {SYMBOLS} symbols x {len(trading)} days of 15 s quotes ...", flush=True)
    for i, company in enumerate(config.companies):
        price = 100.0
        quotes, bars = [], []
        for day in trading:
            open_ts = int(datetime(day.year, day.month, day.day, 1, 30, tzinfo=UTC).timestamp())
            for k in range(1320):  # 5.5 trading hours at 15 s
                price *= 1 + rng.gauss(0, 0.0005)
                quotes.append((company.symbol, open_ts + 15 * k, round(price, 3), None, 100.0, "yahoo"))
            bars.append((company.symbol, day.isoformat(), None, None, None, round(price, 3), 1e6, "yahoo"))
        with store.transaction() as tx:
            tx.executemany("INSERT INTO quotes VALUES (?,?,?,?,?,?)", quotes)
            tx.executemany("INSERT INTO daily_bars VALUES (?,?,?,?,?,?,?,?)", bars)
        print(f"  {i + 1}/{SYMBOLS}", end="\r", flush=True)
    rows = []
    for d in range(DAYS_TOKENS):
        day_s = (end - timedelta(DAYS_TOKENS - 1 - d)).isoformat()
        tokens = [int(rng.lognormvariate(20, 2)) for _ in range(MODELS)]
        total = sum(tokens)
        order = sorted(range(MODELS), key=lambda m: -tokens[m])
        ranks = {m: r + 1 for r, m in enumerate(order)}
        for m in range(MODELS):
            author = f"author{m % 60}"
            rows.append(
                (day_s, f"{author}/model-{m}", author, ranks[m], tokens[m], tokens[m] / total, day_s, "synthetic")
            )
    with store.transaction() as tx:
        tx.executemany("INSERT INTO token_daily VALUES (?,?,?,?,?,?,?,?)", rows)
        tx.execute("INSERT INTO fx VALUES ('HKDUSD', 1, 0.128, 'yahoo')")
    store.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"\n  quotes {store.count('quotes'):,} rows, token_daily {store.count('token_daily'):,} rows", flush=True)
    store.close()


SQL_PANELS = """
WITH last AS (SELECT symbol, (SELECT price FROM quotes q WHERE q.symbol = i.symbol ORDER BY ts DESC LIMIT 1) AS price
              FROM instruments i),
     latest AS (SELECT MAX(date) AS d FROM token_daily),
     makers AS (SELECT date, author, SUM(total_tokens) * 1.0 /
                       SUM(SUM(total_tokens)) OVER (PARTITION BY date) AS share
                FROM token_daily WHERE date >= (SELECT date(d, '-8 days') FROM latest) GROUP BY date, author)
SELECT (SELECT COUNT(*) FROM last WHERE price IS NOT NULL),
       (SELECT COUNT(*) FROM makers m JOIN latest ON m.date = latest.d),
       (SELECT COUNT(*) FROM makers a JOIN makers b ON a.author = b.author AND b.date = date(a.date, '-7 days')
        JOIN latest ON a.date = latest.d)
"""


def main(db: Path | None, runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="tokentape-analytics-") as tmp:
        folder = Path(tmp)
        config = config_30(folder)
        if db is None or not db.exists():  # without --db the ~1 GB database is removed at the end
            db = db or folder / "scale.db"
            build(db, config)
        measure(db, config, runs)


def measure(db: Path, config: Config, runs: int) -> None:
    cold: list[float] = []
    refresh: list[float] = []
    sql: list[float] = []
    for _ in range(runs):
        store = Store.open(db)
        loader = DashboardLoader(store, config)
        t = time.perf_counter()
        dash = loader.load()
        cold.append(time.perf_counter() - t)
        assert dash.companies.height == SYMBOLS and dash.models.height == MODELS
        # one new poll: a quote per symbol, then the reload the app does for it
        newest = store.conn().execute("SELECT MAX(ts) FROM quotes").fetchone()[0]
        store.upsert(
            "quotes",
            [
                {
                    "symbol": c.symbol,
                    "ts": newest + 15,
                    "price": 101.0,
                    "prev_close": 100.0,
                    "volume": None,
                    "source": "yahoo",
                }
                for c in config.companies
            ],
        )
        t = time.perf_counter()
        loader.load({"quotes", "polls"})
        refresh.append(time.perf_counter() - t)
        conn = sqlite3.connect(db)
        t = time.perf_counter()
        conn.execute(SQL_PANELS).fetchone()
        sql.append(time.perf_counter() - t)
        conn.close()
        store.conn().execute("DELETE FROM quotes WHERE ts = ?", (newest + 15,))
        store.close()
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT (SELECT COUNT(*) FROM quotes), (SELECT COUNT(*) FROM token_daily)").fetchone()
    conn.close()
    print(f"data: {rows[0]:,} quote rows, {rows[1]:,} token rows ({db})")
    print(
        line(
            "every panel from the database, cold",
            f"median {median(cold) * 1000:.0f} ms",
            "<= 1000 ms",
            median(cold) <= 1.0,
        )
    )
    print(
        line(
            "refresh after one new poll", f"median {median(refresh) * 1000:.1f} ms", "<= 50 ms", median(refresh) <= 0.05
        )
    )
    print(
        line(
            "headline results by SQL in SQLite",
            f"median {median(sql) * 1000:.0f} ms (polars path {median(cold) / median(sql):.2f}x)",
            "-",
            None,
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=None, help="build the database here once and reuse it on later runs")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    main(args.db, args.runs)
