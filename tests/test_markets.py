"""Trading calendars and job scheduling: what decides how often quotes are polled."""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.config import ConfigError, load_config, parse_config
from monitor.markets import is_half_day, is_trading_day, market_state
from tests.conftest import ROOT

HKT = ZoneInfo("Asia/Hong_Kong")
NY = ZoneInfo("America/New_York")
DEFAULT = (ROOT / "config.toml").read_text(encoding="utf-8")

# The weekday holidays the config listed by hand for 2026 (from HKEX's and NYSE's published calendars),
# before the calendars came from the holidays package: each must still be a holiday.
HKEX_2026 = [
    "2026-01-01",
    "2026-02-17",
    "2026-02-18",
    "2026-02-19",
    "2026-04-03",
    "2026-04-06",
    "2026-04-07",
    "2026-05-01",
    "2026-05-25",
    "2026-06-19",
    "2026-07-01",
    "2026-10-01",
    "2026-10-19",
    "2026-12-25",
]
NYSE_2026 = [
    "2026-01-01",
    "2026-01-19",
    "2026-02-16",
    "2026-04-03",
    "2026-05-25",
    "2026-06-19",
    "2026-07-03",
    "2026-09-07",
    "2026-11-26",
    "2026-12-25",
]


@pytest.mark.parametrize(
    "local, market, state",
    [
        (datetime(2026, 10, 8, 8, 59, tzinfo=HKT), "HK", "closed"),  # Thursday, before the pre-open
        (datetime(2026, 10, 8, 9, 0, tzinfo=HKT), "HK", "pre-open"),
        (datetime(2026, 10, 8, 9, 15, tzinfo=HKT), "HK", "pre-open"),  # orders taken, nothing trades yet
        (datetime(2026, 10, 8, 9, 30, tzinfo=HKT), "HK", "open"),
        (datetime(2026, 10, 8, 10, 0, tzinfo=HKT), "HK", "open"),  # morning session
        (datetime(2026, 10, 8, 12, 30, tzinfo=HKT), "HK", "lunch"),  # HKEX lunch break
        (datetime(2026, 10, 8, 15, 59, tzinfo=HKT), "HK", "open"),
        (datetime(2026, 10, 8, 16, 0, tzinfo=HKT), "HK", "auction"),  # closing auction session
        (datetime(2026, 10, 8, 16, 5, tzinfo=HKT), "HK", "auction"),
        (datetime(2026, 10, 8, 16, 10, tzinfo=HKT), "HK", "closed"),
        (datetime(2026, 10, 8, 16, 15, tzinfo=HKT), "HK", "closed"),
        (datetime(2026, 10, 10, 11, 0, tzinfo=HKT), "HK", "closed"),  # Saturday
        (datetime(2026, 10, 1, 11, 0, tzinfo=HKT), "HK", "holiday"),  # National Day
        (datetime(2027, 2, 8, 10, 0, tzinfo=HKT), "HK", "holiday"),  # Lunar New Year 2027: no year is typed in
        (datetime(2027, 2, 10, 10, 0, tzinfo=HKT), "HK", "open"),  # ... and trading resumes after it
        (datetime(2026, 12, 24, 11, 0, tzinfo=HKT), "HK", "open"),  # Christmas Eve: morning only
        (datetime(2026, 12, 24, 12, 5, tzinfo=HKT), "HK", "auction"),  # ... its closing auction starts at noon
        (datetime(2026, 12, 24, 12, 30, tzinfo=HKT), "HK", "closed"),  # ... and no afternoon (not "lunch")
        (datetime(2027, 2, 5, 14, 0, tzinfo=HKT), "HK", "closed"),  # Lunar New Year's Eve 2027, afternoon
        (datetime(2026, 10, 8, 9, 15, tzinfo=NY), "US", "closed"),  # no pre-open configured for NYSE
        (datetime(2026, 10, 8, 10, 0, tzinfo=NY), "US", "open"),
        (datetime(2026, 10, 8, 12, 30, tzinfo=NY), "US", "open"),  # no lunch break in New York
        (datetime(2026, 10, 8, 16, 0, tzinfo=NY), "US", "closed"),
        (datetime(2026, 11, 26, 10, 0, tzinfo=NY), "US", "holiday"),  # Thanksgiving
        (datetime(2026, 11, 27, 12, 59, tzinfo=NY), "US", "open"),  # the day after: NYSE closes at 13:00
        (datetime(2026, 11, 27, 13, 0, tzinfo=NY), "US", "closed"),
        (datetime(2027, 7, 5, 10, 0, tzinfo=NY), "US", "holiday"),  # Independence Day 2027, observed Monday
    ],
)
def test_market_state(local, market, state):
    config = load_config()
    assert market_state(config.markets[market], local).state == state


@pytest.mark.parametrize("market, days", [("HK", HKEX_2026), ("US", NYSE_2026)])
def test_the_2026_holidays_once_typed_by_hand_are_still_holidays(market, days):
    config = load_config().markets[market]
    zone = HKT if market == "HK" else NY
    for day in days:
        noon = datetime.combine(date.fromisoformat(day), datetime.min.time(), zone) + timedelta(hours=11)
        assert market_state(config, noon).state == "holiday", day
        assert not is_trading_day(config, date.fromisoformat(day)), day


@pytest.mark.parametrize(
    "local, is_open, is_trading",
    [
        (datetime(2026, 10, 8, 9, 15, tzinfo=HKT), False, True),  # pre-open: prices may print, none trade yet
        (datetime(2026, 10, 8, 10, 0, tzinfo=HKT), True, True),
        (datetime(2026, 10, 8, 12, 30, tzinfo=HKT), False, False),  # lunch
        (datetime(2026, 10, 8, 16, 5, tzinfo=HKT), False, True),  # the closing auction fixes the close
        (datetime(2026, 10, 8, 16, 15, tzinfo=HKT), False, False),
        (datetime(2026, 10, 1, 10, 0, tzinfo=HKT), False, False),  # holiday
    ],
)
def test_open_means_continuous_trading_and_trading_adds_the_auctions(local, is_open, is_trading):
    state = market_state(load_config().markets["HK"], local)
    assert (state.is_open, state.is_trading) == (is_open, is_trading)


def test_half_days_come_from_the_calendar():
    hk, us = load_config().markets["HK"], load_config().markets["US"]
    december = [day for day in range(1, 32) if is_half_day(hk, date(2026, 12, day))]
    assert december == [24, 31]  # Christmas Eve and New Year's Eve
    assert is_half_day(hk, date(2026, 2, 16))  # Lunar New Year's Eve
    assert is_half_day(us, date(2026, 11, 27)) and is_half_day(us, date(2027, 11, 26))  # day after Thanksgiving
    assert not is_half_day(us, date(2026, 11, 26))  # Thanksgiving itself is a holiday, not a half day


def test_a_closure_in_the_config_makes_that_day_a_holiday():
    text = DEFAULT.replace("closures = []", 'closures = ["2026-10-08"]  # typhoon signal No. 8', 1)
    hk = parse_config(text, "cfg.toml").markets["HK"]
    assert market_state(hk, datetime(2026, 10, 8, 10, 0, tzinfo=HKT)).state == "holiday"
    assert not is_trading_day(hk, date(2026, 10, 8))
    assert market_state(hk, datetime(2026, 10, 9, 10, 0, tzinfo=HKT)).state == "open"  # only that day
    assert is_trading_day(load_config().markets["HK"], date(2026, 10, 8))  # and only in that config


def test_is_trading_day():
    hk = load_config().markets["HK"]
    trading = [day for day in range(1, 13) if is_trading_day(hk, date(2026, 10, day))]
    assert trading == [2, 5, 6, 7, 8, 9, 12]  # 1 October is National Day; 3-4 and 10-11 are weekends


def test_a_years_calendar_is_kept_so_a_later_start_need_not_import_the_package(monkeypatch):
    from monitor import markets

    hk = load_config().markets["HK"]
    markets._calendar.cache_clear()
    assert not is_trading_day(hk, date(2031, 1, 1))  # worked out by the package, then kept in the cache dir
    markets._calendar.cache_clear()  # as in a new process ...
    monkeypatch.setitem(sys.modules, "holidays", None)  # ... where importing the package would now fail
    assert not is_trading_day(hk, date(2031, 1, 1)) and is_trading_day(hk, date(2031, 1, 2))
    assert is_half_day(hk, date(2031, 12, 24))
    markets._calendar.cache_clear()


def test_a_time_zone_that_does_not_exist_is_one_line_naming_it():
    with pytest.raises(ConfigError) as info:
        parse_config(DEFAULT.replace('timezone = "Asia/Hong_Kong"', 'timezone = "Mars/Olympus"'), "cfg.toml")
    assert info.value.key == "[markets.HK] timezone" and "Mars/Olympus" in info.value.message
    assert "\n" not in str(info.value)


async def test_scheduler_runs_every_job_at_start_and_never_overlaps(tmp_path):
    from monitor.jobs import Collector, build_scheduler
    from storage import Store

    config = load_config()
    store = Store.open(tmp_path / "t.db")
    collector = Collector(config, store)
    scheduler = build_scheduler(collector)
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs() if job.id != "prune"}  # retention: a minute after start
        assert {job.id for job in scheduler.get_jobs()} - set(jobs) == {"prune"}
        assert set(jobs) == {
            "quotes",
            "daily_bars",
            "fx",
            "openrouter_export",
            "openrouter_models",
            "openrouter_weekly",
            "openrouter_day_view",
        }
        assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())
        first_runs = [job.next_run_time for job in jobs.values()]
        assert max(first_runs) - min(first_runs) < timedelta(seconds=5)  # every job runs once at start
        # After the start, daily bars are fetched 10 minutes after each watched market's close, in its own
        # time zone, on weekdays: HKEX's official close prints when the closing auction ends (16:10), so
        # from Thursday noon in Hong Kong the next fires are Thursday 16:20 HKT, Thursday 16:10 in New
        # York (no auction configured), then Friday's two, then Monday's (never the weekend).
        trigger, fired = jobs["daily_bars"].trigger, jobs["daily_bars"].next_run_time
        now = datetime(2026, 10, 8, 12, 0, tzinfo=HKT)
        fires = []
        for _ in range(5):
            fired = trigger.get_next_fire_time(fired, now)
            fires.append(fired)
            now = fired + timedelta(seconds=1)
        assert fires == [
            datetime(2026, 10, 8, 16, 20, tzinfo=HKT),
            datetime(2026, 10, 8, 16, 10, tzinfo=NY),
            datetime(2026, 10, 9, 16, 20, tzinfo=HKT),
            datetime(2026, 10, 9, 16, 10, tzinfo=NY),
            datetime(2026, 10, 12, 16, 20, tzinfo=HKT),
        ]
    finally:
        scheduler.shutdown(wait=False)
        await collector.aclose()
        store.close()


def test_the_demo_price_days_are_hkexs_trading_days():
    """demo.json carries its filled price days (so the demo starts without a calendar); they must be the
    ones today's HKEX calendar gives, or the demo would show a price on a holiday."""
    import json
    from importlib import resources

    from monitor.config import load_config
    from monitor.demo import filled_daily_bars

    data = json.loads((resources.files("monitor") / "demo_data" / "demo.json").read_text(encoding="utf-8"))
    hk = load_config(None).markets["HK"]
    assert data["daily_bars"] == filled_daily_bars(data["reported_closes"], hk)
    assert "2026-04-06" not in {b["date"] for b in data["daily_bars"]}  # Ching Ming, observed: HKEX closed


def _bundled_version() -> str:
    import json

    from monitor import markets

    return json.loads(markets.CALENDARS_FILE.read_text(encoding="utf-8"))["holidays"]


@pytest.mark.parametrize("calendar", ["XHKG", "XNYS"])
def test_the_bundled_calendars_are_the_packages_answer_or_unused(calendar):
    """monitor/calendars.json spares a fresh home the package's import; it must never say anything else."""
    from importlib.metadata import version

    from monitor import markets

    for year in markets.SEEDED_YEARS:
        if _bundled_version() == version("holidays"):
            assert markets._bundled(calendar, year) == markets.compute_calendar(calendar, year), year
        else:  # a newer package than the file's: its own answer is used (rerun scripts/build_calendars.py)
            assert markets._bundled(calendar, year) is None


def test_a_fresh_home_reads_the_bundled_calendar_only_under_the_package_version_that_wrote_it(monkeypatch):
    from monitor import markets

    hk = load_config().markets["HK"]
    monkeypatch.setitem(sys.modules, "holidays", None)  # importing the package would fail: no cache, no import
    monkeypatch.setattr(markets, "_holidays_version", _bundled_version)
    markets._calendar.cache_clear()
    assert not is_trading_day(hk, date(2027, 2, 8)) and is_trading_day(hk, date(2027, 2, 11))  # Lunar New Year
    assert is_half_day(hk, date(2027, 2, 5))  # its eve, morning only
    monkeypatch.setattr(markets, "_holidays_version", lambda: "0.0-another")
    markets._calendar.cache_clear()
    with pytest.raises(ImportError):  # another version's answer comes from the package itself
        is_trading_day(hk, date(2027, 2, 8))
    markets._calendar.cache_clear()


def test_the_calendar_cache_is_keyed_by_the_installed_holidays_version():
    from importlib.metadata import version

    from monitor import markets

    markets._holidays_version.cache_clear()
    assert markets._holidays_version() == version("holidays")
