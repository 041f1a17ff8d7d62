"""Immutable view objects handed to widgets. Equal views mean an identical screen, so a widget given
a view equal to the one it shows does nothing (that is how one poll re-renders only what it changed)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CardView:
    symbol: str
    name: str
    group: str
    currency: str
    price: float | None
    change: float | None
    change_pct: float | None
    market_cap: float | None
    market_cap_display: float | None
    display_currency: str
    ipo_price: float | None
    move_ipo: float | None
    spark: tuple[float, ...]
    spark_label: str
    token_share: float | None
    token_share_change_7d: float | None
    token_rank: int | None
    token_date: str | None
    source: str | None
    as_of: str | None  # e.g. "08-03 close · 66d"
    stale: bool


@dataclass(frozen=True)
class BoardRow:
    key: str
    rank: int | None
    rank_change: int | None
    name: str
    maker: str
    tokens: int | None
    share: float | None
    d1: float | None
    d7: float | None
    trend: tuple[float, ...]


@dataclass(frozen=True)
class BoardView:
    mode: str  # "model" or "maker"
    rows: tuple[BoardRow, ...]
    caption: str


@dataclass(frozen=True)
class ChartSeries:
    maker: str
    weekly: tuple[float, ...]
    daily: tuple[float, ...]
    latest: float | None
    d7: float | None


@dataclass(frozen=True)
class ChartView:
    series: tuple[ChartSeries, ...]
    weeks: tuple[str, ...]  # every week start, oldest first (the chart shows as many as fit)


@dataclass(frozen=True)
class MovesRow:
    symbol: str
    name: str
    price: float | None
    currency: str
    change_pct: float | None
    move_5d: float | None
    move_1m: float | None
    move_ytd: float | None
    move_ipo: float | None
    market_cap_display: float | None
    token_share: float | None


@dataclass(frozen=True)
class MovesView:
    rows: tuple[MovesRow, ...]
    display_currency: str


@dataclass(frozen=True)
class JobStatus:
    job: str
    ok: bool | None
    last: str
    next: str
    error: str | None


@dataclass(frozen=True)
class StatusView:
    jobs: tuple[JobStatus, ...]
    note: str


@dataclass(frozen=True)
class ScreenViews:
    """Everything on screen, as plain data: what the app renders, and what it keeps between runs so
    the next start opens on the last screen at once (see monitor/screen_cache.py)."""

    cards: tuple[CardView, ...]
    boards: dict[str, BoardView]  # by "model" and by "maker"
    chart: ChartView
    moves: MovesView
    status: StatusView
    data_age: str
    currency: str
    demo: bool
    made_at: float
