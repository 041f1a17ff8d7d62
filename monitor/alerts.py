"""Alerts: rules from the config, evaluated where the data lands, fired once, delivered off the UI loop.

A rule is written as a trader reads it ("0100.HK change_pct_1d <= -5", percent and pp) and converted
once, when the config loads, into an `AlertRule` holding the fractions the engine compares.

The `AlertEngine` belongs to a `Collector` (monitor/jobs.py): after each job commits, the rules that
read that job's tables are evaluated on the stored, aggregated data (polars), in a worker thread, never
in a render path. A read-only dashboard has no collector, so it shows alerts but never sends them.

Exactly once: each rule's side of its condition lives in `alert_state`, and every firing is a row of
`alert_events` with UNIQUE(rule_key, transition); the decision and the row are one write transaction
(BEGIN IMMEDIATE), so restarts, re-fetches and two processes on one database cannot fire a transition
twice. A rule fires on the transition into its condition; after the condition clears it may fire again
once `cooldown` has passed since its last firing (a return within the cooldown fires when it ends, if
the condition still holds). `crosses_above`/`crosses_below` also need the rule's previous observation
on the other side of the threshold.

Delivery: `screen` (toast and alerts panel) and `bell` are the dashboard's to show; every other target
is an apprise URL, sent in a thread with a timeout and retried with backoff, each attempt recorded on
the event. URLs are stored and shown only masked (apprise's privacy form), so secrets stay out of the
database, logs, screen and exports.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import msgspec
from msgspec import Meta

if TYPE_CHECKING:
    import polars as pl

    from monitor.config import Config
    from storage import Store

log = logging.getLogger("tokentape.alerts")

PRICE_METRICS = ("price", "market_cap", "change_pct_1d", "change_pct_intraday")
TOKEN_METRICS = ("token_share", "token_share_change_7d", "rank")
EVENTS = ("model_enters_top", "stale")
OPS = ("<=", ">=", "crosses_above", "crosses_below")
LOCAL_TARGETS = ("screen", "bell")
# How each threshold is written -> (unit shown, factor to the engine's number). Percent and pp become fractions.
UNITS: dict[str, tuple[str, float]] = {
    "price": ("", 1.0),
    "market_cap": ("", 1.0),
    "change_pct_1d": ("%", 0.01),
    "change_pct_intraday": ("%", 0.01),
    "token_share": ("%", 0.01),
    "token_share_change_7d": ("pp", 0.01),
    "rank": ("", 1.0),
    "model_enters_top": ("", 1.0),
    "stale": ("min", 60.0),
}
SIGNED = {"change_pct_1d", "change_pct_intraday", "token_share_change_7d"}
# The tables each kind of rule reads: a job that writes one of them triggers the rule's evaluation.
RULE_TABLES = {
    "price": frozenset({"quotes", "daily_bars", "instruments"}),
    "token": frozenset({"token_daily"}),
    "model_enters_top": frozenset({"token_daily"}),
    "stale": frozenset({"polls"}),  # every poll: a source that stops still records failed polls
}
STALE_SOURCES = ("yahoo", "openrouter")  # the upstreams jobs poll (Tencent only backs Yahoo up)
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


# -- rules as written ([[alert]] in the config) ---------------------------------------------------------

_Metric = Annotated[
    Literal[
        "price", "market_cap", "change_pct_1d", "change_pct_intraday", "token_share", "token_share_change_7d", "rank"
    ],
    Meta(description=f"must be one of {', '.join(PRICE_METRICS + TOKEN_METRICS)}"),
]
_Event = Annotated[Literal["model_enters_top", "stale"], Meta(description="must be model_enters_top or stale")]
_Op = Annotated[
    Literal["<=", ">=", "crosses_above", "crosses_below"], Meta(description=f"must be one of {', '.join(OPS)}")
]
_Source = Annotated[Literal["yahoo", "openrouter"], Meta(description="must be yahoo or openrouter")]
_Duration = Annotated[
    str, Meta(pattern=r"^\s*\d+\s*[smhd]\s*$", description='must be a duration like "90s", "30m", "4h" or "1d"')
]
_Target = Annotated[
    str,
    Meta(
        pattern=r"^(?:screen|bell|[A-Za-z][A-Za-z0-9+.\-]*://\S+)$",
        description='must be "screen", "bell" or an apprise URL like "ntfy://topic"',
    ),
]
_Text = Annotated[str, Meta(pattern=r"\S", description="must not be empty")]


class AlertSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One [[alert]] table as written."""

    name: _Text | None = None
    symbol: _Text | None = None
    maker: _Text | None = None
    model: _Text | None = None
    source: _Source | None = None
    metric: _Metric | None = None
    event: _Event | None = None
    op: _Op | None = None
    value: float | None = None
    cooldown: _Duration = "1h"
    notify: tuple[_Target, ...] = ("screen",)


class RuleError(Exception):
    """A rule broken at `key`; the config turns it into its one-line file:line: [alert[i]] key: message."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key, self.message = key, message


class AlertRule(msgspec.Struct, frozen=True, kw_only=True):
    """A rule as the engine uses it: thresholds in the engine's units (fractions, seconds)."""

    name: str
    expression: str  # the canonical one-line form, e.g. "0100.HK change_pct_1d <= -5"
    kind: Literal["price", "token", "model_enters_top", "stale"]
    subject_kind: Literal["symbol", "maker", "model", "source"]
    subject: str
    metric: str  # the metric, or the event's name
    op: str
    threshold: float
    cooldown: float  # seconds
    notify: tuple[str, ...]

    @property
    def key(self) -> str:
        """Identity of the rule's state and firings: a changed definition starts afresh."""
        return f"{self.name}|{self.expression}"

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(t for t in self.notify if t not in LOCAL_TARGETS)

    @property
    def tables(self) -> frozenset[str]:
        return RULE_TABLES[self.kind]

    @property
    def unit(self) -> str:
        return UNITS[self.metric][0]

    def holds(self, value: float) -> bool:
        """Whether `value` is on the rule's side of the threshold."""
        return value <= self.threshold if self.op in ("<=", "crosses_below") else value >= self.threshold


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if not match:
        raise RuleError("cooldown", f'must be a duration like "30m", "4h" or "1d" (got {text!r})')
    return float(int(match.group(1)) * DURATION_UNITS[match.group(2)])


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e15 else f"{value:.0f}"


def to_rule(spec: AlertSpec, symbols: Iterable[str] = ()) -> AlertRule:
    """Check one written rule and convert it once; raises RuleError naming the key at fault."""
    subjects = {k: getattr(spec, k) for k in ("symbol", "maker", "model", "source") if getattr(spec, k) is not None}
    if spec.metric is None and spec.event is None:
        metrics, events = ", ".join(PRICE_METRICS + TOKEN_METRICS), ", ".join(EVENTS)
        raise RuleError("metric", f"set metric ({metrics}) or event ({events})")
    if spec.metric is not None and spec.event is not None:
        raise RuleError("event", "set either metric or event, not both")
    metric = spec.metric or spec.event
    assert metric is not None
    allowed: tuple[str, ...]
    if metric in PRICE_METRICS:
        kind, allowed = "price", ("symbol",)
    elif metric in TOKEN_METRICS:
        kind, allowed = "token", ("maker", "model")
    elif metric == "model_enters_top":
        kind, allowed = "model_enters_top", ("maker",)
    else:
        kind, allowed = "stale", ("source",)
    extra = [k for k in subjects if k not in allowed]
    if extra:
        raise RuleError(extra[0], f"not used by {metric} (it takes {' or '.join(allowed)})")
    if len(subjects) != 1:
        key = allowed[0] if not subjects else list(subjects)[1]
        raise RuleError(key, f"{metric} needs exactly one of: {', '.join(allowed)}")
    subject_kind, subject = next(iter(subjects.items()))
    symbols = set(symbols)
    if subject_kind == "symbol" and symbols and subject not in symbols:
        raise RuleError("symbol", f"{subject!r} is not in the watchlist ([[company]] symbols)")
    if kind in ("price", "token"):
        if spec.op is None:
            raise RuleError("op", f"missing: one of {', '.join(OPS)}")
        if spec.value is None:
            raise RuleError("value", "missing: the threshold")
        op, value = spec.op, spec.value
    else:
        if spec.op is not None:
            raise RuleError("op", f"the {metric} event takes no op, only value")
        if metric == "model_enters_top":
            value = 50.0 if spec.value is None else spec.value
            if value != int(value) or not 1 <= value <= 50:
                raise RuleError("value", f"must be a whole rank from 1 to 50 (got {_number(value)})")
        else:
            if spec.value is None or spec.value <= 0:
                raise RuleError("value", "must be the minutes after which a source counts as stale (> 0)")
            value = spec.value
        op = ">="
    if metric == "rank" and value != int(value):
        raise RuleError("value", f"a rank is a whole number (got {_number(value)})")
    cooldown = parse_duration(spec.cooldown)
    prefix = subject if subject_kind == "symbol" else f"{subject_kind}:{subject}"
    comparison = f"{op} " if kind in ("price", "token") else ""
    expression = f"{prefix} {metric} {comparison}{_number(value)}"
    return AlertRule(
        name=spec.name.strip() if spec.name else expression,
        expression=expression,
        kind=kind,  # type: ignore[arg-type]  # one of the four, by the branches above
        subject_kind=subject_kind,  # type: ignore[arg-type]
        subject=subject,
        metric=metric,
        op=op,
        threshold=value * UNITS[metric][1],
        cooldown=cooldown,
        notify=tuple(dict.fromkeys(spec.notify)),
    )


def parse_expression(text: str) -> dict[str, Any]:
    """`alerts add` text -> the [[alert]] table that says the same. For example: "0100.HK change_pct_1d <= -5",
    "maker:z-ai token_share crosses_above 10", "model:minimax/minimax-m2.5 rank <= 10",
    "maker:z-ai model_enters_top 50", "source:yahoo stale 15"."""
    words = text.split()
    if len(words) not in (3, 4):
        raise RuleError("expression", f'expected "SUBJECT METRIC OP VALUE" or "SUBJECT EVENT VALUE", got {text!r}')
    subject, metric = words[0], words[1]
    kind, _, name = subject.partition(":")
    table: dict[str, Any] = {"symbol": subject} if not name else {}
    if name:
        if kind not in ("maker", "model", "source"):
            raise RuleError("expression", f"subject {subject!r}: write SYMBOL, maker:SLUG, model:SLUG or source:NAME")
        table[kind] = name
    if len(words) == 4:
        table["metric"], table["op"] = metric, words[2]
    else:
        table["event"] = metric
    try:
        table["value"] = float(words[-1])
    except ValueError:
        raise RuleError("expression", f"value {words[-1]!r} is not a number") from None
    return table


def rule_from_table(table: Mapping[str, Any], symbols: Iterable[str] = ()) -> AlertRule:
    """A rule from a plain table (the demo's, an `alerts add`), checked exactly as the config checks it."""
    try:
        spec = msgspec.convert(dict(table), AlertSpec)
    except msgspec.ValidationError as exc:
        what, _, at = str(exc).partition(" - at `$")
        key = re.split(r"[.\[]", at.strip("`."))[0] or "alert"
        kind = next((f.type for f in msgspec.structs.fields(AlertSpec) if f.name == key), None)
        raise RuleError(key, f"{_description(kind) or what} (got {table.get(key)!r})") from None
    return to_rule(spec, symbols)


def _description(kind: Any) -> str | None:
    """The Meta description inside a field's type (through `X | None`, Annotated and tuple[X, ...])."""
    for arg in get_args(kind):
        if isinstance(arg, Meta) and arg.description:
            return arg.description
    return next((d for d in (_description(a) for a in get_args(kind)) if d), None)


# -- showing values ---------------------------------------------------------------------------------------


def show(metric: str, value: float | None) -> str:
    """An engine number as a trader reads it: -0.0612 -> "-6.12%", 0.0198 (7d) -> "+1.98pp", 900 s -> "15 min"."""
    if value is None:
        return "—"
    unit, factor = UNITS.get(metric, ("", 1.0))
    shown = value / factor
    if unit == "min":
        return f"{shown:,.0f} min"
    if unit:
        return f"{shown:+.2f}{unit}" if metric in SIGNED else f"{shown:.2f}{unit}"
    if metric in ("rank", "model_enters_top"):
        return f"{shown:.0f}"
    return f"{shown:,.2f}" if abs(shown) < 1e6 else f"{shown:,.0f}"


@cache
def mask(target: str) -> str:
    """A target as it may be stored, logged and shown: apprise's privacy form, without its query string."""
    if target in LOCAL_TARGETS:
        return target
    scheme = target.split("://", 1)[0]
    try:
        import apprise

        plugin = apprise.Apprise.instantiate(target, suppress_exceptions=True)
    except Exception:
        plugin = None
    if plugin is None:
        return f"{scheme}://***"
    return str(plugin.url(privacy=True)).split("?", 1)[0].rstrip("/")  # type: ignore[no-untyped-call]


def scrub(text: str, targets: Iterable[str]) -> str:
    """Remove every part of a target URL that its masked form hides (tokens, passwords) from `text`."""
    for target in targets:
        shown = mask(target)
        for part in sorted(set(re.split(r"[:/@?&=#,]+", target)), key=len, reverse=True):
            if len(part) >= 4 and part not in shown:
                text = text.replace(part, "***")
    return text


# -- the engine -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    value: float
    data_time: str  # the time of the data observed: a quote's time, a token day, a source's last success
    subject: str


@dataclass(frozen=True)
class Fired:
    """One firing, as committed to alert_events."""

    id: int
    rule: AlertRule
    subject: str
    value: float
    data_time: str
    fired_at: float
    message: str


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Observations:
    """What a rule observes, read from the store: a price move, a token share or rank, a source's age."""

    config: Config
    store: Store
    job_upstreams: dict[str, str]

    def _observe(self, rule: AlertRule, now: float) -> Observation | None:
        if rule.kind == "price":
            return self._price(rule)
        if rule.kind == "token":
            return self._token(rule)
        return self._staleness(rule, now)

    def _price(self, rule: AlertRule) -> Observation | None:
        import polars as pl

        from monitor.analytics import market_view

        store, symbol = self.store, rule.subject
        instrument = store.instruments().filter(pl.col("symbol") == symbol)
        if instrument.is_empty():
            return None
        bars = store.frame("daily_bars", "symbol = ?", (symbol,), order="date")
        view = market_view(
            instrument, store.latest_quotes([symbol]), bars, store.latest_fx(), self.config.display_currency
        ).row(0, named=True)
        price, price_date = view["price"], view["price_date"]
        if price is None or price_date is None:
            return None
        data_time = _iso(view["price_time"]) if view["price_time"] is not None else str(price_date)
        value: float | None
        if rule.metric == "price":
            value = price
        elif rule.metric == "market_cap":
            value = view["market_cap"]
        elif rule.metric == "change_pct_1d":
            value = view["change_pct"]
        else:
            opening = self._open(symbol, str(price_date), view["market"], bars)
            value = price / opening - 1.0 if opening else None
        return None if value is None else Observation(float(value), data_time, symbol)

    def _open(self, symbol: str, day: str, market: str, bars: pl.DataFrame) -> float | None:
        """Today's open: the day's bar's open, else the first stored quote of that trading day."""
        import polars as pl

        from monitor.markets import MARKET_ZONES

        bar = bars.filter((pl.col("date") == day) & pl.col("open").is_not_null())
        if not bar.is_empty():
            return float(bar["open"][0])
        start = datetime.combine(date.fromisoformat(day), time(0), MARKET_ZONES.get(market, MARKET_ZONES["HK"]))
        quotes = self.store.quotes_since([symbol], int(start.timestamp()))
        quotes = quotes.filter((pl.col("ts") < int(start.timestamp()) + 86400) & pl.col("price").is_not_null())
        return float(quotes["price"][0]) if not quotes.is_empty() else None

    def _token(self, rule: AlertRule) -> Observation | None:
        import polars as pl

        from monitor.analytics import maker_share, model_share

        latest = self.store.latest_token_date()
        if latest is None:
            return None
        since = (date.fromisoformat(latest) - timedelta(days=8)).isoformat()
        daily = self.store.token_daily(since)
        unattributed = self.config.unattributed_authors
        if rule.subject_kind == "maker":
            share = maker_share(daily, {}, unattributed).filter(pl.col("maker_id") == rule.subject)
        else:
            pattern = f"^{re.escape(rule.subject)}(?:-\\d{{8}})?$"  # the permaslug adds a release date
            share = model_share(daily, {}, unattributed).filter(pl.col("model_permaslug").str.contains(pattern))
        row = share.filter(pl.col("date") == date.fromisoformat(latest)).head(1)
        if row.is_empty():
            return None  # not in the export's top 50 that day: unknown, not zero
        column = {"token_share": "share", "token_share_change_7d": "d_share_7d", "rank": "rank"}[rule.metric]
        value = row[column][0]
        subject = rule.subject if rule.subject_kind == "maker" else str(row["model_permaslug"][0])
        return None if value is None else Observation(float(value), latest, subject)

    def _staleness(self, rule: AlertRule, now: float) -> Observation | None:
        """Seconds since the source's newest successful poll, while a watched market trades (prices only)."""
        from monitor.markets import market_state

        if rule.subject != "openrouter":
            at = datetime.fromtimestamp(now, UTC)
            markets = {c.market for c in self.config.companies}
            if not any(market_state(self.config.markets[m], at).is_trading for m in markets):
                return None
        jobs = [job for job, upstream in self.job_upstreams.items() if upstream == rule.subject]
        polls = self.store.latest_polls()
        last_ok = [t for job, t in zip(polls["job"], polls["last_ok"], strict=True) if job in jobs and t is not None]
        if not last_ok:
            return None  # it never worked: nothing has stopped
        newest = max(last_ok)
        return Observation(now - newest, _iso(newest), rule.subject)


class AlertEngine(_Observations):
    # Waits before each retry of a failed delivery: four attempts over ~2.5 minutes, then it gives up.
    backoff: tuple[float, ...] = (5.0, 30.0, 120.0)
    timeout = 10.0  # seconds to connect and to read, per attempt

    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Callable[[], float],
        job_upstreams: Mapping[str, str],
        rules: Iterable[AlertRule] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.job_upstreams = dict(job_upstreams)
        self.rules = tuple(config.alerts if rules is None else rules)
        self.listeners: list[Callable[[Fired], None]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # -- evaluation (in a worker thread) ------------------------------------------------------------------

    def evaluate(self, tables: Iterable[str]) -> list[Fired]:
        """Evaluate every rule that reads one of `tables`; one broken rule never stops the others or the job."""
        tables = set(tables)
        fired: list[Fired] = []
        for rule in self.rules:
            if rule.tables & tables:
                try:
                    fired += self._evaluate(rule, self.clock())
                except Exception:
                    log.exception("alert %r could not be evaluated", rule.name)
        return fired

    def _evaluate(self, rule: AlertRule, now: float) -> list[Fired]:
        if rule.kind == "model_enters_top":
            return self._entrants(rule, now)
        obs = self._observe(rule, now)
        if obs is None:
            return []
        with self.store.transaction() as conn:
            state = self.store.alert_state(rule.key, conn) or {}
            before = state.get("in_cond")
            holds = rule.holds(obs.value)
            episode, fired = int(state.get("episode") or 0), int(state.get("fired") or 0)
            if holds and before != 1:  # into the condition: a new transition
                episode += 1
                crossing = rule.op.startswith("crosses")
                fired = 1 if crossing and before != 0 else 0  # a cross needs an observation on the other side
            elif not holds:
                fired = 0
            last_fired = state.get("last_fired")
            event: Fired | None = None
            if holds and not fired and (last_fired is None or now - last_fired >= rule.cooldown):
                event = self._fire(rule, obs, now, f"#{episode}", conn)
                fired, last_fired = 1, now
            self.store.upsert(
                "alert_state",
                [
                    {
                        "rule_key": rule.key,
                        "in_cond": int(holds),
                        "fired": fired,
                        "episode": episode,
                        "last_fired": last_fired,
                        "last_value": obs.value,
                        "data_time": obs.data_time,
                        "updated": now,
                    }
                ],
                conn,
            )
        return [event] if event else []

    def _fire(self, rule: AlertRule, obs: Observation, now: float, transition: str, conn: Any) -> Fired | None:
        if rule.kind == "model_enters_top":
            message = f"{rule.name}: {obs.subject} entered the top {show(rule.metric, rule.threshold)} "
            message += f"(rank {obs.value:.0f}) on {obs.data_time}"
        elif rule.kind == "stale":
            message = f"{rule.name}: {obs.subject} has no new data for {show('stale', obs.value)} "
            message += f"(rule {show('stale', rule.threshold)}) · last data {obs.data_time}"
        else:
            maker = self.config.makers.get(obs.subject) if rule.subject_kind == "maker" else None
            subject = f"{maker} ({obs.subject})" if maker else obs.subject
            message = f"{rule.name}: {subject} {rule.metric} {show(rule.metric, obs.value)} "
            message += f"(rule {rule.op} {show(rule.metric, rule.threshold)}) · data {obs.data_time}"
        event_id = self.store.add_alert_event(
            {
                "rule": rule.name,
                "rule_key": rule.key,
                "transition": transition,
                "subject": obs.subject,
                "metric": rule.metric,
                "op": rule.op,
                "value": obs.value,
                "threshold": rule.threshold,
                "unit": rule.unit,
                "data_time": obs.data_time,
                "fired_at": now,
                "message": message,
                "notify": json.dumps([mask(t) for t in rule.notify]),
                "delivered_to": json.dumps([t for t in rule.notify if t in LOCAL_TARGETS]),
                "delivery_error": None,
                "attempts": 0,
            },
            conn,
        )
        if event_id is None:  # this transition fired already (another process got there first)
            return None
        log.info("alert fired: %s", message)
        return Fired(event_id, rule, obs.subject, obs.value, obs.data_time, now, message)

    def _entrants(self, rule: AlertRule, now: float) -> list[Fired]:
        """Models of the maker in the top N on a newly stored day that were not on the stored day before.
        The rule's first evaluation only notes the newest day: a fresh database or a backfill fires nothing."""
        import polars as pl

        newest = self.store.latest_token_date()
        if newest is None:
            return []
        events: list[Fired] = []
        with self.store.transaction() as conn:
            state = self.store.alert_state(rule.key, conn) or {}
            seen = state.get("data_time")
            last_fired = state.get("last_fired")
            if seen is not None and newest > seen:
                daily = self.store.token_daily(seen)  # from the last day already seen: the "day before" of each new one
                days = sorted(set(daily["date"].to_list()))
                top = daily.filter((pl.col("author") == rule.subject) & (pl.col("rank") <= rule.threshold))
                for before, day in itertools.pairwise(days):
                    if day <= seen:
                        continue
                    earlier = set(top.filter(pl.col("date") == before)["model_permaslug"].to_list())
                    for row in top.filter(pl.col("date") == day).iter_rows(named=True):
                        if row["model_permaslug"] in earlier:
                            continue
                        if last_fired is not None and now - last_fired < rule.cooldown:
                            continue
                        obs = Observation(float(row["rank"]), day, row["model_permaslug"])
                        event = self._fire(rule, obs, now, f"{row['model_permaslug']}@{day}", conn)
                        if event:
                            events.append(event)
                            last_fired = now
            self.store.upsert(
                "alert_state",
                [
                    {
                        "rule_key": rule.key,
                        "in_cond": None,
                        "fired": None,
                        "episode": None,
                        "last_fired": last_fired,
                        "last_value": None,
                        "data_time": max(newest, seen or newest),
                        "updated": now,
                    }
                ],
                conn,
            )
        return events

    # -- after a job (on the event loop) ------------------------------------------------------------------

    async def after_poll(self, tables: Iterable[str]) -> list[Fired]:
        """Evaluate in a thread, then start each firing's deliveries in the background. Never raises."""
        try:
            fired = await asyncio.to_thread(self.evaluate, frozenset(tables))
        except Exception:
            log.exception("alert evaluation failed")
            return []
        for event in fired:
            if event.rule.urls:
                task = asyncio.create_task(self.deliver(event), name=f"alert-{event.id}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            for listener in list(self.listeners):
                try:
                    listener(event)
                except Exception:
                    log.exception("an alert listener failed")
        return fired

    async def deliver(self, event: Fired) -> None:
        """Send to each URL; retry the failed ones with backoff; record every attempt on the event."""
        urls = event.rule.urls
        title = f"tokentape: {event.rule.name}"
        delivered: list[str] = []
        waits = (0.0, *self.backoff)
        for attempt, wait in enumerate(waits, start=1):
            if wait:
                await asyncio.sleep(wait)
            errors = []
            for url in urls:
                if url in delivered:
                    continue
                try:
                    problem = await asyncio.wait_for(
                        asyncio.to_thread(send, url, title, event.message, self.timeout), 2 * self.timeout + 5
                    )
                except TimeoutError:
                    problem = f"no answer within {2 * self.timeout + 5:g} s"
                if problem is None:
                    delivered.append(url)
                else:
                    errors.append(f"{mask(url)}: {problem}")
            error = "; ".join(errors) or None
            if error:
                error += f" (attempt {attempt}; " + (
                    f"retrying in {waits[attempt]:g} s)" if attempt < len(waits) else "gave up)"
                )
                log.warning("alert %r: delivery failed: %s", event.rule.name, error)
            sent = [t for t in event.rule.notify if t in LOCAL_TARGETS or t in delivered]
            try:
                await asyncio.to_thread(
                    self.store.record_alert_delivery, event.id, json.dumps([mask(t) for t in sent]), error, attempt
                )
            except Exception:
                log.exception("alert %r: could not record its delivery", event.rule.name)
            if not error:
                return

    async def aclose(self, wait: float = 2.0) -> None:
        """Give deliveries under way up to `wait` seconds, then stop them (what they did is recorded)."""
        tasks = set(self._tasks)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=wait) if wait > 0 else (set(), tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def send(url: str, title: str, body: str, timeout: float) -> str | None:
    """One notification through apprise (blocking: call it in a thread). None on success, else why not,
    with every secret part of the URL removed."""
    import apprise

    logging.getLogger("apprise").propagate = False  # its records can carry parts of a URL; ours are scrubbed
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        return "not a notification URL apprise knows"
    plugin.socket_connect_timeout = plugin.socket_read_timeout = timeout
    with apprise.LogCapture(level=logging.WARNING) as output:  # type: ignore[no-untyped-call]
        ok = plugin.notify(body=body, title=title)
    if ok:
        return None
    reasons = [line.split(" - ", 2)[-1].strip() for line in output.getvalue().splitlines() if line.strip()]
    return scrub(" ".join(reasons[:2]) or "the service did not accept it", [url])


# -- reading what fired (the alerts panel, `tokentape alerts history`) -----------------------------------


@dataclass(frozen=True)
class EventView:
    id: int
    fired_at: float
    rule: str
    subject: str
    value: str
    threshold: str
    data_time: str
    message: str
    notify: tuple[str, ...]
    delivered_to: tuple[str, ...]
    delivery_error: str | None
    attempts: int

    @property
    def undelivered(self) -> tuple[str, ...]:
        return tuple(t for t in self.notify if t not in self.delivered_to)


def event_views(frame: pl.DataFrame) -> list[EventView]:
    return [
        EventView(
            id=row["id"],
            fired_at=row["fired_at"],
            rule=row["rule"],
            subject=row["subject"] or "",
            value=show(row["metric"], row["value"]),
            threshold={"model_enters_top": "top ", "stale": "> "}.get(row["metric"], row["op"] + " ")
            + show(row["metric"], row["threshold"]),
            data_time=row["data_time"] or "",
            message=row["message"] or "",
            notify=tuple(json.loads(row["notify"] or "[]")),
            delivered_to=tuple(json.loads(row["delivered_to"] or "[]")),
            delivery_error=row["delivery_error"],
            attempts=row["attempts"] or 0,
        )
        for row in frame.iter_rows(named=True)
    ]


def day_events(store: Store, now: float) -> tuple[str, list[EventView]]:
    """The events of today (HKT), newest first; on a day without any, those of the newest day that has some."""
    from monitor.markets import HKT

    today = datetime.fromtimestamp(now, HKT).date()
    newest = store.newest_alert_event()
    if newest is None:
        return today.isoformat(), []
    day = datetime.fromtimestamp(newest[1], HKT).date()
    day = today if day >= today else day
    start = datetime.combine(day, time(0), HKT).timestamp()
    return day.isoformat(), event_views(store.alert_events(start, start + 86400))


def newest_event_id(store: Store) -> int:
    newest = store.newest_alert_event()
    return newest[0] if newest else 0


def delivery_problem(events: Iterable[EventView]) -> str | None:
    """One line for the status bar about the newest event whose delivery failed, or None."""
    for event in events:
        if event.delivery_error and event.undelivered:
            return f"alert {event.rule!r} not delivered: {event.delivery_error}"
    return None


# -- `tokentape alerts add/delete`: editing the user's config file, comments kept (tomlkit) ------------------


def add_rule(path: Path, table: Mapping[str, Any], default_text: str) -> AlertRule:
    """Append [[alert]] `table` to the config at `path` (created from `default_text` if absent) and return
    the rule as the new file loads it. Raises RuleError or ConfigError and then writes nothing."""
    import tomlkit

    from monitor.config import parse_config

    text = path.read_text(encoding="utf-8") if path.is_file() else default_text
    symbols = [c.symbol for c in parse_config(text, path).companies]
    rule = rule_from_table(table, symbols)
    doc = tomlkit.parse(text)
    if "alert" not in doc:
        doc.append("alert", tomlkit.aot())
    entry = tomlkit.table()
    for key, value in table.items():
        entry.add(key, list(value) if isinstance(value, tuple) else value)
    doc["alert"].append(entry)
    new_text = tomlkit.dumps(doc)
    config = parse_config(new_text, path)  # the whole file as it will load: names unique, every rule valid
    _write(path, new_text)
    return next(r for r in config.alerts if r.expression == rule.expression and r.name == rule.name)


def delete_rule(path: Path, name: str) -> bool:
    """Remove the [[alert]] named `name` (a rule without a name is named by its expression). False if none."""
    import tomlkit

    from monitor.config import parse_config

    text = path.read_text(encoding="utf-8")
    config = parse_config(text, path)
    index = next((i for i, rule in enumerate(config.alerts) if rule.name == name), None)
    if index is None:
        return False
    doc = tomlkit.parse(text)
    tables = doc["alert"]
    del tables[index]
    if not tables:
        del doc["alert"]
    new_text = tomlkit.dumps(doc)
    parse_config(new_text, path)
    _write(path, new_text)
    return True


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a crash mid-write never leaves half a config."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
