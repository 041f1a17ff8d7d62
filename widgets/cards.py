"""Company cards: price, change, market cap (native and display currency), vs IPO, a sparkline and
the company's makers' OpenRouter token share. Renders a CardView; never fetches."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from monitor.text import fmt_big, fmt_pct, fmt_pp, fmt_price, fmt_share, safe_text, sparkline, truncate
from widgets.views import CardView

UP, DOWN, DIM = "green", "red", "dim"


def _signed(value: float | None) -> str:
    return "" if value is None else (UP if value > 0 else DOWN if value < 0 else "")


def render_card(card: CardView, width: int = 36) -> Text:
    """The card body as plain Rich Text: upstream names go in as literal text, never as markup."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{card.currency} ", style=DIM)
    text.append(fmt_price(card.price), style="bold")
    if card.change is not None:
        text.append(f"  {card.change:+,.2f} ", style=_signed(card.change))
        text.append(fmt_pct(card.change_pct), style=_signed(card.change_pct))
    text.append("\nmcap ", style=DIM)
    text.append(fmt_big(card.market_cap, card.currency))
    if card.display_currency != card.currency:
        text.append(" · ", style=DIM)
        text.append(fmt_big(card.market_cap_display, card.display_currency))
    text.append("\nvs IPO ", style=DIM)
    if card.ipo_price:
        text.append(f"{fmt_price(card.ipo_price)} ")
        text.append(fmt_pct(card.move_ipo), style=_signed(card.move_ipo))
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
        text.append(" Δ7d ", style=DIM)
        text.append(fmt_pp(card.token_share_change_7d), style=_signed(card.token_share_change_7d))
    return text


SOURCE_LABELS = {"demo-reported": "demo", "demo-interpolated": "demo~"}


def card_subtitle(card: CardView) -> Text:
    """Source, as-of and age, short enough that STALE is never cut off (a 40-column card fits ~34)."""
    source = SOURCE_LABELS.get(card.source or "", safe_text(card.source or "no data"))
    text = Text(truncate(f"{source} · {card.as_of or '—'}", 26), style="dim")
    if card.stale:
        text.append(" STALE", style="bold red")
    return text


class CompanyCard(Static):
    """One company. Setting `view` to a view equal to the one shown does nothing (reactive equality)."""

    DEFAULT_CSS = """
    CompanyCard { width: 40; height: 7; border: round $secondary; padding: 0 1; }
    CompanyCard.-core { border: round $accent; }
    CompanyCard.-stale { border: round $error; }
    """

    view: reactive[CardView | None] = reactive(None, layout=False, init=False)

    def __init__(self, symbol: str, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.symbol = symbol
        self.renders = 0

    def watch_view(self, card: CardView | None) -> None:
        if card is None:
            return
        self.renders += 1
        self.border_title = Text(truncate(f"{safe_text(card.name)} {card.symbol}", 30), style="bold")
        self.border_subtitle = card_subtitle(card)
        self.set_class(card.group == "core", "-core")
        self.set_class(card.stale, "-stale")
        self.update(render_card(card))
