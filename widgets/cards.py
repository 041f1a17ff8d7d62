"""Company cards: price, change, market cap (native and display currency), vs IPO, a sparkline and
the company's makers' OpenRouter token share. Renders a CardView; never fetches."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import RenderResult
from textual.containers import HorizontalScroll
from textual.dom import NoScreen
from textual.errors import NoWidget
from textual.geometry import Region
from textual.reactive import reactive
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import Static

from monitor.text import fmt_big, fmt_pct, fmt_pp, fmt_price, fmt_share, safe_text, sparkline, truncate
from widgets import style
from widgets.style import DIM, move_style
from widgets.views import CardView

CARD_WIDTH = 40  # a full card; below it the strip shows fewer, wider cards rather than cut one


def _change(value: float | None) -> str:
    """A price change as shown: '+8.00', '-4.94', '0.00' (never '-0.00')."""
    text = f"{value:+,.2f}" if value is not None else ""
    return text[1:] if text and float(text.replace(",", "")) == 0 else text


def render_card(card: CardView, width: int = 36, compact: bool = False) -> Text:
    """The card body as plain Rich Text: upstream names go in as literal text, never as markup.
    `compact` (narrow terminals): price, market cap and token share only, three lines."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{card.currency} ", style=DIM)
    text.append(fmt_price(card.price), style="bold")
    if card.change is not None:
        change, pct = _change(card.change), fmt_pct(card.change_pct)
        text.append(f"  {change} ", style=move_style(change))
        text.append(pct, style=move_style(pct))
    text.append("\nmcap ", style=DIM)
    text.append(fmt_big(card.market_cap, card.currency))
    if card.display_currency != card.currency:
        text.append(" · ", style=DIM)
        text.append(fmt_big(card.market_cap_display, card.display_currency))
    if not compact:
        text.append("\nvs IPO ", style=DIM)
        if card.ipo_price:
            move_ipo = fmt_pct(card.move_ipo)
            text.append(f"{fmt_price(card.ipo_price)} ")
            text.append(move_ipo, style=move_style(move_ipo))
        else:
            text.append("—")
        text.append("\n")
        spark_width = max(8, width - len(card.spark_label) - 2)
        text.append(sparkline(card.spark, spark_width) or "no price history", style="cyan" if card.spark else DIM)
        text.append(f"  {card.spark_label}", style=DIM)
    text.append("\ntokens ", style=DIM)
    if card.token_share is None:
        text.append("— not in OpenRouter top 50" if card.token_date else "—", style=DIM)
    else:
        text.append(fmt_share(card.token_share), style="bold")
        if card.token_rank:
            text.append(f" #{card.token_rank}", style=DIM)
        d7 = fmt_pp(card.token_share_change_7d)
        text.append(" Δ7d ", style=DIM)
        text.append(d7, style=move_style(d7))
    return text


SOURCE_LABELS = {"demo-reported": "demo", "demo-interpolated": "demo~"}


def card_subtitle(card: CardView) -> Text:
    """Source, the quote's own time and its delay, short enough that STALE is never cut off (a 40-column
    card fits ~34)."""
    source = SOURCE_LABELS.get(card.source or "", safe_text(card.source or "no data"))
    text = Text(truncate(f"{source} {card.as_of or '—'}", 27), style="dim")
    if card.stale:
        text.append(" ")
        text.append("STALE", style=style.STALE)
    return text


class CompanyCard(Static):
    """One company. Setting `view` to a view equal to the one shown does nothing; a new view is drawn at once
    only if the card is in view: a card scrolled out of sight (most of them, with hundreds of companies) only
    notes it is behind, and catches up when it is next drawn."""

    DEFAULT_CSS = """
    CompanyCard { width: 40; height: 7; border: round $secondary; padding: 0 1; }
    CompanyCard.-compact { height: 5; }
    CompanyCard.-core { border: round $accent; }
    CompanyCard.-stale { border: round $error; }
    """

    compact: reactive[bool] = reactive(False, init=False)

    def __init__(self, symbol: str, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.symbol = symbol
        self._view: CardView | None = None
        self.renders = 0  # views taken (each distinct view once), drawn now or when next in view
        self._behind = False  # a view taken while out of sight, not yet on the card's border and classes
        self._home: Screen[Any] | None = None
        self._body: tuple[tuple[CardView, int, bool], Text] | None = None
        self._title: tuple[str, str] | None = None
        self._subtitle: tuple[str | None, str | None, bool] | None = None

    @property
    def view(self) -> CardView | None:
        return self._view

    @view.setter
    def view(self, card: CardView | None) -> None:
        """A plain attribute, not a reactive: the screen sets one per company on every refresh, and a reactive's
        bookkeeping (~10 us a set) was a third of a 200-company refresh. An equal view does nothing."""
        if card == self._view:
            return
        self._view = card
        if card is None:
            return
        self.renders += 1
        self._behind = True
        if self._in_view():
            self._catch_up()

    def _in_view(self) -> bool:
        """Whether any of the card is on screen as last laid out (False before its first layout: it is then
        drawn, and catches up, when it first appears)."""
        try:
            screen = self._home or self.screen  # kept: walking up to the screen for each of 200 cards adds up
            self._home = screen
            return bool(screen.find_widget(self).visible_region)
        except (NoScreen, NoWidget):
            return False

    def _catch_up(self) -> None:
        """Put the view on the card: one repaint. Each border setter repaints the card, so a part is set
        only when it changed (a price alone does not); the body is drawn by render()."""
        card = self.view
        self._behind = False
        if card is None:
            return
        title = (card.name, card.symbol)
        if title != self._title:
            self._title = title
            self.border_title = Text(truncate(f"{safe_text(card.name)} {card.symbol}", 30), style="bold")
        subtitle = (card.source, card.as_of, card.stale)
        if subtitle != self._subtitle:
            self._subtitle = subtitle
            self.border_subtitle = card_subtitle(card)  # repaints
        else:
            self.refresh()
        self.set_class(card.group == "core", "-core")
        self.set_class(card.stale, "-stale")

    def render_lines(self, crop: Region) -> list[Strip]:
        """The compositor draws only cards in view: one that scrolled into view catches up first."""
        if self._behind:
            self._catch_up()
        return super().render_lines(crop)

    def watch_compact(self, compact: bool) -> None:
        self.set_class(compact, "-compact")
        self.refresh()

    def on_resize(self) -> None:
        self.refresh()

    def render(self) -> RenderResult:
        """The body, built when the compositor draws the card (only cards in view are drawn), once per
        distinct (view, width, compact); a card's size never depends on its text, so no layout is needed."""
        if self.view is None:
            return super().render()
        key = (self.view, max(20, self.content_size.width or 36), self.compact)
        if self._body is None or self._body[0] != key:
            self._body = (key, render_card(*key))
        return self._body[1]


class CardStrip(HorizontalScroll):
    """The cards in a row (wide terminals: as many whole cards as fit, each at least 40 columns, the rest
    a scroll away) or in a two-column grid of compact cards (class -grid, narrow terminals)."""

    def on_resize(self) -> None:
        self.fit_cards()

    def fit_cards(self) -> None:
        cards = [c for c in self.children if isinstance(c, CompanyCard) and c.display]
        if self.has_class("-grid") or not cards:
            for card in cards:
                card.styles.width = None
            return
        room = self.content_size.width
        per_row = max(1, min(len(cards), room // CARD_WIDTH))
        for card in cards:
            card.styles.width = max(CARD_WIDTH, room // per_row)
