"""Every upstream x every fault: no crash, nothing stored changes, a failed poll with a one-line reason,
and the next good answer is taken without a restart."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket

import pytest

from monitor.config import parse_config
from monitor.jobs import Collector
from storage import Store
from tests.conftest import loopback_config_text
from tests.payloads import (
    PRICES,
    models_catalogue,
    revised_export,
    serve_everything,
    serve_export,
    weekly_chart,
    yahoo_chart,
)
from tests.upstream import HTML_ERROR, FakeUpstream, Reply

TABLES = ("quotes", "daily_bars", "fx", "token_daily", "token_weekly", "models", "instruments", "meta")

# (job, path prefix whose answers are faulted, how to make a good answer differ from what is stored)
JOBS = {
    "quotes": ("/v8/finance/chart/", "prices"),
    "daily_bars": ("/v8/finance/chart/", "prices"),
    "fx": ("/v8/finance/chart/HKDUSD", "prices"),
    "openrouter_export": ("/api/v1/datasets/exports/", "export"),
    "openrouter_models": ("/api/v1/models", "models"),
    "openrouter_weekly": ("/api/frontend/v1/rankings/model-rankings-chart", "weekly"),
}

FAULTS = {
    "timeout": Reply(200, b"{}", delay=0.6),
    "401": Reply(401, b'{"finance":{"result":null,"error":{"code":"Unauthorized","description":"Invalid Crumb"}}}'),
    "429 with Retry-After": Reply(429, b"Too Many Requests", {"Retry-After": "5"}),
    "429 without Retry-After": Reply(429, b"Too Many Requests"),
    "500": Reply(500, b"Internal Server Error"),
    "503": Reply(503, b"Service Unavailable"),
    "truncated": Reply(200, b'{"data": [' + b"1," * 400, {"Content-Type": "application/json"}, truncate=True),
    "garbage": Reply(200, b"\x00\xff\xfe garbage \x13", {"Content-Type": "application/json"}),
    "html": HTML_ERROR,
    "empty object": Reply(200, b"{}", {"Content-Type": "application/json"}),
    "renamed field": Reply(200, b'{"chart_v2": {}, "datas": {"datas": []}, "file": {}}'),
}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """One healthy collection, made once; each test starts from a copy of its database."""
    server = FakeUpstream()
    server.start()
    serve_everything(server)
    folder = tmp_path_factory.mktemp("baseline")
    healthy = parse_config(loopback_config_text(server.base_url), folder / "c.toml")
    # The faulted runs time out fast (loopback answers in milliseconds); the cold baseline run keeps the normal timeout.
    text = loopback_config_text(server.base_url).replace("timeout_seconds = 2.0", "timeout_seconds = 0.3")
    config = parse_config(text, folder / "c.toml")
    store = Store.open(folder / "t.db")
    store.sync_instruments(config.companies)

    async def collect():
        collector = Collector(healthy, store)
        results = await collector.run_all_once()
        await collector.aclose()
        return results

    assert all(r.ok for r in asyncio.run(collect()))
    store.close()
    yield server, config, folder / "t.db"
    server.stop()


@pytest.fixture
async def setup(baseline, tmp_path):
    server, config, db = baseline
    server.faults.clear()
    server.requests.clear()
    serve_everything(server)
    shutil.copy(db, tmp_path / "t.db")
    store = Store.open(tmp_path / "t.db")
    collector = Collector(config, store)
    yield server, store, collector
    await collector.aclose()
    store.close()


def dump(store):
    return {t: store.conn().execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}


def make_good_answers_differ(upstream, how: str) -> None:
    """Change what a healthy upstream would now serve, so an unchanged store proves nothing was taken."""
    if how == "prices":
        serve_everything(upstream, bump=2.0)
    elif how == "export":
        serve_export(upstream, revised_export(), "2026-10-09")
    elif how == "models":
        catalogue = models_catalogue()
        catalogue["data"][0]["pricing"]["prompt"] = "0.000009"
        upstream.route("/api/v1/models", json.dumps(catalogue))
    elif how == "weekly":
        body = json.loads(weekly_chart())
        body["data"]["data"][0]["ys"]["Others"] += 1
        upstream.route("/api/frontend/v1/rankings/model-rankings-chart", json.dumps(body))


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("job", list(JOBS))
async def test_fault_changes_nothing_and_is_recorded(setup, job, fault):
    upstream, store, collector = setup
    prefix, how = JOBS[job]
    make_good_answers_differ(upstream, how)
    upstream.tencent_records.clear()  # no fallback: the fault must show
    before = dump(store)
    upstream.fail_next(prefix, *[FAULTS[fault]] * 40)
    collector.force_due()
    result = await collector.run_job(job)
    assert result is not None and not result.ok
    assert result.error and "\n" not in result.error and len(result.error) < 400
    assert dump(store) == before
    poll = store.latest_polls().filter(job=job).row(0, named=True)
    assert poll["ok"] == 0 and poll["error"] == result.error


async def test_connection_refused_is_a_one_line_failure(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"  # bound, never listening: refused
        config = parse_config(loopback_config_text(closed), tmp_path / "c.toml")
        store = Store.open(tmp_path / "t.db")
        store.sync_instruments(config.companies)
        collector = Collector(config, store)
        results = await collector.run_all_once()
        await collector.aclose()
    assert results and not any(r.ok for r in results)
    assert all("cannot connect" in r.error for r in results)
    store.close()


@pytest.mark.parametrize(
    "mutate, phrase",
    [
        (lambda body: body["chart"]["result"][0]["indicators"]["quote"][0]["close"].__setitem__(-1, -1.0), "absurd"),
        (lambda body: body["chart"]["result"][0]["meta"].update(regularMarketPrice=-3.0), "absurd"),
        (lambda body: body["chart"]["result"][0]["meta"].update(symbol="OTHER.HK"), "asked for"),
    ],
)
async def test_absurd_prices_are_refused(setup, mutate, phrase):
    upstream, store, collector = setup
    before = dump(store)
    body = yahoo_chart("NVDA", "USD", [p * 2 for p in PRICES["NVDA"][1]], 1.0)
    mutate(body)
    upstream.route("/v8/finance/chart/NVDA", json.dumps(body))
    collector.force_due()
    result = await collector.run_job("quotes")
    assert not result.ok and phrase in result.error and "NVDA" in result.error
    assert dump(store)["quotes"] == before["quotes"]


async def test_share_above_one_is_refused(setup):
    upstream, store, collector = setup
    before = dump(store)
    text = revised_export().decode()
    line = text.splitlines()[1]
    serve_export(upstream, text.replace(line, line.rsplit(",", 1)[0] + ",1.5").encode(), "2026-10-09")
    result = await collector.run_job("openrouter_export")
    assert not result.ok and "absurd value" in result.error
    assert dump(store) == before


async def test_recovers_without_restart_after_a_run_of_failures(setup):
    upstream, _, collector = setup
    make_good_answers_differ(upstream, "export")
    now = [2_000_000_000.0]
    collector.clock = lambda: now[0]
    for _ in range(4):
        upstream.fail_next("/api/v1/datasets/exports/", Reply(503, b"busy"))
        await collector.run_job("openrouter_export")
        now[0] += 3600  # well past any backoff
    result = await collector.run_job("openrouter_export")
    assert result.ok and result.rows == 153
    assert collector.health["openrouter"].failures == 0


@pytest.mark.parametrize(
    "fault", ["timeout", "401", "429 with Retry-After", "500", "truncated", "garbage", "html", "empty object"]
)
async def test_tencent_fallback_faults_change_nothing(setup, fault):
    """Yahoo down for HK symbols and Tencent faulty too: nothing stored, both failures named."""
    upstream, store, collector = setup
    make_good_answers_differ(upstream, "prices")
    before = dump(store)
    upstream.fail_next("/v8/finance/chart/", *[FAULTS["500"]] * 40)
    upstream.fail_next("/q=", FAULTS[fault])
    collector.force_due()
    result = await collector.run_job("quotes")
    assert not result.ok and "fallback tencent" in result.error
    assert dump(store) == before
