"""The company and model screens driven with Pilot: open, ranges, launches, gaps, and back exactly as it was."""

from __future__ import annotations

import contextlib
import math
from datetime import UTC, date, datetime, timedelta

import pytest

from monitor.config import parse_config
from monitor.demo import open_demo_store
from monitor.feed import DataFeed
from storage import Store
from tests.conftest import ROOT, settle
from widgets.app import TokentapeApp
from widgets.cards import CompanyCard
from widgets.charts import ChartPane
from widgets.company import CompanyScreen
from widgets.leaderboard import Leaderboard
from widgets.model import ModelScreen

FROZEN = 1_791_424_800.0  # 2026-10-09 01:00 UTC
LAST_BAR = date(2026, 10, 7)
QUOTE_DAYS = ["2026-09-29", "2026-09-30", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"]


def token_row(day: str, slug: str, share: float, rank: int | None) -> dict:
    return {
        "date": day,
        "model_permaslug": slug,
        "author": slug.split("/")[0],
        "rank": rank,
        "total_tokens": int(share * 1e12),
        "share": share,
        "snapshot_date": "2026-10-08",
        "source": "test",
    }


@pytest.fixture
def history_store(tmp_path):
    """MiniMax with weekday OHLCV bars from June 2025, six days of intraday quotes, and token days 1, 2 and 4
    September 2026 (3 September not stored), minimax-m3 first appearing on the 2nd."""
    config = parse_config((ROOT / "config.toml").read_text(encoding="utf-8"), tmp_path / "config.toml")
    store = Store.open(tmp_path / "t.db")
    store.sync_instruments(config.companies)
    bars, day, i = [], date(2025, 6, 2), 0
    while day <= LAST_BAR:
        if day.weekday() < 5:
            close = 300.0 + (i % 40)
            bars.append(
                {
                    "symbol": "0100.HK",
                    "date": day.isoformat(),
                    "open": close - 1,
                    "high": close + 2,
                    "low": close - 3,
                    "close": close,
                    "volume": 1e6 + i,
                    "source": "yahoo",
                }
            )
            i += 1
        day += timedelta(days=1)
    quotes = []
    for n, qday in enumerate(QUOTE_DAYS):
        start = datetime.fromisoformat(f"{qday}T01:30:00").replace(tzinfo=UTC).timestamp()  # 09:30 HKT
        for k in range(5):
            quotes.append(
                {
                    "symbol": "0100.HK",
                    "ts": int(start) + k * 600,
                    "price": 330.0 + n + k,
                    "prev_close": 329.0,
                    "volume": 1000.0 * k,
                    "source": "yahoo",
                }
            )
    tokens = [
        token_row("2026-09-01", "minimax/minimax-m2", 0.02, 10),
        token_row("2026-09-01", "deepseek/deepseek-v4", 0.5, 1),
        token_row("2026-09-01", "other", 0.48, None),
        token_row("2026-09-02", "minimax/minimax-m2", 0.02, 10),
        token_row("2026-09-02", "minimax/minimax-m3", 0.01, 20),
        token_row("2026-09-02", "deepseek/deepseek-v4", 0.5, 1),
        token_row("2026-09-02", "other", 0.47, None),
        token_row("2026-09-04", "minimax/minimax-m3", 0.03, 8),
        token_row("2026-09-04", "deepseek/deepseek-v4", 0.5, 1),
        token_row("2026-09-04", "other", 0.47, None),
    ]
    with store.transaction() as conn:
        store.upsert("daily_bars", bars, conn)
        store.upsert("quotes", quotes, conn)
        store.upsert("token_daily", tokens, conn)
    yield config, store
    store.close()


@contextlib.asynccontextmanager
async def running(config, store, size=(160, 48)):
    app = TokentapeApp(config, DataFeed.for_store(store, config, "demo"), clock=lambda: FROZEN)
    async with app.run_test(size=size) as pilot:
        await settle(pilot, lambda: app.dashboard is not None)
        yield app, pilot


async def open_company(app, pilot) -> CompanyScreen:
    await pilot.press("enter")
    await settle(pilot, lambda: isinstance(app.screen, CompanyScreen) and app.screen.view is not None)
    return app.screen


def first_bar_from(store: Store, start: str) -> str:
    sql = "SELECT MIN(date) FROM daily_bars WHERE symbol='0100.HK' AND date >= ?"
    return store.conn().execute(sql, (start,)).fetchone()[0]


async def test_enter_on_the_minimax_card_opens_it_since_ipo_and_each_range_key_moves_the_first_date(history_store):
    config, store = history_store
    async with running(config, store) as (app, pilot):
        assert isinstance(app.focused, CompanyCard) and app.focused.symbol == "0100.HK"
        screen = await open_company(app, pilot)
        view = screen.view
        assert view.symbol == "0100.HK" and view.range == "IPO"
        assert "[7 since IPO]" in str(screen.query_one("#co-title").render())
        assert view.first_date == "2026-01-09" and view.price.reference == 165.0  # the IPO price line
        await settle(pilot, lambda: screen.query_one("#price", ChartPane).renders > 0)
        expected = {
            "1": ("1D", QUOTE_DAYS[-1]),
            "2": ("5D", QUOTE_DAYS[-5]),
            "3": ("1M", first_bar_from(store, "2026-09-07")),
            "4": ("6M", first_bar_from(store, "2026-04-07")),
            "5": ("YTD", first_bar_from(store, "2026-01-01")),
            "6": ("1Y", first_bar_from(store, "2025-10-07")),
            "7": ("IPO", first_bar_from(store, "2026-01-09")),
        }
        for key, (rng, first) in expected.items():
            await pilot.press(key)
            await settle(pilot, lambda rng=rng: screen.view.range == rng)
            assert screen.view.first_date == first, rng
        assert len({first for _, first in expected.values()}) == 7  # every range starts on its own day
        await pilot.press("left_square_bracket")
        await settle(pilot, lambda: screen.view.range == "1Y")
        await pilot.press("right_square_bracket", "right_square_bracket")  # past the last range: stays there
        await settle(pilot, lambda: screen.view.range == "IPO")
        await pilot.press("k")
        await settle(pilot, lambda: screen.candles)
        assert "candles (k)" in str(screen.query_one("#co-title").render())


async def test_a_launch_is_marked_on_its_day_and_a_missing_token_day_is_a_gap(history_store):
    config, store = history_store
    async with running(config, store) as (app, pilot):
        screen = await open_company(app, pilot)
        await pilot.press("6")
        await settle(pilot, lambda: screen.view.range == "1Y")
        view = screen.view
        assert [m.x for m in view.markers] == [date(2026, 9, 2).toordinal()]  # m3, not m2 (first stored day)
        assert [launch[:2] for launch in view.launches] == [("2026-09-02", "minimax/minimax-m3")]
        runs = view.share.runs
        assert [[x for x, _ in run] for run in runs] == [
            [date(2026, 9, 1).toordinal(), date(2026, 9, 2).toordinal()],
            [date(2026, 9, 4).toordinal()],
        ]
        assert [v for run in runs for _, v in run] == pytest.approx([0.02, 0.03, 0.03])
        assert "Launches on this range (1)" in str(screen.query_one("#co-launches").render())


async def test_escape_returns_to_the_dashboard_as_it_was(history_store):
    config, store = history_store
    async with running(config, store) as (app, pilot):
        dashboard = app.screen
        card = app.focused
        await open_company(app, pilot)
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is dashboard)
        assert app.focused is card
        board = dashboard.query_one(Leaderboard)
        board.focus()
        before = (board.sort, board.descending)
        await pilot.press("s", "s", "slash", *"mini", "enter")
        await settle(pilot, lambda: board.needle == "mini" and board.has_focus)
        sort, descending, rows = board.sort, board.descending, board.row_count
        assert (sort, descending) != before and rows == 1
        await pilot.press("enter")  # the one row left: minimax-m3's model screen
        await settle(pilot, lambda: isinstance(app.screen, ModelScreen) and app.screen.view is not None)
        assert app.screen.view.model == "minimax/minimax-m3"
        await pilot.press("s", "m", "tab")  # the dashboard's panel keys must not touch the hidden dashboard
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is dashboard)
        assert app.focused is board
        assert (board.sort, board.descending, board.needle, board.row_count) == (sort, descending, "mini", rows)
        assert dashboard.board_mode == "model"


async def test_demo_opens_both_core_companies_since_listing_and_says_what_it_lacks(tmp_path):
    config = parse_config((ROOT / "config.toml").read_text(encoding="utf-8"), tmp_path / "config.toml")
    store = open_demo_store(config)
    try:
        async with running(config, store, size=(80, 24)) as (app, pilot):
            for symbol in ("0100.HK", "2513.HK"):
                app.open_company(symbol)
                await settle(pilot, lambda: isinstance(app.screen, CompanyScreen) and app.screen.view is not None)
                screen = app.screen
                first = store.conn().execute("SELECT MIN(date) FROM daily_bars WHERE symbol=?", (symbol,)).fetchone()
                assert screen.view.first_date == first[0]
                assert screen.view.share.weekly  # the bundled weekly chart on the same axis
                title = str(screen.query_one("#price-title").render())
                assert "closes only, no OHLC" in title and "interpolated" in title
                assert not screen.query_one("#volume", ChartPane).display
                await pilot.press("1")
                await settle(pilot, lambda screen=screen: screen.view.range == "1D")
                assert "no intraday bars stored" in str(screen.query_one("#price-title").render())
                await pilot.press("escape")
                await settle(pilot, lambda: not isinstance(app.screen, CompanyScreen))
    finally:
        store.close()


async def test_5d_of_30_second_quotes_is_drawn_from_four_points_a_column_and_looks_like_every_quote(
    history_store, monkeypatch
):
    """Five days of 30-second quotes (~3,300) on the 5D chart: plotext gets at most four points a braille column,
    the runs break at each lunch break and night, and the chart on screen is the one every stored quote draws."""
    from rich.text import Text

    from widgets import charts

    config, store = history_store
    rows = []
    for n, qday in enumerate(QUOTE_DAYS[-5:]):
        for start, end in (("01:30", "04:00"), ("05:00", "08:00")):  # 09:30-12:00 and 13:00-16:00 HKT
            first = int(datetime.fromisoformat(f"{qday}T{start}:00+00:00").timestamp())
            last = int(datetime.fromisoformat(f"{qday}T{end}:00+00:00").timestamp())
            for k, ts in enumerate(range(first, last + 1, 30)):
                price = 330.0 + n + 3 * math.sin(k / 17) + (k % 7) * 0.1 + (9.0 if (n, k) == (2, 77) else 0.0)
                rows.append(
                    {"symbol": "0100.HK", "ts": ts, "price": price, "prev_close": 329.0, "volume": None, "source": "t"}
                )
    with store.transaction() as conn:
        store.upsert("quotes", rows, conn)
    plotted: list[list[float]] = []
    plot = charts.Plot.plot

    def recording(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        plotted.append(list(args[1]))
        return plot(self, *args, **kwargs)

    monkeypatch.setattr(charts.Plot, "plot", recording)
    async with running(config, store) as (app, pilot):
        screen = await open_company(app, pilot)
        pane = screen.query_one("#price", ChartPane)
        plotted.clear()
        await pilot.press("2")
        await settle(pilot, lambda: screen.view.range == "5D" and "09-30 09:30" in pane.render().plain)
        price = screen.view.price
        assert len(price.xs) == len(rows) > 3000
        hkt = [datetime.fromtimestamp(row["ts"], UTC) + timedelta(hours=8) for row in rows]
        assert [(f"{hkt[i - 1]:%H:%M}", f"{hkt[i]:%H:%M}") for i in price.breaks] == [
            ("12:00", "13:00"),
            ("16:00", "09:30"),
        ] * 4 + [("12:00", "13:00")]
        width, height = pane.size
        lines = [ys for ys in plotted if len(ys) > 2]  # the price line (not the IPO line: no IPO line intraday)
        assert lines and max(map(len, lines)) <= 4 * (2 * charts.plot_columns(width) + len(price.breaks))
        assert max(map(max, lines)) == max(price.close)  # the one-quote spike is drawn
        monkeypatch.setattr(charts, "envelope", lambda xs, ys, *_: (list(xs), list(ys)))
        every_quote = Text.from_ansi(charts.price_chart(price, screen.view.axis, (), width, height, False))
        assert pane.render().plain == every_quote.plain and pane.render().spans == every_quote.spans
