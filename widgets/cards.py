"""Company cards: price, change, market cap (native and display currency), vs IPO, a sparkline and
the company's makers' OpenRouter token share. Renders a CardView; never fetches."""

from __future__ import annotations

from functools import lru_cache
from itertools import pairwise
from operator import itemgetter
from typing import Any, Self

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.containers import HorizontalScroll
from textual.content import Content
from textual.dom import NoScreen
from textual.errors import NoWidget
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.screen import Screen
from textual.strip import Strip
from textual.style import Style as VisualStyle
from textual.visual import Visual
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


Part = tuple[str, str]  # a run of a card's text and its style ("": none)


def card_lines(card: CardView, width: int = 36, compact: bool = False) -> list[list[Part]]:
    """The card body, line by line, as runs of (text, style): upstream names go in as literal text, never as
    markup. `compact` (narrow terminals): price, market cap and token share only, three lines."""
    price = [(f"{card.currency} ", DIM), (fmt_price(card.price), "bold")]
    if card.change is not None:
        change, pct = _change(card.change), fmt_pct(card.change_pct)
        price += [(f"  {change} ", move_style(change)), (pct, move_style(pct))]
    mcap = [("mcap ", DIM), (fmt_big(card.market_cap, card.currency), "")]
    if card.display_currency != card.currency:
        mcap += [(" · ", DIM), (fmt_big(card.market_cap_display, card.display_currency), "")]
    lines = [price, mcap]
    if not compact:
        ipo = [("vs IPO ", DIM)]
        if card.ipo_price:
            move_ipo = fmt_pct(card.move_ipo)
            ipo += [(f"{fmt_price(card.ipo_price)} ", ""), (move_ipo, move_style(move_ipo))]
        else:
            ipo.append(("—", ""))
        spark_width = max(8, width - len(card.spark_label) - 2)
        spark = (_sparkline(card.spark, spark_width) or "no price history", "cyan" if card.spark else DIM)
        lines += [ipo, [spark, (f"  {card.spark_label}", DIM)]]
    tokens = [("tokens ", DIM)]
    if card.token_share is None:
        tokens.append(("— not in OpenRouter top 50" if card.token_date else "—", DIM))
    else:
        tokens.append((fmt_share(card.token_share), "bold"))
        if card.token_rank:
            tokens.append((f" #{card.token_rank}", DIM))
        d7 = fmt_pp(card.token_share_change_7d)
        tokens += [(" Δ7d ", DIM), (d7, move_style(d7))]
    lines.append(tokens)
    return lines


@lru_cache(maxsize=1024)
def _sparkline(values: tuple[float, ...], width: int) -> str:
    """`sparkline`, once per distinct line: a refresh brings every card a new view, most with the same one."""
    return sparkline(values, width)


def render_card(card: CardView, width: int = 36, compact: bool = False) -> Text:
    """The card body as plain Rich Text (what the card's Static shows; see `card_lines`)."""
    return _text(card_lines(card, width, compact))


def _text(lines: list[list[Part]], skip: int = 0) -> Text:
    """Lines of runs as one Rich Text, after `skip` empty lines."""
    text = Text("\n" * skip, no_wrap=True, overflow="ellipsis")
    for y, line in enumerate(lines):
        if y:
            text.append("\n")
        for part, look in line:
            text.append(part, style=look or None)
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


_edge_order = itemgetter(0, 1)  # span edges by offset, a span's end before another's start (Content.render)

# What one content line of a card shows: its text and its spans (start, end, style), as Rich Text has them.
LineKey = tuple[str, tuple[tuple[int, int, str], ...]]


class _Body:
    """A card body drawn at one (view, width, compact): its lines as runs, and as (text, spans) to compare and
    to draw; the whole Rich Text (what `render` returns) only when asked for."""

    __slots__ = ("_text", "key", "lines", "parts")

    def __init__(self, key: tuple[CardView, int, bool]) -> None:
        self.key = key
        self.parts = card_lines(*key)
        lines = []
        for line in self.parts:
            spans, x = [], 0
            for part, look in line:
                if part and look:
                    spans.append((x, x + len(part), look))
                x += len(part)
            lines.append(("".join(part for part, _ in line), tuple(spans)))
        self.lines: tuple[LineKey, ...] = tuple(lines)
        self._text: Text | None = None

    @property
    def text(self) -> Text:
        if self._text is None:
            self._text = _text(self.parts)
        return self._text


class CompanyCard(Static):
    """One company. Setting `view` to a view equal to the one shown does nothing; a new view is drawn at once
    only if the card is in view: a card scrolled out of sight (most of them, with hundreds of companies) only
    notes it is behind, and catches up when it is next drawn.

    A new view repaints only the lines of the card that changed (a new price: the price and market-cap lines,
    not the border, the sparkline or the token line), and each content line is drawn on its own and kept
    until what it shows changes (Textual's Static redraws its whole content on any change)."""

    DEFAULT_CSS = """
    CompanyCard { width: 40; height: 7; border: round $secondary; padding: 0 1; }
    CompanyCard.-compact { height: 5; }
    CompanyCard.-core { border: round $accent; }
    CompanyCard.-stale { border: round $error; }
    """

    compact: reactive[bool] = reactive(False, init=False)
    _bottom_only = False  # a repaint asked for now is of the bottom border line only (see refresh)

    def __init__(self, symbol: str, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.symbol = symbol
        self._view: CardView | None = None
        self.renders = 0  # views taken (each distinct view once), drawn now or when next in view
        self._behind = False  # a view taken while out of sight, not yet on the card's border and classes
        self._home: Screen[Any] | None = None
        self._body: _Body | None = None
        self._title: tuple[str, str] | None = None
        self._subtitle: tuple[str | None, str | None, bool] | None = None
        # The body lines on screen: those of the last drawing (a line that changed since is marked for repaint).
        self._drawn: tuple[Size, tuple[LineKey, ...]] | None = None
        self._line_context: tuple[object, ...] | None = None  # what every line depends on, during render_lines
        self._strips: dict[int, tuple[tuple[object, ...], Strip]] = {}  # content line -> (what it shows, strip)
        self._run_styles: dict[tuple[object, ...], Style] = {}
        self._span_styles: dict[tuple[object, ...], VisualStyle] = {}

    @property
    def view(self) -> CardView | None:
        return self._view

    @view.setter
    def view(self, card: CardView | None) -> None:
        """A plain attribute, not a reactive: the screen sets one per company on every refresh, and a reactive's
        bookkeeping (~10 us a set) was a third of a 200-company refresh. An equal view does nothing."""
        self.take(card, None)

    def take(self, card: CardView | None, in_view: bool | None) -> None:
        """Set the view; `in_view`: whether the card is on screen, if the caller knows (the screen looks that up
        once for all its cards), else None."""
        old = self._view
        # A new price (most refreshes, for most cards) tells the views apart at once; only views with the same
        # price need comparing whole (a dataclass compares all 21 fields, ~1 us, 199 times a refresh).
        same_price = old is None or card is None or card.price == old.price or card.price != card.price
        if same_price and card == old:
            return
        self._view = card
        if card is None:
            return
        self.renders += 1
        self._behind = True
        if self._in_view() if in_view is None else in_view:
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
        """Put the view on the card. Each border setter repaints the whole card, so a part is set only when it
        changed (a price alone does not); of the body, only the lines that changed are repainted."""
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
            # A new quote time (every poll, live): the subtitle is on the bottom border, and only that line
            # needs drawing again (the setter would repaint the whole card).
            self._bottom_only = self._drawn is not None
            try:
                self.border_subtitle = card_subtitle(card)
            finally:
                self._bottom_only = False
        self._mark_changed_lines()
        self.set_class(card.group == "core", "-core")
        self.set_class(card.stale, "-stale")

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False) -> Self:
        """Widget.refresh; while a new subtitle is set, the repaint its setter asks for is the bottom border line
        (in content coordinates, as refresh takes them: above and left of the content are negative)."""
        if self._bottom_only and not regions and repaint and not layout and not recompose:
            x, y = self.content_offset
            width, height = self.outer_size
            regions = (Region(-x, height - 1 - y, width, 1),)
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _mark_changed_lines(self) -> None:
        """Repaint the body lines that show something new since the card was last drawn (all of them if its
        size changed)."""
        size = self.content_size
        lines = self._current_body(size.width).lines
        drawn = self._drawn
        if drawn is None or drawn[0] != size or len(drawn[1]) != len(lines):
            self.refresh()
            return
        pairs = enumerate(zip(drawn[1], lines, strict=True))
        changed = [Region(0, y, size.width, 1) for y, (old, new) in pairs if old != new]
        if changed:
            self.refresh(*changed)

    def _current_body(self, width: int | None = None) -> _Body:
        """The body for the view, width and compactness now, made once per distinct triple."""
        assert self.view is not None
        if width is None:
            width = self.content_size.width  # a property walking up to the screen: callers pass it if they have it
        key = (self.view, max(20, width or 36), self.compact)
        if self._body is None or self._body.key != key:
            self._body = _Body(key)
        return self._body

    def render_lines(self, crop: Region) -> list[Strip]:
        """The compositor draws only cards in view: one that scrolled into view catches up first."""
        if self._behind:
            self._catch_up()
        size = self.size
        if self.view is not None:
            self._drawn = (size, self._current_body(size.width).lines)
        styles = self.styles
        # What a drawn line depends on besides its own text (read once, not once a line).
        self._line_context = (
            size,
            self.visual_style,
            styles.text_align,
            styles.text_wrap,
            styles.text_overflow,
            styles.content_align,
            styles.line_pad,
            self.app.ansi_theme,
        )
        try:
            return super().render_lines(crop)
        finally:
            self._line_context = None

    def render_line(self, y: int) -> Strip:
        """Content line `y` (what Static draws for it: tests/test_ui_refresh_cards.py compares the two), drawn on
        its own and kept while it shows the same text at the same place in the same style."""
        context = self._line_context
        if context is None or self.view is None or self.text_selection is not None:
            return super().render_line(y)
        size = context[0]
        assert isinstance(size, Size)
        body = self._current_body(size.width)
        if y >= min(len(body.lines), size.height):
            return Strip.blank(size.width, self.visual_style.rich_style)
        key = (body.lines[y], context)
        found = self._strips.get(y)
        if found is not None and found[0] == key:
            return found[1]
        strip = self._plain_line(body.lines[y], y, context)
        if strip is None:
            strip = self._line_by_textual(body.parts[y], y, size)
        self._strips[y] = (key, strip)
        return strip

    def _line_by_textual(self, line: list[Part], y: int, size: Size) -> Strip:
        """Line y of the body drawn by Textual's own steps (Static: Content from the Rich Text, wrapped and
        formatted, then Visual.to_strips), from a text whose line y is this line: the same line at the same
        offset, so the same segments."""
        visual = Content.from_rich_text(_text([line], skip=y), console=self.app.console)
        return Visual.to_strips(self, visual, size.width, size.height, self.visual_style)[y]

    def _plain_line(self, line: LineKey, y: int, context: tuple[object, ...]) -> Strip | None:
        """A line that fits the card, of printable single-width text, left-aligned: the segments Textual's steps
        make of it (each run of text between span edges styled with the widget's style plus the spans over it,
        in their order, with its offset for text selection), made directly; None for any other line."""
        size, base, align, _, _, content_align, line_pad, _ = context
        text, spans = line
        if (
            not text
            or len(text) > size.width  # type: ignore[attr-defined]
            or not text.isprintable()
            or cell_len(text) != len(text)
            or align not in ("left", "start")
            or content_align != ("left", "top")
            or line_pad
        ):
            return None
        assert isinstance(base, VisualStyle)
        # Content.render: the runs between span edges, each with the styles of the spans over it (and the base).
        edges = [(0, False, 0), (len(text), True, 0)]
        for index, (start, end, _) in enumerate(spans, 1):
            edges.append((start, False, index))
            edges.append((end, True, index))
        edges.sort(key=_edge_order)
        segments = []
        stack: list[int] = []
        x = 0
        for (offset, leaving, index), (following, _, _) in pairwise(edges):
            if leaving:
                stack.remove(index)
            else:
                stack.append(index)
            if following > offset:
                over = tuple(spans[i - 1][2] for i in sorted(stack) if i)
                segments.append(Segment(text[offset:following], self._run_style(base, over, x, y)))
                x += following - offset
        return Strip(segments, len(text))

    def _run_style(self, base: VisualStyle, over: tuple[Any, ...], x: int, y: int) -> Style:
        """What to_strip gives a run: (base + Style.combine([base, *spans])).rich_style_with_offset(x, y)."""
        key = (base, over, x, y)
        found = self._run_styles.get(key)
        if found is None:
            if len(self._run_styles) > 512:
                self._run_styles.clear()
            combined = VisualStyle.combine([base, *(self._span_style(style) for style in over)])
            found = self._run_styles[key] = (base + combined).rich_style_with_offset(x, y)
        return found

    def _span_style(self, style: str | Style) -> VisualStyle:
        """Content.from_rich_text's style of a span (from the console's style of a name, in the ANSI theme)."""
        app = self.app
        key = (style, app.ansi_theme)
        found = self._span_styles.get(key)
        if found is None:
            rich = app.console.get_style(style) if isinstance(style, str) else style
            found = self._span_styles[key] = VisualStyle.from_rich_style(rich, app.ansi_theme)
        return found

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
        return self._current_body().text


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
