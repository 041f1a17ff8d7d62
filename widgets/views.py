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
    spark_label: str  # "today" (intraday) or "30 sessions" (daily closes; "*" when some are interpolated)
    token_share: float | None
    token_share_change_7d: float | None
    token_rank: int | None
    token_date: str | None
    source: str | None
    as_of: str | None  # the exchange's own time: "quote 14:04 HKT · 16m delay" or "08-03 close · 66d ago"
    stale: bool


@dataclass(frozen=True)
class BoardRow:
    key: str
    rank: int | None
    rank_change: int | None
    name: str
    tag: str  # what tells two rows of the same name apart: the version date ("07-31"), else ""
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
    d1_label: str  # "Δ1d", or "Δ6d" when the previous stored day is 6 days earlier (days missing)


@dataclass(frozen=True)
class ChartSeries:
    maker: str
    weekly: tuple[float | None, ...]  # None: a week with no data (a gap, not a zero)
    daily: tuple[float | None, ...]  # every UTC day from the first to the last stored; None: not stored
    latest: float | None
    d7: float | None


@dataclass(frozen=True)
class ChartView:
    series: tuple[ChartSeries, ...]
    weeks: tuple[str, ...]  # every week start, oldest first (the chart shows as many as fit)
    days: tuple[str, ...] = ()  # every UTC day of the daily series, oldest first


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
    as_of: str  # the quote's own time ("14:04" today, else "08-03"), "" without a price


@dataclass(frozen=True)
class MovesView:
    rows: tuple[MovesRow, ...]
    display_currency: str
    note: str = ""  # e.g. the companies the demo leaves out, and why


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
    clock_at: float | None = None  # the moment the data describes, when that is not now (the demo's as-of)
