"""Tencent qt.gtimg.cn real-time HK quotes: the fallback for HK prices and the source of total shares.

Body (GBK on the wire): `v_r_hk00700="100~腾讯控股~00700~409.600~412.200~...";` records separated by `;`.
Fields by position: 1 name, 2 code, 3 last, 4 previous close, 30 time (HKT), 32 change %,
44 market cap in 1e8 HKD, 69 total shares, 75 currency. Older layouts stop after ~60 fields,
so every field past the core ones is optional.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

import httpx

from monitor.markets import HKT
from monitor.sources import BadPayload, NoData, Row, get, require

UPSTREAM = "tencent"
SOURCE = "tencent"
RECORD = re.compile(r'v_(r_hk\d{5})="([^"]*)"')
# Codes per request: 60 codes keep the URL near 600 characters, far below any proxy's limit (~8 KB).
BATCH = 60
MAX_BODY = 512 * 2**10  # one record is ~600 bytes
FIELD_NAMES = {3: "price", 4: "previous close", 32: "change %", 44: "market cap", 69: "total shares"}


@dataclass(frozen=True)
class TencentQuote:
    code: str
    name: str
    price: float
    prev_close: float | None
    ts: int
    change_pct: float | None
    market_cap: float | None
    total_shares: int | None
    currency: str


def tencent_code(symbol: str) -> str:
    """0100.HK -> r_hk00100 (Tencent uses 5-digit HK codes; r_ is the real-time feed)."""
    return f"r_hk{int(symbol.split('.')[0]):05d}"


def batches(symbols: list[str]) -> list[list[str]]:
    """The symbols in requests of at most BATCH codes each."""
    return [symbols[i : i + BATCH] for i in range(0, len(symbols), BATCH)]


def _float(fields: list[str], index: int, code: str = "", url: str = "") -> float | None:
    """A field as a number; an empty or non-numeric field is None, but inf/nan or a negative is refused."""
    try:
        value = float(fields[index])
    except (IndexError, ValueError):
        return None
    if not math.isfinite(value) or (value < 0 and index != 32):
        name = FIELD_NAMES.get(index, f"field {index}")
        raise BadPayload(UPSTREAM, f"{code}: absurd {name} {fields[index][:20]!r}", url)
    return value


def _time(text: str) -> int | None:
    for fmt in ("%Y/%m/%d %H:%M:%S", "%Y%m%d%H%M%S"):
        try:
            return int(datetime.strptime(text, fmt).replace(tzinfo=HKT).timestamp())
        except ValueError:
            continue
    return None


def parse_quotes(text: str, url: str = "") -> dict[str, TencentQuote]:
    """Records by code. An empty record (unknown code) or one in an auction with no price is left out."""
    records = RECORD.findall(text)
    if not records:
        raise BadPayload(UPSTREAM, f"no v_r_hk records in {len(text)} characters", url)
    quotes: dict[str, TencentQuote] = {}
    for code, body in records:
        fields = body.split("~")
        if len(fields) < 33:
            continue
        price = _float(fields, 3, code, url)
        ts = _time(fields[30])
        if price is None or ts is None:
            continue
        require(price > 0, UPSTREAM, f"absurd price {price} for {code}", url)
        shares = _float(fields, 69, code, url)
        market_cap = _float(fields, 44, code, url)
        quotes[code] = TencentQuote(
            code=code,
            name=fields[1],
            price=price,
            prev_close=_float(fields, 4, code, url) or None,
            ts=ts,
            change_pct=_float(fields, 32, code, url),
            market_cap=market_cap * 1e8 if market_cap else None,
            total_shares=int(shares) if shares and shares > 0 else None,
            currency=fields[75] if len(fields) > 75 and fields[75] else "HKD",
        )
    return quotes


async def fetch_quotes(
    client: httpx.AsyncClient, base_url: str, symbols: list[str], *, timeout: float
) -> dict[str, TencentQuote]:
    """Quotes by Yahoo symbol, in one request: callers split longer lists with `batches`."""
    codes = {tencent_code(s): s for s in symbols}
    url = f"{base_url}/q={','.join(codes)}"
    response = await get(client, UPSTREAM, url, timeout=timeout, max_bytes=MAX_BODY)
    text = response.content.decode("gbk", errors="replace")
    by_code = parse_quotes(text, url)
    found = {codes[code]: q for code, q in by_code.items() if code in codes}
    if not found:
        raise NoData(UPSTREAM, f"no quotes for {', '.join(symbols)}", url)
    return found


def quote_row(symbol: str, q: TencentQuote) -> Row:
    return {
        "symbol": symbol,
        "ts": q.ts,
        "price": q.price,
        "prev_close": q.prev_close,
        "volume": None,
        "source": SOURCE,
    }
