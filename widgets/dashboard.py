"""The dashboard screen: header, company cards, token leaderboard, share chart, peer moves, status.

`views` (a reactive ScreenViews) is the one record of what is on screen. Setting it hands each panel
its part through the panel's own `view`; a panel whose part did not change does nothing, so one new
quote re-renders one card and the moves table, not the screen. With hundreds of companies a refresh stays
O(what changed and is in view): cards out of sight only note their new view and cards in view repaint the
lines that changed (widgets/cards.py), the tables update changed rows in place and repaint the cells that
changed (widgets/table.py), titles repaint without a layout, the screen's compositor asks only the widgets
on the lines being repainted to draw (`_LinesCompositor`), and the garbage collector runs between refreshes,
not in them (`freeze_startup_objects`). bench/ui_refresh.py measures it.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from datetime import UTC, datetime

from textual._compositor import ChopsUpdate, Compositor
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Key
from textual.geometry import Region
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, Static

from monitor.config import Config
from monitor.markets import HKT, market_state
from monitor.text import truncate
from widgets import style
from widgets.cards import CardStrip, CompanyCard
from widgets.footer import NARROW, KeyFooter
from widgets.leaderboard import Leaderboard
from widgets.peer_moves import PeerMoves
from widgets.share_chart import ShareChart
from widgets.status import HeaderView, MarketHeader, StatusLine
from widgets.views import ScreenViews, StatusView


def _update(widget: Static, text: str) -> None:
    """Set a one-line title; the same text again does nothing. A title's size never depends on its text
    (one line, the pane's width), so a new one is a repaint, never a layout (which would reflow every card)."""
    if str(widget.content) != text:
        widget.update(text, layout=False)


_frozen = False

# Garbage collection, paced by the dashboard (see `freeze_startup_objects` and DashboardScreen._collect_garbage).
GC_YOUNG = 20_000  # allocations between automatic young collections (CPython: 700); a refresh makes a few thousand
GC_QUIET = 0.5  # s without a refresh before the screen collects what the last one left
GC_FULL_EVERY = 10  # idle young collections between idle full ones
GC_FULL_AUTO = 100  # young collections between automatic full ones when the loop is never idle (CPython: 10)


def freeze_startup_objects() -> None:
    """Move every object alive after start-up (Textual, polars, the first dashboard: ~140 k of them) out of
    the cyclic GC's reach (gc.freeze). A full collection would otherwise walk them all, 60-90 ms on the UI
    loop every few dozen refreshes; after this it walks only what was made since. Once per process (tests
    run many apps); cycles already garbage at this moment are never collected, a bounded one-off.

    Then the collector is paced so that it never runs inside a refresh: a full collection still walks what was
    made since (~50 k objects at 200 companies, most of them the Strips on screen: 8-17 ms), and CPython's
    own schedule (a young collection every 700 allocations, a full one after every ~100 young ones) put
    several young ones and now and then a full one in the middle of a refresh. Here a young collection runs
    automatically only every GC_YOUNG allocations (more than a refresh makes), and the dashboard collects
    at idle: GC_QUIET after a refresh, the young generations (~1 ms), and every GC_FULL_EVERY times
    everything (~10 ms; DashboardScreen._collect_garbage). What bounds memory: cyclic garbage lives until the
    next young collection (at most GC_YOUNG allocations, or the next idle moment) if it dies young, else
    until the next full one: at most GC_FULL_EVERY refreshes later when the loop has idle moments (any 0.5 s
    without a refresh: polls are seconds apart), and if it never has, CPython's own full collection after
    GC_FULL_AUTO young ones (10x its default). 400 refreshes at 200 companies: RSS 121 -> 124 MB, tracked
    objects flat at ~45 k, with or without idle moments."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()
        gc.set_threshold(GC_YOUNG, 10, GC_FULL_AUTO)


class _LinesCompositor(Compositor):
    """Textual's compositor, which on a partial repaint asks only the widgets on the lines being repainted to
    draw. Textual's asks every widget in the rectangle around all the lines that changed, then keeps only
    those lines: a refresh that moves the header clock (line 0) and the status line (the last) had all ~40
    widgets on the screen draw (the leaderboard, the chart, the footer's keys, every container), ~0.5 ms of a
    200-company refresh. A widget on none of those lines puts nothing on them, so the update is the same.
    It relies on Textual's Compositor (pinned at 8.2.8): render_partial_update reads `cuts`, then asks the
    widgets of `visible_widgets`; the SVG snapshots and tests/test_ui_refresh_*.py check the screens."""

    def __init__(self) -> None:
        super().__init__()
        self._repainting: set[int] | None = None  # the lines of the partial repaint under way

    def render_partial_update(self) -> ChopsUpdate | None:
        self.cuts  # noqa: B018 (where every widget starts and ends: made, and kept, before the filter applies)
        lines: set[int] = set()
        for region in self._dirty_regions:
            lines.update(region.line_range)
        self._repainting = lines
        try:
            return super().render_partial_update()
        finally:
            self._repainting = None

    @property
    def visible_widgets(self) -> dict[Widget, tuple[Region, Region]]:
        widgets = Compositor.visible_widgets.fget(self)  # type: ignore[attr-defined]
        lines = self._repainting
        if lines is None:
            return widgets  # type: ignore[no-any-return]
        return {
            widget: (region, clip)
            for widget, (region, clip) in widgets.items()
            if not lines.isdisjoint(region.intersection(clip).line_range)
        }


def card_id(symbol: str) -> str:
    return "card-" + "".join(ch if ch.isalnum() else "_" for ch in symbol)


class DashboardScreen(Screen[None]):
    # repaint=False: the screen itself shows nothing but its background; each panel repaints its own
    # region when its part changed (a repainting reactive here would redraw the whole terminal each time).
    views: reactive[ScreenViews | None] = reactive(None, init=False, repaint=False)
    board_mode: reactive[str] = reactive("model", init=False, repaint=False)
    currency: reactive[str] = reactive("", init=False, repaint=False)

    def __init__(self, config: Config, clock: Callable[[], float]) -> None:
        super().__init__()
        self._compositor = _LinesCompositor()
        self.config = config
        self.clock = clock
        self._cards: dict[str, CompanyCard] = {}
        self._shown: list[str] | None = None  # the cards on display: refit the strip when they change
        # The panels, kept at compose: the refresh path reaches each by reference, never by a DOM query.
        self._header = MarketHeader(id="header")
        self._strip = CardStrip(id="cards")
        self._board_title = Static("", id="board-title", classes="pane-title")
        self._filter = Input(placeholder="filter models and makers (esc clears)", id="filter")
        self._board = Leaderboard(id="board")
        self._chart = ShareChart(id="chart")
        self._moves_title = Static("", id="moves-title", classes="pane-title")
        self._moves = PeerMoves(id="moves")
        self._moves_note = Static("", id="moves-note", classes="pane-note")
        self._status = StatusLine(id="status")
        self._footer = KeyFooter()
        self._panels_ready = False  # views set before the panels exist (the cached screen) wait for on_mount
        self._watched_markets = sorted({c.market for c in config.companies})  # for the 1 s clock tick
        self._gc_timer: asyncio.TimerHandle | None = None  # the idle collection after the last refresh
        self._titles: dict[Static, tuple[str, int]] = {}  # each pane title's last (title, width)
        self.collections = 0  # idle collections run (young and full), for tests and the bench
        self.set_reactive(DashboardScreen.currency, config.display_currency)

    def compose(self) -> ComposeResult:
        yield self._header
        with VerticalScroll(id="body"):
            with self._strip:
                for company in self.config.companies:
                    if company.group != "index":
                        card = CompanyCard(company.symbol, id=card_id(company.symbol))
                        self._cards[company.symbol] = card
                        yield card
            with Horizontal(id="middle"):
                with Vertical(id="board-pane"):
                    yield self._board_title
                    yield self._filter
                    yield self._board
                with Vertical(id="chart-pane"):
                    yield Static("Token share by maker · OpenRouter", id="chart-title", classes="pane-title")
                    yield self._chart
            with Vertical(id="moves-pane"):
                yield self._moves_title
                yield self._moves
                yield self._moves_note
        yield self._status
        yield self._footer

    def on_mount(self) -> None:
        style.set_monochrome(self.app.no_color)
        if not self.query("#filter"):  # the app exited before the panels mounted (e.g. the database failed)
            return
        self._filter.display = False
        board, moves = self._board, self._moves
        for attribute in ("sort", "descending", "needle"):
            self.watch(board, attribute, self._show_board_title, init=False)
        for attribute in ("sort", "descending"):
            self.watch(moves, attribute, self._show_moves_title, init=False)
        self._panels_ready = True
        self.watch_views(self.views)
        self.set_interval(1.0, self.tick_clock)
        # `enter` on a focused card opens the company screen (widgets/company.py); focus starts on the first.
        for card in self._cards.values():
            card.can_focus = True
        if self._cards:
            next(iter(self._cards.values())).focus()

    def on_resize(self) -> None:
        narrow = self.size.width < NARROW
        self.set_class(narrow, "-narrow")
        strip = self._strip
        strip.set_class(narrow, "-grid")
        for card in self._cards.values():
            card.compact = narrow
        strip.fit_cards()
        self._show_board_title()
        self._show_moves_title()

    # -- what is on screen ---------------------------------------------------------------------------

    def watch_views(self, views: ScreenViews | None) -> None:
        if not self._panels_ready:
            return
        if views is None:
            self.tick_clock()
            return
        shown = [card.symbol for card in views.cards]
        if shown != self._shown:
            self._shown = shown
            showing = set(shown)
            for symbol, widget in self._cards.items():
                widget.display = symbol in showing  # e.g. the demo lists only companies it has prices for
            self._strip.fit_cards()
        visible = self._compositor.visible_widgets  # as last laid out (what CompanyCard._in_view asks, at once)
        for card in views.cards:
            widget = self._cards.get(card.symbol)
            if widget is not None:
                widget.take(card, widget in visible)  # an equal view does nothing; a card out of sight notes it
        self._show_board()
        self._chart.view = views.chart
        self._moves.view = views.moves
        note = self._moves_note
        if note.display != bool(views.moves.note):
            note.display = bool(views.moves.note)
        if str(note.content) != views.moves.note:
            note.update(views.moves.note)
        self._show_moves_title()
        self._status.view = views.status
        self.tick_clock()
        if not _frozen and getattr(self.app, "dashboard", None) is not None:  # the app's own first dashboard:
            self.call_after_refresh(self._start_up_over)  # start-up is over once it is on screen
        elif _frozen:
            self._pace_garbage_collection()

    def _start_up_over(self) -> None:
        freeze_startup_objects()
        self._pace_garbage_collection()  # what start-up left since (thousands of objects), collected at idle too

    def _pace_garbage_collection(self) -> None:
        """Collect what this refresh left once no refresh has come for GC_QUIET (each refresh puts it off)."""
        if self._gc_timer is not None:
            self._gc_timer.cancel()
        # The event loop's own timer: cancelled and set again on every refresh for ~5 us (a Textual timer is a
        # task, ~100x that).
        self._gc_timer = asyncio.get_running_loop().call_later(GC_QUIET, self._collect_garbage)

    def on_unmount(self) -> None:
        if self._gc_timer is not None:
            self._gc_timer.cancel()

    def _collect_garbage(self) -> None:
        """At idle: the young generations (~1 ms), and every GC_FULL_EVERY times a full collection (~10 ms at
        200 companies), so that neither runs in a refresh (see freeze_startup_objects)."""
        self._gc_timer = None
        self.collections += 1
        gc.collect(2 if gc.get_count()[2] >= GC_FULL_EVERY else 1)

    def show_status(self, status: StatusView) -> None:
        """Put `status` on the status line (the app's, with a failed alert delivery added to the views' note);
        before the panels are mounted, nothing: the next refresh shows it."""
        if self._panels_ready:
            self._status.view = status

    def watch_board_mode(self) -> None:
        if self._panels_ready:
            self._show_board()

    def watch_currency(self) -> None:
        if self._panels_ready:
            self.tick_clock()

    def _show_board(self) -> None:
        if self.views is not None:
            self._board.view = self.views.boards[self.board_mode]
            self._show_board_title()

    def _show_board_title(self) -> None:
        if self.views is not None and self._panels_ready:
            board = self._board
            caption = self.views.boards[self.board_mode].caption
            needle = f" · filter “{board.needle}” (esc clears)" if board.needle else ""
            title = f"Tokens by {self.board_mode} · sort {board.sort_label}{needle} · {caption}"
            self._show_title(self._board_title, title)

    def _show_moves_title(self) -> None:
        if self.views is not None and self._panels_ready:
            moves = self._moves
            title = (
                f"Peer moves · sort {moves.sort_label} · market cap in {self.views.moves.display_currency}"
                " · prices: Yahoo (Tencent fallback), as of the exchange's quote time"
            )
            self._show_title(self._moves_title, title)

    def _show_title(self, widget: Static, title: str) -> None:
        """A pane's title cut to the pane's width; the same title at the same width again does nothing."""
        width = max(20, widget.size.width or self.size.width)
        if self._titles.get(widget) != (title, width):
            self._titles[widget] = (title, width)
            _update(widget, truncate(title, width))

    def tick_clock(self) -> None:
        views = self.views
        # The demo's data describes one moment: its clock and market states are those of that moment.
        fixed = views.clock_at if views is not None else None
        at = datetime.fromtimestamp(fixed if fixed is not None else self.clock(), UTC)
        markets = tuple((m, market_state(self.config.markets[m], at).state) for m in self._watched_markets)
        local = at.astimezone(HKT)
        self._header.view = HeaderView(
            clock=f"as of {local:%a %m-%d %H:%M} HKT" if fixed is not None else f"{local:%a %m-%d %H:%M:%S} HKT",
            markets=markets,
            data=views.data_age if views else "loading…",
            currency=self.currency,
            demo=bool(views and views.demo),
            mode=str(getattr(self.app, "mode", "live")),
        )

    # -- panel actions (bound on the app, so one keymap covers every screen) --------------------------

    def toggle_board_mode(self) -> None:
        self.board_mode = "maker" if self.board_mode == "model" else "model"

    def next_sort(self) -> None:
        """Sort the focused table (peer moves or the leaderboard) by its next column or direction."""
        (self._moves if self._moves.has_focus else self._board).next_sort()

    def next_panel(self) -> None:
        panels = [self._strip, self._board, self._moves]
        current = next((i for i, p in enumerate(panels) if p.has_focus), -1)
        target = panels[(current + 1) % len(panels)]
        target.focus()
        target.scroll_visible()

    def open_filter(self) -> None:
        box = self._filter
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self._board.needle = event.value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """`enter` keeps the filter, hides the box and hands the keys back to the table."""
        if event.input.id == "filter":
            event.input.display = False
            self._board.focus()
            event.stop()

    def on_key(self, event: Key) -> None:
        """`escape` clears the filter, from the box or from the filtered table."""
        if not self._filter.is_attached:  # shutting down
            return
        box, board = self._filter, self._board
        if event.key == "escape" and (box.display or (board.needle and board.has_focus)):
            box.value = ""
            board.needle = ""
            box.display = False
            board.focus()
            event.stop()
