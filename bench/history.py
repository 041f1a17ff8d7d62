"""History growth: databases of 1 month, 1 year and 3 years synthesised at the default config's rates
(deterministic seed; every table of the schema filled as the jobs fill it, polls included), measured side by side
in one run: read-only first paint vs the bare Textual app (bench/bare_app.py) and the app's peak RSS at that paint
(and 3 s later, when the first load is done whatever the paint raced), one dashboard reload after a quote poll,
`snapshot --format json` (time and peak RSS), the company screen's range switch (bench/range_switch.py's in-app
measurement, on each database, read-only), and the DB size before and after default retention (with the longest
write-lock hold of the prune).
First paint is the full screen as it settles (SETTLED: the tables' fitted columns and the footer, in both apps), timed
twice on each database: as an older collector leaves it (the app computes its first screen in a second process), then
once the dashboard is published in it as `tokentape collect` does after every poll (monitor/published.py).
Targets (issue 15): at 3 years first paint <= 1.5x the bare app, reload <= 50 ms, snapshot within 1.2x of the
1-month figure, DB <= 100 MiB after retention; range switch <= 100 ms (bench/range_switch.py's target).

What a database holds, for the span ending now, at config.toml's [jobs] rates, for its 13 symbols over the whole
span (so MiniMax and Zhipu have quotes before their 2026 listings: a 3-year database stands for the next 3 years):
  quotes        each poll of a trading symbol stores Yahoo's regularMarketTime row at its own time (one a symbol every
                quotes_open_seconds of each continuous session), and the session's intraday bars
                (intraday_interval) plus the closing auction's print; the trading stretches of each market day come
                from monitor.markets.market_state (asked once per stretch between the times the market's config
                names, and checked minute by minute on every 29th day)
  polls         every job of monitor/jobs.py JOBS at its cadence (quotes: every quotes_open_seconds while a market
                trades, its other symbols every quotes_closed_seconds; daily_bars after each market's close), through
                Store.record_poll, which keeps job_state; about 1 % failed
  token_daily   300 ranked models a day plus `other`, dated permaslugs (`minimax/minimax-m2.5-20260211`), each line
                launching a new version every few months; snapshot_date as the 30-day export leaves it
  token_weekly  top 9 + other a week; fx hourly on weekdays for the config's pairs; daily_bars each trading day;
  models, model_prices  the ~370-model catalogue once a day, written as the catalogue job writes it
                (monitor.jobs.catalogue_tables, Store.upsert): a price row only when a model's price changes (its
                launch, and about every PRICE_CHANGE_DAYS days after), else its last_seen moves on;
  model_day_usage the day view's top 50 a day; symbol_status, instruments' reported shares, meta (snapshot,
                attribution); fundamentals by monitor.valuation.sync; alert_events/alert_state a dozen firings of
                four rules

    .venv/bin/python bench/history.py [--spans 1m,1y,3y] [--runs 3] [--keep DIR]

--keep DIR keeps a copy of each synthesised database (before retention) as DIR/tokentape-<span>.db.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

from common import PY, ROOT, Homes, ScreenTimeout, TmuxServer, home_env, median, shell_command, time_to_screen

SPANS = {"1m": 30, "1y": 365, "3y": 1095}
MODELS_PER_DAY = 300  # ranked models a token day (the export's top 50 plus the keyed history's tail), and `other`
CATALOGUE_EXTRA = 70  # catalogue entries that never rank: ~370 a day, as /api/v1/models lists
DAY_VIEW_MODELS = 50
# A listed model's price changes (a cut, a provider's new rate) about this often, besides the new prices of launches.
PRICE_CHANGE_DAYS = 180
EXPORT_DAYS = 30  # days in one export snapshot
EXPORT_AT = 6360  # seconds after 00:00 UTC: the day's export snapshot appears at about 01:46 UTC
OTHER_SHARE = 0.07
CHECK_EVERY = 29  # days: the trading stretches are checked minute by minute against market_state on every 29th day
BAR_SECONDS = {"1m": 60, "2m": 120, "5m": 300}
FX_RATES = {"HKDUSD": 0.128, "HKDCNY": 0.92, "USDCNY": 7.2}  # where the synthetic rates start
SETTLE = 3.0  # seconds after the first paint when the app's peak RSS is read again
TIME = "/usr/bin/time"  # GNU time: the peak RSS of a command
ATTRIBUTION = "Source: OpenRouter (openrouter.ai), licensed under CC BY 4.0"
M = re.MULTILINE
# The full screen as it settles, in both apps: a card, the board's last column ("trend") and the peer moves' 5d column
# (both only once the tables have fitted their columns to the width the layout gave them), and the footer's keys.
SETTLED = ["MiniMax 0100.HK", "trend", " 5d ", "q Quit"]
PRESENT = [*SETTLED, "Zhipu 2513.HK", re.compile(r"^ +1 +\S.*\d\.\d\d%", M)]
ABSENT = ["cached screen", "reading the database"]

# Model lines of the daily ranking: (author, successive names). A line launches a new version every `period` days,
# named by its next name and dated by its launch (`z-ai/glm-5-20260211`), as OpenRouter's permaslugs are; the older
# generations of a 3-year span keep the line's first name. The anonymous stealth model is undated, as OpenRouter
# lists it. No two lines share a name, so the board never needs a version tag to tell two rows apart.
HEADLINE = (
    ("minimax", ("minimax-m2", "minimax-m2.1", "minimax-m2.5", "minimax-m2.7", "minimax-m3")),
    ("z-ai", ("glm-4.5", "glm-4.6", "glm-4.7", "glm-5", "glm-5.1", "glm-5.3")),
    ("deepseek", ("deepseek-v3.1", "deepseek-v3.2", "deepseek-v4-flash", "deepseek-v4.1-flash")),
    ("stealth", ("space-bunny-alpha",)),
    ("xiaomi", ("mimo-v2-flash", "mimo-v2.5", "mimo-v2.6-flash")),
    ("z-ai", ("glm-4.5-air", "glm-5-turbo", "glm-5.3-flash")),
    ("openai", ("gpt-5", "gpt-5.5", "gpt-5.6-luna", "gpt-6-luna")),
    ("tencent", ("hunyuan-a13b", "hy3", "hy4-preview")),
    ("google", ("gemini-2.5-flash", "gemini-3-flash-preview", "gemini-3.8-flash")),
    ("anthropic", ("claude-sonnet-4.5", "claude-4.6-sonnet", "claude-sonnet-5")),
    ("qwen", ("qwen3-coder", "qwen3-max", "qwen3.5-plus", "qwen3.6-plus")),
    ("x-ai", ("grok-code-fast-1", "grok-4-fast", "grok-4.3")),
    ("moonshotai", ("kimi-k2", "kimi-k2.5", "kimi-k2.6", "kimi-k3")),
    ("anthropic", ("claude-opus-4.5", "claude-opus-4.7", "claude-opus-5.5")),
    ("deepseek", ("deepseek-r1", "deepseek-v4-pro")),
    ("google", ("gemini-2.5-pro", "gemini-3-pro-preview", "gemini-3.1-pro")),
    ("minimax", ("minimax-m1", "minimax-m2-her")),
    ("nvidia", ("nemotron-nano-9b-v2", "nemotron-3-super", "nemotron-3-ultra-550b-a55b")),
    ("meta-llama", ("llama-4-maverick",)),
    ("meta", ("muse-spark-1.3-contributor",)),
    ("mistralai", ("mistral-medium-3.1", "mistral-medium-3.5")),
    ("baidu", ("ernie-4.5-300b-a47b", "ernie-5")),
    ("amazon", ("nova-pro-v1", "nova-2-lite-v1")),
    ("microsoft", ("phi-4", "mai-ds-r1")),
    ("bytedance-seed", ("seed-oss-36b-instruct", "seed-2.0")),
    ("stepfun", ("step-3",)),
    ("openai", ("gpt-oss-120b",)),
)
GENERIC_AUTHORS = (
    "qwen", "google", "openai", "mistralai", "meta-llama", "nvidia", "deepseek", "cohere", "ai21", "nousresearch",
    "thedrummer", "sao10k", "arcee-ai", "liquid", "inception", "allenai", "ibm-granite", "perplexity", "microsoft",
    "amazon", "baidu", "tencent", "bytedance-seed", "x-ai", "anthropic", "moonshotai", "z-ai", "minimax", "xiaomi",
)  # fmt: skip
GENERIC_STEMS = ("instruct", "chat", "coder", "flash", "mini", "large", "vision", "reasoner", "lite", "pro")
# Share counts Tencent reports for the HK symbols (the daily_bars job stores them): approximate.
REPORTED_SHARES = {
    "0100.HK": 310_512_000,
    "2513.HK": 440_210_000,
    "0700.HK": 9_082_721_689,
    "9988.HK": 19_098_000_000,
    "9888.HK": 2_750_000_000,
    "1810.HK": 25_960_000_000,
    "0020.HK": 38_700_000_000,
}
# Four alert rules and what their firings look like: (name, expression, subject, metric, op, threshold, unit).
ALERT_RULES = (
    ("MiniMax drop", "0100.HK change_pct_1d <= -5", "0100.HK", "change_pct_1d", "<=", -0.05, "%"),
    ("Zhipu passes 10%", "z-ai token_share crosses_above 10", "z-ai", "token_share", "crosses_above", 0.1, "%"),
    ("New Z.ai model in the top 50", "z-ai model_enters_top 50", "z-ai", "model_enters_top", ">=", 50.0, ""),
    ("Yahoo quiet", "yahoo stale >= 30", "yahoo", "stale", ">=", 1800.0, "min"),
)  # fmt: skip
ALERT_FIRINGS = 12


# -- trading stretches ------------------------------------------------------------------------------------------------


def stretches(market: Any, day: date) -> list[tuple[int, int, bool]]:
    """(start, end, continuous) Unix times of each stretch of the market's local `day` that market_state calls trading
    (pre-open, sessions, closing auction); continuous: market_state's is_open. A state changes only at the times the
    market's config names (and a half day's early close and moved auction), so market_state is asked once a stretch."""
    from monitor.markets import market_state

    zone = market.zone
    marks = {clock(0)}
    for pair in (market.pre_open, market.closing_auction, *market.sessions):
        if pair:
            marks.update(pair)
    if market.half_day_close is not None:
        marks.add(market.half_day_close)
        if market.closing_auction:
            auction_start, auction_end = (datetime.combine(day, t) for t in market.closing_auction)
            marks.add((datetime.combine(day, market.half_day_close) + (auction_end - auction_start)).time())
    stamps = sorted(int(datetime.combine(day, t, zone).timestamp()) for t in marks)
    stamps.append(int(datetime.combine(day + timedelta(days=1), clock(0), zone).timestamp()))
    found: list[tuple[int, int, bool]] = []
    for start, end in itertools.pairwise(stamps):
        state = market_state(market, datetime.fromtimestamp(start, UTC))
        if not state.is_trading:
            continue
        if found and found[-1][1] == start and found[-1][2] == state.is_open:
            found[-1] = (found[-1][0], end, state.is_open)
        else:
            found.append((start, end, state.is_open))
    return found


def check_stretches(market: Any, day: date, found: list[tuple[int, int, bool]]) -> None:
    """market_state minute by minute over the local day agrees with `found`, or AssertionError."""
    from monitor.markets import market_state

    begin = int(datetime.combine(day, clock(0), market.zone).timestamp())
    finish = int(datetime.combine(day + timedelta(days=1), clock(0), market.zone).timestamp())
    for ts in range(begin, finish, 60):
        state = market_state(market, datetime.fromtimestamp(ts, UTC))
        inside = next(((s, e, c) for s, e, c in found if s <= ts < e), None)
        expect = (inside is not None, inside is not None and inside[2])
        assert (state.is_trading, state.is_open) == expect, f"{market.name} {day} {ts}: {state.state} vs {found}"


# -- the token side ---------------------------------------------------------------------------------------------------


@dataclass
class Line:
    """One model line of the ranking: its current version, its weight in the day's tokens, its list prices."""

    author: str
    names: tuple[str, ...]
    period: int
    phase: int
    base: float  # the log weight it reverts to
    weight: float  # today's log weight
    prompt: float  # USD per prompt token
    ratio: float  # completion price / prompt price
    context: int
    slug: str = ""
    launched: date | None = None

    def version(self, day: date, last: date, rng: random.Random) -> None:
        """Move to the version current on `day`; a launch bumps the weight and may set new prices."""
        gen = (day.toordinal() + self.phase) // self.period
        launch = date.fromordinal(gen * self.period - self.phase)
        behind = (last.toordinal() + self.phase) // self.period - gen
        name = self.names[min(max(len(self.names) - 1 - behind, 0), len(self.names) - 1)]
        slug = f"{self.author}/{name}" if self.author == "stealth" else f"{self.author}/{name}-{launch:%Y%m%d}"
        if slug != self.slug:
            if self.slug:
                self.weight += 0.3
                self.prompt = round(self.prompt * rng.uniform(0.6, 1.2), 10)
            self.slug, self.launched = slug, launch

    @property
    def id(self) -> str:
        return self.slug.rsplit("-", 1)[0] if self.author != "stealth" else self.slug


def model_lines(rng: random.Random) -> tuple[list[Line], list[Line]]:
    """(ranked lines, catalogue-only lines)."""

    def line(author: str, names: tuple[str, ...], period: int, base: float) -> Line:
        prompt = round(10 ** rng.uniform(-7.3, -5.4), 10)
        context = rng.choice((32_768, 131_072, 200_000, 262_144, 1_048_576))
        return Line(author, names, period, rng.randrange(period), base, base, prompt, rng.uniform(2, 8), context)

    ranked = [line(a, names, rng.randint(90, 200), -math.log(i + 2)) for i, (a, names) in enumerate(HEADLINE)]
    k = 0
    while len(ranked) < MODELS_PER_DAY:
        author = GENERIC_AUTHORS[k % len(GENERIC_AUTHORS)]
        name = f"{author.split('-')[0]}-{GENERIC_STEMS[k % len(GENERIC_STEMS)]}-{k}"
        ranked.append(line(author, (name,), rng.randint(300, 900), math.log(0.35) - 1.15 * math.log(k + 3)))
        k += 1
    extra = []
    for j in range(CATALOGUE_EXTRA):
        author = GENERIC_AUTHORS[(j * 7) % len(GENERIC_AUTHORS)]
        extra.append(line(author, (f"{author.split('-')[0]}-legacy-{j}",), 10_000, -20.0))
    return ranked, extra


def token_day(lines: list[Line], day: date, last: date, rng: random.Random) -> tuple[list[tuple[str, int]], int]:
    """((slug, tokens) of each ranked model, best first; `other`'s tokens) on `day`."""
    years_back = (last - day).days / 365
    total = 2.0e13 * math.exp(-0.45 * years_back) * rng.uniform(0.93, 1.07)
    for ln in lines:
        ln.version(day, last, rng)
        ln.weight += 0.03 * (ln.base - ln.weight) + rng.gauss(0, 0.04)
    weights = [math.exp(ln.weight) for ln in lines]
    named = total * (1 - OTHER_SHARE)
    scale = named / sum(weights)
    ranked = sorted(((ln.slug, int(w * scale)) for ln, w in zip(lines, weights, strict=True)), key=lambda r: -r[1])
    return ranked, int(total) - sum(t for _, t in ranked)


def catalogue_rows(lines: list[Line], at: int) -> list[dict[str, Any]]:
    """The day's /api/v1/models entries, as openrouter.parse_models makes them."""
    rows = []
    for ln in lines:
        name = ln.id.split("/", 1)[1]
        rows.append(
            {
                "canonical_slug": ln.slug,
                "id": ln.id,
                "name": f"{ln.author.split('-')[0].title()}: {name.replace('-', ' ').title()}",
                "created": int(datetime.combine(ln.launched or date(2025, 1, 1), clock(12), UTC).timestamp()),
                "context_length": ln.context,
                "prompt_price": ln.prompt,
                "completion_price": round(ln.prompt * ln.ratio, 10),
                "updated_at": at,
            }
        )
    return rows


# -- the synthesis ----------------------------------------------------------------------------------------------------


def synthesise(path: Path, days: int, seed: int = 15) -> float:
    """The default config's watchlist and jobs at their rates for `days` days ending now; returns seconds taken."""
    from monitor.config import load_config
    from monitor.jobs import JOBS, catalogue_tables, fx_pairs
    from monitor.sources import openrouter
    from monitor.valuation import sync as sync_fundamentals
    from storage import Store

    t0 = time.perf_counter()
    rng = random.Random(seed)
    # The catalogue's price changes draw from a stream of their own: the main one (tokens, quotes, polls) is as before.
    price_rng = random.Random(seed + 1)
    config = load_config(str(ROOT / "config.toml"))
    jobs = config.jobs
    simulated = {"quotes", "daily_bars", "fx", "openrouter_export", "openrouter_models", "openrouter_weekly"}
    simulated |= {"openrouter_day_view"}
    enabled = {spec.name for spec in JOBS if spec.enabled(config)}
    assert enabled <= simulated, f"jobs this bench does not synthesise: {sorted(enabled - simulated)}"
    store = Store.open(path)
    store.sync_instruments(config.companies)
    conn = store.conn()

    end_dt = datetime.now(UTC).replace(microsecond=0)
    end = int(end_dt.timestamp())
    start = end - days * 86400
    first_day, last_day = datetime.fromtimestamp(start, UTC).date(), end_dt.date()
    step, bar = jobs.quotes_open_seconds, BAR_SECONDS[jobs.intraday_interval]
    markets = {name: config.markets[name] for name in sorted({c.market for c in config.companies})}
    symbols = {m: [c.symbol for c in config.companies if c.market == m] for m in markets}
    prices = {c.symbol: 5000.0 if c.symbol.startswith("^") else rng.uniform(20, 500) for c in config.companies}
    closes = dict(prices)
    sigma = 0.02 / math.sqrt(6.5 * 3600 / step)  # ~2 % a day
    pairs = {key.removesuffix("=X"): FX_RATES.get(key.removesuffix("=X"), 1.0) for key in fx_pairs(config)}
    ranked_lines, extra_lines = model_lines(rng)
    # The newest token day: the export of day D appears at ~01:46 UTC on D+1.
    last_token_day = datetime.fromtimestamp(end - EXPORT_AT, UTC).date() - timedelta(days=1)
    last_snapshot = last_token_day + timedelta(days=1)
    weekly: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    day_cache: dict[tuple[str, date], list[tuple[int, int, bool]]] = {}
    last_quote_poll = dict.fromkeys(markets, -(10**12))
    counted_token_days = 0
    last_polls: dict[str, float] = {}
    every = {
        "fx": jobs.fx_seconds,
        "openrouter_export": jobs.openrouter_export_seconds,
        "openrouter_models": jobs.openrouter_models_seconds,
        "openrouter_weekly": jobs.openrouter_weekly_seconds,
        "openrouter_day_view": jobs.openrouter_day_view_seconds,
    }

    def market_day(name: str, day: date) -> list[tuple[int, int, bool]]:
        key = (name, day)
        if key not in day_cache:
            found = stretches(markets[name], day)
            if day.toordinal() % CHECK_EVERY == 0:
                check_stretches(markets[name], day, found)
            day_cache[key] = found
        return day_cache[key]

    day = first_day
    while day <= last_day:
        d0 = int(datetime.combine(day, clock(0), UTC).timestamp())
        d1 = d0 + 86400
        quotes: list[tuple[Any, ...]] = []
        bars: list[tuple[Any, ...]] = []
        polls: list[tuple[str, float, float, bool, str | None, int]] = []

        # quotes and daily bars: each market's local day (for HK and US it lies inside the UTC day)
        for name, market in markets.items():
            found = market_day(name, day)
            if not found:
                continue
            for symbol in symbols[name]:
                prev = closes[symbol]
                p = prices[symbol] * math.exp(rng.gauss(0, 0.01))  # the overnight gap
                high = low = first = p
                volume = 0.0
                continuous_seen = False
                for a, b, continuous in found:
                    if continuous:
                        continuous_seen = True
                        # a poll at t stores the last trade's time (just before t), and the bar that just closed
                        for t in range(a + step, b + 1, step):
                            p *= 1 + rng.gauss(0, sigma)
                            high, low = max(high, p), min(low, p)
                            if t <= end:
                                quotes.append((symbol, t - 1 - int(rng.random() * 9), round(p, 3), prev, None, "yahoo"))
                            if (t - a) % bar == 0 and t - bar <= end:
                                v = float(int(rng.uniform(1e3, 1e5)))
                                volume += v
                                quotes.append((symbol, t - bar, round(p, 3), prev, v, "yahoo"))
                    elif continuous_seen:  # the closing auction's print, a minute or two before it ends
                        p *= 1 + rng.gauss(0, sigma)
                        at = b - 60 - int(rng.random() * 60)
                        if at <= end:
                            quotes.append((symbol, at, round(p, 3), prev, None, "yahoo"))
                prices[symbol] = closes[symbol] = p
                close_at = int(datetime.combine(day, market.close, market.zone).timestamp())
                if close_at + jobs.daily_bars_after_close_minutes * 60 <= end:
                    bars.append((symbol, day.isoformat(), first, high, low, p, volume, "yahoo"))

        # quote polls: every `step` s while a market trades; its symbols every quotes_closed_seconds otherwise
        times: dict[int, list[tuple[str, bool]]] = defaultdict(list)
        for name in markets:
            trading = [
                (max(a, d0), min(b, d1))
                for local in (day - timedelta(days=1), day, day + timedelta(days=1))
                for a, b, _ in market_day(name, local)
                if a < d1 and b > d0
            ]
            cursor = d0
            for a, b in [*sorted(trading), (d1, d1)]:
                nxt = max(last_quote_poll[name] + jobs.quotes_closed_seconds, cursor + (-cursor) % step)
                while nxt < a:
                    times[nxt].append((name, False))
                    last_quote_poll[name] = nxt
                    nxt += jobs.quotes_closed_seconds
                for t in range(a + (-a) % step, b, step):
                    times[t].append((name, True))
                    last_quote_poll[name] = t
                cursor = max(cursor, b)
        for t in sorted(times):
            if t > end:
                break
            rows = sum(2 * len(symbols[name]) for name, trading_now in times[t] if trading_now)
            asked = sum(len(symbols[name]) for name, _ in times[t])
            roll = rng.random()
            error = None
            if roll < 0.005:
                error, rows = "yahoo: HTTP 502 Bad Gateway", 0
            elif roll < 0.01:
                error = f"1 of {asked} symbols failed (^HSTECH): yahoo: HTTP 404: No data found, symbol may be delisted"
            polls.append(("quotes", t + rng.random() * 0.2, 0.3 + rng.random(), error is None, error, rows))

        # daily bars: after each market's close on weekdays (cron mon-fri, holidays included)
        for name, market in markets.items():
            for local in (day - timedelta(days=1), day, day + timedelta(days=1)):
                when = datetime.combine(local, market.close, market.zone)
                when += timedelta(minutes=jobs.daily_bars_after_close_minutes)
                t = int(when.timestamp())
                if when.weekday() < 5 and d0 <= t < d1 and t <= end:
                    rows = len(symbols[name]) if market_day(name, local) else 0
                    polls.append(("daily_bars", t + rng.random(), 1.5 + rng.random(), True, None, rows))

        # fx: hourly; Yahoo's rate moves on weekdays only
        fx = []
        for t in range(d0 + (start - d0) % every["fx"], min(d1, end + 1), every["fx"]):
            moved = day.weekday() < 5
            if moved:
                for pair in pairs:
                    pairs[pair] *= 1 + rng.gauss(0, 3e-4)
                    fx.append((pair, t - int(rng.random() * 60), pairs[pair], "yahoo"))
            polls.append(("fx", t + rng.random(), 0.3 + rng.random(), True, None, len(pairs) if moved else 0))

        # tokens: the export of `day` (stored the next day, but its rows are the same), the catalogue, the day view
        token_rows: list[dict[str, Any]] = []
        usage: list[dict[str, Any]] = []
        catalogue: list[dict[str, Any]] = []
        if day <= last_token_day:
            ranked, other = token_day(ranked_lines, day, last_token_day, rng)
            total = other + sum(t for _, t in ranked)
            snapshot = min(day + timedelta(days=EXPORT_DAYS), last_snapshot).isoformat()
            for rank, (slug, tokens) in enumerate(ranked, start=1):
                token_rows.append(
                    {
                        "date": day.isoformat(),
                        "model_permaslug": slug,
                        "author": openrouter.author_of(slug),
                        "rank": rank,
                        "total_tokens": tokens,
                        "share": tokens / total,
                        "snapshot_date": snapshot,
                        "source": openrouter.EXPORT_SOURCE,
                    }
                )
            token_rows.append(
                {
                    "date": day.isoformat(),
                    "model_permaslug": openrouter.OTHER,
                    "author": openrouter.OTHER,
                    "rank": None,
                    "total_tokens": other,
                    "share": other / total,
                    "snapshot_date": snapshot,
                    "source": openrouter.EXPORT_SOURCE,
                }
            )
            counted_token_days += 1
            week = day - timedelta(days=day.weekday())
            for slug, tokens in ranked:
                weekly[week][slug] += tokens
            weekly[week][openrouter.OTHER] += other
            price = {ln.slug: (ln.prompt, ln.prompt * ln.ratio) for ln in ranked_lines}
            view = []
            for slug, tokens in ranked[:DAY_VIEW_MODELS]:
                prompt = int(tokens * rng.uniform(0.9, 0.99))
                pp, cp = price[slug]
                spend = (prompt * pp + (tokens - prompt) * cp) * rng.uniform(0.5, 1.0)
                view.append(
                    {
                        "date": day.isoformat(),
                        "model_permaslug": slug,
                        "variant": "standard",
                        "prompt_tokens": prompt,
                        "completion_tokens": tokens - prompt,
                        "requests": int(tokens / rng.uniform(2e4, 8e4)),
                        "usage_usd": None if rng.random() < 0.05 else round(spend, 6),
                    }
                )
            usage = openrouter.usage_rows(view)
        else:
            for ln in ranked_lines:
                ln.version(day, last_token_day, rng)
        for ln in extra_lines:
            ln.version(day, last_token_day, rng)
        models_at = d0 + (start - d0) % every["openrouter_models"]
        if models_at <= end:
            for ln in ranked_lines + extra_lines:
                if price_rng.random() < 1 / PRICE_CHANGE_DAYS:
                    ln.prompt = round(ln.prompt * price_rng.uniform(0.5, 1.1), 10)
            catalogue = catalogue_rows(ranked_lines + extra_lines, models_at)

        for job in ("openrouter_export", "openrouter_models", "openrouter_weekly", "openrouter_day_view"):
            if not every[job]:
                continue
            new_export = True
            for t in range(d0 + (start - d0) % every[job], min(d1, end + 1), every[job]):
                ok = rng.random() > 0.01
                rows = {
                    "openrouter_models": len(catalogue),
                    "openrouter_weekly": 10,
                    "openrouter_day_view": len(usage),
                    "openrouter_export": 0,
                }[job]
                if job == "openrouter_export" and new_export and t >= d0 + EXPORT_AT:
                    rows, new_export = min(counted_token_days, EXPORT_DAYS) * (MODELS_PER_DAY + 1), not ok
                error = None if ok else "openrouter: timeout after 30 s"
                polls.append((job, t + rng.random(), 0.5 + 2 * rng.random(), ok, error, rows if ok else 0))

        with store.transaction() as tx:
            tx.executemany("INSERT OR REPLACE INTO quotes VALUES (?,?,?,?,?,?)", quotes)
            tx.executemany("INSERT OR REPLACE INTO daily_bars VALUES (?,?,?,?,?,?,?,?)", bars)
            tx.executemany("INSERT OR REPLACE INTO fx VALUES (?,?,?,?)", fx)
            store.upsert("token_daily", token_rows, tx)
            store.upsert("model_day_usage", usage, tx)
            if catalogue:  # as the catalogue job's commit writes its rows
                for table, rows in catalogue_tables(catalogue, models_at).items():
                    store.upsert(table, rows, tx)
            for job, started, took, ok, error, rows in sorted(polls, key=lambda p: p[1]):
                store.record_poll(job, started, started + took, ok, error, rows, tx)
                last_polls[job] = started + took
        day += timedelta(days=1)

    # what the jobs leave beside their rows: the weekly chart, per-symbol outcomes, share counts, the export's meta
    weekly_rows = []
    for week, tokens in sorted(weekly.items()):
        top = sorted(((s, t) for s, t in tokens.items() if s != "other"), key=lambda r: -r[1])[:9]
        rest = sum(tokens.values()) - sum(t for _, t in top)
        for slug, total in [*top, ("other", rest)]:
            row = {"week": week.isoformat(), "model_permaslug": slug, "author": openrouter.author_of(slug)}
            weekly_rows.append(row | {"total_tokens": total, "source": openrouter.WEEKLY_SOURCE})
    with store.transaction() as tx:
        store.upsert("token_weekly", weekly_rows, tx)
        every_symbol = [c.symbol for c in config.companies]
        store.set_symbol_status("quotes", [(s, True, None) for s in every_symbol], last_polls["quotes"], tx)
        store.set_symbol_status("daily_bars", [(s, True, None) for s in every_symbol], last_polls["daily_bars"], tx)
        fx_status = [(f"{p}=X", True, None) for p in pairs]
        store.set_symbol_status("fx", fx_status, last_polls["fx"], tx)
        store.set_reported_shares(REPORTED_SHARES, int(last_polls["daily_bars"]), tx)
        store.set_meta("openrouter_snapshot_date", last_snapshot.isoformat(), tx)
        store.set_meta("openrouter_attribution", ATTRIBUTION, tx)
        alerts(store, tx, start, end, rng)
    sync_fundamentals(store, config)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return time.perf_counter() - t0


def alerts(store: Any, tx: sqlite3.Connection, start: int, end: int, rng: random.Random) -> None:
    """A dozen firings of four rules over the span (the newest a day before its end), and each rule's state."""
    episodes: dict[str, int] = defaultdict(int)
    last: dict[str, tuple[float, float, str]] = {}
    for i in range(ALERT_FIRINGS):
        name, expression, subject, metric, op, threshold, unit = ALERT_RULES[i % len(ALERT_RULES)]
        key = f"{name}|{expression}"
        fired_at = start + (end - 86400 - start) * (i + 1) / ALERT_FIRINGS
        day = datetime.fromtimestamp(fired_at, UTC).date().isoformat()
        episodes[key] += 1
        transition, data_time = f"#{episodes[key]}", datetime.fromtimestamp(fired_at - 40, UTC).strftime("%FT%TZ")
        if metric == "change_pct_1d":
            value = threshold - rng.uniform(0.001, 0.03)
            message = f"{name}: {subject} {metric} {value * 100:+.2f}% (rule {op} -5.00%) · data {data_time}"
        elif metric == "token_share":
            value, data_time = threshold + rng.uniform(0.001, 0.01), day
            message = f"{name}: Zhipu ({subject}) {metric} {value * 100:.2f}% (rule {op} 10.00%) · data {data_time}"
        elif metric == "model_enters_top":
            value, data_time = float(rng.randint(20, 50)), day
            slug = f"z-ai/glm-5.{i}-{day.replace('-', '')}"
            transition, subject = f"{slug}@{day}", slug
            message = f"{name}: {slug} entered the top 50 (rank {value:.0f}) on {day}"
        else:
            value = threshold + rng.uniform(60, 1200)
            message = f"{name}: yahoo has no new data for {value / 60:,.0f} min (rule 30 min) · last data {data_time}"
        store.add_alert_event(
            {
                "rule": name,
                "rule_key": key,
                "transition": transition,
                "subject": subject,
                "metric": metric,
                "op": op,
                "value": value,
                "threshold": threshold,
                "unit": unit,
                "data_time": data_time,
                "fired_at": fired_at,
                "message": message,
                "notify": json.dumps(["screen"]),
                "delivered_to": json.dumps(["screen"]),
                "delivery_error": None,
                "attempts": 0,
            },
            tx,
        )
        last[key] = (fired_at, value, data_time)
    state = []
    for key, (fired_at, value, data_time) in last.items():
        events = key.split("|", 1)[1].split()[1] == "model_enters_top"
        state.append(
            {
                "rule_key": key,
                "in_cond": None if events else 0,
                "fired": None if events else 0,
                "episode": None if events else episodes[key],
                "last_fired": fired_at,
                "last_value": None if events else value,
                "data_time": data_time,
                "updated": float(end),
            }
        )
    store.upsert("alert_state", state, tx)


def table_counts(db: Path) -> dict[str, int]:
    from storage.db import TABLES

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in TABLES}
    finally:
        conn.close()


# -- the measurements -------------------------------------------------------------------------------------------------


def snapshot_runs(db: Path, home: Path, runs: int) -> tuple[float, float]:
    """`snapshot --format json`: (median seconds, median peak RSS in kB). The peak comes from /usr/bin/time -f %M:
    a child's own rusage would count the pages it shared with this (large) process between fork and exec."""
    env = {k: v for k, v in os.environ.items() if k != "TOKENTAPE_CONFIG"} | home_env(home)
    argv = [PY, "-m", "monitor.cli", "snapshot", "--format", "json", "--db", str(db)]
    argv += ["--config", str(ROOT / "config.toml")]
    times, peaks = [], []
    for _ in range(runs):
        with tempfile.NamedTemporaryFile("r") as peak:
            t0 = time.perf_counter()
            done = subprocess.run(
                [TIME, "-f", "%M", "-o", peak.name, *argv], cwd=ROOT, env=env, capture_output=True, text=True
            )
            times.append(time.perf_counter() - t0)
            if done.returncode:
                raise RuntimeError(f"snapshot exited {done.returncode}: {done.stderr[-500:]}")
            peaks.append(int(peak.read().split()[-1]))
    return median(times), median(peaks)


def reload_ms(db: Path, runs: int) -> float:
    """One dashboard reload after a quote poll: the quote poll's tables re-read, the frames recomputed."""
    from monitor.config import load_config
    from monitor.dashboard import DashboardLoader
    from storage import Store

    store = Store.open(db, create=False)
    loader = DashboardLoader(store, load_config(str(ROOT / "config.toml")))
    loader.load()
    times = []
    for _ in range(runs * 5):
        t0 = time.perf_counter()
        loader.load({"quotes", "polls", "symbol_status"})
        times.append(time.perf_counter() - t0)
    store.close()
    return median(times) * 1000


def pane_peak_kb(server: TmuxServer) -> int | None:
    """VmHWM (peak RSS, kB) of the process in the server's one live pane (the app: `exec env ... python`)."""
    for line in server.run("list-panes", "-a", "-F", "#{pane_pid} #{pane_dead}").splitlines():
        pid, dead = line.split()
        if dead == "1":
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmHWM:\s+(\d+) kB", status, M)
        if found:
            return int(found.group(1))
    return None


@dataclass
class Paint:
    seconds: float  # median time to the full screen
    kb: float  # median peak RSS (kB) of the app when the full screen was first seen
    settled_kb: float  # median peak RSS (kB) SETTLE s later, the first dashboard load done whatever paint raced it


def compile_bytecode() -> None:
    """Write tokentape's bytecode caches before any timing, as Python does on a user's first run: this sandbox sets
    PYTHONDONTWRITEBYTECODE=1, under which every start would compile ~12,000 lines again (~0.05 s). The bare app is
    a script, compiled on every run either way (as any `python script.py` is); Textual's caches come with its wheel."""
    subprocess.run([PY, "-m", "compileall", "-q", "monitor", "widgets", "storage"], cwd=ROOT, check=True)


PUBLISH = """
import sys
from monitor.config import load_config
from monitor.published import Publisher
from storage import Store

store = Store.open(sys.argv[1])
Publisher(store, load_config(sys.argv[2])).update()
store.close()
"""


def publish(db: Path) -> None:
    """What `tokentape collect` leaves after each poll: the dashboard it computed, published in the database for
    readers (monitor/published.py). In a process of its own, as the collector's."""
    subprocess.run([PY, "-c", PUBLISH, str(db), str(ROOT / "config.toml")], cwd=ROOT, check=True)


def first_paint(server: TmuxServer, homes: Homes, db: Path | None, runs: int) -> Paint:
    times: list[float] = []
    peaks: dict[str, list[int]] = {"paint": [], "settled": []}
    for _ in range(runs):
        env = home_env(homes.new())
        if db is None:
            cmd = shell_command([PY, str(ROOT / "bench" / "bare_app.py")], env, cwd=ROOT)
            markers, absent = SETTLED, []
        else:
            argv = [PY, "-m", "monitor.cli", "--read-only", "--db", str(db), "--config", str(ROOT / "config.toml")]
            cmd = shell_command(argv, env, cwd=ROOT)
            markers, absent = PRESENT, ABSENT

        def at_paint() -> None:
            for when in ("paint", "settled"):
                if when == "settled":
                    time.sleep(SETTLE)
                kb = pane_peak_kb(server)
                if kb is not None:
                    peaks[when].append(kb)

        times.append(time_to_screen(server, cmd, markers, absent, timeout=60, before_end=at_paint).seconds)
    print(
        f"  first paint {'bare app' if db is None else db.stem}: "
        + ", ".join(f"{t:.3f} s" for t in times)
        + "; RSS at paint "
        + ", ".join(f"{kb / 1024:.0f}" for kb in peaks["paint"])
        + f" MiB, {SETTLE:g} s later "
        + ", ".join(f"{kb / 1024:.0f}" for kb in peaks["settled"])
        + " MiB",
        flush=True,
    )
    nan = float("nan")
    return Paint(
        median(times),
        median(peaks["paint"]) if peaks["paint"] else nan,
        median(peaks["settled"]) if peaks["settled"] else nan,
    )


@contextmanager
def isolated_home(home: Path) -> Iterator[None]:
    """This process's HOME and XDG dirs pointed at `home` (an in-process app writes no user cache)."""
    env = home_env(home)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def range_switch(db: Path, home: Path, runs: int) -> tuple[float, float]:
    """bench/range_switch.py's in-app range switch (every range of the MiniMax screen, run_test at 160x48) on this
    database, read-only: (median of every switch, the slowest range's median), ms."""
    from range_switch import in_app

    from monitor.config import load_config
    from monitor.history import RANGES
    from storage import Store

    with isolated_home(home):
        config = load_config(str(ROOT / "config.toml"))
        store = Store.open(db, create=False)
        try:
            times = asyncio.run(in_app(store, config, runs))
        finally:
            store.close()
    per_range = {r: median(times[r]) for r in RANGES}
    print("  range switch in app: " + " · ".join(f"{r} {ms:.0f}" for r, ms in per_range.items()) + " ms", flush=True)
    return median([t for r in RANGES for t in times[r]]), max(per_range.values())


PRUNE = """
import json, sys, time
from monitor import retention
from monitor.config import load_config
from storage import Store

store = Store.open(sys.argv[1])
t0 = time.perf_counter()
report = retention.prune(store, load_config(sys.argv[2]))
store.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
store.close()
print(json.dumps([time.perf_counter() - t0, report.longest_batch_ms]))
"""


def prune(db: Path) -> tuple[float, float]:
    """Default retention on the database: (seconds, longest batch in ms), in a process of its own as `tokentape
    collect` runs it, not in this one, which has synthesised the database and run the app in process."""
    done = subprocess.run(
        [PY, "-c", PRUNE, str(db), str(ROOT / "config.toml")], cwd=ROOT, capture_output=True, text=True, check=True
    )
    seconds, longest = json.loads(done.stdout.splitlines()[-1])
    return seconds, longest


def main(spans: list[str], runs: int, keep: Path | None) -> int:
    folder = Path(tempfile.mkdtemp(prefix="tokentape-history-"))
    homes, server = Homes(), TmuxServer()
    rows = []
    try:
        compile_bytecode()
        floor = first_paint(server, homes, None, runs)
        print(f"bare app first paint: {floor.seconds:.3f} s, peak RSS {floor.kb / 1024:.0f} MiB", flush=True)
        snapshot_home, app_home = homes.new(), homes.new()
        for span in spans:
            db = folder / f"{span}.db"
            took = synthesise(db, SPANS[span])
            size_before = db.stat().st_size / 2**20
            counts = table_counts(db)
            print(f"{span}: synthesised in {took:.0f} s, {size_before:.0f} MiB", flush=True)
            print("  rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()), flush=True)
            if keep is not None:
                shutil.copyfile(db, keep / f"tokentape-{span}.db")
            os.sync()  # the synthesis' dirty pages written back now, not during the measurements
            snap, snap_kb = snapshot_runs(db, snapshot_home, runs)
            reload = reload_ms(db, runs)
            paints = []
            for published in (False, True):  # as an older collector leaves it, then as `collect` does now
                if published:
                    publish(db)
                try:
                    paints.append(first_paint(server, homes, db, runs))
                except ScreenTimeout as exc:
                    print(f"{span}: first paint not reached: {str(exc)[:300]}", file=sys.stderr)
                    paints.append(Paint(float("nan"), float("nan"), float("nan")))
            computed, paint = paints
            switch, worst = range_switch(db, app_home, runs)
            prune_s, longest = prune(db)
            size_after = db.stat().st_size / 2**20
            rows.append(
                {
                    "span": span,
                    "quotes": counts["quotes"],
                    "took": took,
                    "before": size_before,
                    "after": size_after,
                    "snap": snap,
                    "snap_kb": snap_kb,
                    "paint": paint.seconds / floor.seconds,
                    "computed": computed.seconds / floor.seconds,
                    "paint_kb": paint.kb,
                    "settled_kb": paint.settled_kb,
                    "reload": reload,
                    "switch": switch,
                    "worst": worst,
                    "prune": prune_s,
                    "longest": longest,
                }
            )
            print(f"  {rows[-1]}", flush=True)
            db.unlink()
    finally:
        server.close()
        homes.close()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\nbare app: first paint {floor.seconds:.3f} s, peak RSS {floor.kb / 1024:.0f} MiB at paint")
    print(
        "\n| history | rows in quotes | synthesis | DB before | DB after retention | snapshot json | RSS snapshot "
        f"| first paint (x bare): published / computed | RSS first paint ({SETTLE:g} s later) | reload "
        "| range switch (slowest range) | prune (longest batch) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['span']} | {r['quotes'] / 1e6:.2f} M | {r['took']:.0f} s | {r['before']:.0f} MiB "
            f"| {r['after']:.0f} MiB | {r['snap']:.2f} s | {r['snap_kb'] / 1024:.0f} MiB "
            f"| {r['paint']:.2f}x / {r['computed']:.2f}x "
            f"| {r['paint_kb'] / 1024:.0f} MiB ({r['settled_kb'] / 1024:.0f} MiB) | {r['reload']:.1f} ms "
            f"| {r['switch']:.0f} ms ({r['worst']:.0f} ms) | {r['prune']:.1f} s ({r['longest']:.0f} ms) |"
        )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", default="1m,1y,3y")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep each synthesised database here, as tokentape-<span>.db")
    args = parser.parse_args()
    sys.exit(main(args.spans.split(","), args.runs, args.keep))
