"""The offline demo: a throwaway database filled from the bundled dataset (monitor/demo_data/demo.json).

Everything in it is a real figure (see scripts/build_demo_data.py for sources); trading days between
two reported closes are filled geometrically and stored with source "demo-interpolated", so the
screen can say which prices are reported and which are filled in.
"""

from __future__ import annotations

import atexit
import hashlib
import itertools
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import platformdirs

from monitor import APP_NAME
from monitor.config import Config, MarketConfig
from monitor.markets import is_trading_day
from storage import SCHEMA_VERSION, Store

REPORTED, INTERPOLATED = "demo-reported", "demo-interpolated"
# The bundled data holds one FX rate, the HKD peg (HKDUSD): the demo shows market caps in these only.
DEMO_CURRENCIES = ("USD", "HKD")
# Zhipu reports in renminbi: the demo converts its revenue at a reported 2026 rate, stored like the HKD peg.
DEMO_CNY = {
    "pair": "USDCNY",
    "rate": 7.0197,
    "source": "demo-reported",
    "note": "USD/CNY 7.0197: PBOC central parity of 2026-01-08 (CFETS, as reported by MENAFN: "
    "https://menafn.com/1110571586/Chinese-Yuan-Edges-Down-Against-US-Dollar)",
}
DEMO_CNY_TS = 1767830400  # 2026-01-08 00:00 UTC: the parity's day


def fill_closes(points: list[tuple[str, float]], is_trading: Callable[[date], bool]) -> list[dict[str, Any]]:
    """Daily closes on every trading day from the first to the last reported point, geometric in between."""
    bars = []
    for (d0, c0), (d1, c1) in itertools.pairwise(points):
        start, end = date.fromisoformat(d0), date.fromisoformat(d1)
        days = [start + timedelta(n) for n in range((end - start).days)]
        trading = [d for d in days if is_trading(d)]
        for i, day in enumerate(trading):
            close = c0 * (c1 / c0) ** (i / len(trading))
            source = REPORTED if i == 0 else INTERPOLATED
            bars.append({"date": day.isoformat(), "close": round(close, 3), "source": source})
    last_day, last_close = points[-1]
    bars.append({"date": last_day, "close": last_close, "source": REPORTED})
    return bars


def filled_daily_bars(reported: Mapping[str, Sequence[Sequence[Any]]], market: MarketConfig) -> list[dict[str, Any]]:
    """Every symbol's reported closes (date, close, source) filled over `market`'s trading days.
    scripts/build_demo_data.py stores the result in demo.json, so the demo needs no calendar at start."""
    bars = []
    for symbol, points in reported.items():
        for bar in fill_closes([(d, c) for d, c, _ in points], lambda day: is_trading_day(market, day)):
            bars.append({"symbol": symbol, "open": None, "high": None, "low": None, "volume": None, **bar})
    return bars


def populate(store: Store, config: Config, data: dict[str, Any]) -> None:
    store.sync_instruments(config.companies)
    bars = data["daily_bars"]
    as_of = datetime.fromisoformat(data["as_of"].replace("Z", "+00:00")).timestamp()
    newest = max(row["date"] for row in data["token_daily"])
    with store.transaction() as conn:
        store.upsert("daily_bars", bars, conn)
        store.upsert("token_daily", [row for row in data["token_daily"] if row["date"] != newest], conn)
        store.upsert("token_weekly", data["token_weekly"], conn)
        store.upsert("model_prices", data.get("model_prices", []), conn)
        store.upsert("model_day_usage", data.get("model_day_usage", []), conn)
        store.upsert(
            "fx",
            [
                {"pair": data["fx"]["pair"], "ts": int(as_of), "rate": data["fx"]["rate"], "source": "demo-peg"},
                # Stamped with the day the rate was fixed, so every figure converted with it names that day.
                {"pair": DEMO_CNY["pair"], "ts": DEMO_CNY_TS, "rate": DEMO_CNY["rate"], "source": DEMO_CNY["source"]},
            ],
            conn,
        )
        for key, value in (
            ("openrouter_attribution", data["attribution"]),
            ("openrouter_snapshot_date", data["snapshot_date"]),
            ("demo_as_of", str(as_of)),
            ("demo_note", data["note"]),
            ("demo_fx_cny", str(DEMO_CNY["note"])),
        ):
            store.set_meta(key, value, conn)
    from monitor.valuation import sync as sync_fundamentals

    sync_fundamentals(store, config)
    _land_newest_day(store, config, data, newest, as_of)


def _land_newest_day(store: Store, config: Config, data: dict[str, Any], newest: str, as_of: float) -> None:
    """The demo's alert rules see the newest token day arrive as a collector's would, so they fire on it."""
    from monitor.alert_rules import rule_from_table
    from monitor.alerts import AlertEngine

    rules = [rule_from_table(table, [c.symbol for c in config.companies]) for table in data.get("alerts", [])]
    engine = AlertEngine(config, store, lambda: as_of, {}, rules=rules)
    engine.evaluate({"token_daily"})  # the days before the newest: each rule notes where it stands
    store.upsert("token_daily", [row for row in data["token_daily"] if row["date"] == newest])
    engine.evaluate({"token_daily"})


def _cache_path(config: Config, data: bytes) -> Path:
    """Where a built demo database for this dataset, schema and watchlist is kept between runs."""
    key = hashlib.sha256(data)
    key.update(str(SCHEMA_VERSION).encode())
    key.update(repr(config.companies).encode())
    key.update(repr((config.fundamentals, config.references, DEMO_CNY, DEMO_CNY_TS)).encode())
    return platformdirs.user_cache_path(APP_NAME) / f"demo-{key.hexdigest()[:16]}.db"


def open_demo_store(config: Config) -> Store:
    """A fresh demo database in a temporary folder that is removed when the process exits.

    Building it costs ~0.15 s (sqlite-utils import, migrations, inserts), so the first run keeps a copy
    in the cache dir and later runs start from that copy; the user's demo is never shared or written back."""
    folder = Path(tempfile.mkdtemp(prefix="tokentape-demo-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    target = folder / "demo.db"
    raw = (resources.files("monitor") / "demo_data" / "demo.json").read_bytes()
    cached = _cache_path(config, raw)
    if cached.is_file():
        shutil.copyfile(cached, target)
        return Store.open(target)
    store = Store.open(target)
    populate(store, config, json.loads(raw))
    store.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the one file, then copy it
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(target, partial)
        partial.replace(cached)
    except OSError:
        pass  # the cache only saves start-up time
    return store
