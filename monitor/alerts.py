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

import itertools
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from monitor.alert_rules import LOCAL_TARGETS, AlertRule, mask, scrub, show

if TYPE_CHECKING:
    import asyncio

    import polars as pl

    from monitor.config import Config
    from storage import Store

log = logging.getLogger("tokentape.alerts")


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
        import asyncio  # the engine's alone: loading a config imports no event loop

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
        import asyncio

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
        import asyncio

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
