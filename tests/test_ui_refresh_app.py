"""Issue 15, what a user sees: a refresh that moves every price shows the new numbers on the cards in view,
in the peer-moves table and, once scrolled to, on cards that were out of sight; a refresh with nothing new
rebuilds nothing; the table keeps its cursor across refreshes."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

from rich.segment import Segment
from textual._compositor import ChopsUpdate, LayoutUpdate
from textual.screen import Screen

from monitor.demo import open_demo_store
from monitor.feed import DataFeed
from tests.conftest import ROOT, settle
from tests.test_app import FROZEN, config_with, running
from widgets.app import TokentapeApp
from widgets.cards import CompanyCard
from widgets.leaderboard import Leaderboard
from widgets.peer_moves import PeerMoves
from widgets.share_chart import ShareChart
from widgets.views import JobStatus, ScreenViews


def screen_text(app: TokentapeApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def screen_strips(app: TokentapeApp) -> list[list[Segment]]:
    """Every line of the screen as its segments (text and style)."""
    return [list(strip) for strip in app.screen._compositor.render_strips()]


class Writes(set[int]):
    """The lines of the screen sent to the terminal; `spans`: each (line, first column, end column) sent."""

    def __init__(self) -> None:
        super().__init__()
        self.spans: list[tuple[int, int, int]] = []


@contextlib.contextmanager
def terminal_writes(app: Any) -> Iterator[Writes]:
    """The lines of the screen that updates sent to the terminal while the block ran (all of them for a
    whole-screen update)."""
    written = Writes()
    display = app._display

    def record(screen: Screen[Any], update: Any) -> None:
        if isinstance(update, ChopsUpdate):
            written.update(y for y, _, _ in update.spans)
            written.spans.extend(update.spans)
        elif isinstance(update, LayoutUpdate):
            written.update(range(screen.size.height))
            written.spans.extend((y, 0, screen.size.width) for y in range(screen.size.height))
        display(screen, update)

    app._display = record  # type: ignore[method-assign]
    try:
        yield written
    finally:
        del app._display


def card_on_screen(app: TokentapeApp, card: CompanyCard) -> str:
    """What the terminal shows where the card is (its border and body)."""
    region = app.dashboard_screen.find_widget(card).visible_region
    lines = app.screen._compositor.render_strips()[region.y : region.bottom]
    return "\n".join(line.text[region.x : region.right] for line in lines)


def every_price_moved(views: ScreenViews, by: float = 1111) -> ScreenViews:
    """What a quote poll that moved everything brings: new prices and quote times on every card and row."""
    cards = tuple(
        dataclasses.replace(c, price=(c.price or 0) + by, as_of="quote 11:11 HKT · 1m delay") for c in views.cards
    )
    rows = tuple(dataclasses.replace(r, price=r.price + by if r.price is not None else None) for r in views.moves.rows)
    return dataclasses.replace(views, cards=cards, moves=dataclasses.replace(views.moves, rows=rows))


def fresh_copy(views: ScreenViews) -> ScreenViews:
    """Equal views in new objects, as a reload that found nothing new makes them."""
    return dataclasses.replace(
        views,
        cards=tuple(dataclasses.replace(c) for c in views.cards),
        moves=dataclasses.replace(views.moves, rows=tuple(dataclasses.replace(r) for r in views.moves.rows)),
        boards={k: dataclasses.replace(b, rows=tuple(b.rows)) for k, b in views.boards.items()},
    )


def demo(tmp_path, extra: int = 0) -> TokentapeApp:
    """The demo, with `extra` synthetic companies that have a price (so there are cards out of sight)."""
    text = (ROOT / "config.toml").read_text()
    for i in range(extra):
        text += (
            f'\n[[company]]\nname = "Synthetic {i}"\nsymbol = "{8000 + i:04d}.HK"\ncurrency = "HKD"\n'
            f'total_shares = 1_000_000_000\nipo_date = "2025-06-01"\nipo_price = 50.0\ngroup = "peer"\n'
        )
    config = config_with(tmp_path, text)
    store = open_demo_store(config)
    store.sync_instruments(config.companies)
    store.upsert(
        "quotes",
        [
            {"symbol": f"{8000 + i:04d}.HK", "ts": int(FROZEN) - 60 * k, "price": 60.0 + i, "prev_close": 59.0}
            | {"volume": 1.0, "source": "test"}
            for i in range(extra)
            for k in range(1, 4)
        ],
    )
    return TokentapeApp(config, DataFeed.for_store(store, config, "demo"), clock=lambda: FROZEN)


async def drawn(pilot) -> None:
    """Until the app has drawn all it had to (a pause that sends the terminal nothing): what it does
    on its own after start-up or a new set of rows (sizes, scrollbars) is not a refresh's doing."""
    for _ in range(50):
        with terminal_writes(pilot.app) as written:
            await pilot.pause()
        if not written:
            return
    raise AssertionError("the app kept drawing")


def cards_fitted(screen) -> bool:
    """The card strip laid out as CardStrip.fit_cards sized it (the first layout comes before that)."""
    cards = [c for c in screen._cards.values() if c.display]
    return all(screen.find_widget(c).region.width == c.styles.width.cells for c in cards)


async def test_a_refresh_shows_new_prices_in_view_and_on_cards_scrolled_to_later(tmp_path):
    app = demo(tmp_path, extra=6)
    async with running(app, size=(120, 40)) as pilot:
        screen = app.dashboard_screen
        await settle(pilot, lambda: cards_fitted(screen))
        cards = list(screen._cards.values())
        geometry = {c: screen.find_widget(c) for c in cards if c.display}
        in_view = [c for c, g in geometry.items() if g.visible_region == g.region]
        out_of_sight = [c for c, g in geometry.items() if not g.visible_region]
        assert in_view and out_of_sight  # at 120 columns a few whole cards fit; the rest are a scroll away
        moves = app.query_one(PeerMoves)
        moves.move_cursor(row=5)
        await pilot.pause()
        before = {c.symbol: c.renders for c in cards}

        screen.views = every_price_moved(screen.views)
        await pilot.pause()
        for card in in_view:
            shown = card_on_screen(app, card)
            assert f"{card.view.price:,.2f}" in shown and "11:11 HKT" in shown  # drawn at once
        last = out_of_sight[-1]
        assert last.renders == before[last.symbol] + 1  # it took the view (drawn when scrolled to)
        rows = {moves.get_row_at(i)[1].plain: moves.get_row_at(i) for i in range(moves.row_count)}
        for row in screen.views.moves.rows:
            if row.price is not None:
                assert rows[row.symbol][2].plain == f"{row.price:,.2f}"  # the peer row's new price
        assert moves.cursor_row == 5  # updated in place: not rebuilt, the cursor stays

        last.focus()  # focus scrolls the strip to it, as tab / arrow keys do
        await settle(pilot, lambda: screen.find_widget(last).visible_region == screen.find_widget(last).region)
        await pilot.pause()
        shown = card_on_screen(app, last)
        assert f"{last.view.price:,.2f}" in shown and "11:11 HKT" in shown


async def test_a_refresh_with_nothing_new_rebuilds_nothing(tmp_path):
    app = demo(tmp_path)
    async with running(app, size=(160, 48)) as pilot:
        screen = app.dashboard_screen
        await pilot.pause()
        panels = (app.query_one(PeerMoves), app.query_one(Leaderboard), app.query_one(ShareChart))
        before = [p.renders for p in panels], {c.symbol: c.renders for c in app.query(CompanyCard)}
        screen.views = fresh_copy(screen.views)
        await pilot.pause()
        assert ([p.renders for p in panels], {c.symbol: c.renders for c in app.query(CompanyCard)}) == before


async def test_the_status_line_grows_and_shrinks_with_its_lines(tmp_path):
    app = demo(tmp_path)
    async with running(app, size=(160, 48)) as pilot:
        screen = app.dashboard_screen
        status = screen._status
        await pilot.pause()
        height = status.size.height
        failed = JobStatus(job="quotes", ok=False, last="1m ago", next="<1m", error="HTTP 502 from yahoo")
        views = screen.views
        screen.views = dataclasses.replace(views, status=dataclasses.replace(views.status, jobs=(failed,)))
        await settle(pilot, lambda: status.size.height == height + 2)  # the note, the jobs, the error
        assert "HTTP 502 from yahoo" in screen_text(app)
        screen.views = views
        await settle(pilot, lambda: status.size.height == height)


async def test_on_a_narrow_terminal_cards_below_the_fold_show_the_new_prices_when_scrolled_to(tmp_path):
    app = demo(tmp_path, extra=9)
    async with running(app, size=(80, 24)) as pilot:
        screen = app.dashboard_screen
        await drawn(pilot)  # laid out as it stays (the first layout comes before the cards are sized)
        last = [c for c in screen._cards.values() if c.display][-1]
        assert not screen.find_widget(last).visible_region  # the grid runs below the fold
        screen.views = every_price_moved(screen.views)
        await pilot.pause()
        screen._strip.parent.scroll_to_widget(last, animate=False)  # the body scrolls, not the strip
        await settle(pilot, lambda: screen.find_widget(last).visible_region == screen.find_widget(last).region)
        await pilot.pause()
        shown = card_on_screen(app, last)
        assert f"{last.view.price:,.2f}" in shown and "11:11 HKT" in shown
