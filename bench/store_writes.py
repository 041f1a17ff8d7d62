"""Storage: upsert throughput for 100 k rows (target >= 200 k rows/s) through the store's own upsert,
against sqlite-utils' upsert_all, and database growth per trading day of collection.

    .venv/bin/python bench/store_writes.py [--runs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import sqlite_utils
from common import line, median

from storage import Store

N = 100_000


def rows(offset: int = 0, price: float = 100.0) -> list[dict[str, object]]:
    return [
        {
            "symbol": f"{i % 30:04d}.HK",
            "ts": offset + i,
            "price": price + i % 7,
            "prev_close": 99.0,
            "volume": 1000.0,
            "source": "yahoo",
        }
        for i in range(N)
    ]


def throughput(runs: int) -> None:
    ours_new: list[float] = []
    ours_update: list[float] = []
    theirs: list[float] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="tokentape-writes-") as tmp:
            ours_new_run, ours_update_run, theirs_run = one_run(Path(tmp))
        ours_new.append(ours_new_run)
        ours_update.append(ours_update_run)
        theirs.append(theirs_run)
    print(
        line(
            "Store.upsert, 100 k new rows",
            f"{median(ours_new) / 1000:.0f} k rows/s",
            ">= 200 k rows/s",
            median(ours_new) >= 200_000,
        )
    )
    print(
        line(
            "Store.upsert, 100 k changed rows",
            f"{median(ours_update) / 1000:.0f} k rows/s",
            ">= 200 k rows/s",
            median(ours_update) >= 200_000,
        )
    )
    print(line("sqlite-utils upsert_all (reference)", f"{median(theirs) / 1000:.0f} k rows/s", "-", None))


def one_run(folder: Path) -> tuple[float, float, float]:
    """Rows per second: our upsert of new rows, of changed rows, and sqlite-utils' upsert_all."""
    store = Store.open(folder / "t.db")
    data = rows()
    t = time.perf_counter()
    store.upsert("quotes", data)
    new = N / (time.perf_counter() - t)
    changed = rows(price=200.0)
    t = time.perf_counter()
    store.upsert("quotes", changed)
    update = N / (time.perf_counter() - t)
    store.close()
    db = sqlite_utils.Database(folder / "u.db")
    db.enable_wal()
    table = db.table("quotes")
    table.create(
        {"symbol": str, "ts": int, "price": float, "prev_close": float, "volume": float, "source": str},
        pk=("symbol", "ts"),
    )
    t = time.perf_counter()
    with db.conn:
        table.upsert_all(data, pk=("symbol", "ts"), batch_size=1000)
    theirs = N / (time.perf_counter() - t)
    db.close()
    return new, update, theirs


def growth_per_day() -> None:
    """One simulated HK + US trading day, written the way the quotes job writes it: every 30 s each open
    symbol upserts its intraday 2-minute bars (only new or changed ones are written) and a meta price."""
    with tempfile.TemporaryDirectory(prefix="tokentape-growth-") as tmp:
        _growth(Path(tmp))


def _growth(folder: Path) -> None:
    store = Store.open(folder / "g.db")
    store.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size0 = (folder / "g.db").stat().st_size
    markets = {"HK": (7, 5.5 * 3600), "US": (6, 6.5 * 3600)}
    for market, (symbols, session) in markets.items():
        for poll in range(int(session // 30)):
            now = poll * 30
            batch = []
            for s in range(symbols):
                symbol = f"{market}{s}"
                batch += [
                    {
                        "symbol": symbol,
                        "ts": b * 120,
                        "price": 100.0 + b * 0.01,
                        "prev_close": 99.0,
                        "volume": 10.0 * b,
                        "source": "yahoo",
                    }
                    for b in range(now // 120 + 1)
                ]
                batch.append(
                    {
                        "symbol": symbol,
                        "ts": now + 7,
                        "price": 100.0,
                        "prev_close": 99.0,
                        "volume": None,
                        "source": "yahoo",
                    }
                )
            store.upsert("quotes", batch)
            store.record_poll("quotes", now, now + 0.3, True, None, len(batch))
    store.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size1 = (folder / "g.db").stat().st_size
    quotes = store.count("quotes")
    store.close()
    print(
        line("database growth per trading day", f"{(size1 - size0) / 2**20:.2f} MiB ({quotes:,} quote rows)", "-", None)
    )
    print(
        f"  13 symbols (7 HK 5.5 h, 6 US 6.5 h), polled every 30 s; a year of trading days is "
        f"~{(size1 - size0) * 250 / 2**30:.2f} GiB"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    throughput(args.runs)
    growth_per_day()
