"""Jobs through the real httpx code path against a loopback upstream: success, every fault, recovery,
per-symbol failures, backoff, and a poll committed with its rows or not at all."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.config import parse_config
from monitor.jobs import Collector, JobFailed, PollResult
from storage import Store
from tests.conftest import loopback_config_text
from tests.payloads import (
    PRICES,
    export_csv,
    revised_export,
    serve_everything,
    serve_export,
    yahoo_chart,
    yahoo_empty,
    yahoo_error,
)
from tests.upstream import HTML_ERROR, Reply

TABLES = ("quotes", "daily_bars", "fx", "token_daily", "token_weekly", "models", "instruments")
SATURDAY = 1_791_590_400.0  # 2026-10-10 00:00 UTC, a Saturday: every market closed
# Yahoo's own answers about one symbol, as other clients recorded them: an unknown symbol (404) and a
# range it has no data for (400); see tests/payloads.yahoo_error.
SYMBOL_ERRORS = {
    "404 not found": (404, "Not Found", "No data found, symbol may be delisted"),
    "400 no data in range": (400, "Bad Request", "Data doesn't exist for startDate = 1565740800, endDate = 1596067200"),
}


@pytest.fixture
def store(tmp_path, loopback_config):
    s = Store.open(tmp_path / "t.db")
    s.sync_instruments(loopback_config.companies)
    yield s
    s.close()


@pytest.fixture
async def collector(loopback_config, store):
    c = Collector(loopback_config, store)
    yield c
    await c.aclose()


def dump(store: Store) -> dict[str, list[Any]]:
    return {t: store.conn().execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}


def last_poll(store: Store, job: str) -> dict[str, Any]:
    return store.latest_polls().filter(job=job).row(0, named=True)


def symbol_status(store: Store, job: str) -> dict[str, dict[str, Any]]:
    return {r["symbol"]: r for r in store.frame("symbol_status", "job = ?", (job,)).iter_rows(named=True)}


def yahoo_requests(upstream, symbol: str = "") -> int:
    return upstream.count(f"/v8/finance/chart/{symbol}")


async def test_every_job_fills_the_database(upstream, collector, store):
    serve_everything(upstream)
    results = await collector.run_all_once()
    assert {r.job for r in results} == {
        "quotes",
        "daily_bars",
        "fx",
        "openrouter_export",
        "openrouter_models",
        "openrouter_weekly",
        "openrouter_day_view",
    }
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert store.count("token_daily") == 153 and store.count("token_weekly") == 520
    assert store.count("model_day_usage") == 20  # the day view's top 20, with their reported spend
    assert store.get_meta("openrouter_snapshot_date") == "2026-10-08"
    assert store.get_meta("openrouter_attribution").startswith("Source: OpenRouter")
    latest = {r["symbol"]: r for r in store.latest_quotes(list(PRICES)).iter_rows(named=True)}
    assert latest["0100.HK"]["price"] == 330.0 and latest["0100.HK"]["prev_close"] == 320.0
    assert latest["0100.HK"]["source"] == "yahoo"
    assert set(store.latest_fx()["pair"]) == {"HKDUSD", "HKDCNY", "USDCNY"}  # every display currency's rates
    reported = dict(store.conn().execute("SELECT symbol, reported_shares FROM instruments").fetchall())
    assert reported["0700.HK"] == 9_082_721_689  # Tencent's field 69
    statuses = symbol_status(store, "quotes")
    assert set(statuses) == {c.symbol for c in collector.config.companies}
    assert all(s["ok"] == 1 and s["error"] is None for s in statuses.values())
    # A browser User-Agent went with every request (Yahoo throttles generic ones).
    assert all("Mozilla" in headers.get("User-Agent", "") for _, headers in upstream.requests)


async def test_rerunning_changes_nothing(upstream, collector, store):
    serve_everything(upstream)
    await collector.run_all_once()
    before = dump(store)
    collector.force_due()
    results = await collector.run_all_once()
    assert all(r.ok for r in results)
    assert {r.job: r.rows for r in results} == {r.job: 0 for r in results}
    assert dump(store) == before


async def test_a_newer_snapshot_revises_the_days_it_covers(upstream, collector, store):
    serve_everything(upstream)
    await collector.run_job("openrouter_export")
    serve_export(upstream, revised_export(), snapshot_date="2026-10-09")
    result = await collector.run_job("openrouter_export")
    assert result.ok and result.rows == 153
    assert store.conn().execute("SELECT DISTINCT snapshot_date FROM token_daily").fetchall() == [("2026-10-09",)]


QUOTE_FAULTS = {
    "429 with Retry-After": (Reply(429, b"Too Many Requests", {"Retry-After": "30"}), "429"),
    "500": (Reply(500, b"oops"), "HTTP 500"),
    "timeout": (Reply(200, b"{}", delay=1.0), "timed out"),
    "truncated body": (Reply(200, b'{"chart": {"result": [' + b" " * 500, truncate=True), "cut off"),
    "html instead of json": (HTML_ERROR, "expected JSON, got HTML"),
    "empty yahoo result": (Reply(200, json.dumps(yahoo_empty()).encode()), "empty chart result"),
    "yahoo chart.error": (Reply(200, json.dumps(yahoo_error()).encode()), "No data found"),
    "yahoo 404 chart.error": (Reply(404, json.dumps(yahoo_error()).encode()), "HTTP 404: No data found"),
    "negative price": (Reply(200, json.dumps(yahoo_chart("NVDA", "USD", [1.0, -3.0], 1.0)).encode()), "absurd"),
}


@pytest.mark.parametrize("fault", list(QUOTE_FAULTS))
async def test_quote_fault_stores_nothing_and_records_a_failed_poll(upstream, store, tmp_path, fault):
    config = parse_config(
        loopback_config_text(upstream.base_url).replace("timeout_seconds = 2.0", "timeout_seconds = 0.5"),
        tmp_path / "c.toml",
    )
    collector = Collector(config, store)
    serve_everything(upstream)
    await collector.run_job("quotes")
    before = dump(store)["quotes"]
    serve_everything(upstream, bump=1.5)  # a good answer now would change every row
    reply, phrase = QUOTE_FAULTS[fault]
    for symbol in PRICES:
        if symbol != "HKDUSD=X":
            upstream.fail_next(f"/v8/finance/chart/{symbol}", reply)
    upstream.fail_next("/q=", Reply(503, b"busy"))  # and the HK fallback is down too
    collector.force_due()
    result = await collector.run_job("quotes")
    await collector.aclose()
    assert not result.ok and phrase in result.error
    assert dump(store)["quotes"] == before
    poll = last_poll(store, "quotes")
    assert poll["ok"] == 0 and phrase in poll["error"] and "\n" not in poll["error"]


EXPORT_FAULTS = {
    "wrong sha256": ("csv", None, "sha256 mismatch"),
    "csv with other columns": ("csv", b"date,model,tokens\n2026-10-09,a/b,1\n", "export columns changed"),
    "manifest 500": ("manifest", Reply(500, b"no"), "HTTP 500"),
    "manifest 429": ("manifest", Reply(429, b"slow down", {"Retry-After": "60"}), "retry after 60 s"),
    "truncated csv": ("csvfault", Reply(200, b"date,model_permaslug" * 50, truncate=True), "cut off"),
    "manifest is html": ("manifest", HTML_ERROR, "expected JSON, got HTML"),
}


@pytest.mark.parametrize("fault", list(EXPORT_FAULTS))
async def test_export_fault_stores_nothing_and_records_a_failed_poll(upstream, collector, store, fault):
    serve_everything(upstream)
    await collector.run_job("openrouter_export")
    before = dump(store)["token_daily"]
    where, payload, phrase = EXPORT_FAULTS[fault]
    revised = revised_export()
    manifest_path = "/api/v1/datasets/exports/rankings-daily/latest.manifest.json"
    if where == "csv" and payload is None:
        serve_export(upstream, revised, "2026-10-09", manifest_bytes=export_csv())  # hash of another file
    elif where == "csv":
        serve_export(upstream, payload, "2026-10-09")
    else:
        serve_export(upstream, revised, "2026-10-09")
        upstream.fail_next(
            manifest_path if where == "manifest" else "/api/v1/datasets/exports/rankings-daily/2026-10-09.csv", payload
        )
    result = await collector.run_job("openrouter_export")
    assert not result.ok and phrase in result.error, result.error
    assert dump(store)["token_daily"] == before
    assert store.get_meta("openrouter_snapshot_date") == "2026-10-08"
    assert last_poll(store, "openrouter_export")["ok"] == 0


async def test_retry_after_is_honoured_then_recovery_without_restart(upstream, collector, store):
    serve_everything(upstream)
    now = [1_000_000.0]
    collector.clock = lambda: now[0]
    upstream.fail_next(
        "/api/v1/datasets/exports/rankings-daily/latest.manifest.json", Reply(429, b"slow", {"Retry-After": "120"})
    )
    first = await collector.run_job("openrouter_export")
    assert not first.ok
    asked = upstream.count("/api/v1/datasets/exports")
    now[0] += 60  # inside Retry-After: no request goes out
    second = await collector.run_job("openrouter_export")
    assert not second.ok and "backing off" in second.error
    assert upstream.count("/api/v1/datasets/exports") == asked
    now[0] += 61 + 900  # past Retry-After and any jittered backoff
    third = await collector.run_job("openrouter_export")
    assert third.ok and store.count("token_daily") == 153


@pytest.mark.parametrize("answer", list(SYMBOL_ERRORS))
async def test_one_symbols_error_is_recorded_against_it_in_yahoos_words_and_backs_nothing_off(
    upstream, collector, store, answer
):
    serve_everything(upstream)
    collector.clock = lambda: SATURDAY  # a frozen clock: any backoff at all would stop the second poll
    status, code, description = SYMBOL_ERRORS[answer]
    upstream.route(
        "/v8/finance/chart/NVDA",
        json.dumps(yahoo_error(description, code)),
        status=status,
        Content_Type="application/json",
    )
    result = await collector.run_job("quotes")
    assert not result.ok and "1 of 13 symbols failed (NVDA)" in result.error and description in result.error
    statuses = symbol_status(store, "quotes")
    assert statuses["NVDA"]["ok"] == 0 and statuses["NVDA"]["last_ok"] is None
    assert f"HTTP {status}: {description}" in statuses["NVDA"]["error"]
    assert all(s["ok"] == 1 for symbol, s in statuses.items() if symbol != "NVDA")
    assert collector.health["yahoo"].ready(SATURDAY) and collector.health["yahoo"].failures == 0
    asked = yahoo_requests(upstream, "0700.HK")
    collector.force_due()
    again = await collector.run_job("quotes")
    assert yahoo_requests(upstream, "0700.HK") == asked + 1
    assert "backing off" not in again.error and "1 of 13 symbols failed (NVDA)" in again.error


async def test_a_429_backs_yahoo_off_for_every_symbol(upstream, collector, store):
    serve_everything(upstream)
    collector.clock = lambda: SATURDAY
    upstream.fail_next("/v8/finance/chart/NVDA", Reply(429, b"Too Many Requests"))
    first = await collector.run_job("quotes")
    assert not first.ok and "429" in first.error
    assert not collector.health["yahoo"].ready(SATURDAY)  # though 12 other symbols answered after it
    asked = yahoo_requests(upstream)
    collector.force_due()
    second = await collector.run_job("quotes")
    assert yahoo_requests(upstream) == asked  # not one request while backing off
    assert not second.ok and "backing off" in second.error
    # HK quotes still come, from Tencent.
    assert symbol_status(store, "quotes")["0100.HK"]["ok"] == 1
    assert "served by tencent" in symbol_status(store, "quotes")["0100.HK"]["error"]


async def test_a_symbol_yahoo_answered_waits_for_its_cadence_one_it_could_not_reach_does_not(upstream, collector):
    serve_everything(upstream)
    collector.clock = lambda: SATURDAY
    upstream.route("/v8/finance/chart/NVDA", json.dumps(yahoo_error()), status=404)
    upstream.fail_next("/v8/finance/chart/META", Reply(503, b"Service Unavailable"))
    await collector.run_job("quotes")
    due = collector.due_symbols("quotes", SATURDAY + 60)
    assert "META" in due and "NVDA" not in due and "0700.HK" not in due


async def test_fx_pairs_are_fetched_and_stored_each_on_its_own(upstream, store, tmp_path):
    text = loopback_config_text(upstream.base_url).replace(
        'display_currencies = ["USD", "HKD", "CNY"]', 'display_currencies = ["USD", "HKD", "EUR"]'
    )
    config = parse_config(text, tmp_path / "c.toml")
    collector = Collector(config, store)
    serve_everything(upstream)
    upstream.route("/v8/finance/chart/HKDEUR=X", json.dumps(yahoo_chart("HKDEUR=X", "EUR", [0.1101, 0.1102], 0.11)))
    upstream.route("/v8/finance/chart/USDEUR=X", json.dumps(yahoo_error()), status=404)
    # Zhipu's bundled fundamentals are in CNY: the valuation view needs CNY in USD whatever the display currencies
    upstream.route("/v8/finance/chart/CNYUSD=X", json.dumps(yahoo_chart("CNYUSD=X", "USD", [0.1391, 0.1392], 0.139)))
    result = await collector.run_job("fx")
    await collector.aclose()
    assert not result.ok and "1 of 4 symbols failed (USDEUR=X)" in result.error
    assert dict(store.latest_fx().select("pair", "rate").iter_rows()) == {
        "CNYUSD": 0.1392,
        "HKDEUR": 0.1102,
        "HKDUSD": 0.1284,
    }
    statuses = symbol_status(store, "fx")
    assert statuses["USDEUR=X"]["ok"] == 0 and "No data found, symbol may be delisted" in statuses["USDEUR=X"]["error"]
    assert statuses["HKDEUR=X"]["ok"] == 1 and statuses["HKDUSD=X"]["ok"] == 1


async def test_hk_quotes_fall_back_to_tencent(upstream, collector, store):
    serve_everything(upstream)
    upstream.fail_next("/v8/finance/chart/0100.HK", Reply(401, b'{"finance":{"error":"Invalid Crumb"}}'))
    upstream.fail_next("/v8/finance/chart/2513.HK", Reply(429, b"no"))
    result = await collector.run_job("quotes")
    assert result.ok, result.error
    latest = {r["symbol"]: r for r in store.latest_quotes(["0100.HK", "2513.HK", "0700.HK"]).iter_rows(named=True)}
    assert latest["0100.HK"]["source"] == "tencent" and latest["0100.HK"]["price"] == 330.0
    assert latest["2513.HK"]["source"] == "tencent"
    assert latest["0700.HK"]["source"] == "yahoo"
    assert upstream.count("/q=r_hk00100,r_hk02513") == 1 or upstream.count("/q=r_hk02513,r_hk00100") == 1
    # Yahoo's refusal stays on record beside the symbol Tencent served.
    zero_one = symbol_status(store, "quotes")["0100.HK"]
    assert zero_one["ok"] == 1 and "HTTP 401" in zero_one["error"] and "served by tencent" in zero_one["error"]


async def test_a_job_never_overlaps_itself(upstream, collector):
    serve_everything(upstream)
    upstream.delay = 0.1
    first, second = await asyncio.gather(collector.run_job("fx"), collector.run_job("fx"))
    assert first is not None and first.ok
    assert second is None


async def test_closed_markets_are_polled_at_the_slow_cadence(upstream, collector, loopback_config):
    serve_everything(upstream)
    collector.clock = lambda: SATURDAY
    assert len(collector.due_symbols("quotes", SATURDAY)) == len(loopback_config.companies)
    await collector.run_job("quotes")
    assert collector.due_symbols("quotes", SATURDAY + 60) == ()
    assert await collector.run_job("quotes") is None  # nothing due: no poll at all
    assert len(collector.due_symbols("quotes", SATURDAY + loopback_config.jobs.quotes_closed_seconds)) > 0


async def test_the_closing_auction_is_polled_at_the_trading_cadence(upstream, collector, loopback_config):
    serve_everything(upstream)
    auction = datetime(2026, 10, 8, 16, 5, tzinfo=ZoneInfo("Asia/Hong_Kong")).timestamp()  # New York: 04:05
    collector.clock = lambda: auction
    await collector.run_job("quotes")
    due = collector.due_symbols("quotes", auction + loopback_config.jobs.quotes_open_seconds)
    assert set(due) == {c.symbol for c in loopback_config.companies if c.market == "HK"}


async def test_data_and_its_poll_commit_together_or_not_at_all(upstream, collector, store, monkeypatch):
    serve_everything(upstream)
    record_poll = store.record_poll

    def poll_row_fails_inside_the_data_transaction(*args: Any, **kwargs: Any) -> None:
        if len(args) == 7 or "conn" in kwargs:
            raise sqlite3.OperationalError("database or disk is full")
        record_poll(*args, **kwargs)

    monkeypatch.setattr(store, "record_poll", poll_row_fails_inside_the_data_transaction)
    result = await collector.run_job("quotes")
    assert not result.ok and result.rows == 0 and "database or disk is full" in result.error
    assert store.count("quotes") == 0 and store.count("symbol_status") == 0  # rolled back with the poll row
    poll = last_poll(store, "quotes")  # the failure itself is still on record
    assert poll["ok"] == 0 and "not stored" in poll["error"]


async def test_a_poll_the_database_refuses_is_logged_and_reported_never_raised(
    upstream, collector, store, monkeypatch, caplog
):
    serve_everything(upstream)
    open_connection = Store.conn

    def read_only(self: Store) -> sqlite3.Connection:
        conn = open_connection(self)
        conn.execute("PRAGMA query_only = ON")  # what a read-only file or a full disk does to writes
        return conn

    monkeypatch.setattr(Store, "conn", read_only)
    heard: list[PollResult] = []
    collector.listeners.append(heard.append)
    caplog.set_level(logging.ERROR, "tokentape.jobs")
    result = await collector.run_job("fx")
    assert heard == [result] and not result.ok and "readonly database" in result.error
    assert "could not record the failed poll" in caplog.text
    monkeypatch.undo()
    assert store.count("fx") == 0 and store.count("polls") == 0


async def test_a_broken_listener_does_not_stop_the_job_or_the_other_listeners(upstream, collector, caplog):
    serve_everything(upstream)

    def broken(result: PollResult) -> None:
        raise RuntimeError("widget gone")

    heard: list[PollResult] = []
    collector.listeners += [broken, heard.append]
    result = await collector.run_job("openrouter_models")
    assert result is not None and result.ok and heard == [result]
    assert "widget gone" in caplog.text


async def test_api_key_never_reaches_errors_or_logs(upstream, collector, store, monkeypatch, caplog):
    secret = "sk-or-v1-THIS-IS-SECRET"
    monkeypatch.setenv("OPENROUTER_API_KEY", secret)
    upstream.route("/api/v1/datasets/rankings-daily", f"bad key {secret}", status=401)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(JobFailed, match="openrouter: HTTP 401") as info:
        await collector.backfill_history("2026-01-01", "2026-01-31", lambda done, total: None)
    assert secret not in str(info.value)
    assert upstream.requests[-1][1]["Authorization"] == f"Bearer {secret}"
    # An upstream that echoes the key back in its own error words: stored and logged redacted.
    serve_everything(upstream)
    upstream.route("/v8/finance/chart/NVDA", json.dumps(yahoo_error(f"No data found for key {secret}")), status=404)
    result = await collector.run_job("quotes")
    assert not result.ok and "No data found for key ***" in result.error
    errors = [
        row[0]
        for row in store.conn().execute(
            "SELECT error FROM polls UNION ALL SELECT error FROM symbol_status WHERE error IS NOT NULL"
        )
    ]
    assert len(errors) == 2 and all("***" in e and secret not in e for e in errors)
    assert "No data found for key ***" in caplog.text and secret not in caplog.text


async def test_keyed_history_backfill_stores_shares(upstream, collector, store, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-test")
    upstream.route(
        "/api/v1/datasets/rankings-daily",
        json.dumps(
            {
                "data": [
                    {"date": "2025-06-01", "model_permaslug": "minimax/minimax-m1", "total_tokens": "250"},
                    {"date": "2025-06-01", "model_permaslug": "other", "total_tokens": "750"},
                ],
                "meta": {
                    "as_of": "2026-10-08T00:00:00Z",
                    "version": "v1",
                    "start_date": "2025-06-01",
                    "end_date": "2025-06-01",
                },
            }
        ),
        Content_Type="application/json",
    )
    progress = []
    changed = await collector.backfill_history("2025-06-01", "2025-06-01", lambda d, t: progress.append((d, t)))
    assert changed == 2 and progress == [(1, 1)]
    row = store.token_daily().filter(model_permaslug="minimax/minimax-m1").row(0, named=True)
    assert row["share"] == 0.25 and row["rank"] == 1 and row["source"] == "openrouter-api"


async def test_keyed_history_is_asked_in_windows_of_at_most_366_days(upstream, collector, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-test")
    upstream.route("/api/v1/datasets/rankings-daily", json.dumps({"data": [], "meta": {}}))
    progress: list[tuple[int, int]] = []
    await collector.backfill_history("2025-01-01", "2026-10-08", lambda d, t: progress.append((d, t)))
    assert progress == [(1, 2), (2, 2)]
    assert upstream.count("/api/v1/datasets/rankings-daily") == 2


async def test_daily_bars_backfill_asks_for_the_whole_history(upstream, collector, store):
    serve_everything(upstream)
    result = await collector.backfill_daily_bars()
    assert result is not None and result.ok and result.job == "daily_bars"
    ranges = {h.get("range") for p, h in upstream.query_params if p.startswith("/v8/finance/chart/")}
    assert ranges == {"max"}
    assert store.count("daily_bars") == 5 * len(collector.config.companies)
