"""The dashboard screen: header, company cards, token leaderboard, share chart, peer moves, status.

`views` (a reactive ScreenViews) is the one record of what is on screen. Setting it hands each panel
its part through the panel's own reactive `view`; a panel whose part did not change does nothing, so
one new quote re-renders one card and the moves table, not the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from textual.app import ComposeResult
from textual.containers import Horizontal, HorizontalScroll, Vertical, VerticalScroll
from textual.events import Key
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from monitor.config import Config
from monitor.markets import HKT, market_state
from widgets.cards import CompanyCard
from widgets.leaderboard import SORTS, Leaderboard
from widgets.peer_moves import PeerMoves
from widgets.share_chart import ShareChart
from widgets.status import HeaderView, MarketHeader, StatusLine
from widgets.views import ScreenViews

NARROW = 120  # below this many columns the layout stacks and the leaderboard goes compact


def card_id(symbol: str) -> str:
    return "card-" + "".join(ch if ch.isalnum() else "_" for ch in symbol)


class DashboardScreen(Screen[None]):
    views: reactive[ScreenViews | None] = reactive(None, init=False)
    board_mode: reactive[str] = reactive("model", init=False)
    currency: reactive[str] = reactive("", init=False)

    def __init__(self, config: Config, clock: Callable[[], float]) -> None:
        super().__init__()
        self.config = config
        self.clock = clock
        self._cards: dict[str, CompanyCard] = {}
        self._panels_ready = False  # views set before the panels exist (the cached screen) wait for on_mount
        self._watched_markets = sorted({c.market for c in config.companies})  # for the 1 s clock tick
        self.set_reactive(DashboardScreen.currency, config.display_currency)

    def compose(self) -> ComposeResult:
        yield MarketHeader(id="header")
        with VerticalScroll(id="body"):
            with HorizontalScroll(id="cards"):
                for company in self.config.companies:
                    if company.group != "index":
                        card = CompanyCard(company.symbol, id=card_id(company.symbol))
                        self._cards[company.symbol] = card
                        yield card
            with Horizontal(id="middle"):
                with Vertical(id="board-pane"):
                    yield Static("", id="board-title", classes="pane-title")
                    yield Input(placeholder="filter models and makers (esc clears)", id="filter")
                    yield Leaderboard(id="board")
                with Vertical(id="chart-pane"):
                    yield Static("Token share by maker · OpenRouter", id="chart-title", classes="pane-title")
                    yield ShareChart(id="chart")
            with Vertical(id="moves-pane"):
                yield Static("", id="moves-title", classes="pane-title")
                yield PeerMoves(id="moves")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.watch(self.query_one(Leaderboard), "sort", self._show_board_title, init=False)
        self._panels_ready = True
        self.watch_views(self.views)
        self.set_interval(1.0, self.tick_clock)

    def on_resize(self) -> None:
        narrow = self.size.width < NARROW
        self.set_class(narrow, "-narrow")
        self.query_one(Leaderboard).compact = narrow

    # -- what is on screen ---------------------------------------------------------------------------

    def watch_views(self, views: ScreenViews | None) -> None:
        if not self._panels_ready:
            return
        if views is None:
            self.tick_clock()
            return
        for card in views.cards:
            widget = self._cards.get(card.symbol)
            if widget is not None:
                widget.view = card
        self._show_board()
        self.query_one(ShareChart).view = views.chart
        self.query_one("#moves-title", Static).update(
            f"Peer moves · market cap in {views.moves.display_currency} · prices: Yahoo (Tencent fallback)"
        )
        self.query_one(PeerMoves).view = views.moves
        self.query_one(StatusLine).view = views.status
        self.tick_clock()

    def watch_board_mode(self) -> None:
        if self._panels_ready:
            self._show_board()

    def watch_currency(self) -> None:
        if self._panels_ready:
            self.tick_clock()

    def _show_board(self) -> None:
        if self.views is not None:
            self.query_one(Leaderboard).view = self.views.boards[self.board_mode]
            self._show_board_title()

    def _show_board_title(self) -> None:
        if self.views is not None:
            caption = self.views.boards[self.board_mode].caption
            self.query_one("#board-title", Static).update(
                f"Tokens by {self.board_mode} · sort {self.query_one(Leaderboard).sort} · {caption}"
            )

    def tick_clock(self) -> None:
        at = datetime.fromtimestamp(self.clock(), UTC)
        markets = tuple((m, market_state(self.config.markets[m], at).state) for m in self._watched_markets)
        views = self.views
        self.query_one(MarketHeader).view = HeaderView(
            clock=at.astimezone(HKT).strftime("%a %m-%d %H:%M:%S HKT"),
            markets=markets,
            data=views.data_age if views else "loading…",
            currency=self.currency,
            demo=bool(views and views.demo),
        )

    # -- panel actions (bound on the app, so one keymap covers every screen) --------------------------

    def toggle_board_mode(self) -> None:
        self.board_mode = "maker" if self.board_mode == "model" else "model"

    def next_sort(self) -> None:
        board = self.query_one(Leaderboard)
        board.sort = SORTS[(SORTS.index(board.sort) + 1) % len(SORTS)]

    def next_panel(self) -> None:
        panels = [self.query_one("#cards"), self.query_one(Leaderboard), self.query_one(PeerMoves)]
        current = next((i for i, p in enumerate(panels) if p.has_focus), -1)
        target = panels[(current + 1) % len(panels)]
        target.focus()
        target.scroll_visible()

    def open_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.query_one(Leaderboard).needle = event.value

    def on_key(self, event: Key) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and box.display:
            box.value = ""
            box.display = False
            self.query_one(Leaderboard).focus()
            event.stop()
