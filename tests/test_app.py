"""The real dashboard driven with App.run_test and Pilot."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import pytest

from monitor.config import parse_config
from monitor.demo import open_demo_store
from monitor.feed import DataFeed
from monitor.jobs import PollResult
from storage import Store
from tests.conftest import ROOT, loopback_config_text, settle
from tests.payloads import PRICES, serve_everything
from widgets.app import TokentapeApp
from widgets.cards import CompanyCard
from widgets.leaderboard import Leaderboard
from widgets.messages import PollFinished
from widgets.peer_moves import PeerMoves
from widgets.share_chart import ShareChart

FROZEN = 1_791_424_800.0  # 2026-10-09 01:00 UTC, 09:00 HKT Friday


def config_with(tmp_path, text: str | None = None):
    path = tmp_path / "config.toml"
    path.write_text(text or (ROOT / "config.toml").read_text(), encoding="utf-8")
    return parse_config(path.read_text(encoding="utf-8"), path)


def card_text(app, symbol: str) -> str:
    card = app.query_one(f"#card-{symbol.replace('.', '_').replace('^', '_')}", CompanyCard)
    return str(card.render())


def demo_app(config, store, **kwargs) -> TokentapeApp:
    return TokentapeApp(config, DataFeed.for_store(store, config, "demo"), clock=lambda: FROZEN, **kwargs)


@contextlib.asynccontextmanager
async def running(app: TokentapeApp, size=(160, 48)):
    """The app started and showing its first dashboard."""
    async with app.run_test(size=size) as pilot:
        await settle(pilot, lambda: app.dashboard is not None)
        yield pilot


@pytest.fixture
def demo(tmp_path):
    config = config_with(tmp_path)
    store = open_demo_store(config)
    yield config, store
    store.close()


async def test_cards_show_what_is_in_the_database(demo):
    config, store = demo
    app = demo_app(config, store)
    async with running(app):
        minimax = card_text(app, "0100.HK")
        close = (
            store.conn()
            .execute("SELECT close FROM daily_bars WHERE symbol='0100.HK' ORDER BY date DESC LIMIT 1")
            .fetchone()[0]
        )
        assert f"{close:,.2f}" in minimax  # 297.40, the reported 2026-08-03 close
        assert "mcap HKD 92.2B · USD 11.8B" in minimax  # 297.4 x 310M shares, at the demo's HKD peg rate
        assert "tokens 0.77%" in minimax
        assert "tokens 10.26%" in card_text(app, "2513.HK")
        board = app.query_one(Leaderboard)
        assert board.row_count == 51 and board.get_row_at(0)[2].plain == "deepseek-v4.1-flash"
        assert "DEMO" in str(app.query_one("#header").render())


async def test_a_new_poll_rerenders_only_the_affected_card(demo):
    config, store = demo
    app = demo_app(config, store)
    async with running(app) as pilot:
        cards = {c.symbol: c.renders for c in app.query(CompanyCard)}
        board, chart = app.query_one(Leaderboard).renders, app.query_one(ShareChart).renders
        moves = app.query_one(PeerMoves).renders
        store.upsert(
            "quotes",
            [
                {
                    "symbol": "0100.HK",
                    "ts": int(FROZEN) - 60,
                    "price": 310.0,
                    "prev_close": 297.4,
                    "volume": None,
                    "source": "yahoo",
                }
            ],
        )
        app.post_message(PollFinished(PollResult("quotes", True, 1, None, FROZEN, FROZEN, frozenset({"quotes"}))))
        await settle(pilot, lambda: "310.00" in card_text(app, "0100.HK"))
        after = {c.symbol: c.renders for c in app.query(CompanyCard)}
        assert after["0100.HK"] == cards["0100.HK"] + 1
        assert {s: n for s, n in after.items() if s != "0100.HK"} == {s: n for s, n in cards.items() if s != "0100.HK"}
        assert app.query_one(Leaderboard).renders == board and app.query_one(ShareChart).renders == chart
        assert app.query_one(PeerMoves).renders == moves + 1  # MiniMax's row there changed too


async def test_export_key_writes_files_matching_the_screen(tmp_path):
    config = config_with(
        tmp_path,
        (ROOT / "config.toml").read_text().replace('export_dir = ""', f'export_dir = "{tmp_path / "exports"}"'),
    )
    store = open_demo_store(config)
    app = demo_app(config, store)
    async with running(app) as pilot:
        await pilot.press("e")
        await settle(pilot, lambda: app.last_export is not None)
        folder = app.last_export
        assert folder.parent == tmp_path / "exports"
        snap = json.loads((folder / "snapshot.json").read_text())
        minimax = next(c for c in snap["companies"] if c["symbol"] == "0100.HK")
        assert f"{minimax['price']:,.2f}" in card_text(app, "0100.HK")
        assert snap["attribution"].startswith("Source: OpenRouter")
        svg = (folder / "screen.svg").read_text()
        assert svg.startswith("<svg") and "MiniMax" in svg
        assert "0100.HK" in (folder / "companies.csv").read_text()
        assert (folder / "models.csv").read_text().count("\n") > 50
    store.close()


async def test_remapped_key_works(tmp_path):
    config = config_with(tmp_path, (ROOT / "config.toml").read_text().replace('view = "m"', 'view = "v"'))
    store = open_demo_store(config)
    app = demo_app(config, store)
    async with running(app) as pilot:
        await pilot.press("m")
        await pilot.pause()  # the key event is handled (and ignored: m is no longer bound)
        assert app.dashboard_screen.board_mode == "model"
        await pilot.press("v")
        await settle(pilot, lambda: app.query_one(Leaderboard).view.mode == "maker")
        assert app.query_one(Leaderboard).get_row_at(0)[2].plain == "DeepSeek"
    store.close()


async def test_filter_and_sort(demo):
    config, store = demo
    app = demo_app(config, store)
    async with running(app) as pilot:
        await pilot.press("slash", "m", "i", "n", "i", "m", "a", "x")
        await settle(pilot, lambda: app.query_one(Leaderboard).row_count == 1)
        assert app.query_one(Leaderboard).get_row_at(0)[2].plain == "minimax-m3"
        await pilot.press("escape")
        await settle(pilot, lambda: app.query_one(Leaderboard).row_count == 51)
        await pilot.press("s")  # rank -> share
        await pilot.press("s")  # share -> Δ1d
        await pilot.press("s")  # Δ1d -> Δ7d
        await settle(pilot, lambda: app.query_one(Leaderboard).sort == "d7")
        assert app.query_one(Leaderboard).get_row_at(0)[2].plain == "deepseek-v4.1-flash"  # +15.6pp


async def test_currency_switch_changes_display_market_cap(demo):
    config, store = demo
    app = demo_app(config, store)
    async with running(app) as pilot:
        await pilot.press("c")
        await settle(pilot, lambda: app.dashboard.display_currency == "HKD")
        await settle(pilot, lambda: "mcap HKD 92.2B" in card_text(app, "0100.HK"))
        assert "USD" not in card_text(app, "0100.HK")


async def test_help_screen_lists_bindings_and_log_file(demo, tmp_path):
    config, store = demo
    app = demo_app(config, store, log_file=tmp_path / "tokentape.log")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("question_mark")
        await settle(pilot, lambda: app.screen.query("#help-text"))
        text = str(app.screen.query_one("#help-text").render())
        assert "[keys] refresh" in text and "tokentape.log" in text
        await pilot.press("escape")
        await pilot.press("q")
    assert app.return_code == 0


async def test_read_only_mode_picks_up_rows_another_process_wrote(tmp_path):
    config = config_with(
        tmp_path,
        (ROOT / "config.toml").read_text().replace("read_only_check_seconds = 2.0", "read_only_check_seconds = 0.1"),
    )
    db = tmp_path / "shared.db"
    store = Store.open(db)
    store.sync_instruments(config.companies)
    app = TokentapeApp(config, DataFeed.for_store(store, config, "read-only"), clock=lambda: FROZEN)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, lambda: app.dashboard is not None)
        assert "HKD —" in card_text(app, "2513.HK")
        # Another process writes a quote and records its poll, as `tokentape collect` does.
        writer = (
            "import sqlite3, sys\n"
            "conn = sqlite3.connect(sys.argv[1])\n"
            "with conn:\n"
            "    at = float(sys.argv[2])\n"
            "    conn.execute(\"INSERT INTO quotes VALUES ('2513.HK', ?, 2100.0, 2050.0, NULL, 'yahoo')\",\n"
            "                 (int(at),))\n"
            '    conn.execute("INSERT INTO polls (job, started, finished, ok, error, rows) "\n'
            "                 \"VALUES ('quotes', ?, ?, 1, NULL, 1)\", (at, at))\n"
        )
        subprocess.run([sys.executable, "-c", writer, str(db), str(FROZEN)], check=True, timeout=30)
        await settle(pilot, lambda: "2,100.00" in card_text(app, "2513.HK"))
        assert app.feed.collector is None  # a reader never polls
    store.close()


@pytest.fixture
def live(upstream, tmp_path):
    """A live-mode app polling the loopback upstream, which serves everything."""
    serve_everything(upstream)
    config = config_with(tmp_path, loopback_config_text(upstream.base_url))
    store = Store.open(tmp_path / "live.db")
    store.sync_instruments(config.companies)
    yield TokentapeApp(config, DataFeed.for_store(store, config, "live")), store
    store.close()


async def test_live_mode_polls_the_upstreams_into_the_cards(live):
    app, store = live
    async with app.run_test(size=(160, 48)) as pilot:
        price = PRICES["0100.HK"][1][-1]
        await settle(pilot, lambda: f"{price:,.2f}" in card_text(app, "0100.HK"), seconds=15)
        await settle(pilot, lambda: app.query_one(Leaderboard).row_count == 51, seconds=15)
        assert "yahoo" in str(app.query_one(CompanyCard).border_subtitle)
        polls = store.latest_polls()
        assert set(polls["job"].to_list()) >= {"quotes", "openrouter_export"}


def test_snapshot_160x48(snap_compare, tmp_path):
    config = config_with(tmp_path)
    assert snap_compare(demo_app(config, open_demo_store(config)), terminal_size=(160, 48), run_before=_wait_for_data)


def test_snapshot_80x24(snap_compare, tmp_path):
    config = config_with(tmp_path)
    assert snap_compare(demo_app(config, open_demo_store(config)), terminal_size=(80, 24), run_before=_wait_for_data)


async def _wait_for_data(pilot) -> None:
    await settle(pilot, lambda: pilot.app.dashboard is not None)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def test_failed_poll_keeps_last_good_data_and_shows_the_error(live, upstream):
    from tests.upstream import Reply
    from widgets.status import StatusLine

    app, _ = live
    async with app.run_test(size=(160, 48)) as pilot:
        price = f"{PRICES['0100.HK'][1][-1]:,.2f}"
        await settle(pilot, lambda: price in card_text(app, "0100.HK"), seconds=15)
        upstream.tencent_records.clear()
        upstream.fail_next("/v8/finance/chart/", *[Reply(503, b"down")] * 60)
        await pilot.press("r")
        status = lambda: str(app.query_one(StatusLine).render())  # noqa: E731
        await settle(pilot, lambda: "✗ quotes" in status(), seconds=15)
        assert "HTTP 503" in status()
        assert price in card_text(app, "0100.HK")  # the last good price stays, with its source and age
        assert "yahoo" in str(app.query_one("#card-0100_HK").border_subtitle)


async def test_opens_on_the_last_screen_then_replaces_it(demo, tmp_path):
    import threading

    from widgets import screen_cache

    config, store = demo
    cache_file = tmp_path / "cache" / "screen.json"
    first = demo_app(config, store, cache_file=cache_file)
    async with running(first) as pilot:
        await settle(pilot, lambda: cache_file.exists())
    cached = screen_cache.load(cache_file)
    assert cached is not None and any(c.symbol == "0100.HK" and c.price == 297.4 for c in cached.cards)
    assert cache_file.stat().st_mode & 0o777 == 0o600 and cache_file.parent.stat().st_mode & 0o777 == 0o700

    release = threading.Event()

    def slow_open():
        release.wait(10)
        return store

    app = TokentapeApp(config, DataFeed(config, "demo", slow_open), clock=lambda: FROZEN, cache_file=cache_file)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, lambda: "297.40" in card_text(app, "0100.HK"))  # from the cache, before any read
        assert app.dashboard is None
        assert "cached screen" in str(app.query_one("#status").render())
        release.set()
        await settle(pilot, lambda: app.dashboard is not None)
        await settle(pilot, lambda: "DEMO" in str(app.query_one("#status").render()))


async def test_a_failing_data_path_exits_2_with_its_reason(demo):
    from storage import StorageError

    config, _ = demo

    def broken():
        raise StorageError("/nowhere/t.db: cannot open database")

    app = TokentapeApp(config, DataFeed(config, "read-only", broken))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: app.open_error is not None)
    assert app.return_code == 2 and "cannot open database" in str(app.open_error)


class _WritesAFileWhenUnpickled:
    """A pickle payload that would create `marker` if anything unpickled it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_hostile_or_broken_screen_cache_is_ignored_never_executed(tmp_path, demo):
    import pickle

    from widgets import screen_cache

    marker = tmp_path / "executed"
    path = tmp_path / "screen.json"
    path.write_bytes(pickle.dumps(_WritesAFileWhenUnpickled(marker)))
    assert screen_cache.load(path) is None
    assert not marker.exists()
    path.write_bytes(b"\x80\x04 not json")
    assert screen_cache.load(path) is None
    path.write_text('{"format": 3, "views": {"cards": "not a tuple"}}')
    assert screen_cache.load(path) is None
    path.write_text('{"format": 2, "views": {}}')  # an older tokentape's file
    assert screen_cache.load(path) is None
    assert screen_cache.load(tmp_path / "missing.json") is None


async def test_first_screen_comes_from_a_second_process_before_the_apps_own_data_path(demo, tmp_path):
    """The child computes the screen from the database while the app starts; the app's own (slower) path
    follows and takes over without changing a number."""
    import threading

    from widgets.first_screen import FirstScreen

    config, store = demo
    release = threading.Event()

    def slow_open():
        release.wait(20)
        return store

    child = FirstScreen(config.path, "demo", tmp_path / "unused.db")
    app = TokentapeApp(config, DataFeed(config, "demo", slow_open), clock=lambda: FROZEN, first_screen=child)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, lambda: "297.40" in card_text(app, "0100.HK"), seconds=30)
        assert app.dashboard is None  # the app's own data path has not run yet
        assert "DEMO · bundled real data" in str(app.query_one("#status").render())
        release.set()
        await settle(pilot, lambda: app.dashboard is not None)
        assert "297.40" in card_text(app, "0100.HK")


async def test_a_failing_first_screen_process_leaves_the_apps_own_path_in_charge(tmp_path):
    from widgets.first_screen import FirstScreen

    config = config_with(tmp_path)
    store = Store.open(tmp_path / "t.db")
    store.sync_instruments(config.companies)
    child = FirstScreen(config.path, "read-only", tmp_path / "no-such.db")  # exits 1: nothing to read
    app = TokentapeApp(config, DataFeed.for_store(store, config, "read-only"), clock=lambda: FROZEN, first_screen=child)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, lambda: app.dashboard is not None)
        assert child.process.returncode == 1
        assert "HKD —" in card_text(app, "0100.HK")
    store.close()
