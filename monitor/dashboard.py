"""Everything the screen and the exports show, computed from the store in one place.

`DashboardLoader` keeps the raw frames it last read and re-reads only the tables a poll changed, so a
refresh after one poll costs the reads of that poll's tables plus the (small) analytics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

import polars as pl

from monitor import analytics, published
from monitor.attribution import OPENROUTER_ATTRIBUTION
from monitor.config import Config
from storage import Store

TOKEN_WINDOW_DAYS = 95  # the share chart's longest daily range (90D) and the Δ7d before it
# The token history the dashboard as first drawn and every snapshot show: the 30-day trends, and within them
# the Δ1d, the Δ7d and the 52W chart's daily column. Only the 90D share range (a key away) reads further back.
RECENT_TOKEN_DAYS = analytics.TREND_DAYS + 1
BAR_WINDOW_DAYS = 400
WEEKLY_WINDOW_WEEKS = 52  # the weekly chart: the year OpenRouter's 52-week chart covers, however many are stored
INTRADAY_WINDOW_SECONDS = 20 * 3600
INTRADAY_TAIL_SECONDS = 15 * 60
INTRADAY_FULL_READ_SECONDS = 15 * 60


@dataclass(frozen=True)
class Dashboard(published.DemoClock):
    generated_at: float
    display_currency: str
    companies: pl.DataFrame
    intraday: dict[str, list[float]]
    models: pl.DataFrame
    makers: pl.DataFrame
    maker_history: pl.DataFrame
    maker_weekly: pl.DataFrame
    medians: pl.DataFrame
    polls: pl.DataFrame
    attribution: str
    token_snapshot: str | None
    demo_as_of: float | None = None
    demo_note: str | None = None
    # The demo shows only companies the bundled data has prices for; the names of the others.
    left_out: tuple[str, ...] = ()

    @cached_property
    def rows(self) -> published.DashboardData:
        """This Dashboard as plain rows (what the views are built from, and what a writer publishes); made once,
        though the views are rebuilt from it every 30 s as the ages move."""
        return published.DashboardData.from_dashboard(self)


@dataclass(frozen=True)
class _TokenFrames:
    """Token analytics, which depend only on the token tables."""

    maker_daily: pl.DataFrame
    models: pl.DataFrame
    makers: pl.DataFrame
    maker_history: pl.DataFrame
    maker_weekly: pl.DataFrame


def _max_ts(frame: pl.DataFrame) -> int:
    """The newest `ts` in `frame`, 0 when it has none."""
    newest = frame["ts"].max()
    return newest if isinstance(newest, int) else 0


class DashboardLoader:
    """Reads the store and computes a Dashboard. Runs in a worker thread, never on the UI loop."""

    def __init__(self, store: Store, config: Config, token_days: int = TOKEN_WINDOW_DAYS) -> None:
        """`token_days`: how many days of token_daily to read (RECENT_TOKEN_DAYS for a first screen)."""
        self.store = store
        self.config = config
        self.token_days = token_days
        # The frames last read, by name: instruments, latest_quotes, intraday, daily_bars, fx,
        # token_daily, token_weekly, polls. The meta table is kept apart as strings.
        self._raw: dict[str, pl.DataFrame] = {}
        self._meta: dict[str, str] = {}
        self._intraday_full_at = 0.0
        # Token analytics depend only on the token tables: kept until those change.
        self._token_frames: _TokenFrames | None = None

    def _read(self, tables: set[str]) -> None:
        store, raw = self.store, self._raw
        if "instruments" in tables:
            raw["instruments"] = store.instruments()
        symbols: list[str] = raw["instruments"]["symbol"].to_list()
        if "quotes" in tables or "instruments" in tables:
            latest = store.latest_quotes(symbols)
            raw["latest_quotes"] = latest
            raw["intraday"] = self._read_intraday(symbols, latest, full="instruments" in tables)
        if "daily_bars" in tables:
            newest = store.newest_bar_date(symbols)
            since = (date.fromisoformat(newest) - timedelta(days=BAR_WINDOW_DAYS)).isoformat() if newest else ""
            raw["daily_bars"] = store.daily_bars(since, symbols)
        if "fx" in tables:
            raw["fx"] = store.latest_fx()
        if "token_daily" in tables:
            newest = store.latest_token_date()
            since = (date.fromisoformat(newest) - timedelta(days=self.token_days)).isoformat() if newest else ""
            raw["token_daily"] = store.token_daily(since, analytics.SHARE_COLUMNS, key_order=True)
        if "token_weekly" in tables:
            newest = store.latest_token_week()
            since = (date.fromisoformat(newest) - timedelta(weeks=WEEKLY_WINDOW_WEEKS)).isoformat() if newest else ""
            raw["token_weekly"] = store.token_weekly(since)
        if "polls" in tables:
            raw["polls"] = store.latest_polls()
        if "meta" in tables or "token_daily" in tables:
            # Not the published dashboard (monitor/published.py): it is this loader's output, not its input.
            rows = store.conn().execute("SELECT key, value FROM meta WHERE key != ?", (published.META_KEY,)).fetchall()
            self._meta = dict(rows)

    def _read_intraday(self, symbols: list[str], latest: pl.DataFrame, full: bool) -> pl.DataFrame:
        """The last 20 hours of quotes. After the first read only the recent tail is re-read and merged:
        a poll rewrites the bars still forming, never hours-old ones, and a full read every
        INTRADAY_FULL_READ_SECONDS picks up any late correction."""
        window_start = _max_ts(latest) - INTRADAY_WINDOW_SECONDS if not latest.is_empty() else 0
        cached = self._raw.get("intraday")
        now = time.monotonic()
        if full or cached is None or cached.is_empty() or now - self._intraday_full_at > INTRADAY_FULL_READ_SECONDS:
            self._intraday_full_at = now
            return self.store.quotes_since(symbols, window_start)
        tail_start = max(window_start, _max_ts(cached) - INTRADAY_TAIL_SECONDS)
        tail = self.store.quotes_since(symbols, tail_start)
        kept = cached.filter((pl.col("ts") >= window_start) & (pl.col("ts") < tail_start))
        return pl.concat([kept, tail]).sort("symbol", "ts")

    def load(self, changed: set[str] | frozenset[str] | None = None, display_currency: str | None = None) -> Dashboard:
        all_tables = {"instruments", "quotes", "daily_bars", "fx", "token_daily", "token_weekly", "polls", "meta"}
        tables = all_tables if changed is None or not self._raw else (set(changed) & all_tables)
        if "instruments" in tables:
            tables |= {"quotes", "daily_bars"}
        self._read(tables)
        if tables & {"token_daily", "token_weekly"}:
            self._token_frames = None
        return self.compute(display_currency or self.config.display_currency)

    def _tokens(self) -> _TokenFrames:
        if self._token_frames is None:
            raw, config = self._raw, self.config
            makers_map, unattributed = config.makers, config.unattributed_authors
            maker_daily = analytics.maker_share(raw["token_daily"], makers_map, unattributed)
            model_daily = analytics.model_share(raw["token_daily"], makers_map, unattributed)
            self._token_frames = _TokenFrames(
                maker_daily=maker_daily,
                models=analytics.latest_day(model_daily, "model_permaslug"),
                makers=analytics.latest_day(maker_daily, "maker_id"),
                maker_history=maker_daily.select("date", "maker_id", "maker", "share"),
                maker_weekly=analytics.weekly_maker_share(raw["token_weekly"], makers_map, unattributed),
            )
        return self._token_frames

    def compute(self, display_currency: str) -> Dashboard:
        raw, config = self._raw, self.config
        market = analytics.market_view(
            raw["instruments"], raw["latest_quotes"], raw["daily_bars"], raw["fx"], display_currency
        )
        tokens = self._tokens()
        order = {c.symbol: i for i, c in enumerate(config.companies)}
        companies = analytics.company_view(market, tokens.maker_daily).sort(
            pl.col("symbol").replace_strict(order, default=len(order), return_dtype=pl.Int64)
        )
        meta = self._meta
        demo_as_of = meta.get("demo_as_of")
        left_out: tuple[str, ...] = ()
        if demo_as_of:  # the bundled data has prices for a few companies only: the demo lists just those
            left_out = tuple(companies.filter(pl.col("price").is_null())["name"].to_list())
            companies = companies.filter(pl.col("price").is_not_null())
        return Dashboard(
            generated_at=time.time(),
            display_currency=display_currency,
            companies=companies,
            intraday=analytics.intraday_series(raw["intraday"], market),
            models=tokens.models,
            makers=tokens.makers,
            maker_history=tokens.maker_history,
            maker_weekly=tokens.maker_weekly,
            medians=analytics.group_medians(market),
            polls=raw["polls"],
            attribution=meta.get("openrouter_attribution", OPENROUTER_ATTRIBUTION),
            token_snapshot=meta.get("openrouter_snapshot_date"),
            demo_as_of=float(demo_as_of) if demo_as_of else None,
            demo_note=meta.get("demo_note"),
            left_out=left_out,
        )
