"""What OpenRouter's tokens cost: per model and per maker per UTC day, in polars.

- Reported spend: where OpenRouter's per-model day view reports `total_usage` (USD) for a model-day, that is the
  spend (kind "reported").
- Estimated spend (kind "estimate"): tokens x that day's list price, the model's newest stored price first listed on
  or before the day, named by price_date (the first catalogue day that listed it) and price_seen (the newest day the
  catalogue still listed it: before the priced day, the price was carried forward unconfirmed). The tokens are split
  into prompt and completion by the model's own ratio in the day view (split "model's day-view ratio <day>") where
  one is stored, else the day's overall day-view ratio ("day's overall ratio <day>"; the nearest day-view day when
  that day has none, named).
- `:free` variants cost $0 (kind "free"). A model with no stored price, or a day with no split, has unknown spend
  (None, with the reason) — never a sibling model's price.
No I/O; nothing here imports Textual.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

MODEL_DAY_SCHEMA: dict[str, Any] = {
    "date": pl.String,
    "model_permaslug": pl.String,
    "author": pl.String,
    "tokens": pl.Int64,
    "spend_usd": pl.Float64,
    "kind": pl.String,  # reported, estimate, free; None when unknown
    "price_date": pl.String,  # the first stored catalogue day that listed the price used
    "price_seen": pl.String,  # the newest catalogue day that still listed it (may be after `date`)
    "split": pl.String,
    "reason": pl.String,
}


def _ratio(prompt: int, completion: int) -> float | None:
    total = prompt + completion
    return prompt / total if total > 0 else None


def _nearest(days: list[str], day: str) -> str | None:
    if not days:
        return None
    target = date.fromisoformat(day)
    return min(days, key=lambda d: (abs((date.fromisoformat(d) - target).days), d))


def _price_history(prices: pl.DataFrame) -> dict[str, list[tuple[str, float | None, float | None, str]]]:
    """slug -> (first day listed, prompt price, completion price, newest day confirmed), by day. Consecutive rows of
    one price (the day-by-day rows written before v7) are one price: first listed on the first, confirmed up to the
    newest, as the change-only history would have stored it, so both kinds of history read the same."""
    history: dict[str, list[tuple[str, float | None, float | None, str]]] = {}
    has_seen = "last_seen" in prices.columns
    for r in prices.sort("canonical_slug", "date").iter_rows(named=True):
        listed = (r["prompt_price"], r["completion_price"])
        seen = str((r["last_seen"] if has_seen else None) or r["date"])
        runs = history.setdefault(r["canonical_slug"], [])
        if runs and runs[-1][1:3] == listed:
            first, *_, confirmed = runs[-1]
            runs[-1] = (first, *listed, max(confirmed, seen))
        else:
            runs.append((r["date"], *listed, seen))
    return history


def model_days(token_daily: pl.DataFrame, day_usage: pl.DataFrame, prices: pl.DataFrame) -> pl.DataFrame:
    """One row per (date, model): tokens and spend (reported, estimated, free or unknown with the reason).

    token_daily: the export's rows; day_usage: model_day_usage rows; prices: model_prices rows (any days; without a
    last_seen column each row counts as confirmed on its own day)."""
    usage: dict[tuple[str, str], dict[str, Any]] = {}
    for r in day_usage.iter_rows(named=True):
        u = usage.setdefault((r["date"], r["model_permaslug"]), {"prompt": 0, "completion": 0, "usd": None})
        u["prompt"] += r["prompt_tokens"] or 0
        u["completion"] += r["completion_tokens"] or 0
        if r["usage_usd"] is not None:
            u["usd"] = (u["usd"] or 0.0) + r["usage_usd"]
    day_totals: dict[str, list[int]] = {}
    model_ratio: dict[str, tuple[str, float]] = {}  # slug -> (newest day-view day, prompt share)
    for (day, slug), u in sorted(usage.items()):
        totals = day_totals.setdefault(day, [0, 0])
        totals[0] += u["prompt"]
        totals[1] += u["completion"]
        ratio = _ratio(u["prompt"], u["completion"])
        if ratio is not None:
            model_ratio[slug] = (day, ratio)
    overall = {d: q for d, (p, c) in day_totals.items() if (q := _ratio(p, c)) is not None}
    price_hist = _price_history(prices)

    tokens: dict[tuple[str, str], tuple[str, int]] = {
        (r["date"], r["model_permaslug"]): (r["author"], int(r["total_tokens"]))
        for r in token_daily.iter_rows(named=True)
    }
    for key, u in usage.items():
        if key not in tokens:
            tokens[key] = (key[1].split("/", 1)[0], u["prompt"] + u["completion"])
    rows = []
    for (day, slug), (author, count) in sorted(tokens.items()):
        row: dict[str, Any] = {"date": day, "model_permaslug": slug, "author": author, "tokens": count}
        reported = usage.get((day, slug), {}).get("usd")
        if reported is not None:
            rows.append(row | {"spend_usd": reported, "kind": "reported"})
            continue
        if slug.endswith(":free"):
            rows.append(row | {"spend_usd": 0.0, "kind": "free"})
            continue
        dated = [p for p in price_hist.get(slug, []) if p[0] <= day]  # this model's own price, never a sibling's
        if not dated or dated[-1][1] is None or dated[-1][2] is None:
            rows.append(row | {"reason": "no stored list price for this model"})
            continue
        price_day, prompt_price, completion_price, price_seen = dated[-1]
        row |= {"price_date": price_day, "price_seen": price_seen}
        if slug in model_ratio:
            seen, ratio = model_ratio[slug]
            split = f"model's day-view ratio {seen}"
        elif (near := _nearest(list(overall), day)) is not None:
            ratio, split = overall[near], f"day's overall ratio {near}"
        else:
            rows.append(row | {"reason": "no prompt/completion split stored"})
            continue
        assert prompt_price is not None and completion_price is not None
        cost = count * (ratio * prompt_price + (1 - ratio) * completion_price)
        rows.append(row | {"spend_usd": cost, "kind": "estimate", "split": split})
    return pl.DataFrame(rows, schema=MODEL_DAY_SCHEMA, orient="row")


@dataclass(frozen=True)
class MakerSpend:
    spend_share_7d: float | None  # the maker's known $ over all makers' known $ on the window's days
    spend_7d_usd: float | None
    coverage_7d: float | None  # the maker's tokens whose spend is known, over its tokens
    run_rate_usd: float | None  # mean known daily spend x 365
    spend_usd_day: float | None  # on spend_day, the newest day the maker has known spend
    spend_day: str | None
    spend_kind: str | None  # reported, estimate, reported+estimate (free folds into either)
    splits: tuple[str, ...]
    estimated_7d: bool  # some of the window's known spend is an estimate
    price_dates: tuple[str, ...]  # the first catalogue days that listed the list prices the estimates used
    prices_confirmed: tuple[str, ...]  # the newest catalogue days that still listed them
    # The most days an estimate's list price had gone unconfirmed by the day it priced (0: each was still listed
    # on or after its day); a model gone from the catalogue keeps its last price, and this says how stale it is.
    price_unconfirmed_days: int
    unknown: tuple[str, ...]  # "slug: reason" of the window's unknown model-days (newest day)


def _kind(kinds: set[str]) -> str:
    real = {k for k in kinds if k in ("reported", "estimate")}
    return "+".join(sorted(real, key=lambda k: k != "reported")) or "free"


def maker_spend(days: pl.DataFrame, authors: list[str]) -> MakerSpend | None:
    """The authors' spend over the frame's days (the spend window); None when they have no tokens in it."""
    mine = days.filter(pl.col("author").is_in(authors))
    if mine.is_empty():
        return None
    known = mine.filter(pl.col("spend_usd").is_not_null())
    all_known = days["spend_usd"].sum()
    spend = float(known["spend_usd"].sum()) if not known.is_empty() else None
    tokens = float(mine["tokens"].sum())
    newest = known["date"].max() if not known.is_empty() else None
    on_day = known.filter(pl.col("date") == newest) if newest is not None else known
    unknown = mine.filter(pl.col("spend_usd").is_null())
    unknown = unknown.filter(pl.col("date") == unknown["date"].max()) if not unknown.is_empty() else unknown
    return MakerSpend(
        spend_share_7d=spend / float(all_known) if spend is not None and all_known else None,
        spend_7d_usd=spend,
        coverage_7d=float(known["tokens"].sum()) / tokens if tokens else None,
        run_rate_usd=spend / known["date"].n_unique() * 365 if spend is not None else None,
        spend_usd_day=float(on_day["spend_usd"].sum()) if newest is not None else None,
        spend_day=str(newest) if newest is not None else None,
        spend_kind=_kind(set(on_day["kind"].to_list())) if newest is not None else None,
        splits=tuple(sorted({s for s in known["split"].to_list() if s})),
        estimated_7d="estimate" in known["kind"].to_list(),
        price_dates=tuple(sorted({d for d in known["price_date"].to_list() if d})),
        prices_confirmed=tuple(sorted({d for d in known["price_seen"].to_list() if d})),
        price_unconfirmed_days=max(
            [0]
            + [
                (date.fromisoformat(day) - date.fromisoformat(seen)).days
                for day, seen in zip(known["date"].to_list(), known["price_seen"].to_list(), strict=True)
                if seen
            ]
        ),
        unknown=tuple(f"{r['model_permaslug']} {r['date']}: {r['reason']}" for r in unknown.iter_rows(named=True)),
    )


def spend_fields(spend: MakerSpend | None) -> Mapping[str, Any]:
    """The valuation row's spend columns (None throughout when the maker has no tokens in the window)."""
    if spend is None:
        return dict.fromkeys(SPEND_COLUMNS)
    return {
        "spend_share_7d": spend.spend_share_7d,
        "spend_7d_usd": spend.spend_7d_usd,
        "spend_coverage_7d": spend.coverage_7d,
        "run_rate_usd": spend.run_rate_usd,
        "spend_usd_day": spend.spend_usd_day,
        "spend_day": spend.spend_day,
        "spend_kind": spend.spend_kind,
        "spend_7d_is_estimate": spend.estimated_7d,
    }


SPEND_COLUMNS: dict[str, Any] = {
    "spend_share_7d": pl.Float64,
    "spend_7d_usd": pl.Float64,
    "spend_coverage_7d": pl.Float64,
    "run_rate_usd": pl.Float64,
    "spend_usd_day": pl.Float64,
    "spend_day": pl.String,
    "spend_kind": pl.String,
    "spend_7d_is_estimate": pl.Boolean,
}
