"""The real dashboard driven with App.run_test and Pilot."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.config import parse_config
from monitor.demo import open_demo_store
from monitor.feed import DataFeed
from monitor.jobs import PollResult
from storage import Store
from tests.conftest import ROOT, loopback_config_text, settle
from tests.payloads import PRICES, serve_everything
from widgets.app import TokentapeApp
from widgets.cards import CompanyCard, card_subtitle
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
    text = (ROOT / "config.toml").read_text().replace('valuation = "v"', 'valuation = "f6"')  # v is free for view
    config = config_with(tmp_path, text.replace('view = "m"', 'view = "v"'))
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


async def test_filter_enter_returns_to_the_table_escape_clears_and_it_matches_slug_name_and_maker(demo):
    config, store = demo
    app = demo_app(config, store)
    async with running(app) as pilot:
        board = app.query_one(Leaderboard)
        await pilot.press("slash", *"minimax", "enter")
        await settle(pilot, lambda: board.has_focus)  # enter hands the keys back to the table ...
        assert board.needle == "minimax" and not app.query_one("#filter").display  # ... and keeps the filter
        assert [board.get_row_at(i)[2].plain for i in range(board.row_count)] == ["minimax-m3"]
        await pilot.press("escape")  # from the table: clears it
        await settle(pilot, lambda: board.row_count == 51)
        await pilot.press("slash", *"20260731", "enter")  # the version date is only in the slug
        await settle(pilot, lambda: board.row_count == 1)
        assert board.get_row_at(0)[2].plain == "deepseek-v4-flash 07-31"
        await pilot.press("slash", "escape")
        await settle(pilot, lambda: board.row_count == 51)
        await pilot.press("slash", *"zhipu", "enter")  # the maker's display name; no slug holds it
        await settle(pilot, lambda: 1 < board.row_count < 51)
        assert {board.get_row_at(i)[3].plain for i in range(board.row_count)} == {"Zhipu"}
        await pilot.press("escape")
        await settle(pilot, lambda: board.row_count == 51)


async def test_every_leaderboard_sort_goes_both_ways_with_an_arrow_in_the_header(demo):
    config, store = demo
    app = demo_app(config, store)
    async with running(app) as pilot:
        board = app.query_one(Leaderboard)
        header = lambda: [str(c.label) for c in board.ordered_columns]  # noqa: E731
        first = lambda: board.get_row_at(0)[2].plain  # noqa: E731
        assert "#▲" in header() and first() == "deepseek-v4.1-flash"
        await pilot.press("s")
        await settle(pilot, lambda: "#▼" in header())
        assert board.get_row_at(0)[0].plain == "50"  # the last ranked row first ...
        assert board.get_row_at(board.row_count - 1)[2].plain == "other"  # ... `other` has no rank: always last
        await pilot.press("s")
        await settle(pilot, lambda: "share▼" in header())
        assert first() == "deepseek-v4.1-flash"  # 29.93%
        await pilot.press("s")
        await settle(pilot, lambda: "share▲" in header())
        shares = [board.get_row_at(i)[5].plain for i in range(3)]
        assert shares == sorted(shares)  # smallest first
        await pilot.press("s", "s", "s")  # Δ6d ▼, Δ6d ▲, Δ7d ▼
        await settle(pilot, lambda: "Δ7d▼" in header())
        assert first() == "deepseek-v4.1-flash"  # +15.61pp


async def test_peer_moves_sort_by_every_column_both_ways(demo):
    config, store = demo
    app = demo_app(config, store)
    async with running(app) as pilot:
        moves = app.query_one(PeerMoves)
        names = lambda: [moves.get_row_at(i)[0].plain for i in range(moves.row_count)]  # noqa: E731
        assert names()[:3] == ["MiniMax", "Zhipu", "Tencent"]  # the watchlist's order
        moves.focus()
        await pilot.press("s")  # name A-Z
        await settle(pilot, lambda: str(moves.ordered_columns[0].label) == "name▲")
        assert names()[:3] == ["MiniMax", "Tencent", "Zhipu"]
        await pilot.press("s")  # name Z-A
        await settle(pilot, lambda: names()[:3] == ["Zhipu", "Tencent", "MiniMax"])
        labels = [str(c.label) for c in moves.ordered_columns]
        moves.sort_by("change_pct")  # as a click on the 1d header does
        await settle(pilot, lambda: names()[:3] == ["Tencent", "Zhipu", "MiniMax"])  # +1.8%, 0.0%, -1.6%
        moves.sort_by("change_pct")  # the same header again: reversed
        await settle(pilot, lambda: names()[:3] == ["MiniMax", "Zhipu", "Tencent"])
        assert names()[3:] == ["median core", "median peer"]  # medians stay below the companies
        assert {label.rstrip("▲▼") for label in labels} >= {"name", "price", "1d", "mcap USD", "tokens"}


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


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_demo(snap_compare, tmp_path, size):
    config = config_with(tmp_path)
    assert snap_compare(demo_app(config, open_demo_store(config)), terminal_size=size, run_before=_wait_for_data)


def test_snapshot_demo_no_color_80x24(snap_compare, tmp_path, monkeypatch):
    from widgets import style

    monkeypatch.setenv("NO_COLOR", "1")  # read (and removed) by the app as it is made
    config = config_with(tmp_path)
    try:
        app = demo_app(config, open_demo_store(config))
        assert snap_compare(app, terminal_size=(80, 24), run_before=_wait_for_data)
    finally:
        style.set_monochrome(False)


def _database_like_a_collectors(config, path):
    """The demo's real rows in a database of its own, as `tokentape collect` leaves one: no demo marks,
    polls recorded at fixed times, so a screen over it is the same on every run."""
    from monitor.demo import populate

    store = Store.open(path)
    populate(store, config, json.loads((ROOT / "monitor" / "demo_data" / "demo.json").read_text()))
    with store.transaction() as conn:
        conn.execute("DELETE FROM meta WHERE key IN ('demo_as_of', 'demo_note')")
        for job, ago in (("quotes", 40), ("openrouter_export", 3 * 3600)):
            conn.execute(
                "INSERT INTO polls (job, started, finished, ok, error, rows) VALUES (?, ?, ?, 1, NULL, 1)",
                (job, FROZEN - ago, FROZEN - ago),
            )
    return store


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_database(snap_compare, tmp_path, size, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the status line names the database: the same relative path on every run
    config = config_with(tmp_path)
    store = _database_like_a_collectors(config, Path("collected.db"))
    app = TokentapeApp(config, DataFeed.for_store(store, config, "read-only"), clock=lambda: FROZEN)
    assert snap_compare(app, terminal_size=size, run_before=_wait_for_data)


async def _wait_for_data(pilot) -> None:
    await settle(pilot, lambda: pilot.app.dashboard is not None)
    await pilot.wait_for_scheduled_animations()
    pilot.app.clear_notifications()  # the panels, not transient toasts (alerts have tests of their own)
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
        await settle(pilot, lambda: app.return_code is not None)
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
        assert "DEMO · real data" in str(app.query_one("#status").render())
        release.set()
        await settle(pilot, lambda: app.dashboard is not None)
        assert "297.40" in card_text(app, "0100.HK")


async def test_the_apps_own_data_path_starts_only_once_the_first_screen_is_drawn(demo, tmp_path):
    """Its polars import and first load would hold the GIL while the child's screen renders."""
    from widgets.first_screen import FirstScreen

    config, store = demo
    seen = []

    def open_store():
        seen.append(("297.40" in card_text(app, "0100.HK"), app._first_screen_painted.is_set()))
        return store

    child = FirstScreen(config.path, "demo", None)
    app = TokentapeApp(config, DataFeed(config, "demo", open_store), clock=lambda: FROZEN, first_screen=child)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, lambda: app.dashboard is not None, seconds=30)
    assert seen == [(True, True)]


async def test_the_footer_asks_which_keys_are_live_without_loading_the_drill_down_screens(demo, monkeypatch):
    """They import polars: loaded for the footer's first layout, they cost the first paint ~0.2 s."""
    config, store = demo
    for name in ("widgets.company", "widgets.model", "widgets.valuation"):
        monkeypatch.setitem(sys.modules, name, None)  # importing one of them now raises
    app = demo_app(config, store)
    async with running(app, size=(80, 24)) as pilot:
        await pilot.resize_terminal(160, 48)  # the footer asks again on every resize
        await pilot.pause()
        assert app.check_action("sort", ()) and app.check_action("share_range", ())


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


# -- every terminal, every number right (issue 14) ---------------------------------------------------


async def test_demo_header_shows_the_datas_moment_and_the_markets_then_not_todays_clock(demo):
    config, store = demo
    app = demo_app(config, store)  # the app's clock says 2026-10-09 10:00 HKT, a day later
    async with running(app):
        header = str(app.query_one("#header").render())
        assert "as of Thu 10-08 09:46 HKT" in header  # the demo data's as-of: 2026-10-08 01:46 UTC
        assert "HK open" in header and "10-09" not in header


async def test_demo_lists_only_companies_it_has_prices_for_and_says_which_it_leaves_out(demo):
    config, store = demo
    app = demo_app(config, store)
    async with running(app):
        shown = {c.symbol for c in app.query(CompanyCard) if c.display}
        assert shown == {"0100.HK", "2513.HK", "0700.HK"}
        moves = app.query_one(PeerMoves)
        assert [moves.get_row_at(i)[0].plain for i in range(moves.row_count)][:3] == ["MiniMax", "Zhipu", "Tencent"]
        assert moves.row_count == 5  # and the two group medians
        note = str(app.query_one("#moves-note").render())
        assert "not in the demo (no recorded prices)" in note and "Alibaba" in note and "NVIDIA" in note


async def test_no_leaderboard_column_is_empty_and_the_day_gap_is_labelled(demo):
    config, store = demo
    app = demo_app(config, store)
    async with running(app):
        board = app.query_one(Leaderboard)
        labels = [str(c.label) for c in board.ordered_columns]
        assert "Δ6d" in labels  # 2026-10-07 against 10-01, the previous stored day
        assert "Δ6d vs 10-01" in str(app.query_one("#board-title").render())
        for column in range(len(labels)):
            assert any(board.get_row_at(i)[column].plain not in ("—", "") for i in range(board.row_count))
        minimax = next(i for i in range(board.row_count) if board.get_row_at(i)[2].plain == "minimax-m3")
        assert board.get_row_at(minimax)[labels.index("Δ6d")].plain != "—"


async def test_two_versions_of_one_model_name_are_told_apart(demo):
    config, store = demo
    app = demo_app(config, store)
    async with running(app):
        board = app.query_one(Leaderboard)
        names = [board.get_row_at(i)[2].plain for i in range(board.row_count)]
        assert "deepseek-v4-flash 07-31" in names and "deepseek-v4-flash 04-23" in names
        assert len(names) == len(set(names))


async def test_share_chart_gaps_one_scale_and_labelled_bases(demo):
    config, store = demo
    app = demo_app(config, store)
    async with running(app):
        chart = app.query_one(ShareChart)
        zhipu = next(s for s in chart.view.series if s.maker == "Zhipu")
        assert None in zhipu.weekly  # weeks Zhipu is not in the weekly top 9: unknown, not 0%
        lines = {line.split()[0]: line for line in str(chart.render()).splitlines() if line.strip()}
        assert "·" in lines["Zhipu"].split()[1]  # drawn as a gap
        # One scale: DeepSeek's 35.84% day is drawn taller than NVIDIA's 4.71% day.
        deepseek_daily, nvidia_daily = lines["DeepSeek"].split()[2], lines["NVIDIA"].split()[2]
        assert deepseek_daily[-1] > nvidia_daily[-1]
        text = str(chart.render())
        assert "top 9 models + Others" in text and "top 50 + other" in text


async def test_card_numbers_as_a_trader_reads_them(demo):
    config, store = demo
    app = demo_app(config, store)
    async with running(app):
        minimax = card_text(app, "0100.HK")
        assert "Δ7d 0.00pp" in minimax and "-0.00" not in minimax  # -0.00003 shows as 0.00pp
        assert "30 sessions*" in minimax  # the line is 30 trading sessions, not 30 days


async def test_maker_mode_names_its_columns_and_help_shows_keys_as_typed(demo, tmp_path):
    config, store = demo
    app = demo_app(config, store, log_file=tmp_path / "tokentape.log")
    async with running(app) as pilot:
        await pilot.press("m")
        board = app.query_one(Leaderboard)
        await settle(pilot, lambda: board.view.mode == "maker")
        labels = [str(c.label).rstrip("▲▼") for c in board.ordered_columns]
        assert "maker" in labels and "author" in labels and labels.count("maker") == 1
        await pilot.press("question_mark")
        await settle(pilot, lambda: app.screen.query("#help-text"))
        text = str(app.screen.query_one("#help-text").render())
        assert "slash" not in text and "question_mark" not in text
        assert any(line.split()[:1] == ["/"] for line in text.splitlines())
        assert any(line.split()[:1] == ["?"] for line in text.splitlines())


async def test_a_quote_shows_the_exchanges_time_and_its_delay(tmp_path):
    config = config_with(tmp_path)
    store = Store.open(tmp_path / "t.db")
    store.sync_instruments(config.companies)
    quote = {"symbol": "0100.HK", "ts": int(FROZEN) - 16 * 60, "price": 310.0, "prev_close": 300.0}
    store.upsert("quotes", [{**quote, "volume": None, "source": "yahoo"}])
    app = TokentapeApp(config, DataFeed.for_store(store, config, "read-only"), clock=lambda: FROZEN)
    async with running(app):
        subtitle = str(app.query_one("#card-0100_HK", CompanyCard).border_subtitle)
        assert "09:44 HKT · 16m delay" in subtitle  # Yahoo's quote time, 16 minutes before the clock (10:00)
    store.close()


async def test_under_no_color_a_fall_and_stale_do_not_rely_on_colour(demo, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    config, store = demo
    app = demo_app(config, store)
    try:
        async with running(app):
            card = app.query_one("#card-0100_HK", CompanyCard)
            body = card.render()
            fall = next(span for span in body.spans if body.plain[span.start : span.end].strip() == "-1.63%")
            assert "bold" in str(fall.style) and "underline" in str(fall.style)
            subtitle = card_subtitle(card.view)
            stale = next(s for s in subtitle.spans if subtitle.plain[s.start : s.end] == "STALE")
            assert "reverse" in str(stale.style)
    finally:
        from widgets import style

        style.set_monochrome(False)


async def test_at_80x24_the_core_cards_footer_and_header_are_whole(demo):
    config, store = demo
    app = demo_app(config, store)
    async with running(app, size=(80, 24)) as pilot:
        await pilot.pause()
        for symbol, numbers in (
            ("0100.HK", ("297.40", "-1.63%", "HKD 92.2B", "USD 11.8B", "0.77%")),
            ("2513.HK", ("2,032.00", "-0.03%", "HKD 894.1B", "USD 114.6B", "10.26%")),
        ):
            card = app.query_one(f"#card-{symbol.replace('.', '_')}", CompanyCard)
            assert card.region.right <= 80 and card.region.bottom <= 23
            assert all(n in card_text(app, symbol) for n in numbers)
            assert card.region.width - 4 >= max(len(line) for line in card_text(app, symbol).splitlines())
        footer = app.screen.query_one("KeyFooter")
        keys = {str(k.key): k for k in footer.query("FooterKey")}
        assert keys["question_mark"].region.right <= 80 and keys["q"].region.right <= 80
        header = str(app.query_one("#header").render())
        assert len(header) <= 80 and "DEMO" in header and "HKT" in header and "HK open" in header


async def test_resizing_keeps_every_panel_filled(demo):
    config, store = demo
    app = demo_app(config, store)
    async with running(app, size=(160, 48)) as pilot:
        for size in ((80, 24), (160, 48), (100, 30), (220, 60)):
            await pilot.resize_terminal(*size)
            await settle(pilot, lambda size=size: app.screen.size == size)
            await pilot.pause()
            assert "297.40" in card_text(app, "0100.HK") and "2,032.00" in card_text(app, "2513.HK")
            board, moves = app.query_one(Leaderboard), app.query_one(PeerMoves)
            assert board.row_count == 51 and moves.row_count == 5
            labels = [str(c.label).rstrip("▲▼") for c in board.ordered_columns]
            assert {"#", "model", "share"} <= set(labels)
            assert sum(c.get_render_width(board) for c in board.ordered_columns) <= board.size.width
            assert sum(c.get_render_width(moves) for c in moves.ordered_columns) <= moves.size.width
            assert "DeepSeek" in str(app.query_one(ShareChart).render())
