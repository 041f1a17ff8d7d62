"""widgets/cards.py: a card draws each body line on its own and repaints only the lines that changed; the
lines it draws are exactly what Textual's Static draws of the card's whole body, segment for segment (text,
style, and the offsets text selection reads)."""

from __future__ import annotations

import dataclasses

import pytest
from textual.widget import Widget

from tests.conftest import settle
from tests.test_app import running
from tests.test_ui_refresh_app import cards_fitted, demo, drawn, screen_strips, terminal_writes
from widgets import style
from widgets.cards import CompanyCard
from widgets.views import CardView


def static_lines(card: CompanyCard) -> list[list[object]]:
    """The card's content lines as Static draws them: its whole body rendered at once (Widget.render_line)."""
    card._dirty_regions.add(card.size.region)  # Static renders its content again on the next line asked for
    return [list(Widget.render_line(card, y)) for y in range(card.size.height)]


def own_lines(card: CompanyCard) -> tuple[list[list[object]], int]:
    """The card's content lines as it draws them itself (in a drawing pass, as the compositor asks for them),
    and how many took the direct path rather than Textual's steps."""
    card._strips.clear()
    styles = card.styles
    card._line_context = context = (
        card.size,
        card.visual_style,
        styles.text_align,
        styles.text_wrap,
        styles.text_overflow,
        styles.content_align,
        styles.line_pad,
        card.app.ansi_theme,
    )
    try:
        body = card._current_body()
        direct = sum(card._plain_line(line, y, context) is not None for y, line in enumerate(body.lines))
        return [list(card.render_line(y)) for y in range(card.size.height)], direct
    finally:
        card._line_context = None


def odd(card: CardView, i: int) -> CardView:
    """Views that take the other branches of the card: no change, no IPO price, no history, no token share,
    a long name, wide characters (the direct path leaves those to Textual), a zero move."""
    return [
        dataclasses.replace(card, change=None, change_pct=None),
        dataclasses.replace(card, ipo_price=None, spark=(), token_share=None, token_date=None),
        dataclasses.replace(card, name="中文名字 Holdings", token_share_change_7d=0.0, change=0.0, change_pct=0.0),
        dataclasses.replace(card, price=None, market_cap=None, display_currency=card.currency, token_rank=None),
    ][i % 4]


@pytest.mark.parametrize(
    ("size", "no_color"), [((160, 48), False), ((80, 24), False), ((80, 24), True)], ids=["wide", "compact", "no-color"]
)
async def test_a_cards_own_lines_are_what_static_draws(tmp_path, monkeypatch, size, no_color):
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")  # read (and removed) by the app as it is made
    app = demo(tmp_path)
    try:
        async with running(app, size=size) as pilot:
            screen = app.dashboard_screen
            await pilot.pause()
            cards = [c for c in screen._cards.values() if c.display and c.view is not None]
            direct = compared = 0
            for i, card in enumerate(cards):
                for view in (card.view, odd(card.view, i)):
                    card.view = view
                    for focused in (False, True):
                        if focused:
                            card.focus()
                        await pilot.pause()
                        ours, fast = own_lines(card)
                        assert ours == static_lines(card), (card.symbol, view, focused)
                        direct += fast
                        compared += len(ours)
            assert direct > compared // 2  # most lines took the direct path
    finally:
        style.set_monochrome(False)


async def test_a_new_price_repaints_only_the_lines_that_show_it(tmp_path):
    """What goes to the terminal (over SSH, every byte counts) is the lines that changed: a new price is the
    price line of each card in view and that table row, not the cards' borders, their other lines, or the
    table's header; a new quote time adds the cards' bottom border (their subtitle), not the rest."""
    app = demo(tmp_path)
    async with running(app, size=(160, 48)) as pilot:
        screen = app.dashboard_screen
        await settle(pilot, lambda: cards_fitted(screen))
        await drawn(pilot)
        views = screen.views
        for step in (1, 2, 3):
            moved = tuple(dataclasses.replace(c, price=(c.price or 0) + step) for c in views.cards)
            if step == 3:  # a new quote time too: the bottom border line of each card (its subtitle)
                moved = tuple(dataclasses.replace(c, as_of=f"quote 11:1{step} HKT · 1m delay") for c in moved)
            rows = tuple(
                dataclasses.replace(r, price=r.price + step if r.price is not None else None) for r in views.moves.rows
            )
            before = screen_strips(app)
            with terminal_writes(app) as written:
                screen.views = dataclasses.replace(
                    views, cards=moved, moves=dataclasses.replace(views.moves, rows=rows)
                )
                await pilot.pause()
            after = screen_strips(app)
            changed = {y for y, (old, new) in enumerate(zip(before, after, strict=True)) if old != new}
            assert changed and written == changed
