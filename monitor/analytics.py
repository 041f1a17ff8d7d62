"""Token share and market-cap moves. Pure functions: polars frames in, polars frames out; no I/O.

How a token day lines up with a trading day: OpenRouter days are UTC days. HKEX closes at 16:00 HKT,
which is 08:00 UTC, so the HK close of date D comes 16 hours before the UTC token day D ends. We pair
token day D with the trading day D (the HK close of D), never with D+1: the token figure for D is
only published the next morning (~01:46 UTC on D+1), after that close. The company view shows the
latest token day beside the latest price and labels both with their dates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl
from polars.datatypes import DataType, DataTypeClass

from monitor.attribution import OTHER as OTHER  # re-exported: the aggregations here make these rows
from monitor.attribution import UNATTRIBUTED as UNATTRIBUTED
from monitor.markets import MARKET_ZONES

TREND_DAYS = 30


def maker_bucket(author: pl.Expr, unattributed: Iterable[str]) -> pl.Expr:
    """Author slug -> maker bucket: anonymous authors pool into `unattributed`, `other` stays itself."""
    return pl.when(author.is_in(list(unattributed))).then(pl.lit(UNATTRIBUTED)).otherwise(author)


def _with_deltas(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """Add share and rank on the previous stored day (`date_1d`: the day before, or the last one stored
    before it when days are missing) and 7 days before each row's date, and the differences (null when
    that day is absent)."""
    if frame.schema["date"] == pl.String:
        frame = frame.with_columns(pl.col("date").str.to_date())
    days_stored = frame.select(pl.col("date").unique().sort()).with_columns(pl.col("date").shift(-1).alias("next"))
    previous = frame.join(days_stored, on="date").select(
        key,
        pl.col("next").alias("date"),
        pl.col("date").alias("date_1d"),
        pl.col("share").alias("share_1d"),
        pl.col("rank").alias("rank_1d"),
    )
    frame = frame.join(previous.filter(pl.col("date").is_not_null()), on=[key, "date"], how="left")
    prior = frame.select(
        key,
        (pl.col("date") + pl.duration(days=7)).alias("date"),
        pl.col("share").alias("share_7d"),
        pl.col("rank").alias("rank_7d"),
    )
    frame = frame.join(prior, on=[key, "date"], how="left")
    return frame.with_columns(
        (pl.col("share") - pl.col("share_1d")).alias("d_share_1d"),
        (pl.col("share") - pl.col("share_7d")).alias("d_share_7d"),
        (pl.col("rank_1d") - pl.col("rank")).alias("rank_change_1d"),
    )


def _latest_date(frame: pl.DataFrame) -> date:
    """The newest value of a non-empty frame's Date column `date`."""
    latest = frame["date"].max()
    if not isinstance(latest, date):
        raise TypeError(f"column 'date' holds {frame.schema['date']}, not dates")
    return latest


def _trend(frame: pl.DataFrame, key: str, latest: date, days: int = TREND_DAYS) -> pl.DataFrame:
    window = frame.filter(pl.col("date") > latest - timedelta(days=days))
    return window.sort("date").group_by(key).agg(pl.col("share").alias("trend"))


# The token_daily columns model_share and maker_share read: the dashboard reads no others.
SHARE_COLUMNS = ("date", "model_permaslug", "author", "rank", "total_tokens", "share")


def model_share(token_daily: pl.DataFrame, makers: Mapping[str, str], unattributed: Iterable[str]) -> pl.DataFrame:
    """Every (date, model) with share, rank, Δ1d/Δ7d and the maker's display name."""
    frame = token_daily.select(SHARE_COLUMNS)
    frame = _with_deltas(frame, "model_permaslug")
    bucket = maker_bucket(pl.col("author"), unattributed)
    return frame.with_columns(
        bucket.alias("maker_id"),
        bucket.replace_strict(dict(makers), default=bucket).alias("maker"),
    ).sort("date", "rank", nulls_last=True)


def maker_share(token_daily: pl.DataFrame, makers: Mapping[str, str], unattributed: Iterable[str]) -> pl.DataFrame:
    """Every (date, maker) with tokens, share of that day's tokens, rank, Δ1d/Δ7d.

    Share is the maker's tokens over the day's total including `other`, so each day sums to 1."""
    if token_daily.is_empty():
        return pl.DataFrame(
            schema={
                "date": pl.Date,
                "maker_id": pl.String,
                "maker": pl.String,
                "rank": pl.Int64,
                "total_tokens": pl.Int64,
                "share": pl.Float64,
                "date_1d": pl.Date,
                "share_1d": pl.Float64,
                "rank_1d": pl.Int64,
                "share_7d": pl.Float64,
                "rank_7d": pl.Int64,
                "d_share_1d": pl.Float64,
                "d_share_7d": pl.Float64,
                "rank_change_1d": pl.Int64,
            }
        )
    grouped = (
        token_daily.with_columns(maker_bucket(pl.col("author"), unattributed).alias("maker_id"))
        .group_by("date", "maker_id")
        .agg(pl.col("total_tokens").sum())
        .with_columns((pl.col("total_tokens") / pl.col("total_tokens").sum().over("date")).alias("share"))
    )
    # Buckets that are not one maker get no rank, like the export's `other` row.
    ranked = grouped.with_columns(
        pl.when(pl.col("maker_id").is_in([OTHER, UNATTRIBUTED]))
        .then(None)
        .otherwise(pl.col("total_tokens"))
        .rank("ordinal", descending=True)
        .over("date")
        .cast(pl.Int64)
        .alias("rank")
    )
    frame = _with_deltas(ranked, "maker_id")
    return frame.with_columns(
        pl.col("maker_id").replace_strict(dict(makers), default=pl.col("maker_id")).alias("maker")
    ).sort("date", "rank", nulls_last=True)


def latest_day(share: pl.DataFrame, key: str) -> pl.DataFrame:
    """The newest day's rows with a trend (share per day over the last 30 days) for sparklines."""
    if share.is_empty():
        return share.with_columns(pl.lit(None, dtype=pl.List(pl.Float64)).alias("trend"))
    latest = _latest_date(share)
    return share.filter(pl.col("date") == latest).join(_trend(share, key, latest), on=key, how="left")


def weekly_maker_share(
    token_weekly: pl.DataFrame, makers: Mapping[str, str], unattributed: Iterable[str]
) -> pl.DataFrame:
    """Weekly share by maker from the 52-week chart (top 9 models + Others per week)."""
    if token_weekly.is_empty():
        return pl.DataFrame(
            schema={
                "week": pl.Date,
                "maker_id": pl.String,
                "maker": pl.String,
                "total_tokens": pl.Int64,
                "share": pl.Float64,
            }
        )
    return (
        token_weekly.with_columns(
            pl.col("week").str.to_date(), maker_bucket(pl.col("author"), unattributed).alias("maker_id")
        )
        .group_by("week", "maker_id")
        .agg(pl.col("total_tokens").sum())
        .with_columns(
            (pl.col("total_tokens") / pl.col("total_tokens").sum().over("week")).alias("share"),
            pl.col("maker_id").replace_strict(dict(makers), default=pl.col("maker_id")).alias("maker"),
        )
        .sort("week", "maker_id")
    )


@dataclass(frozen=True)
class FxRate:
    rate: float
    ts: int | None


def fx_rate(fx_latest: pl.DataFrame, base: str, quote: str) -> FxRate | None:
    """1 `base` in `quote`, from a stored pair or its inverse; None when neither is stored."""
    if base == quote:
        return FxRate(1.0, None)
    rates: dict[str, tuple[float, int | None]] = {
        r["pair"]: (r["rate"], r["ts"]) for r in fx_latest.iter_rows(named=True)
    }
    if f"{base}{quote}" in rates:
        rate, ts = rates[f"{base}{quote}"]
        return FxRate(rate, ts)
    if f"{quote}{base}" in rates:
        rate, ts = rates[f"{quote}{base}"]
        return FxRate(1.0 / rate, ts)
    return None


def _close_on_or_before(dates: list[str], closes: list[float | None], day: str) -> float | None:
    for d, c in zip(reversed(dates), reversed(closes), strict=True):
        if d <= day and c is not None:
            return c
    return None


def _change(now: float | None, then: float | None) -> float | None:
    """Relative change as a fraction (0.10 for +10%); None without both values or from zero."""
    return None if now is None or not then else now / then - 1.0


MARKET_SCHEMA: dict[str, DataType | DataTypeClass] = {
    "symbol": pl.String,
    "name": pl.String,
    "group": pl.String,
    "market": pl.String,
    "currency": pl.String,
    "price": pl.Float64,
    "price_time": pl.Int64,
    "price_date": pl.String,
    "source": pl.String,
    "prev_close": pl.Float64,
    "change": pl.Float64,
    "change_pct": pl.Float64,
    "shares": pl.Int64,
    "shares_source": pl.String,
    "market_cap": pl.Float64,
    "display_currency": pl.String,
    "fx_rate": pl.Float64,
    "fx_time": pl.Int64,
    "market_cap_display": pl.Float64,
    "move_5d": pl.Float64,
    "move_1m": pl.Float64,
    "move_ytd": pl.Float64,
    "move_ipo": pl.Float64,
    "ipo_price": pl.Float64,
    "authors": pl.List(pl.String),
    "closes": pl.List(pl.Float64),
}


def market_view(
    instruments: pl.DataFrame,
    latest_quotes: pl.DataFrame,
    daily_bars: pl.DataFrame,
    fx_latest: pl.DataFrame,
    display_currency: str,
) -> pl.DataFrame:
    """One row per instrument: price, change, market cap (native and display currency) and moves.

    Price is the newest quote, else the newest daily close. Previous close is the quote's own (what
    the upstream reported), else the last daily close before the price's trading date. Moves compare
    the price with the close 5 sessions before, on or before one month before, on the last session of
    the previous year (or the IPO price for a company listed this year), and the IPO price.
    """
    quotes = {r["symbol"]: r for r in latest_quotes.iter_rows(named=True)}
    # One sort, then split: partition_by keeps the order within each symbol.
    bars = {
        key[0]: frame for key, frame in daily_bars.sort("symbol", "date").partition_by("symbol", as_dict=True).items()
    }
    rows: list[dict[str, object]] = []
    for inst in instruments.iter_rows(named=True):
        symbol: str = inst["symbol"]
        bar = bars.get(symbol)
        dates: list[str] = bar["date"].to_list() if bar is not None else []
        closes: list[float | None] = bar["close"].to_list() if bar is not None else []
        quote = quotes.get(symbol)
        price: float | None = None
        price_time: int | None = None
        price_date: str | None = None
        source: str | None = None
        prev: float | None = None
        if quote is not None:
            price, price_time, source, prev = quote["price"], quote["ts"], quote["source"], quote["prev_close"]
            price_date = _trading_date(quote["ts"], inst["market"])
        elif bar is not None and any(c is not None for c in closes):
            idx = max(i for i, c in enumerate(closes) if c is not None)
            price, price_date, source = closes[idx], dates[idx], bar["source"][idx]
        if prev is None and price_date is not None:
            prev = _close_on_or_before(dates, closes, _day_before(price_date))
        ref_5d: float | None = None
        if price_date is not None:
            earlier = [c for d, c in zip(dates, closes, strict=True) if d < price_date and c is not None]
            ref_5d = earlier[-5] if len(earlier) >= 5 else None
        ipo_price: float | None = inst["ipo_price"]
        ipo_date: str | None = inst["ipo_date"]
        ref_1m: float | None = None
        ref_ytd: float | None = None
        if price_date is not None:
            day = date.fromisoformat(price_date)
            last_of_previous = day.replace(day=1) - timedelta(days=1)
            month_ago = last_of_previous.replace(day=min(day.day, last_of_previous.day)).isoformat()
            ref_1m = _close_on_or_before(dates, closes, month_ago) if dates and dates[0] <= month_ago else None
            year_start = f"{day.year}-01-01"
            if ipo_date and ipo_date >= year_start:
                ref_ytd = ipo_price
            elif dates and dates[0] < year_start:
                ref_ytd = _close_on_or_before(dates, closes, _day_before(year_start))
        shares: int | None = inst["total_shares"]
        shares_source = "config"
        if shares is None and inst["reported_shares"]:
            shares, shares_source = inst["reported_shares"], "tencent"
        market_cap = price * shares if price is not None and shares else None
        fx = fx_rate(fx_latest, inst["currency"], display_currency)
        rows.append(
            {
                "symbol": symbol,
                "name": inst["name"],
                "group": inst["grp"],
                "market": inst["market"],
                "currency": inst["currency"],
                "price": price,
                "price_time": price_time,
                "price_date": price_date,
                "source": source,
                "prev_close": prev,
                "change": price - prev if price is not None and prev is not None else None,
                "change_pct": _change(price, prev),
                "shares": shares if market_cap else None,
                "shares_source": shares_source if market_cap else None,
                "market_cap": market_cap,
                "display_currency": display_currency,
                "fx_rate": fx.rate if fx else None,
                "fx_time": fx.ts if fx else None,
                "market_cap_display": market_cap * fx.rate if market_cap is not None and fx else None,
                "move_5d": _change(price, ref_5d),
                "move_1m": _change(price, ref_1m),
                "move_ytd": _change(price, ref_ytd),
                "move_ipo": _change(price, ipo_price),
                "ipo_price": ipo_price,
                "authors": json.loads(inst["authors"] or "[]"),
                "closes": [c for c in closes[-TREND_DAYS:] if c is not None],
            }
        )
    return pl.DataFrame(rows, schema=MARKET_SCHEMA, orient="row")


def _day_before(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def _trading_date(ts: int, market: str) -> str:
    return datetime.fromtimestamp(ts, MARKET_ZONES.get(market, MARKET_ZONES["HK"])).date().isoformat()


def group_medians(market: pl.DataFrame) -> pl.DataFrame:
    """The median of each move per group (core, peer, index)."""
    moves = ["change_pct", "move_5d", "move_1m", "move_ytd", "move_ipo"]
    return market.group_by("group").agg(pl.col(m).median() for m in moves).sort("group")


def company_view(market: pl.DataFrame, makers_daily: pl.DataFrame) -> pl.DataFrame:
    """Market view joined with each company's makers' token share on the latest token day and its 7-day change."""
    if makers_daily.is_empty():
        return market.with_columns(
            pl.lit(None, dtype=pl.Float64).alias("token_share"),
            pl.lit(None, dtype=pl.Float64).alias("token_share_change_7d"),
            pl.lit(None, dtype=pl.String).alias("token_date"),
            pl.lit(None, dtype=pl.Int64).alias("token_rank"),
        )
    latest = _latest_date(makers_daily)
    week_ago = latest - timedelta(days=7)
    now: dict[str, float] = dict(makers_daily.filter(pl.col("date") == latest).select("maker_id", "share").iter_rows())
    before: dict[str, float] = dict(
        makers_daily.filter(pl.col("date") == week_ago).select("maker_id", "share").iter_rows()
    )
    ranks: dict[str, int | None] = dict(
        makers_daily.filter(pl.col("date") == latest).select("maker_id", "rank").iter_rows()
    )
    has_week_ago = bool(before)
    shares: list[float | None] = []
    changes: list[float | None] = []
    best_ranks: list[int | None] = []
    authors: list[str] | None
    for authors in market["authors"].to_list():
        # The export lists the top 50 models plus `other`: a maker absent from it has an unknown
        # share (somewhere inside `other`), not a zero share. No makers at all: no share either.
        if not authors or not any(a in now for a in authors):
            shares.append(None)
            changes.append(None)
            best_ranks.append(None)
            continue
        share_now = sum(now.get(a, 0.0) for a in authors)
        shares.append(share_now)
        changes.append(share_now - sum(before.get(a, 0.0) for a in authors) if has_week_ago else None)
        found = [rank for a in authors if (rank := ranks.get(a)) is not None]
        best_ranks.append(min(found) if found else None)
    return market.with_columns(
        pl.Series("token_share", shares, dtype=pl.Float64),
        pl.Series("token_share_change_7d", changes, dtype=pl.Float64),
        pl.lit(latest.isoformat()).alias("token_date"),
        pl.Series("token_rank", best_ranks, dtype=pl.Int64),
    )


def intraday_series(quotes: pl.DataFrame, market: pl.DataFrame) -> dict[str, list[float]]:
    """Each symbol's prices on its latest trading date (nulls skipped: no trade means no point)."""
    result: dict[str, list[float]] = {}
    if quotes.is_empty():
        return result
    for market_name, zone in MARKET_ZONES.items():
        wanted = market.filter(pl.col("market") == market_name).select("symbol", "price_date")
        if wanted.is_empty():
            continue
        local = (
            quotes.filter(pl.col("price").is_not_null())
            .join(wanted, on="symbol", how="inner")
            .with_columns(
                pl.from_epoch("ts", time_unit="s")
                .dt.replace_time_zone("UTC")
                .dt.convert_time_zone(zone.key)
                .dt.date()
                .cast(pl.String)
                .alias("day")
            )
            .filter(pl.col("day") == pl.col("price_date"))
            .sort("symbol", "ts")
            .group_by("symbol", maintain_order=True)
            .agg(pl.col("price"))
        )
        for symbol, prices in local.iter_rows():
            if len(prices) >= 2:
                result[symbol] = prices
    return result
