"""Jobs through the real httpx code path against a loopback upstream: success, every fault, recovery."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from monitor.jobs import Collector
from storage import Store
from tests.payloads import (PRICES, export_csv, revised_export, serve_everything, serve_export, yahoo_chart,
                            yahoo_empty, yahoo_error)
from tests.upstream import HTML_ERROR, Reply

TABLES = ("quotes", "daily_bars", "fx", "token_daily", "token_weekly", "models", "instruments")


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


def dump(store: Store) -> dict[str, list]:
    return {t: store.conn().execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}


def last_poll(store: Store, job: str) -> dict:
    return store.latest_polls().filter(job=job).row(0, named=True)


async def test_every_job_fills_the_database(upstream, collector, store):
    serve_everything(upstream)
    results = await collector.run_all_once()
    assert {r.job for r in results} == {"quotes", "daily_bars", "fx", "openrouter_export", "openrouter_models",
                                        "openrouter_weekly"}
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert store.count("token_daily") == 153 and store.count("token_weekly") == 520
    assert store.get_meta("openrouter_snapshot_date") == "2026-10-08"
    assert store.get_meta("openrouter_attribution").startswith("Source: OpenRouter")
    latest = {r["symbol"]: r for r in store.latest_quotes(list(PRICES)).iter_rows(named=True)}
    assert latest["0100.HK"]["price"] == 330.0 and latest["0100.HK"]["prev_close"] == 320.0
    assert latest["0100.HK"]["source"] == "yahoo"
    assert store.latest_fx().row(0, named=True)["pair"] == "HKDUSD"
    reported = dict(store.conn().execute("SELECT symbol, reported_shares FROM instruments").fetchall())
    assert reported["0700.HK"] == 9_082_721_689  # Tencent's field 69
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
    "timeout": (Reply(200, b"{}", delay=3.0), "timed out"),
    "truncated body": (Reply(200, b'{"chart": {"result": [' + b" " * 500, truncate=True), "cut off"),
    "html instead of json": (HTML_ERROR, "expected JSON, got HTML"),
    "empty yahoo result": (Reply(200, json.dumps(yahoo_empty()).encode()), "empty chart result"),
    "yahoo chart.error": (Reply(200, json.dumps(yahoo_error()).encode()), "No data found"),
    "negative price": (Reply(200, json.dumps(yahoo_chart("NVDA", "USD", [1.0, -3.0], 1.0)).encode()), "absurd"),
}


@pytest.mark.parametrize("fault", list(QUOTE_FAULTS))
async def test_quote_fault_stores_nothing_and_records_a_failed_poll(upstream, collector, store, fault):
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
        upstream.fail_next(manifest_path if where == "manifest" else
                           "/api/v1/datasets/exports/rankings-daily/2026-10-09.csv", payload)
    result = await collector.run_job("openrouter_export")
    assert not result.ok and phrase in result.error, result.error
    assert dump(store)["token_daily"] == before
    assert store.get_meta("openrouter_snapshot_date") == "2026-10-08"
    assert last_poll(store, "openrouter_export")["ok"] == 0


async def test_retry_after_is_honoured_then_recovery_without_restart(upstream, collector, store):
    serve_everything(upstream)
    now = [1_000_000.0]
    collector.clock = lambda: now[0]
    upstream.fail_next("/api/v1/datasets/exports/rankings-daily/latest.manifest.json",
                       Reply(429, b"slow", {"Retry-After": "120"}))
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


async def test_a_job_never_overlaps_itself(upstream, collector):
    serve_everything(upstream)
    upstream.delay = 0.3
    first, second = await asyncio.gather(collector.run_job("fx"), collector.run_job("fx"))
    assert first is not None and first.ok
    assert second is None


async def test_closed_markets_are_polled_at_the_slow_cadence(upstream, collector, loopback_config):
    serve_everything(upstream)
    saturday = 1_791_446_400.0  # 2026-10-10 00:00 UTC, a Saturday: every market closed
    collector.clock = lambda: saturday
    assert len(collector.due_symbols(saturday)) == len(loopback_config.companies)
    await collector.run_job("quotes")
    assert collector.due_symbols(saturday + 60) == []
    assert len(collector.due_symbols(saturday + loopback_config.jobs.quotes_closed_seconds)) > 0


async def test_api_key_never_reaches_errors_or_logs(upstream, collector, store, monkeypatch, caplog):
    secret = "sk-or-v1-THIS-IS-SECRET"
    monkeypatch.setenv("OPENROUTER_API_KEY", secret)
    upstream.route("/api/v1/datasets/rankings-daily", f"bad key {secret}", status=401)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Exception) as info:
        await collector.backfill_history("2026-01-01", "2026-01-31", lambda done, total: None)
    assert secret not in str(info.value)
    assert secret not in caplog.text
    assert upstream.requests[-1][1]["Authorization"] == f"Bearer {secret}"
    assert all(secret not in (row[0] or "") for row in store.conn().execute("SELECT error FROM polls"))


async def test_keyed_history_backfill_stores_shares(upstream, collector, store, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-test")
    upstream.route("/api/v1/datasets/rankings-daily", json.dumps({"data": [
        {"date": "2025-06-01", "model_permaslug": "minimax/minimax-m1", "total_tokens": "250"},
        {"date": "2025-06-01", "model_permaslug": "other", "total_tokens": "750"},
    ], "meta": {"as_of": "2026-10-08T00:00:00Z", "version": "v1", "start_date": "2025-06-01",
                "end_date": "2025-06-01"}}), Content_Type="application/json")
    progress = []
    changed = await collector.backfill_history("2025-06-01", "2025-06-01", lambda d, t: progress.append((d, t)))
    assert changed == 2 and progress == [(1, 1)]
    row = store.token_daily().filter(model_permaslug="minimax/minimax-m1").row(0, named=True)
    assert row["share"] == 0.25 and row["rank"] == 1 and row["source"] == "openrouter-api"
