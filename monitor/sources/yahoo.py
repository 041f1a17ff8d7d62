"""Yahoo Finance v8 chart: intraday and daily prices, and FX rates. No crumb needed for this endpoint.

Shape (see ../shared/fixtures/yahoo): {"chart": {"result": [{"meta": {...}, "timestamp": [...],
"indicators": {"quote": [{"open","high","low","close","volume"}]}}], "error": null}}. Arrays may hold
nulls for bars with no trade; they stay null. On error: result null and error {code, description}.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from monitor.sources import BadPayload, HttpStatusError, NoData, Row, get, parse_json, require

UPSTREAM = "yahoo"
SOURCE = "yahoo"


@dataclass(frozen=True)
class ChartMeta:
    symbol: str
    currency: str | None
    price: float | None
    previous_close: float | None
    market_time: int | None
    gmtoffset: int
    timezone: str | None
    name: str | None


@dataclass(frozen=True)
class Bar:
    ts: int
    open: float | None
    high: float | None
    low: float | None
    close: float | None
    volume: float | None


@dataclass(frozen=True)
class Chart:
    meta: ChartMeta
    bars: tuple[Bar, ...]


def chart_url(base_url: str, symbol: str) -> str:
    # ^HSTECH and HKDUSD=X must be escaped in the path.
    return f"{base_url}/v8/finance/chart/{quote(symbol, safe='')}"


# A chart answer may hold this much (decompressed): a daily chart since 2004 is ~0.6 MB.
MAX_CHART = 4 * 2**20
# How far past "now" a market time may lie (clock skew between us and Yahoo), in seconds.
FUTURE_SLACK = 600


def _number(value: Any, what: str, url: str, zero_ok: bool = False) -> float | None:
    """A finite number > 0 (a price, a rate), or >= 0 with `zero_ok` (a volume); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadPayload(UPSTREAM, f"{what} is not a number: {value!r}"[:120], url)
    if value < 0 or (value == 0 and not zero_ok):
        raise BadPayload(UPSTREAM, f"absurd {what}: {value}", url)
    return float(value)


def chart_error(payload: Any) -> str | None:
    """Yahoo's own words when a body is its chart error, `{"chart": {"result": null, "error": {"code":
    "Not Found", "description": "No data found, symbol may be delisted"}}}`; None for any other body."""
    chart = payload.get("chart") if isinstance(payload, dict) else None
    error = chart.get("error") if isinstance(chart, dict) else None
    if not error:
        return None
    described = (error.get("description") or error.get("code")) if isinstance(error, dict) else error
    return str(described or error)[:200]


def parse_chart(payload: Any, url: str = "") -> Chart:
    """Parse a v8 chart body; raise NoData for Yahoo's own errors, BadPayload for anything off-shape."""
    require(
        isinstance(payload, dict) and isinstance(payload.get("chart"), dict),
        UPSTREAM,
        "no 'chart' object in response",
        url,
    )
    chart = payload["chart"]
    described = chart_error(payload)
    if described is not None:
        raise NoData(UPSTREAM, f"chart error: {described}", url)
    results = chart.get("result")
    if not results:
        raise NoData(UPSTREAM, "empty chart result", url)
    require(isinstance(results, list) and isinstance(results[0], dict), UPSTREAM, "chart.result is not a list", url)
    result = results[0]
    meta = result.get("meta")
    require(
        isinstance(meta, dict) and isinstance(meta.get("symbol"), str), UPSTREAM, "chart.result[0].meta missing", url
    )
    parsed_meta = ChartMeta(
        symbol=meta["symbol"],
        currency=meta.get("currency") if isinstance(meta.get("currency"), str) else None,
        price=_number(meta.get("regularMarketPrice"), "regularMarketPrice", url),
        previous_close=_number(meta.get("chartPreviousClose", meta.get("previousClose")), "chartPreviousClose", url),
        market_time=meta["regularMarketTime"]
        if isinstance(meta.get("regularMarketTime"), int) and not isinstance(meta.get("regularMarketTime"), bool)
        else None,
        gmtoffset=int(meta.get("gmtoffset") or 0),
        timezone=meta.get("exchangeTimezoneName"),
        name=meta.get("shortName") or meta.get("longName"),
    )
    stamps = result.get("timestamp") or []
    indicators = result.get("indicators") or {}
    quotes = indicators.get("quote") or [{}]
    require(
        isinstance(stamps, list) and isinstance(quotes, list) and isinstance(quotes[0], dict),
        UPSTREAM,
        "timestamp/indicators.quote malformed",
        url,
    )
    columns = {}
    for field in ("open", "high", "low", "close", "volume"):
        values = quotes[0].get(field, [None] * len(stamps))
        require(
            isinstance(values, list) and len(values) == len(stamps),
            UPSTREAM,
            f"indicators.quote[0].{field} has {len(values) if isinstance(values, list) else '?'} values "
            f"for {len(stamps)} timestamps",
            url,
        )
        columns[field] = [_number(v, field, url, zero_ok=field == "volume") for v in values]
    require(
        all(isinstance(ts, int) and not isinstance(ts, bool) for ts in stamps), UPSTREAM, "timestamp malformed", url
    )
    bars = tuple(
        Bar(
            ts,
            columns["open"][i],
            columns["high"][i],
            columns["low"][i],
            columns["close"][i],
            columns["volume"][i],
        )
        for i, ts in enumerate(stamps)
    )
    if parsed_meta.price is None and not any(b.close is not None for b in bars):
        raise NoData(UPSTREAM, f"no prices for {parsed_meta.symbol}", url)
    return Chart(parsed_meta, bars)


async def fetch_chart(
    client: httpx.AsyncClient, base_url: str, symbol: str, *, timeout: float, range_: str, interval: str
) -> Chart:
    """One symbol's chart. Yahoo answers an unknown symbol with HTTP 404 and a range it has no data for
    with HTTP 400, each with its chart error body: that becomes a NoData in Yahoo's own words, about
    this symbol only (it does not back Yahoo off)."""
    url = chart_url(base_url, symbol)
    params = {"range": range_, "interval": interval, "includePrePost": "false"}
    try:
        response = await get(client, UPSTREAM, url, timeout=timeout, params=params, max_bytes=MAX_CHART)
    except HttpStatusError as exc:
        described = None if exc.upstream_wide else chart_error(_json_or_none(exc.body))
        if described is None:
            raise
        raise NoData(UPSTREAM, f"HTTP {exc.status}: {described}", url) from None
    chart = parse_chart(parse_json(response, UPSTREAM), url)
    if chart.meta.symbol.upper() != symbol.upper():
        raise BadPayload(UPSTREAM, f"asked for {symbol}, got {chart.meta.symbol!r}"[:120], url)
    return chart


def check_times(chart: Chart, now: float, listed: date | None = None) -> Chart:
    """Refuse a chart whose market time or bars lie in the future (beyond a few minutes of clock skew)
    or, for a stock with a known listing date, before it: a row stamped 2100 would stay "latest" forever."""
    symbol = chart.meta.symbol
    stamps = [("regularMarketTime", chart.meta.market_time)] + [("bar time", b.ts) for b in chart.bars]
    for what, ts in stamps:
        if ts is None:
            continue
        if ts > now + FUTURE_SLACK:
            raise BadPayload(UPSTREAM, f"{symbol}: {what} {_iso(ts)} is in the future")
        if ts < 0:
            raise BadPayload(UPSTREAM, f"{symbol}: {what} {ts} is before 1970")
        if listed is not None and local_date(ts, chart.meta.gmtoffset) < listed.isoformat():
            price = chart.meta.price if what == "regularMarketTime" else next(b.close for b in chart.bars if b.ts == ts)
            if price is not None:
                raise BadPayload(UPSTREAM, f"{symbol}: {what} {_iso(ts)} is before its listing on {listed}")
    return chart


def _iso(ts: int) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return str(ts)


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def quote_rows(chart: Chart, symbol: str) -> list[Row]:
    """Intraday bars (close as price) plus the meta's regular-market price at its own time.

    Every row carries the chart's previous close, which for range=1d is the prior session's close.
    When the regular-market time is a bar's own time, the meta's price replaces that bar's close and
    the bar's volume stays."""
    prev = chart.meta.previous_close
    rows: dict[int, Row] = {
        b.ts: {"symbol": symbol, "ts": b.ts, "price": b.close, "prev_close": prev, "volume": b.volume, "source": SOURCE}
        for b in chart.bars
    }
    at, price = chart.meta.market_time, chart.meta.price
    if price is not None and at is not None:
        bar = rows.get(at)
        rows[at] = {
            "symbol": symbol,
            "ts": at,
            "price": price,
            "prev_close": prev,
            "volume": bar["volume"] if bar else None,
            "source": SOURCE,
        }
    return list(rows.values())


def local_date(ts: int, gmtoffset: int) -> str:
    """The exchange-local trading date of a bar (bars are stamped at their open, in UTC seconds)."""
    return (datetime.fromtimestamp(ts, UTC) + timedelta(seconds=gmtoffset)).date().isoformat()


def daily_bar_rows(chart: Chart, symbol: str) -> list[Row]:
    return [
        {
            "symbol": symbol,
            "date": local_date(b.ts, chart.meta.gmtoffset),
            "open": b.open,
            "high": b.high,
            "low": b.low,
            "close": b.close,
            "volume": b.volume,
            "source": SOURCE,
        }
        for b in chart.bars
    ]


def fx_symbol(base: str, quote_currency: str) -> str:
    return f"{base}{quote_currency}=X"


def fx_row(chart: Chart, base: str, quote_currency: str) -> Row:
    """One FX observation: 1 `base` = rate `quote_currency`, at Yahoo's regular-market time."""
    rate = chart.meta.price
    if rate is None:
        rate = next((b.close for b in reversed(chart.bars) if b.close is not None), None)
    if rate is None or rate <= 0:
        raise BadPayload(UPSTREAM, f"no usable rate for {base}{quote_currency}: {rate!r}")
    ts = chart.meta.market_time or (chart.bars[-1].ts if chart.bars else int(datetime.now(UTC).timestamp()))
    return {"pair": f"{base}{quote_currency}", "ts": ts, "rate": rate, "source": SOURCE}
