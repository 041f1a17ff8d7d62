"""UI-loop cost of one dashboard refresh at 13 symbols (the default config) and at 200 (the default config
plus 187 synthetic HK companies, each with 30 daily bars and a day of intraday quotes). The app runs
headless (App.run_test, 160x48, demo data); each refresh hands it a new ScreenViews in which every card's
price and quote time moved (what a quote poll does) and the clock changed, through the same DashboardReady
handler a reload uses. Measured per refresh: the handler's time on the loop (the `views` assignment and
every panel it updates); the layout and repaint that follow on the loop (time in Textual's Screen
`_refresh_layout` and `_compositor_refresh`, private methods wrapped for the measurement only); and the wall
time until the process is idle again (Pilot.pause: a ceiling, it includes idle-detection sleeps).
Target (issue 15): <= 16 ms of UI-loop work per refresh at 200 symbols.

    .venv/bin/python bench/ui_refresh.py [--symbols 13,200] [--refreshes 40]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import ROOT, line
from textual.screen import Screen

from monitor.config import Config, load_config, parse_config
from monitor.demo import open_demo_store
from monitor.feed import DataFeed
from storage import Store
from widgets.app import TokentapeApp
from widgets.messages import DashboardReady
from widgets.views import ScreenViews

FROZEN = 1_791_424_800.0  # 2026-10-09 01:00 UTC, 09:00 HKT Friday (the tests' frozen clock)


def config_for(symbols: int, folder: Path) -> Config:
    """The default config, with synthetic HK companies appended until it lists `symbols` companies."""
    text = (ROOT / "config.toml").read_text()
    base = len(load_config(str(ROOT / "config.toml")).companies)
    for i in range(max(0, symbols - base)):
        text += (
            f'\n[[company]]\nname = "Synthetic {i}"\nsymbol = "{8000 + i:04d}.HK"\ncurrency = "HKD"\n'
            f'total_shares = 1_000_000_000\nipo_date = "2025-06-01"\nipo_price = 50.0\n'
            f'openrouter_authors = ["synthetic{i}"]\ngroup = "peer"\n'
        )
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return parse_config(text, path)


def fill(store: Store, config: Config) -> None:
    """Prices for the companies the demo data does not cover: 30 daily bars and today's 30 s quotes."""
    rng = random.Random(15)
    have = {r[0] for r in store.conn().execute("SELECT DISTINCT symbol FROM daily_bars")}
    store.sync_instruments(config.companies)
    end = datetime.fromtimestamp(FROZEN, UTC)
    bars, quotes = [], []
    for company in config.companies:
        if company.symbol in have or company.group == "index":
            continue
        price = rng.uniform(20, 400)
        for d in range(30, 0, -1):
            day = (end - timedelta(days=d)).date().isoformat()
            price *= 1 + rng.gauss(0, 0.02)
            row = {"symbol": company.symbol, "date": day, "open": price, "high": price, "low": price}
            bars.append(row | {"close": price, "volume": 1e6, "source": "bench"})
        start = int(FROZEN) - 3600
        for k in range(120):
            price *= 1 + rng.gauss(0, 0.001)
            quotes.append(
                {"symbol": company.symbol, "ts": start + 30 * k, "price": price, "prev_close": price, "volume": 1.0}
                | {"source": "bench"}
            )
    store.upsert("daily_bars", bars)
    store.upsert("quotes", quotes)


def moved(views: ScreenViews, n: int) -> ScreenViews:
    """Every card's price nudged, and the clock moved: a new ScreenViews as a quote poll makes one."""
    cards = tuple(
        dataclasses.replace(
            c,
            price=(c.price or 1.0) * (1 + 0.0001 * ((n % 7) + 1)),
            change=(c.change or 0) + n * 0.01,
            as_of=f"quote {n % 60:02d}:00 HKT · 15m delay",  # each poll brings a new quote time too
        )
        for c in views.cards
    )
    return dataclasses.replace(views, cards=cards, clock_at=(views.clock_at or FROZEN) + n)


PAINT_METHODS = ("_refresh_layout", "_compositor_refresh")
painting: list[float] = []  # seconds spent in PAINT_METHODS since the list was last cleared


def _timed(method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            painting.append(time.perf_counter() - t0)

    return wrapper


for _name in PAINT_METHODS:
    setattr(Screen, _name, _timed(getattr(Screen, _name)))


async def measure(symbols: int, refreshes: int, folder: Path) -> tuple[list[float], list[float], list[float], int]:
    config = config_for(symbols, folder)
    store = open_demo_store(config)
    fill(store, config)
    app = TokentapeApp(config, DataFeed.for_store(store, config, "demo"), clock=lambda: FROZEN)
    handler_ms: list[float] = []
    paint_ms: list[float] = []
    idle_ms: list[float] = []
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(600):
            if app.dashboard is not None:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        dashboard, base = app.dashboard, app.dashboard_screen.views
        assert dashboard is not None and base is not None
        shown = len(base.cards)
        for n in range(1, refreshes + 1):
            message = DashboardReady(dashboard, moved(base, n))
            painting.clear()
            t0 = time.perf_counter()
            app._on_dashboard_ready(message)
            t1 = time.perf_counter()
            await pilot.pause()  # the layout and repaint the assignment scheduled
            t2 = time.perf_counter()
            handler_ms.append((t1 - t0) * 1000)
            paint_ms.append(sum(painting) * 1000)
            idle_ms.append((t2 - t0) * 1000)
    store.close()
    return handler_ms, paint_ms, idle_ms, shown


def main(counts: list[int], refreshes: int) -> int:
    import tempfile

    print("ms per refresh, median / max:")
    print(f"{'symbols':<8} {'cards':<6} {'handler':<16} {'layout+repaint':<16} {'loop total':<16} wall to idle")
    results = []
    for count in counts:
        with tempfile.TemporaryDirectory(prefix="tokentape-ui-") as folder:
            handler, paint, idle, shown = asyncio.run(measure(count, refreshes, Path(folder)))
        results.append((count, handler))
        total = [h + p for h, p in zip(handler, paint, strict=True)]
        cells = [f"{statistics.median(v):.1f} / {max(v):.1f}" for v in (handler, paint, total, idle)]
        print(f"{count:<8} {shown:<6} {cells[0]:<16} {cells[1]:<16} {cells[2]:<16} {cells[3]}", flush=True)
    for count, handler in results:
        if count >= 200:
            median = statistics.median(handler)
            print(line(f"handler per refresh, {count} symbols", f"{median:.2f} ms median", "<= 16 ms", median <= 16))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", default="13,200")
    parser.add_argument("--refreshes", type=int, default=40)
    args = parser.parse_args()
    raise SystemExit(main([int(n) for n in args.symbols.split(",")], args.refreshes))
