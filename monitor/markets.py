"""Trading calendars: what an exchange is doing at an instant, and which days it trades.

The trading day's windows come from the config ([markets.HK], [markets.US]); holidays and half days for any
year from the `holidays` package's exchange calendars (XHKG for HKEX, XNYS for NYSE), worked out one year at
a time on first use and kept (in memory, and in the cache dir so later starts skip the package's import).

The package marks half days in its HALF_DAY category: HKEX's Christmas Eve, New Year's Eve and Lunar New
Year's Eve (morning only), NYSE's early closes (13:00 on the day after Thanksgiving, Christmas Eve, 3 July).
On those days trading stops at the market's `half_day_close` and the closing auction, if any, starts then.
For years the package does not cover (HKEX before 2014, any after 2100) it knows no holidays, so every
weekday there counts as a trading day. Typhoon and black-rainstorm closures are not known in advance: add
them to `closures` in the config (the package lists past ones, e.g. 2023-09-08, once released).

States, in the order a trading day passes through them:

    pre-open  orders are taken, nothing trades yet (HKEX 09:00-09:30)
    open      continuous trading
    lunch     between two sessions (HKEX 12:00-13:00)
    auction   the closing auction fixes the close (HKEX 16:00-16:10)
    closed    before and after the day's windows, and weekends
    holiday   a weekday the exchange does not trade: a calendar holiday or a configured closure

`is_open` is continuous trading only: a quote that stops moving then is stale. `is_trading` adds the
pre-open and the closing auction, when prices can still print: the fast polling cadence follows it.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import platformdirs

from monitor import APP_NAME
from monitor.config import MarketConfig

PRE_OPEN, OPEN, LUNCH, AUCTION, CLOSED, HOLIDAY = "pre-open", "open", "lunch", "auction", "closed", "holiday"
HKT = ZoneInfo("Asia/Hong_Kong")
# Where each market's trading dates are taken (HK stocks and Hang Seng indices; US listings).
MARKET_ZONES = {"HK": HKT, "US": ZoneInfo("America/New_York")}


@dataclass(frozen=True)
class MarketState:
    market: str
    state: str
    local_time: datetime

    @property
    def is_open(self) -> bool:
        """Continuous trading: the last price should be moving."""
        return self.state == OPEN

    @property
    def is_trading(self) -> bool:
        """Prices may print: the pre-open, continuous trading or the closing auction."""
        return self.state in (PRE_OPEN, OPEN, AUCTION)


def market_state(market: MarketConfig, now: datetime) -> MarketState:
    local = now.astimezone(market.zone)
    day = local.date()
    if day.weekday() >= 5:
        return MarketState(market.name, CLOSED, local)
    if not is_trading_day(market, day):
        return MarketState(market.name, HOLIDAY, local)
    clock = local.time()
    windows = _windows(market, day)
    state = next((name for start, end, name in windows if start <= clock < end), None)
    if state is None:
        sessions = [(start, end) for start, end, name in windows if name == OPEN]
        state = LUNCH if sessions[0][0] <= clock < sessions[-1][1] else CLOSED
    return MarketState(market.name, state, local)


def is_trading_day(market: MarketConfig, day: date) -> bool:
    """A weekday that is neither a holiday in the market's calendar nor one of the configured closures."""
    return day.weekday() < 5 and day not in market.closures and day not in _calendar(market.calendar, day.year)[0]


def is_half_day(market: MarketConfig, day: date) -> bool:
    """A trading day the calendar shortens (see the module docstring for which days the package marks)."""
    return is_trading_day(market, day) and day in _calendar(market.calendar, day.year)[1]


def _windows(market: MarketConfig, day: date) -> list[tuple[time, time, str]]:
    """The trading day's windows in order, shortened on a half day."""
    sessions, auction, cut = market.sessions, market.closing_auction, market.half_day_close
    if cut is not None and is_half_day(market, day):
        sessions = tuple((start, min(end, cut)) for start, end in sessions if start < cut)
        if auction:  # the same auction, moved to start at the early close
            length = datetime.combine(day, auction[1]) - datetime.combine(day, auction[0])
            auction = (cut, (datetime.combine(day, cut) + length).time())
    windows = [(*market.pre_open, PRE_OPEN)] if market.pre_open else []
    windows += [(start, end, OPEN) for start, end in sessions]
    if auction:
        windows.append((*auction, AUCTION))
    return windows


# The years monitor/calendars.json carries (scripts/build_calendars.py writes it from the package).
SEEDED_YEARS = range(2024, 2031)
CALENDARS_FILE = Path(__file__).with_name("calendars.json")


@functools.cache
def _calendar(calendar: str, year: int) -> tuple[frozenset[date], frozenset[date]]:
    """(full-day holidays, half days) of one exchange calendar ("XHKG", "XNYS") in one year.

    Importing the holidays package costs ~0.13 s (it loads every country and exchange it knows), a third of
    the start-up budget, so each year's answer is kept in the cache dir under the package's version: after
    the first run, a start reads a few hundred bytes instead, and a new package version recomputes. A fresh
    home's first start reads the bundled monitor/calendars.json, written by the same package version.
    """
    path = platformdirs.user_cache_path(APP_NAME) / f"calendar-{calendar}-{year}-holidays{_holidays_version()}.json"
    try:
        return _decode(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        pass  # not kept yet, or unreadable
    seeded = _bundled(calendar, year)
    if seeded is not None:
        return seeded
    full, half = compute_calendar(calendar, year)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps([sorted(map(str, full)), sorted(map(str, half))]), encoding="utf-8")
        partial.replace(path)  # readers never see half a file
    except OSError:
        pass  # the copy only saves start-up time
    return full, half


def compute_calendar(calendar: str, year: int) -> tuple[frozenset[date], frozenset[date]]:
    """The holidays package's answer, with no cache: (full-day holidays, half days)."""
    import holidays

    full = frozenset(holidays.financial_holidays(calendar, years=year))
    half = frozenset(holidays.financial_holidays(calendar, years=year, categories=(holidays.HALF_DAY,)))
    return full, half


def _bundled(calendar: str, year: int) -> tuple[frozenset[date], frozenset[date]] | None:
    """The bundled calendar's answer, if it was written by the installed package version (else None)."""
    bundled = _bundled_file()
    try:
        if bundled["holidays"] != _holidays_version():
            return None
        return _decode(bundled["calendars"][calendar][str(year)])
    except (ValueError, TypeError, KeyError):
        return None


@functools.cache
def _bundled_file() -> dict[str, Any]:
    try:
        return dict(json.loads(CALENDARS_FILE.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return {}


def _decode(days: list[list[str]]) -> tuple[frozenset[date], frozenset[date]]:
    full_days, half_days = days
    return frozenset(map(date.fromisoformat, full_days)), frozenset(map(date.fromisoformat, half_days))


@functools.cache
def _holidays_version() -> str:
    """The installed package's version, read from its dist-info folder's name: importlib.metadata would cost
    ~25 ms of import on the UI loop before the first paint, for the same fact."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("holidays")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        found = list(Path(spec.origin).parent.parent.glob("holidays-*.dist-info"))
        if len(found) == 1:
            return found[0].name.removeprefix("holidays-").removesuffix(".dist-info")
    from importlib.metadata import version

    return version("holidays")
