"""What the market pays for each company's revenue and tokens: P/S and P/ARR beside token share, in polars.

Inputs are the stored fundamentals (the bundled monitor/fundamentals.toml and the config's [[fundamental]] /
[[reference]] tables, written to the `fundamentals` table by `sync`), the dashboard's market caps, the stored FX
rates and the stored token days. No I/O besides `load`'s reads; nothing here imports Textual.

- Market cap: the dashboard's (price x shares), in USD at the stored FX rate and in the display currency.
- Revenue, 12-month basis: the latest fiscal year ("FY2025"), or the trailing twelve months ("TTM to …") where a
  later interim period and the same period a year before are stored (FY + interim - prior interim).
- ARR: the latest `arr`, else `api_arr` (then the multiple is P/API-ARR). Each input has its age; one older than
  STALE_MONTHS is stale. A figure nothing reports is None (shown "—"), never zero.
- Token share 7d: the maker's tokens over all tokens summed over the last 7 stored days (token-weighted).
- Token economics (monitor/spend.py): spend share 7d, the maker's spend on its newest known day (reported by
  OpenRouter's day view, else an estimate at that day's list prices), an annualised run-rate (an estimate) and the
  revenue the cap needs at the reference's P/ARR (Anthropic's); each maker's notes say which figures are estimates.
- Money is converted to USD at the newest stored rate of each currency; each row names the rates and their times.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from monitor import analytics, spend
from monitor.config import PRIVATE_PREFIX, Config, Fundamental, Reference
from monitor.text import fmt_big, fmt_share, markdown_text, safe_text, truncate

if TYPE_CHECKING:
    from monitor.dashboard import Dashboard
    from storage import Store

STALE_MONTHS = 15
SHARES_TOLERANCE = 0.01  # config vs Tencent-reported share counts further apart than this are said on the row
TOKEN_DAYS = 7
FORMATS = ("table", "csv", "json", "md", "parquet")
HINT = "no fundamentals: add [[fundamental]] tables (symbol, metric, value, currency, period_end, months, source)"


class ValuationError(Exception):
    """A user-fixable export problem; str() is one line."""


# -- config -> store ----------------------------------------------------------------------------------------------


def _row(item: Fundamental, origin: str) -> dict[str, object]:
    return {
        "symbol": item.symbol,
        "metric": item.metric,
        "period_end": item.period_end.isoformat(),
        "months": item.months,
        "value": item.value,
        "currency": item.currency or "%",
        "qualifier": item.qualifier,
        "source": item.source,
        "url": item.url,
        "published": item.published.isoformat() if item.published else None,
        "date_approx": int(item.date_approx),
        "note": item.note,
        "origin": origin,
    }


def _reference_rows(ref: Reference) -> list[dict[str, object]]:
    base: dict[str, object] = {
        "symbol": PRIVATE_PREFIX + ref.name,
        "period_end": ref.as_of.isoformat(),
        "months": None,
        "currency": ref.currency,
        "source": ref.source,
        "url": ref.url,
        "published": None,
        "date_approx": int(ref.date_approx),
        "note": ref.note,
        "origin": "reference",
    }
    rows: list[dict[str, object]] = [
        base | {"metric": "valuation", "value": ref.valuation, "qualifier": ref.valuation_qualifier}
    ]
    if ref.arr is not None:
        rows.append(base | {"metric": "arr", "value": ref.arr, "qualifier": ref.arr_qualifier})
    return rows


def fundamental_rows(config: Config) -> list[dict[str, object]]:
    """The config's fundamentals and references as rows of the `fundamentals` table."""
    rows = [_row(item, "config") for item in config.fundamentals]
    for ref in config.references:
        rows += _reference_rows(ref)
    return rows


def sync(store: Store, config: Config) -> int:
    """Write the config's fundamentals to the store (whole); returns the rows changed."""
    return store.sync_fundamentals(fundamental_rows(config))


# -- the multiples --------------------------------------------------------------------------------------------------


def multiple(cap: pl.Expr, base: pl.Expr) -> pl.Expr:
    """cap / base: P/S, P/ARR; None (never infinity or zero) without a positive base or a cap."""
    return pl.when(base > 0).then(cap / base).otherwise(None)


def usd_rates(fx_latest: pl.DataFrame, currencies: Iterable[str]) -> pl.DataFrame:
    """(currency, usd_rate, fx_time, fx_source, fx_pair): 1 unit in USD from a stored pair or its inverse."""
    sources = {r["pair"]: r["source"] for r in fx_latest.iter_rows(named=True)}
    rows = []
    for cur in sorted(set(currencies)):
        rate = analytics.fx_rate(fx_latest, cur, "USD")
        pair = f"{cur}USD" if f"{cur}USD" in sources else f"USD{cur}"
        rows.append(
            {
                "currency": cur,
                "usd_rate": rate.rate if rate else None,
                "fx_time": rate.ts if rate else None,
                "fx_source": sources.get(pair) if cur != "USD" else None,
                "fx_pair": pair if cur != "USD" else None,
            }
        )
    schema = {"currency": pl.String, "usd_rate": pl.Float64, "fx_time": pl.Int64, "fx_source": pl.String}
    return pl.DataFrame(rows, schema=schema | {"fx_pair": pl.String}, orient="row")


def to_usd(fundamentals: pl.DataFrame, fx_latest: pl.DataFrame) -> pl.DataFrame:
    """The stored fundamentals with value_usd (None where no rate is stored; percents stay None)."""
    rates = usd_rates(fx_latest, [c for c in fundamentals["currency"].unique().to_list() if c != "%"])
    return fundamentals.join(rates, on="currency", how="left").with_columns(
        (pl.col("value") * pl.col("usd_rate")).alias("value_usd")
    )


def _months_between(start: date, end: date) -> float:
    return (end - start).days / (365.2425 / 12)


def _source(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "metric": row["metric"],
        "value": row["value"],
        "currency": row["currency"],
        "period_end": row["period_end"],
        "months": row["months"],
        "source": row["source"],
        "url": row["url"],
        "qualifier": row["qualifier"] or None,
        "date_approx": bool(row["date_approx"]),
        "published": row["published"],
        "note": row["note"] or None,
        "usd_rate": row["usd_rate"],
        "fx_time": row["fx_time"],
        "fx_source": row["fx_source"],
    }


def revenue_12m(revenue: pl.DataFrame) -> tuple[float | None, str | None, str | None, list[dict[str, Any]]]:
    """(USD, period end, basis, the rows used) for one symbol's `revenue` rows (with value_usd)."""
    years = revenue.filter(pl.col("months") == 12).sort("period_end", descending=True)
    if years.is_empty():
        return None, None, None, []
    fy = years.row(0, named=True)
    later = revenue.filter((pl.col("months") < 12) & (pl.col("period_end") > fy["period_end"])).sort(
        "period_end", "months", descending=True
    )
    for interim in later.iter_rows(named=True):
        end = date.fromisoformat(interim["period_end"])
        prior_end = end.replace(year=end.year - 1).isoformat()
        prior = revenue.filter((pl.col("months") == interim["months"]) & (pl.col("period_end") == prior_end))
        if not prior.is_empty():
            before = prior.row(0, named=True)
            parts = (fy["value_usd"], interim["value_usd"], before["value_usd"])
            if all(p is not None for p in parts):
                total = parts[0] + parts[1] - parts[2]
                return total, interim["period_end"], f"TTM to {interim['period_end']}", [fy, interim, before]
    return fy["value_usd"], fy["period_end"], f"FY{fy['period_end'][:4]}", [fy]


def token_share_7d(token_daily: pl.DataFrame, authors: list[str]) -> float | None:
    """The authors' tokens over all tokens on the frame's days (the last 7 stored); None when none is ranked."""
    if token_daily.is_empty() or not authors:
        return None
    mine = token_daily.filter(pl.col("author").is_in(authors))
    if mine.is_empty():
        return None  # outside the top 50 every day: unknown, not zero
    total = token_daily["total_tokens"].sum()
    return float(mine["total_tokens"].sum()) / float(total) if total else None


ROW_SCHEMA: dict[str, Any] = {
    "symbol": pl.String,
    "name": pl.String,
    "group": pl.String,
    "has_fundamentals": pl.Boolean,
    "currency": pl.String,
    "market_cap": pl.Float64,
    "market_cap_usd": pl.Float64,
    "market_cap_display": pl.Float64,
    "display_currency": pl.String,
    "fx_rate": pl.Float64,
    "fx_time": pl.Int64,
    "price_date": pl.String,
    "revenue_12m_usd": pl.Float64,
    "revenue_period_end": pl.String,
    "revenue_basis": pl.String,
    "revenue_age_months": pl.Float64,
    "arr_usd": pl.Float64,
    "arr_as_of": pl.String,
    "arr_kind": pl.String,
    "arr_qualifier": pl.String,
    "arr_age_months": pl.Float64,
    "token_share_7d": pl.Float64,
    "shares_note": pl.String,
} | spend.SPEND_COLUMNS


@dataclass(frozen=True)
class Valuation:
    generated_at: float
    display_currency: str
    as_of: str  # the day ages are measured to (today, or the demo's day)
    rows: pl.DataFrame  # one per company: ROW_SCHEMA + ps, p_arr, stale flags, cap_per_pp_usd
    references: pl.DataFrame
    sources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # symbol/reference -> figures used
    token_days: tuple[str, ...] = ()
    spend_days: tuple[str, ...] = ()
    spend_notes: tuple[str, ...] = ()  # how each maker's spend was had: reported, estimated (split, price day)
    reference_multiple: tuple[str, float] | None = None  # (reference name, its P/ARR) behind revenue_needed_usd
    fx_notes: tuple[str, ...] = ()
    attribution: str = ""
    is_demo: bool = False


def compute(
    fundamentals: pl.DataFrame,
    companies: pl.DataFrame,
    fx_latest: pl.DataFrame,
    token_daily: pl.DataFrame,
    display_currency: str,
    today: date,
    generated_at: float | None = None,
    makers: Mapping[str, str] | None = None,
    spend_days: pl.DataFrame | None = None,
    instruments: pl.DataFrame | None = None,
) -> Valuation:
    """The multiples. `companies` is Dashboard.companies; `token_daily` holds the last 7 stored days;
    `spend_days` is spend.model_days over the spend window (the last 7 days with tokens or day-view rows)."""
    spend_days = spend_days if spend_days is not None else pl.DataFrame(schema=spend.MODEL_DAY_SCHEMA)
    spend_notes: list[str] = []
    share_notes = shares_notes(instruments) if instruments is not None else {}
    figures = to_usd(fundamentals, fx_latest)
    cap_rates = usd_rates(fx_latest, companies["currency"].unique().to_list())
    rate_of = {r["currency"]: r["usd_rate"] for r in cap_rates.iter_rows(named=True)}
    rows: list[dict[str, Any]] = []
    sources: dict[str, list[dict[str, Any]]] = {}
    for co in companies.filter(pl.col("group") != "index").iter_rows(named=True):
        mine = figures.filter(pl.col("symbol") == co["symbol"])
        revenue, rev_end, basis, used = revenue_12m(mine.filter(pl.col("metric") == "revenue"))
        arr_rows = mine.filter(pl.col("metric").is_in(["arr", "api_arr"])).sort(
            "period_end", pl.col("metric") == "arr", descending=True
        )
        arr = arr_rows.row(0, named=True) if not arr_rows.is_empty() else None
        usd = rate_of.get(co["currency"])
        cap_usd = co["market_cap"] * usd if co["market_cap"] is not None and usd is not None else None
        sources[co["symbol"]] = [_source(r) for r in [*used, *([arr] if arr else [])]]
        rows.append(
            {
                "symbol": co["symbol"],
                "name": co["name"],
                "group": co["group"],
                "has_fundamentals": not mine.is_empty(),
                "currency": co["currency"],
                "market_cap": co["market_cap"],
                "market_cap_usd": cap_usd,
                "market_cap_display": co["market_cap_display"],
                "display_currency": display_currency,
                "fx_rate": co["fx_rate"],
                "fx_time": co["fx_time"],
                "price_date": co["price_date"],
                "revenue_12m_usd": revenue,
                "revenue_period_end": rev_end,
                "revenue_basis": basis,
                "revenue_age_months": _months_between(date.fromisoformat(rev_end), today) if rev_end else None,
                "arr_usd": arr["value_usd"] if arr else None,
                "arr_as_of": arr["period_end"] if arr else None,
                "arr_kind": ("ARR" if arr["metric"] == "arr" else "API-ARR") if arr else None,
                "arr_qualifier": (arr["qualifier"] or None) if arr else None,
                "arr_age_months": _months_between(date.fromisoformat(arr["period_end"]), today) if arr else None,
                "token_share_7d": token_share_7d(token_daily, list(co["authors"] or [])),
                "shares_note": share_notes.get(co["symbol"]),
                **spend.spend_fields(_maker_spend(spend_days, co["name"], list(co["authors"] or []), spend_notes)),
            }
        )
    frame = pl.DataFrame(rows, schema=ROW_SCHEMA, orient="row").with_columns(
        multiple(pl.col("market_cap_usd"), pl.col("revenue_12m_usd")).alias("ps"),
        multiple(pl.col("market_cap_usd"), pl.col("arr_usd")).alias("p_arr"),
        (pl.col("revenue_age_months") > STALE_MONTHS).alias("revenue_stale"),
        (pl.col("arr_age_months") > STALE_MONTHS).alias("arr_stale"),
        multiple(pl.col("market_cap_usd"), pl.col("token_share_7d") * 100).alias("cap_per_pp_usd"),
    )
    references = _references(figures, today, sources)
    ref = references.filter(pl.col("p_arr").is_not_null()).head(1)
    ref_multiple = (str(ref["name"][0]), float(ref["p_arr"][0])) if not ref.is_empty() else None
    frame = frame.with_columns(
        (pl.col("market_cap_usd") / ref_multiple[1] if ref_multiple else pl.lit(None, pl.Float64)).alias(
            "revenue_needed_usd"
        )
    )
    to_display = analytics.fx_rate(fx_latest, "USD", display_currency)
    authors_of: dict[str, list[str]] = {}
    for author, maker in (makers or {}).items():
        authors_of.setdefault(maker, []).append(author)
    references = references.with_columns(
        (pl.col("valuation_usd") * (to_display.rate if to_display else None)).alias("valuation_display"),
        pl.Series(
            "token_share_7d",
            [token_share_7d(token_daily, authors_of.get(n, [])) for n in references["name"].to_list()],
            dtype=pl.Float64,
        ),
    )
    # A reference's spend columns, estimate flag and coverage included, like a listed company's.
    ref_spend = [
        spend.spend_fields(_maker_spend(spend_days, n, authors_of.get(n, []), spend_notes))
        for n in references["name"].to_list()
    ]
    references = references.with_columns(
        pl.Series(column, [fields[column] for fields in ref_spend], dtype=dtype)
        for column, dtype in (
            ("spend_share_7d", pl.Float64),
            ("spend_coverage_7d", pl.Float64),
            ("spend_7d_is_estimate", pl.Boolean),
        )
    )
    days = tuple(sorted({str(d) for d in token_daily["date"].to_list()})) if not token_daily.is_empty() else ()
    notes = tuple(
        f"1 {r['currency']} = {r['usd_rate']:.6g} USD ({r['fx_source'] or 'stored'} {_iso(r['fx_time']) or ''})".strip()
        for r in usd_rates(fx_latest, [c for c in figures["currency"].unique().to_list() if c not in ("%", "USD")])
        .vstack(cap_rates.filter(pl.col("currency") != "USD"))
        .unique("currency")
        .sort("currency")
        .iter_rows(named=True)
        if r["usd_rate"] is not None
    )
    return Valuation(
        generated_at=generated_at if generated_at is not None else time.time(),
        display_currency=display_currency,
        as_of=today.isoformat(),
        rows=frame,
        references=references,
        sources=sources,
        token_days=days,
        fx_notes=notes,
        spend_days=tuple(sorted(set(spend_days["date"].to_list()))),
        spend_notes=tuple(dict.fromkeys(spend_notes)),
        reference_multiple=ref_multiple,
    )


def shares_notes(instruments: pl.DataFrame) -> dict[str, str]:
    """symbol -> a note where the config's total_shares and Tencent's reported total differ by more than 1 %."""
    notes = {}
    for r in instruments.iter_rows(named=True):
        mine, theirs = r["total_shares"], r["reported_shares"]
        if mine and theirs and abs(mine - theirs) / theirs > SHARES_TOLERANCE:
            when = _iso(r["reported_shares_time"]) or "date unknown"
            notes[r["symbol"]] = (
                f"share count: config {mine:,} vs Tencent-reported {theirs:,} ({when}), "
                f"{(mine - theirs) / theirs:+.1%} apart; cap uses config"
            )
    return notes


def _maker_spend(days: pl.DataFrame, name: str, authors: list[str], notes: list[str]) -> spend.MakerSpend | None:
    got = spend.maker_spend(days, authors) if authors else None
    if got is not None and got.spend_day is not None:
        how = {"reported": "reported by OpenRouter", "estimate": "ESTIMATE (tokens x list price)"}.get(
            got.spend_kind or "", "reported + ESTIMATE (tokens x list price)"
        )
        extra = f"; split: {', '.join(got.splits)}" if got.splits else ""
        extra += _price_note(got)
        notes.append(f"{name}: spend {got.spend_day} {how}{extra}")
    if got is not None:
        notes += [f"{name}: unknown spend, {u}" for u in got.unknown]
    return got


def _days(days: tuple[str, ...]) -> str:
    return days[0] if days[0] == days[-1] else f"{days[0]} … {days[-1]}"


def _price_note(got: spend.MakerSpend) -> str:
    """Which list prices the estimates used: the first and the newest catalogue days that listed them, and, when a
    price had gone unconfirmed by a day it priced (a model gone from the catalogue, a catalogue job not running),
    by how many days at most."""
    if not got.price_dates:
        return ""
    note = f"; list prices first seen {_days(got.price_dates)}, last confirmed {_days(got.prices_confirmed)}"
    if got.price_unconfirmed_days > 0:
        note += f" (stale: up to {got.price_unconfirmed_days} days old on the days priced)"
    return note


def _references(figures: pl.DataFrame, today: date, sources: dict[str, list[dict[str, Any]]]) -> pl.DataFrame:
    private = figures.filter(pl.col("symbol").str.starts_with(PRIVATE_PREFIX))
    rows = []
    for (symbol,), group in private.partition_by("symbol", as_dict=True, maintain_order=True).items():
        by_metric = {r["metric"]: r for r in group.iter_rows(named=True)}
        val, arr = by_metric.get("valuation"), by_metric.get("arr")
        name = str(symbol)[len(PRIVATE_PREFIX) :]
        sources[name] = [_source(r) for r in (val, arr) if r is not None]
        as_of = (val or arr or {}).get("period_end")
        rows.append(
            {
                "name": name,
                "valuation_usd": val["value_usd"] if val else None,
                "valuation_qualifier": (val["qualifier"] or None) if val else None,
                "as_of": as_of,
                "arr_usd": arr["value_usd"] if arr else None,
                "arr_qualifier": (arr["qualifier"] or None) if arr else None,
                "age_months": _months_between(date.fromisoformat(as_of), today) if as_of else None,
                "source": (val or arr or {}).get("source"),
            }
        )
    schema = {
        "name": pl.String,
        "valuation_usd": pl.Float64,
        "valuation_qualifier": pl.String,
        "as_of": pl.String,
        "arr_usd": pl.Float64,
        "arr_qualifier": pl.String,
        "age_months": pl.Float64,
        "source": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row").with_columns(
        multiple(pl.col("valuation_usd"), pl.col("arr_usd")).alias("p_arr"),
        (pl.col("age_months") > STALE_MONTHS).alias("stale"),
    )


def last_token_days(store: Store, days: int = TOKEN_DAYS) -> pl.DataFrame:
    """The token_daily rows of the last `days` stored days: a bounded read on the (date, model) key."""
    newest = store.latest_token_date()
    if newest is None:
        return store.token_daily("9999")
    start = (date.fromisoformat(newest) - timedelta(days=60)).isoformat()
    stored = store.token_days_between(start, newest)[-days:]
    return store.token_daily(stored[0]).filter(pl.col("date").is_in(stored))


def spend_window(store: Store, days: int = TOKEN_DAYS) -> pl.DataFrame:
    """spend.model_days over the last `days` days with export tokens or day-view rows (bounded reads)."""
    newest = max(filter(None, (store.latest_token_date(), store.latest_day_usage_date())), default=None)
    if newest is None:
        return pl.DataFrame(schema=spend.MODEL_DAY_SCHEMA)
    start = (date.fromisoformat(newest) - timedelta(days=60)).isoformat()
    tokens = store.token_daily(start).filter(pl.col("date") <= newest)
    usage = store.model_day_usage(start, newest)
    window = sorted(set(tokens["date"].to_list()) | set(usage["date"].to_list()))[-days:]
    return spend.model_days(
        tokens.filter(pl.col("date").is_in(window)),
        usage.filter(pl.col("date").is_in(window)),
        store.model_prices_until(newest, sorted(set(tokens["model_permaslug"]) | set(usage["model_permaslug"]))),
    )


def load(store: Store, config: Config, dashboard: Dashboard) -> Valuation:
    """Read what the multiples need and compute them for the dashboard's market caps."""
    now = dashboard.reference_now(time.time())
    today = datetime.fromtimestamp(now, UTC).date()
    val = compute(
        store.fundamentals(),
        dashboard.companies,
        store.latest_fx(),
        last_token_days(store),
        dashboard.display_currency,
        today,
        makers=config.makers,
        spend_days=spend_window(store),
        instruments=store.instruments(),
    )
    return Valuation(**{**val.__dict__, "attribution": dashboard.attribution, "is_demo": dashboard.is_demo})


# -- exports ---------------------------------------------------------------------------------------------------------


def _iso(ts: float | int | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts is not None else None


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def sections(val: Valuation) -> dict[str, list[dict[str, Any]]]:
    """The JSON contract's two lists: valuation (companies) and references."""
    companies = []
    for r in val.rows.iter_rows(named=True):
        companies.append(
            {k: _clean(v) for k, v in r.items() if k not in ("fx_time",)}
            | {
                "fx_time": _iso(r["fx_time"]),
                "spend_is_estimate": r["spend_kind"] not in (None, "reported"),
                "sources": [
                    {k: (_iso(v) if k == "fx_time" else _clean(v)) for k, v in s.items()}
                    for s in val.sources.get(r["symbol"], [])
                ],
            }
        )
    references = [
        {k: _clean(v) for k, v in r.items()} | {"sources": val.sources.get(r["name"], [])}
        for r in val.references.iter_rows(named=True)
    ]
    return {"valuation": companies, "references": references}


def to_json(val: Valuation) -> str:
    payload = {
        "generated_at": _iso(val.generated_at),
        "as_of": val.as_of,
        "display_currency": val.display_currency,
        **sections(val),
        "token_days": list(val.token_days),
        "spend_days": list(val.spend_days),
        "spend_notes": list(val.spend_notes),
        "reference_multiple": (
            {"name": val.reference_multiple[0], "p_arr": val.reference_multiple[1]} if val.reference_multiple else None
        ),
        "fx": list(val.fx_notes),
        "attribution": val.attribution,
        "demo": val.is_demo,
    }
    return json.dumps(payload, indent=2, ensure_ascii=True) + "\n"


def fmt_multiple(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:,.0f}×" if value >= 100 else f"{value:,.1f}×"


def arr_label(kind: str | None) -> str:
    return "P/API-ARR" if kind == "API-ARR" else "P/ARR"


# (column, heading, width, formatter) of the table and Markdown exports
def _columns(display: str) -> list[tuple[str, str, int, Any]]:
    return [
        ("name", "company", 12, None),
        ("symbol", "symbol", 8, None),
        ("market_cap_display", f"cap {display}", 10, lambda v: fmt_big(v)),
        ("revenue_12m_usd", "revenue USD", 11, lambda v: fmt_big(v)),
        ("revenue_basis", "basis", 10, None),
        ("ps", "P/S", 8, fmt_multiple),
        ("arr_usd", "ARR USD", 9, lambda v: fmt_big(v)),
        ("arr_as_of", "ARR as of", 10, None),
        ("p_arr", "P/ARR", 8, fmt_multiple),
        ("token_share_7d", "tokens 7d", 9, fmt_share),
        ("spend_share_7d", "spend 7d", 8, fmt_share),
        ("spend_usd_day", "spend USD day", 13, lambda v: fmt_big(v)),
        ("revenue_needed_usd", "need rev USD", 12, lambda v: fmt_big(v)),
    ]


def _text(value: Any, fmt: Any) -> str:
    if value is None:
        return "—"
    return safe_text(fmt(value) if fmt is not None else value)


def to_table(val: Valuation, markdown: bool = False) -> str:
    cols = _columns(val.display_currency)
    lines: list[str] = []
    if val.is_demo:
        lines += ["DEMO DATA — bundled reported fundamentals, prices and FX", ""]
    lines.append("## valuation" if markdown else "VALUATION")
    heads = [h for _, h, _, _ in cols]
    body = [[_text(r[c], f) for c, _, _, f in cols] for r in val.rows.iter_rows(named=True)]
    for row, r in zip(body, val.rows.iter_rows(named=True), strict=True):
        if r["arr_kind"] == "API-ARR" and row[8] != "—":
            row[8] += " API"
    if markdown:
        lines += ["| " + " | ".join(heads) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(markdown_text(c) for c in row) + " |" for row in body]
    else:
        lines.append("  ".join(h.ljust(w) for h, (_, _, w, _) in zip(heads, cols, strict=True)).rstrip())
        lines += [
            "  ".join(truncate(c, w).ljust(w) for c, (_, _, w, _) in zip(row, cols, strict=True)).rstrip()
            for row in body
        ]
    lines += ["", "## references" if markdown else "REFERENCES"]
    for r in val.references.iter_rows(named=True):
        lines.append(
            f"{'- ' if markdown else ''}{safe_text(r['name'])}: valuation {fmt_big(r['valuation_usd'], 'USD')}, "
            f"annualised revenue {fmt_big(r['arr_usd'], 'USD')} ({r['as_of']}), P/ARR {fmt_multiple(r['p_arr'])}"
            f" · {safe_text(r['source'])}"
        )
    lines += ["", "## sources" if markdown else "SOURCES"]
    for symbol, figures in val.sources.items():
        for s in figures:
            lines.append(f"{'- ' if markdown else ''}{safe_text(symbol)} {source_line(s)}")
    if val.spend_days:
        lines += ["", "## spend" if markdown else "SPEND"]
        lines.append(
            f"{'- ' if markdown else ''}OpenRouter {val.spend_days[0]} … {val.spend_days[-1]}: reported where the day "
            "view gives total_usage, else ESTIMATE = tokens x that day's list price; spend 7d counts known spend only"
        )
        if val.reference_multiple:
            name, ref = val.reference_multiple
            lines.append(f"{'- ' if markdown else ''}need rev = cap / {safe_text(name)}'s P/ARR {fmt_multiple(ref)}")
        lines += [f"{'- ' if markdown else ''}{safe_text(n)}" for n in val.spend_notes]
        lines += [f"{'- ' if markdown else ''}{safe_text(n)}" for n in val.rows["shares_note"].drop_nulls()]
    lines += ["", *(f"{'- ' if markdown else ''}fx: {n}" for n in val.fx_notes)]
    if val.token_days:
        lines.append(f"token share 7d: OpenRouter days {val.token_days[0]} … {val.token_days[-1]}")
    lines.append(markdown_text(val.attribution) if markdown else safe_text(val.attribution))
    return "\n".join(lines) + "\n"


def source_line(s: Mapping[str, Any]) -> str:
    """`revenue FY (12m to 2025-12-31) USD 79.0M · NextFin https://nextfin.ai`"""
    period = f"{s['months']}m to {s['period_end']}" if s["months"] else f"as of {s['period_end']}"
    if s["date_approx"]:
        period += " (date approx.)"
    qualifier = f"{s['qualifier']} " if s.get("qualifier") else ""
    value = f"{s['value']:g}%" if s["currency"] == "%" else fmt_big(s["value"], s["currency"])
    url = f" {s['url']}" if s.get("url") else ""
    return f"{s['metric']} {period}: {qualifier}{value} · {s['source']}{url}"


def _flat(val: Valuation) -> pl.DataFrame:
    rows = [{k: v for k, v in r.items() if k != "sources"} for r in sections(val)["valuation"]]
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


def to_csv(val: Valuation) -> str:
    frame = _flat(val)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(frame.columns)
    for row in frame.iter_rows():
        writer.writerow(["" if v is None else safe_text(v) for v in row])
    return out.getvalue() + f"# {safe_text(val.attribution)}\n"


def render(val: Valuation, fmt: str) -> str:
    if fmt == "json":
        return to_json(val)
    if fmt == "csv":
        return to_csv(val)
    if fmt in ("table", "md"):
        return to_table(val, markdown=fmt == "md")
    raise ValuationError(f"--format {fmt} needs --out DIR" if fmt == "parquet" else f"unknown format {fmt!r}")


def write(val: Valuation, fmt: str, out: str) -> list[Path]:
    """parquet and csv: valuation and references tables in the directory `out`; the rest: one file."""
    path = Path(out).expanduser()
    try:
        if fmt in ("parquet", "csv") and (fmt == "parquet" or path.is_dir() or not path.suffix):
            path.mkdir(parents=True, exist_ok=True)
            refs = pl.DataFrame(
                [{k: v for k, v in r.items() if k != "sources"} for r in sections(val)["references"]],
                infer_schema_length=None,
            )
            written = []
            for name, frame in (("valuation", _flat(val)), ("references", refs)):
                target = path / f"{name}.{fmt}"
                if fmt == "parquet":
                    frame.write_parquet(target, metadata={"attribution": safe_text(val.attribution)})
                else:
                    frame.write_csv(target)
                written.append(target)
            return written
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(render(val, fmt), encoding="utf-8")
        tmp.replace(path)
        return [path]
    except OSError as exc:
        raise ValuationError(f"cannot write {path}: {exc.strerror or exc}") from None


def export_folder(val: Valuation, root: Path, svg: str | None = None, now: datetime | None = None) -> Path:
    """The valuation screen's export key: a timestamped folder with the view's JSON, CSV, Markdown and screen (SVG)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    folder = root / f"tokentape-valuation-{stamp}"
    write(val, "csv", str(folder))  # valuation.csv and references.csv
    write(val, "json", str(folder / "valuation.json"))
    write(val, "md", str(folder / "valuation.md"))
    if svg is not None:
        try:
            (folder / "screen.svg").write_text(svg, encoding="utf-8")
        except OSError as exc:
            raise ValuationError(f"cannot write {folder}: {exc.strerror or exc}") from None
    return folder
