"""One company's or one model's history over a range: what the company and model screens draw, and what
`tokentape history` prints. Headless (no Textual); every read is an index range on the store.

The date axis. A daily range ends on the newest day the screen knows about for the company: its last daily
bar or the last stored token day, whichever is later, so price and token share share one axis; it starts a
month, six months, a year before that end, on 1 January of its year (YTD), or on the listing day (since IPO).
1D and 5D are intraday: the last one or five trading dates of stored quotes. Their axis is the quote index
(nights, weekends and the lunch break take no room); a gap between two quotes is a new trading date or more
than GAP_SECONDS with none stored, and a chart keeps both of its ends (widgets/charts.py, envelope).

Token share on that axis. HK trading day D pairs with UTC token day D (monitor/analytics.py explains why).
A maker's share on a stored token day is the sum of its models' shares (each is its tokens over the day's
total including `other`); on a stored day without any of its models it is unknown (not in the top 50: null,
never zero); a day that is not stored at all has no row, and the chart draws a gap there. Before the first
stored token day the weekly chart (top 9 + Others a week) stands in, as its own series.

Launch markers. A model (its variants such as `:free` folded into one) is launched on the first day it
appears in the daily top 50, or the first week it appears in the weekly chart, whichever is earlier, but only
when an earlier stored day (week) exists without it: the first stored day or week launches nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import polars as pl

from monitor.attribution import OPENROUTER_ATTRIBUTION
from monitor.config import Company, Config
from monitor.markets import MARKET_ZONES
from storage import Store

RANGES = ("1D", "5D", "1M", "6M", "YTD", "1Y", "IPO")
RANGE_LABELS = {"IPO": "since IPO"}
INTRADAY = {"1D": 1, "5D": 5}
MODEL_RANGES = ("7D", "30D", "90D", "ALL")
# `tokentape history --range`: the screen's daily ranges, and max (every stored bar).
CLI_RANGES = {"1m": "1M", "6m": "6M", "ytd": "YTD", "1y": "1Y", "ipo": "IPO", "max": "MAX"}
CLI_MODEL_RANGES = {"1m": "30D", "6m": "180D", "ytd": "YTD", "1y": "365D", "max": "ALL"}
DATE_SUFFIX = re.compile(r"-(19|20)\d{6}(?=$|:)")
INTRADAY_LOOKBACK = timedelta(days=12)  # five trading dates fit in 12 calendar days, even around Lunar New Year
GAP_SECONDS = 15 * 60  # intraday: a new trading date, or longer than this with no stored quote, is a gap


class HistoryError(Exception):
    """A user-fixable request (unknown symbol or model, a range that does not apply); str() is one line."""


def base_slug(slug: str) -> str:
    """A model's variants folded: `minimax/minimax-m2:free` -> `minimax/minimax-m2`."""
    return slug.split(":", 1)[0]


def family(slug: str) -> str:
    """Variants and dated slugs folded: `z-ai/glm-5.3-20260816:free` -> `z-ai/glm-5.3`."""
    return DATE_SUFFIX.sub("", base_slug(slug))


def _months_before(day: date, months: int) -> date:
    month0 = day.year * 12 + day.month - 1 - months
    year, month = divmod(month0, 12)
    month += 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def range_start(rng: str, end: date, ipo: date | None, first: date | None) -> date:
    """The first day of a daily range ending on `end` (see the module docstring)."""
    if rng == "1M":
        return _months_before(end, 1)
    if rng == "6M":
        return _months_before(end, 6)
    if rng == "YTD":
        return date(end.year, 1, 1)
    if rng == "1Y":
        return _months_before(end, 12)
    if rng == "IPO":
        return ipo or first or end
    if rng == "MAX":
        return min(d for d in (first, ipo, end) if d is not None)
    if rng.endswith("D") and rng[:-1].isdigit():
        return end - timedelta(days=int(rng[:-1]) - 1)
    if rng == "ALL":
        return first or end
    raise HistoryError(f"unknown range {rng!r}")


@dataclass(frozen=True)
class Launch:
    day: date
    model: str  # the base slug (variants folded)
    source: str  # "daily top 50" or "weekly chart"


@dataclass(frozen=True)
class CompanyHistory:
    symbol: str
    name: str
    currency: str
    market: str
    authors: tuple[str, ...]
    ipo_date: date | None
    ipo_price: float | None
    range: str
    start: date
    end: date
    bars: pl.DataFrame  # date (Date), open, high, low, close, volume, source: the daily bars on the axis
    intraday: pl.DataFrame  # ts, price, volume, day and time (local YYYY-MM-DD, HH:MM): 1D/5D only
    share: pl.DataFrame  # date (Date), share (null: not in the top 50), tokens: stored token days on the axis
    weekly: pl.DataFrame  # week (Date), share (null: not in the week's top 9): weeks before the daily days
    launches: tuple[Launch, ...]
    has_ohlc: bool
    has_volume: bool
    interpolated: int  # bars marked demo-interpolated
    last_close: float | None
    prev_close: float | None
    day_range: tuple[float, float] | None
    range_52w: tuple[float, float] | None
    first_token_day: date | None
    attribution: str
    notes: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        return RANGE_LABELS.get(self.range, self.range)

    @property
    def first_date(self) -> date | None:
        """The first date with a price on the chart (a bar, or an intraday quote's trading date)."""
        if self.range in INTRADAY and not self.intraday.is_empty():
            return date.fromisoformat(str(self.intraday["day"][0]))
        if self.bars.is_empty():
            return None
        first = self.bars["date"][0]
        return first if isinstance(first, date) else None


@dataclass(frozen=True)
class ModelHistory:
    model: str  # the family (variants and dated slugs folded)
    author: str
    maker: str
    company: str | None  # the listed company's symbol, if any
    variants: tuple[str, ...]
    range: str
    start: date
    end: date
    daily: pl.DataFrame  # date (Date), tokens, share, rank (the best variant's)
    weekly: pl.DataFrame  # week (Date), tokens, share
    first_seen: date | None
    first_seen_source: str | None
    catalogue: tuple[dict[str, object], ...]
    stored_days: int
    attribution: str


def _attribution(store: Store) -> str:
    return store.get_meta("openrouter_attribution") or OPENROUTER_ATTRIBUTION


def _to_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _weekly_share(weekly: pl.DataFrame, authors: Sequence[str], models: Sequence[str] | None = None) -> pl.DataFrame:
    """(week, tokens, share) of `authors` (or of `models`) in every stored week of `weekly`; null share where
    the week is stored but none of them is in its top 9."""
    if weekly.is_empty():
        return pl.DataFrame(schema={"week": pl.Date, "tokens": pl.Int64, "share": pl.Float64})
    mine = pl.col("author").is_in(list(authors))
    if models is not None:
        mine = mine & pl.col("model_permaslug").is_in(list(models))
    return (
        weekly.group_by("week")
        .agg(
            pl.col("total_tokens").filter(mine).sum().alias("tokens"),
            mine.any().alias("present"),
            pl.col("total_tokens").sum().alias("total"),
        )
        .select(
            pl.col("week").str.to_date(),
            pl.when(pl.col("present")).then(pl.col("tokens")).alias("tokens"),
            pl.when(pl.col("present")).then(pl.col("tokens") / pl.col("total")).alias("share"),
        )
        .sort("week")
    )


def launches(store: Store, authors: Sequence[str], start: date, end: date) -> tuple[Launch, ...]:
    """The launches of `authors`' models from start to end (see the module docstring)."""
    if not authors:
        return ()
    first_day = _to_date(store.first_token_date())
    seen: dict[str, tuple[date, str, bool]] = {}  # base slug -> (first appearance, source, counts as a launch)
    for slug, day in store.model_first_days(authors):
        d = date.fromisoformat(day)
        key = base_slug(slug)
        if key not in seen or d < seen[key][0]:
            seen[key] = (d, "daily top 50", first_day is not None and d > first_day)
    weeks = store.frame("token_weekly", columns=["week", "model_permaslug", "author"])
    if not weeks.is_empty():
        first_week = date.fromisoformat(str(weeks["week"].min()))
        firsts = (
            weeks.filter(pl.col("author").is_in(list(authors)))
            .group_by(pl.col("model_permaslug").str.split(":").list.first().alias("model"))
            .agg(pl.col("week").min())
        )
        for key, week in firsts.iter_rows():
            d = date.fromisoformat(week)
            if key not in seen or d < seen[key][0]:
                seen[key] = (d, "weekly chart", d > first_week)
    found = [Launch(d, key, source) for key, (d, source, ok) in seen.items() if ok and start <= d <= end]
    return tuple(sorted(found, key=lambda launch: (launch.day, launch.model)))


def _quotes(store: Store, symbol: str, since: int, until: int) -> pl.DataFrame:
    """The symbol's priced quotes with since <= ts <= until (ts, price, volume): a range on the (symbol, ts) key."""
    where = "symbol = ? AND ts BETWEEN ? AND ? AND price IS NOT NULL"
    return store.frame("quotes", where, (symbol, since, until), columns=["ts", "price", "volume"], order="ts")


def _intraday(store: Store, company: Company, sessions: int) -> pl.DataFrame:
    """The quotes of the last `sessions` trading dates (in the market's time zone) up to the newest quote, within
    INTRADAY_LOOKBACK of it. Read from the start of the date `sessions - 1` days before the newest one, which holds
    them all when no weekend or holiday falls between; only when it holds fewer are the days before it read too."""
    last = store.last_quote_ts(company.symbol)
    if last is None:
        return _no_quotes()
    zone = MARKET_ZONES.get(company.market, MARKET_ZONES["HK"])
    oldest = last - int(INTRADAY_LOOKBACK.total_seconds())
    first_day = datetime.fromtimestamp(last, zone).date() - timedelta(days=sessions - 1)
    since = max(oldest, int(datetime.combine(first_day, datetime.min.time(), zone).timestamp()))
    quotes = _with_day(_quotes(store, company.symbol, since, last), zone.key)
    if quotes["day"].n_unique() < sessions and since > oldest:
        quotes = pl.concat([_with_day(_quotes(store, company.symbol, oldest, since - 1), zone.key), quotes])
    if quotes.is_empty():
        return _no_quotes()
    days = quotes["day"].unique().sort().to_list()[-sessions:]
    return quotes.filter(pl.col("day") >= days[0])


def _no_quotes() -> pl.DataFrame:
    schema = {"ts": pl.Int64, "price": pl.Float64, "volume": pl.Float64, "day": pl.String, "time": pl.String}
    return pl.DataFrame(schema=schema)


def _with_day(quotes: pl.DataFrame, zone: str) -> pl.DataFrame:
    """`quotes` with `day` and `time`, each one's trading date and time in the market's time zone `zone`
    (YYYY-MM-DD, HH:MM)."""
    local = pl.from_epoch("ts", time_unit="s").dt.replace_time_zone("UTC").dt.convert_time_zone(zone)
    return quotes.with_columns(local.dt.date().cast(pl.String).alias("day"), local.dt.strftime("%H:%M").alias("time"))


def company_history(store: Store, config: Config, symbol: str, rng: str) -> CompanyHistory:
    """`symbol`'s price, its makers' token share and its models' launches over `rng` (RANGES, or MAX)."""
    company = config.company(symbol)
    if company is None:
        raise HistoryError(f"{symbol}: not in the watchlist of {config.path}")
    if rng not in RANGES and rng != "MAX":
        raise HistoryError(f"unknown range {rng!r} (choose from {', '.join(RANGES)})")
    authors = tuple(company.openrouter_authors)
    last_bar = _to_date(store.last_bar_date(symbol))
    last_token = _to_date(store.latest_token_date()) if authors else None
    first_bar = _to_date(store.first_bar_date(symbol))
    end = max((d for d in (last_bar, last_token) if d is not None), default=datetime.now(UTC).date())
    notes: list[str] = []
    intraday = _no_quotes()
    if rng in INTRADAY:
        intraday = _intraday(store, company, INTRADAY[rng])
        if intraday.is_empty():
            notes.append("no intraday bars stored" + (" (the demo has daily closes only)" if _demo(store) else ""))
            start = end = end if last_bar is None else last_bar
            # 5D without intraday bars: the last five daily closes instead, said so above.
            if rng == "5D" and last_bar is not None:
                recent = store.bars_between(symbol, (last_bar - INTRADAY_LOOKBACK).isoformat(), last_bar.isoformat())
                if recent.height:
                    start = date.fromisoformat(recent["date"][max(0, recent.height - 5)])
        else:
            start = date.fromisoformat(intraday["day"][0])
            end = date.fromisoformat(intraday["day"][-1])
    else:
        start = range_start(rng, end, company.ipo_date, first_bar)
    bars = store.bars_between(symbol, start.isoformat(), end.isoformat()).with_columns(pl.col("date").str.to_date())
    if rng == "1D" and intraday.is_empty():
        bars = bars.clear()
    # Stats: the newest bar, the one before it and the 52 weeks to it (one more range read).
    year = (
        store.bars_between(symbol, _months_before(last_bar, 12).isoformat(), last_bar.isoformat())
        if last_bar
        else bars.clear()
    )
    closes = [c for c in year["close"].to_list() if c is not None]
    highs = [h for h in year["high"].to_list() if h is not None] or closes
    lows = [lo for lo in year["low"].to_list() if lo is not None] or closes
    day_range: tuple[float, float] | None = None
    if year.height and year["high"][-1] is not None and year["low"][-1] is not None:
        day_range = (float(year["low"][-1]), float(year["high"][-1]))
    share, weekly = _share(store, authors, start, end)
    has_ohlc = bool(bars.height) and bars["open"].null_count() < bars.height
    has_volume = bool(bars.height) and bars["volume"].null_count() < bars.height
    interpolated = int((bars["source"] == "demo-interpolated").sum()) if bars.height else 0
    if bars.height and not has_ohlc:
        notes.append("closes only, no OHLC" + (" (demo)" if _demo(store) else ""))
    if bars.height and not has_volume:
        notes.append("no volume")
    if interpolated:
        notes.append(f"{interpolated}/{bars.height} closes interpolated (demo)")
    if rng not in INTRADAY and last_bar is not None and last_bar < end:
        notes.append(f"last close {last_bar.isoformat()}")
    return CompanyHistory(
        symbol=symbol,
        name=company.name,
        currency=company.currency,
        market=company.market,
        authors=authors,
        ipo_date=company.ipo_date,
        ipo_price=company.ipo_price,
        range=rng,
        start=start,
        end=end,
        bars=bars,
        intraday=intraday,
        share=share,
        weekly=weekly,
        launches=launches(store, authors, start, end),
        has_ohlc=has_ohlc,
        has_volume=has_volume,
        interpolated=interpolated,
        last_close=closes[-1] if closes else None,
        prev_close=closes[-2] if len(closes) >= 2 else None,
        day_range=day_range,
        range_52w=(min(lows), max(highs)) if closes else None,
        first_token_day=_to_date(store.first_token_date()) if authors else None,
        attribution=_attribution(store),
        notes=tuple(notes),
    )


def _demo(store: Store) -> bool:
    return store.get_meta("demo_as_of") is not None


def _share(store: Store, authors: Sequence[str], start: date, end: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The makers' daily share on every stored token day in the range, and the weekly share before them."""
    days = store.token_days_between(start.isoformat(), end.isoformat())
    rows = store.token_daily_for(authors, start.isoformat(), end.isoformat())
    by_day = rows.group_by("date").agg(pl.col("share").sum(), pl.col("total_tokens").sum().alias("tokens"))
    share = (
        pl.DataFrame({"date": days}, schema={"date": pl.String})
        .join(by_day, on="date", how="left")
        .with_columns(pl.col("date").str.to_date())
        .sort("date")
    )
    weekly_end = date.fromisoformat(days[0]) - timedelta(days=1) if days else end
    weeks = store.weekly_between((start - timedelta(days=6)).isoformat(), weekly_end.isoformat())
    weekly = _weekly_share(weeks, authors)
    return share, weekly


def segments(days: Sequence[date], values: Sequence[float | None]) -> list[list[tuple[date, float]]]:
    """Runs of consecutive days with a value: a day missing from `days` or a null value starts a new run, so a
    chart drawing each run as its own line shows a gap there, never a zero or a bridge."""
    runs: list[list[tuple[date, float]]] = []
    previous: date | None = None
    for day, value in zip(days, values, strict=True):
        if value is None:
            previous = None
            continue
        if previous is None or (day - previous).days > 1 or not runs:
            runs.append([])
        runs[-1].append((day, value))
        previous = day
    return runs


# -- models -------------------------------------------------------------------------------------------------


def model_history(store: Store, config: Config, model: str, rng: str) -> ModelHistory:
    """One model (its variants and dated slugs folded) over `rng` (MODEL_RANGES, or a CLI range)."""
    author = model.split("/", 1)[0] if "/" in model else ""
    if not author:
        raise HistoryError(f"{model}: not a model slug (author/model, e.g. minimax/minimax-m3)")
    wanted = family(model)
    slugs = sorted(s for s, _ in store.model_first_days([author]) if family(s) == wanted)
    weekly_all = store.frame("token_weekly", "author = ?", (author,), order="week")
    weekly_slugs = sorted({s for s in weekly_all["model_permaslug"].to_list() if family(s) == wanted})
    if not slugs and not weekly_slugs:
        raise HistoryError(f"{model}: no stored token history for this model")
    latest = _to_date(store.latest_token_date())
    firsts_stored = [d for d in (store.first_token_date(), weekly_all["week"].min()) if isinstance(d, str)]
    first = date.fromisoformat(min(firsts_stored)) if firsts_stored else None
    end = latest or datetime.now(UTC).date()
    start = range_start(rng, end, None, first)
    daily_rows = store.token_daily_for([author], start.isoformat(), end.isoformat(), slugs) if slugs else None
    if daily_rows is None or daily_rows.is_empty():
        daily = pl.DataFrame(schema={"date": pl.Date, "tokens": pl.Int64, "share": pl.Float64, "rank": pl.Int64})
    else:
        daily = (
            daily_rows.group_by("date")
            .agg(pl.col("total_tokens").sum().alias("tokens"), pl.col("share").sum(), pl.col("rank").min())
            .with_columns(pl.col("date").str.to_date())
            .sort("date")
        )
    days = store.token_days_between(start.isoformat(), end.isoformat())
    daily = (
        pl.DataFrame({"date": days}, schema={"date": pl.String})
        .with_columns(pl.col("date").str.to_date())
        .join(daily, on="date", how="left")
        .sort("date")
    )
    weekly_end = date.fromisoformat(days[0]) - timedelta(days=1) if days else end
    weekly = _weekly_share(
        store.weekly_between((start - timedelta(days=6)).isoformat(), weekly_end.isoformat()), [author], weekly_slugs
    )
    first_seen, source = None, None
    firsts = [date.fromisoformat(d) for s, d in store.model_first_days([author]) if s in slugs]
    if firsts:
        first_seen, source = min(firsts), "daily top 50"
    if not weekly_all.is_empty() and weekly_slugs:
        pairs = weekly_all.select("week", "model_permaslug").iter_rows()
        week = min(date.fromisoformat(w) for w, s in pairs if s in weekly_slugs)
        if first_seen is None or week < first_seen:
            first_seen, source = week, "weekly chart"
    catalogue = store.model_catalogue([base_slug(s) for s in {*slugs, *weekly_slugs}])
    company = config.author_company().get(author)
    return ModelHistory(
        model=wanted,
        author=author,
        maker=config.makers.get(author, author),
        company=company.symbol if company else None,
        variants=tuple(sorted({*slugs, *weekly_slugs})),
        range=rng,
        start=start,
        end=end,
        daily=daily,
        weekly=weekly,
        first_seen=first_seen,
        first_seen_source=source,
        catalogue=tuple(catalogue.to_dicts()),
        stored_days=len(days),
        attribution=_attribution(store),
    )


# -- what `tokentape history` prints ------------------------------------------------------------------------


def company_rows(history: CompanyHistory) -> list[dict[str, object]]:
    """One row per stored bar or stored token day on the axis, oldest first: the bar's OHLCV and source as
    stored, the makers' share that UTC day (empty: not stored; `token_status` says which), the weekly chart's
    share for the week holding the day where no daily day is stored, and the models launched that day."""
    bars = {r["date"]: r for r in history.bars.iter_rows(named=True)}
    shares = {r["date"]: r for r in history.share.iter_rows(named=True)}
    weeks = {r["week"]: r["share"] for r in history.weekly.iter_rows(named=True)}
    launched: dict[date, list[str]] = {}
    for launch in history.launches:
        launched.setdefault(launch.day, []).append(launch.model)
    rows: list[dict[str, object]] = []
    for day in sorted({*bars, *shares, *launched}):
        bar = bars.get(day, {})
        token = shares.get(day)
        week = day - timedelta(days=day.weekday())
        status = "no data" if token is None else "stored" if token["share"] is not None else "not in top 50"
        rows.append(
            {
                "date": day.isoformat(),
                "open": bar.get("open"),
                "high": bar.get("high"),
                "low": bar.get("low"),
                "close": bar.get("close"),
                "volume": bar.get("volume"),
                "source": bar.get("source"),
                "token_share": token["share"] if token else None,
                "token_status": status if history.authors else "no maker",
                "token_share_week": weeks.get(week) if token is None else None,
                "launches": ";".join(launched.get(day, [])) or None,
            }
        )
    return rows


def model_rows(history: ModelHistory) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for r in history.weekly.iter_rows(named=True):
        rows.append(
            {"date": r["week"].isoformat(), "period": "week", "tokens": r["tokens"], "share": r["share"], "rank": None}
        )
    for r in history.daily.iter_rows(named=True):
        rows.append(
            {
                "date": r["date"].isoformat(),
                "period": "day",
                "tokens": r["tokens"],
                "share": r["share"],
                "rank": r["rank"],
            }
        )
    return rows


def header(history: CompanyHistory | ModelHistory) -> dict[str, object]:
    """What the rows are, for the JSON and Parquet outputs."""
    if isinstance(history, CompanyHistory):
        return {
            "symbol": history.symbol,
            "name": history.name,
            "currency": history.currency,
            "range": history.range,
            "start": history.start.isoformat(),
            "end": history.end.isoformat(),
            "openrouter_authors": list(history.authors),
            "ipo_date": history.ipo_date.isoformat() if history.ipo_date else None,
            "ipo_price": history.ipo_price,
            "launches": [
                {"date": launch.day.isoformat(), "model": launch.model, "source": launch.source}
                for launch in history.launches
            ],
            "notes": list(history.notes),
        }
    return {
        "model": history.model,
        "maker": history.maker,
        "company": history.company,
        "variants": list(history.variants),
        "range": history.range,
        "start": history.start.isoformat(),
        "end": history.end.isoformat(),
        "first_seen": history.first_seen.isoformat() if history.first_seen else None,
        "first_seen_source": history.first_seen_source,
        "catalogue": json.loads(json.dumps(list(history.catalogue), default=str)),
    }


# Decimals a CSV or table cell carries: prices as Yahoo gives them (up to 4 places; the demo's interpolated
# closes have 3), shares as fractions to a millionth (0.01 pp). JSON and Parquet keep full precision.
TEXT_DECIMALS = {"token_share": 6, "token_share_week": 6, "share": 6, "volume": 0, "tokens": 0}
HISTORY_FORMATS = ("table", "csv", "json", "parquet")


def _text_value(column: str, value: object) -> str:
    from monitor.text import csv_cell

    if value is None:
        return ""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return ""
        digits = TEXT_DECIMALS.get(column)
        return f"{value:.{digits}f}" if digits is not None else repr(value) if value != int(value) else f"{value:.1f}"
    return str(csv_cell(value))


def render(history: CompanyHistory | ModelHistory, fmt: str) -> bytes:
    """`tokentape history` output; every format carries OpenRouter's attribution."""
    import csv
    import io

    from monitor.text import safe_text

    rows = company_rows(history) if isinstance(history, CompanyHistory) else model_rows(history)
    columns = list(rows[0]) if rows else ["date"]
    head = header(history)
    if fmt == "json":
        payload = {**head, "rows": rows, "attribution": history.attribution}
        return (json.dumps(payload, indent=2, ensure_ascii=True, default=str) + "\n").encode()
    if fmt == "parquet":
        frame = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
        out = io.BytesIO()
        frame.write_parquet(out, metadata={"attribution": history.attribution, "history": json.dumps(head)})
        return out.getvalue()
    if fmt == "csv":
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_text_value(c, row[c]) for c in columns])
        return (text.getvalue() + f"# {safe_text(history.attribution)}\n").encode()
    if fmt == "table":
        lines = []
        if isinstance(history, CompanyHistory):
            lines.append(
                f"{safe_text(history.name)} {history.symbol} · {history.currency} · {history.label} "
                f"{history.start.isoformat()} … {history.end.isoformat()}"
            )
            for launch in history.launches:
                lines.append(f"  launch {launch.day.isoformat()}  {safe_text(launch.model)} ({launch.source})")
            lines += [f"  note: {note}" for note in history.notes]
        else:
            lines.append(
                f"{safe_text(history.model)} · {safe_text(history.maker)} · {history.range} "
                f"{history.start.isoformat()} … {history.end.isoformat()} · first seen "
                f"{history.first_seen.isoformat() if history.first_seen else '—'} ({history.first_seen_source or '—'})"
            )
            lines.append("  variants: " + ", ".join(safe_text(v) for v in history.variants))
        cells = [[_text_value(c, row[c]) or "—" for c in columns] for row in rows]
        widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
        lines.append("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
        lines.append(safe_text(history.attribution))
        return ("\n".join(lines) + "\n").encode()
    raise HistoryError(f"unknown format {fmt!r} (choose from {', '.join(HISTORY_FORMATS)})")


def load(store: Store, config: Config, subject: str, cli_range: str) -> CompanyHistory | ModelHistory:
    """`tokentape history SUBJECT --range R`: a watchlist symbol (any case), else a model slug."""
    company = next((c for c in config.companies if c.symbol.upper() == subject.upper()), None)
    if company is not None:
        if cli_range not in CLI_RANGES:
            raise HistoryError(f"--range {cli_range}: choose from {', '.join(CLI_RANGES)}")
        return company_history(store, config, company.symbol, CLI_RANGES[cli_range])
    if "/" not in subject:
        raise HistoryError(f"{subject}: neither a watchlist symbol of {config.path} nor a model slug (author/model)")
    if cli_range not in CLI_MODEL_RANGES:
        raise HistoryError(f"--range {cli_range}: a model has no IPO; choose from {', '.join(CLI_MODEL_RANGES)}")
    return model_history(store, config, subject, CLI_MODEL_RANGES[cli_range])
