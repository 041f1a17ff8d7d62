"""The dashboard a writer publishes in the database (monitor/published.py): a reader that finds it current
opens on exactly the screen its own computation would show; in every other case it computes its own."""

from __future__ import annotations

import sqlite3
import threading

import msgspec

from monitor import published
from monitor.config import load_config, parse_config
from monitor.dashboard import TOKEN_WINDOW_DAYS, DashboardLoader
from monitor.demo import open_demo_store
from monitor.feed import DataFeed
from storage import Store
from tests.conftest import ROOT, loopback_config_text, settle
from tests.payloads import serve_everything
from tests.test_first_screen import NOW, token_history
from widgets.app import TokentapeApp
from widgets.cards import CompanyCard
from widgets.first_screen import published_views
from widgets.share_chart import render_chart
from widgets.viewmodels import screen_views

MINIMAX_CARD = "#card-0100_HK"


def own_views(store, config, mode="read-only"):
    """What a reader computes itself: the app's own data path (the 90D token window), polars and all."""
    return screen_views(DashboardLoader(store, config, TOKEN_WINDOW_DAYS).load(), config, NOW, mode, {}, "t.db")


def assert_same_screen(first, own):
    assert first.cards == own.cards
    assert first.boards == own.boards
    assert first.moves == own.moves
    assert first.status == own.status
    assert first.data_age == own.data_age
    for width in (60, 80, 110):  # the share chart as drawn at start-up (52W: weekly, then the recent days)
        assert render_chart(first.chart, width).plain == render_chart(own.chart, width).plain


def history_store(path, config, days: int, quote: float | None = 297.4) -> Store:
    """A database with the config's companies, `days` token days and, unless None, one MiniMax quote poll."""
    store = Store.open(path)
    store.sync_instruments(config.companies)
    token_history(store, days)
    if quote is not None:
        quote_poll(store, "0100.HK", quote, NOW - 600)
    return store


def quote_poll(store: Store, symbol: str, price: float, at: float) -> None:
    """One quote and its poll in one transaction, as the collector commits a job's run."""
    with store.transaction() as tx:
        store.upsert(
            "quotes",
            [{"symbol": symbol, "ts": int(at), "price": price, "prev_close": 100.0, "volume": None, "source": "yahoo"}],
            tx,
        )
        store.record_poll("quotes", at - 1, at, True, None, 1, tx)


def test_the_published_rows_give_a_reader_the_screen_its_own_computation_shows(tmp_path):
    config = load_config()
    # Real bundled data; 120 synthetic days with a share spike older than the first screen's window.
    for store in (open_demo_store(config), history_store(tmp_path / "t.db", config, 120)):
        published.Publisher(store, config).update()
        data = published.read(store.path, config)
        assert data is not None
        assert_same_screen(screen_views(data, config, NOW, "read-only", {}, "t.db"), own_views(store, config))
        store.close()


def test_a_poll_after_the_publication_makes_it_not_current_until_the_writer_publishes_again(tmp_path):
    config = load_config()
    store = history_store(tmp_path / "t.db", config, 40)
    publisher = published.Publisher(store, config)
    assert publisher.update()
    assert published.read(store.path, config) is not None
    assert not publisher.update()  # no poll since: nothing to publish

    quote_poll(store, "0100.HK", 301.2, NOW - 60)  # another process's poll: the published rows are older
    assert published.read(store.path, config) is None

    assert publisher.update()  # re-reads what the quotes job writes, and stamps the newest poll
    data = published.read(store.path, config)
    assert data is not None
    card = next(c for c in screen_views(data, config, NOW, "read-only", {}, "t.db").cards if c.symbol == "0100.HK")
    assert card.price == 301.2
    assert_same_screen(screen_views(data, config, NOW, "read-only", {}, "t.db"), own_views(store, config))
    store.close()


def test_another_config_a_damaged_value_or_no_database_means_the_reader_computes_its_own(tmp_path):
    config = load_config()
    store = history_store(tmp_path / "t.db", config, 10, quote=None)
    published.Publisher(store, config).update()
    assert published.read(store.path, config) is not None

    other = parse_config(
        (ROOT / "config.toml").read_text().replace('display_currency = "USD"', 'display_currency = "HKD"'),
        tmp_path / "other.toml",
    )
    assert other.display_currency != config.display_currency
    assert published.read(store.path, other) is None  # another config shapes another dashboard

    for damaged in (b"\x78\x01garbage", b"not zlib at all", "a text value"):
        store.set_meta(published.META_KEY, damaged)
        assert published.read(store.path, config) is None
    older = published.Published(0, published.config_bytes(config), store.newest_poll_id(), None)  # type: ignore[arg-type]
    import zlib

    store.set_meta(published.META_KEY, zlib.compress(msgspec.msgpack.encode(older)))
    assert published.read(store.path, config) is None

    rows_of_another_shape = published.DashboardData(0.0, "USD", [{"symbol": "X"}], {}, [], [], [], [], [], [])
    published.publish(store, rows_of_another_shape, store.newest_poll_id(), config)
    assert published.read(store.path, config) is not None
    assert published_views(config, "read-only", store.path) is None  # said in the log; never a crash at start

    missing = tmp_path / "none.db"
    assert published.read(missing, config) is None
    assert not missing.exists()  # a reader never creates a database
    assert published_views(config, "demo", store.path) is None  # the demo is a fresh copy: nothing published
    store.close()


def test_the_published_rows_are_not_part_of_what_the_dashboard_reads_as_meta(tmp_path):
    """The loader keeps the meta table as strings (attribution, snapshot date): the published value is its
    own output, and a ~170 KB blob read back on every token poll."""
    config = load_config()
    store = history_store(tmp_path / "t.db", config, 10, quote=None)
    published.Publisher(store, config).update()
    loader = DashboardLoader(store, config)
    loader.load()
    assert published.META_KEY not in loader._meta
    store.close()


async def test_a_reader_opens_on_the_published_screen_before_its_own_data_path_without_a_second_process(tmp_path):
    config = load_config()
    db = tmp_path / "t.db"
    store = history_store(db, config, 40)
    published.Publisher(store, config).update()
    views = published_views(config, "read-only", db)
    assert views is not None and "read-only" in views.status.note and "cached" not in views.status.note

    release, painted = threading.Event(), []

    def slow_open():  # the app's own data path waits until the test has seen the first frame
        release.wait(20)
        return store

    app = TokentapeApp(config, DataFeed(config, "read-only", slow_open), clock=lambda: NOW, first_views=views)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, lambda: "297.40" in str(app.query_one(MINIMAX_CARD, CompanyCard).render()))
        painted.append(str(app.query_one(MINIMAX_CARD, CompanyCard).render()))
        assert app.dashboard is None  # the app's own data path has not run
        assert app.first_screen is None and app.cached is None
        release.set()
        await settle(pilot, lambda: app.dashboard is not None)
        assert str(app.query_one(MINIMAX_CARD, CompanyCard).render()) == painted[0]  # its own path agrees
    assert "297.40" in painted[0]
    store.close()


async def test_a_live_dashboard_publishes_what_it_polled_for_readers(upstream, tmp_path):
    serve_everything(upstream)
    path = tmp_path / "config.toml"
    path.write_text(loopback_config_text(upstream.base_url), encoding="utf-8")
    config = parse_config(path.read_text(encoding="utf-8"), path)
    db = tmp_path / "live.db"
    store = Store.open(db)
    store.sync_instruments(config.companies)
    app = TokentapeApp(config, DataFeed.for_store(store, config, "live"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, lambda: published.read(db, config) is not None, seconds=30)
        data = published.read(db, config)
        assert data is not None
        prices = {r["symbol"]: r["price"] for r in data.companies}
        await settle(pilot, lambda: app.dashboard is not None)
        assert prices["0100.HK"] is not None
    store.close()


def test_a_damaged_database_file_is_not_read_as_published(tmp_path):
    db = tmp_path / "t.db"
    db.write_bytes(b"this is not a database" * 100)
    assert published.read(db, load_config()) is None
    conn = sqlite3.connect(tmp_path / "empty.db")
    conn.execute("CREATE TABLE other (x)")
    conn.close()
    assert published.read(tmp_path / "empty.db", load_config()) is None


def test_the_dashboard_command_opens_on_a_current_publication_and_stops_the_child_it_no_longer_needs(
    tmp_path, monkeypatch
):
    from monitor import cli
    from widgets.first_screen import FirstScreen

    config = load_config()
    db = tmp_path / "t.db"
    store = history_store(db, config, 10, quote=None)
    published.Publisher(store, config).update()
    started: list[FirstScreen] = []
    real_init = FirstScreen.__init__

    def spy_init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        started.append(self)

    opened: list[tuple[object, object]] = []
    monkeypatch.setattr(FirstScreen, "__init__", spy_init)
    monkeypatch.setattr(TokentapeApp, "run", lambda app: opened.append((app.first_views, app.first_screen)))
    argv = ["--config", str(config.path), "--db", str(db), "--read-only"]

    assert cli.main(argv) == 0
    views, child = opened[-1]
    assert views is not None and child is None
    assert started and started[-1].process.poll() is not None  # spawned before the config was read, then ended

    quote_poll(store, "0100.HK", 297.4, NOW)  # a newer poll: the publication is not current any more
    assert cli.main(argv) == 0
    views, child = opened[-1]
    assert views is None and child is started[-1]  # the child computes the first screen, as before
    store.close()
