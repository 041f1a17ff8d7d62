"""Trading calendars and job scheduling: what decides how often quotes are polled."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.config import load_config
from monitor.markets import market_state

HKT = ZoneInfo("Asia/Hong_Kong")
NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize("local, market, state", [
    (datetime(2026, 10, 8, 10, 0, tzinfo=HKT), "HK", "open"),      # Thursday morning session
    (datetime(2026, 10, 8, 12, 30, tzinfo=HKT), "HK", "lunch"),    # HKEX lunch break
    (datetime(2026, 10, 8, 15, 59, tzinfo=HKT), "HK", "open"),
    (datetime(2026, 10, 8, 16, 0, tzinfo=HKT), "HK", "closed"),    # the close itself
    (datetime(2026, 10, 8, 9, 0, tzinfo=HKT), "HK", "closed"),     # before the open
    (datetime(2026, 10, 10, 11, 0, tzinfo=HKT), "HK", "closed"),   # Saturday
    (datetime(2026, 10, 1, 11, 0, tzinfo=HKT), "HK", "holiday"),   # National Day
    (datetime(2026, 10, 8, 10, 0, tzinfo=NY), "US", "open"),
    (datetime(2026, 11, 26, 10, 0, tzinfo=NY), "US", "holiday"),   # Thanksgiving
    (datetime(2026, 10, 8, 12, 30, tzinfo=NY), "US", "open"),      # no lunch break in New York
])
def test_market_state(local, market, state):
    config = load_config()
    assert market_state(config.markets[market], local).state == state


async def test_scheduler_runs_every_job_at_start_and_never_overlaps(tmp_path):
    from monitor.jobs import Collector, build_scheduler
    from storage import Store

    config = load_config()
    store = Store.open(tmp_path / "t.db")
    collector = Collector(config, store)
    scheduler = build_scheduler(collector)
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"quotes", "daily_bars", "fx", "openrouter_export", "openrouter_models",
                             "openrouter_weekly"}
        assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())
        first_runs = [job.next_run_time for job in jobs.values()]
        assert max(first_runs) - min(first_runs) < timedelta(seconds=5)  # every job runs once at start
        # daily bars: at start, then 10 minutes after each watched market's close, in its own time zone.
        at_start, *after_close = jobs["daily_bars"].trigger.triggers
        assert {str(t.timezone) for t in after_close} == {"Asia/Hong_Kong", "America/New_York"}
        assert all("hour='16', minute='10'" in str(t) for t in after_close)
    finally:
        scheduler.shutdown(wait=False)
        await collector.aclose()
        store.close()
