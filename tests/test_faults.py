"""Every upstream x every fault: no crash, nothing stored changes, a failed poll with a one-line reason,
and the next good answer is taken without a restart."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
from pathlib import Path

import pytest

from monitor.config import parse_config
from monitor.jobs import Collector
from storage import Store
from tests.conftest import loopback_config_text
from tests.payloads import (
    PRICES,
    day_view,
    models_catalogue,
    revised_export,
    serve_everything,
    serve_export,
    weekly_chart,
    yahoo_chart,
)
from tests.upstream import HTML_ERROR, FakeUpstream, Reply, gzip_bomb, padded

TABLES = (
    "quotes",
    "daily_bars",
    "fx",
    "token_daily",
    "token_weekly",
    "models",
    "model_prices",
    "model_day_usage",
    "instruments",
    "meta",
)

# (job, path prefix whose answers are faulted, how to make a good answer differ from what is stored)
JOBS = {
    "quotes": ("/v8/finance/chart/", "prices"),
    "daily_bars": ("/v8/finance/chart/", "prices"),
    "fx": ("/v8/finance/chart/", "prices"),  # the fx job asks for FX pairs only
    "openrouter_export": ("/api/v1/datasets/exports/", "export"),
    "openrouter_models": ("/api/v1/models", "models"),
    "openrouter_weekly": ("/api/frontend/v1/rankings/model-rankings-chart", "weekly"),
    "openrouter_day_view": ("/api/frontend/v1/rankings/models", "day_view"),
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
    elif how == "day_view":
        body = json.loads(day_view())
        body["data"][0]["total_usage"] += 1
        upstream.route("/api/frontend/v1/rankings/models", json.dumps(body))


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


# -- issue 13: hostile and broken upstreams, broken disks, a collector that never stops silently -------------
# One test per row of the table. Each serves the hostile case from the loopback upstream (or breaks
# the disk, the database or the config) and asserts what a user sees: a failed poll with a one-line reason,
# stored rows unchanged, a one-line exit 2. None of them measures time; each waits on what it asserts.


def only_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


async def test_a_body_trickled_out_hits_the_total_deadline(setup):
    """1 byte every 5 s: each read is quick, so httpx's per-read timeout never fires; the request's total does."""
    upstream, store, collector = setup
    make_good_answers_differ(upstream, "models")
    before = dump(store)
    good = upstream.routes["/api/v1/models"].body
    upstream.fail_next("/api/v1/models", Reply(200, good, {"Content-Type": "application/json"}, drip=0.05, pieces=40))
    result = await collector.run_job("openrouter_models")
    assert not result.ok and "timed out after 0.3 s" in only_line(result.error)
    assert dump(store) == before
    assert store.latest_polls().filter(job="openrouter_models").row(0, named=True)["ok"] == 0


async def test_a_job_that_overruns_is_cancelled_recorded_and_runs_again(setup, monkeypatch):
    """Whatever a job waits on, its run ends at its deadline: a failed poll, and the lock is free again."""
    _, store, collector = setup
    from monitor.sources import openrouter

    real = openrouter.fetch_models
    hang = asyncio.Event()

    async def never_answers(*args, **kwargs):
        await hang.wait()

    monkeypatch.setattr(openrouter, "fetch_models", never_answers)
    collector.job_deadline = 0.2
    result = await asyncio.wait_for(collector.run_job("openrouter_models"), 60)  # a guard against a hang only
    assert result is not None and not result.ok and "deadline" in only_line(result.error)
    assert store.latest_polls().filter(job="openrouter_models").row(0, named=True)["ok"] == 0
    monkeypatch.setattr(openrouter, "fetch_models", real)
    again = await collector.run_job("openrouter_models")
    assert again is not None and again.ok  # not skipped as "already running"


async def test_a_body_past_the_size_cap_is_refused(setup):
    """A 50 MB body is refused at the cap (4 MB for a chart), streamed: nothing of it is stored."""
    from monitor.sources import yahoo

    upstream, store, collector = setup
    before = dump(store)
    body = json.dumps(yahoo_chart("NVDA", "USD", [p * 2 for p in PRICES["NVDA"][1]], 1.0)).encode()
    upstream.route("/v8/finance/chart/NVDA", padded(body, yahoo.MAX_CHART + 1), Content_Type="application/json")
    collector.force_due()
    result = await collector.run_job("quotes")
    assert not result.ok and "NVDA" in result.error and "larger than 4 MB" in only_line(result.error)
    assert dump(store)["quotes"] == before["quotes"]
    assert collector.health["yahoo"].failures == 0  # about this answer, not Yahoo as a whole


async def test_a_gzip_bomb_stops_at_the_cap_after_decompression(setup):
    """~64 KB on the wire, 64 MB decoded: decoding stops at the cap (16 MB for the catalogue)."""
    upstream, store, collector = setup
    make_good_answers_differ(upstream, "models")
    before = dump(store)
    upstream.fail_next("/api/v1/models", gzip_bomb(64 * 2**20))
    result = await collector.run_job("openrouter_models")
    assert not result.ok and "larger than 16 MB" in only_line(result.error)
    assert dump(store) == before


async def test_only_encodings_decoded_under_the_cap_are_asked_for(setup):
    upstream, _, collector = setup
    await collector.run_job("openrouter_models")
    assert {headers.get("Accept-Encoding") for _, headers in upstream.requests} == {"gzip, deflate"}


@pytest.mark.parametrize("field, value", [(3, "inf"), (4, "nan"), (3, "-inf")])
async def test_tencent_inf_or_nan_is_a_failed_poll_naming_it(setup, field, value):
    """Yahoo down for HK, and Tencent answers inf/nan: refused by name, the last good price stays."""
    upstream, store, collector = setup
    before = dump(store)
    for code, record in list(upstream.tencent_records.items()):
        fields = record.split('"')[1].split("~")
        fields[field] = value
        upstream.tencent_records[code] = f'v_{code}="{"~".join(fields)}";'
    upstream.fail_next("/v8/finance/chart/", *[FAULTS["500"]] * 40)
    collector.force_due()
    result = await collector.run_job("quotes")
    assert not result.ok and f"{value}'" in only_line(result.error) and "fallback tencent" in result.error
    assert dump(store) == before


@pytest.mark.parametrize(
    "meta, phrase",
    [
        ({"regularMarketPrice": 0}, "absurd regularMarketPrice: 0"),
        ({"regularMarketTime": 4102444800}, "regularMarketTime 2100-01-01 00:00 UTC is in the future"),
    ],
)
async def test_yahoo_zero_price_or_a_time_in_2100_is_refused(setup, meta, phrase):
    upstream, store, collector = setup
    before = dump(store)
    body = yahoo_chart("NVDA", "USD", [p * 2 for p in PRICES["NVDA"][1]], 1.0)
    body["chart"]["result"][0]["meta"].update(meta)
    upstream.route("/v8/finance/chart/NVDA", json.dumps(body))
    collector.force_due()
    result = await collector.run_job("quotes")
    assert not result.ok and phrase in only_line(result.error) and "NVDA" in result.error
    assert dump(store)["quotes"] == before["quotes"]
    newest = store.latest_quotes(["NVDA"]).row(0, named=True)
    upstream.route("/v8/finance/chart/NVDA", json.dumps(yahoo_chart("NVDA", "USD", PRICES["NVDA"][1], 185.0)))
    collector.force_due()
    assert (await collector.run_job("quotes")).ok
    assert store.latest_quotes(["NVDA"]).row(0, named=True)["ts"] == newest["ts"]  # nothing from 2100 is "latest"


async def test_a_bar_before_the_listing_is_refused(setup):
    upstream, store, collector = setup
    before = dump(store)
    body = yahoo_chart("0100.HK", "HKD", [p * 2 for p in PRICES["0100.HK"][1]], 320.0)
    body["chart"]["result"][0]["timestamp"][0] = 1735700000  # 2025-01-01, before MiniMax listed (2026-01-09)
    upstream.route("/v8/finance/chart/0100.HK", json.dumps(body))
    collector.force_due()
    result = await collector.run_job("daily_bars")
    assert not result.ok and "before its listing on 2026-01-09" in only_line(result.error)
    assert [r for r in dump(store)["daily_bars"] if r[0] == "0100.HK"] == [
        r for r in before["daily_bars"] if r[0] == "0100.HK"
    ]


async def test_a_manifest_from_9999_is_refused_and_the_next_real_export_is_taken(setup):
    upstream, store, collector = setup
    before = dump(store)
    serve_export(upstream, revised_export(), "9999-12-31")
    result = await collector.run_job("openrouter_export")
    assert not result.ok and "snapshot_date 9999-12-31 is in the future" in only_line(result.error)
    assert dump(store) == before
    serve_export(upstream, revised_export(), "2026-10-09")
    result = await collector.run_job("openrouter_export")
    assert result.ok and result.rows > 0 and store.get_meta("openrouter_snapshot_date") == "2026-10-09"


async def test_a_future_snapshot_date_stored_before_does_not_freeze_the_tokens(setup):
    upstream, store, collector = setup
    store.set_meta("openrouter_snapshot_date", "9999-12-31")  # as an older tokentape stored it
    serve_export(upstream, revised_export(), "2026-10-09")
    result = await collector.run_job("openrouter_export")
    assert result.ok and result.rows > 0 and store.get_meta("openrouter_snapshot_date") == "2026-10-09"


async def test_a_redirect_to_another_host_is_refused(setup):
    upstream, store, collector = setup
    make_good_answers_differ(upstream, "models")
    before = dump(store)
    elsewhere = upstream.base_url.replace("127.0.0.1", "localhost") + "/api/v1/models"  # the same server, another host
    upstream.fail_next("/api/v1/models", Reply(302, b"", {"Location": elsewhere}))
    result = await collector.run_job("openrouter_models")
    assert not result.ok and "redirect to another host refused: http://localhost" in only_line(result.error)
    assert dump(store) == before
    assert upstream.count("/api/v1/models") == 1


async def test_a_same_host_redirect_is_followed_and_a_loop_is_one_line(setup):
    upstream, _, collector = setup
    make_good_answers_differ(upstream, "models")
    upstream.fail_next("/api/v1/models", Reply(301, b"", {"Location": "/api/v1/models?moved=1"}))
    # the changed entry, and its price for the day in model_prices
    assert (await collector.run_job("openrouter_models")).rows == 2
    upstream.fail_next("/api/v1/models", *[Reply(302, b"", {"Location": "/api/v1/models"})] * 10)
    result = await collector.run_job("openrouter_models")
    assert not result.ok and "more than 5 redirects" in only_line(result.error)
    assert "internal error" not in result.error


def full_disk(monkeypatch, spare: str = "") -> None:
    """Every write the store makes fails as SQLite fails on a full disk (SQLITE_FULL), except statements
    starting with `spare` (e.g. the watchlist's sync at start, so the disk fills while collecting)."""
    import sqlite3 as real_sqlite3

    import storage.db

    def full(sql: str) -> None:
        words = sql.lstrip().upper()
        if words.startswith(("INSERT", "UPDATE", "DELETE")) and not (spare and words.startswith(spare)):
            raise real_sqlite3.OperationalError("database or disk is full")

    class FullDisk(real_sqlite3.Connection):
        def execute(self, sql, *args):
            full(sql)
            return super().execute(sql, *args)

        def executemany(self, sql, *args):
            full(sql)
            return super().executemany(sql, *args)

    connect = real_sqlite3.connect
    monkeypatch.setattr(storage.db.sqlite3, "connect", lambda *a, **k: connect(*a, factory=FullDisk, **k))


def loopback_files(tmp_path, baseline, db_name="t.db"):
    server, _, db = baseline
    shutil.copy(db, tmp_path / db_name)
    config = tmp_path / "c.toml"
    config.write_text(loopback_config_text(server.base_url), encoding="utf-8")
    return str(config), str(tmp_path / db_name)


def test_disk_full_while_collecting_is_said_on_stderr_and_in_the_log(baseline, tmp_path, monkeypatch, capsys):
    from monitor import cli

    server, _, _ = baseline
    serve_everything(server, bump=3.0)  # new rows to write
    config, db = loopback_files(tmp_path, baseline)
    # the start-up syncs of the watchlist and the fundamentals are spared: the disk fills while collecting
    full_disk(monkeypatch, spare=("INSERT INTO INSTRUMENTS", "DELETE FROM FUNDAMENTALS", "INSERT INTO FUNDAMENTALS"))
    code = cli.main(["collect", "--once", "--config", config, "--db", db])
    err = capsys.readouterr().err
    assert code == 1
    failed = [line for line in err.splitlines() if "FAILED" in line]
    assert failed and all("not stored: disk full" in line for line in failed)
    assert "Traceback" not in err
    log = cli.log_path().read_text()
    assert "disk full" in log and "Traceback" not in log


def test_a_full_disk_exits_2_at_start_naming_it(baseline, tmp_path, monkeypatch, capsys):
    from monitor import cli

    config, db = loopback_files(tmp_path, baseline)
    full_disk(monkeypatch)
    code = cli.main(["collect", "--once", "--config", config, "--db", db])
    assert code == 2 and "disk full" in only_line(capsys.readouterr().err)


def test_a_read_only_database_exits_2_at_start_naming_it(baseline, tmp_path, monkeypatch, capsys):
    import sqlite3 as real_sqlite3

    import storage.db
    from monitor import cli

    config, db = loopback_files(tmp_path, baseline)
    connect = real_sqlite3.connect
    monkeypatch.setattr(
        storage.db.sqlite3, "connect", lambda path, *a, **k: connect(f"file:{path}?mode=ro", *a, uri=True, **k)
    )
    code = cli.main(["collect", "--once", "--config", config, "--db", db])
    assert code == 2 and "database is read-only" in only_line(capsys.readouterr().err)


@pytest.mark.parametrize("content", [b"", None])
def test_a_reader_never_writes_an_empty_or_missing_file(baseline, tmp_path, capsys, content):
    from monitor import cli
    from monitor.feed import DataFeed
    from storage import StorageError

    config, _ = loopback_files(tmp_path, baseline)
    db = tmp_path / "empty.db"
    if content is not None:
        db.write_bytes(content)
    code = cli.main(["snapshot", "--config", config, "--db", str(db)])
    assert code == 2 and "database" in only_line(capsys.readouterr().err)
    feed = DataFeed.for_database(parse_config(Path(config).read_text(), config), "read-only", db)
    with pytest.raises(StorageError):
        feed.first_dashboard()
    assert (db.read_bytes() if db.exists() else None) == content
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["c.toml", "t.db", *(["empty.db"] if content is not None else [])]
    )


@pytest.mark.parametrize(
    "tamper, phrase",
    [
        ("UPDATE meta SET value='two' WHERE key='schema_version'", "schema_version is 'two', not a number"),
        ("DROP TABLE quotes", "table quotes missing"),
    ],
)
def test_a_tampered_schema_is_one_line(baseline, tmp_path, capsys, tamper, phrase):
    import sqlite3 as real_sqlite3

    from monitor import cli

    config, db = loopback_files(tmp_path, baseline)
    with real_sqlite3.connect(db) as conn:
        conn.execute(tamper)
    for argv in (["snapshot"], ["collect", "--once"]):
        code = cli.main([*argv, "--config", config, "--db", db])
        assert code == 2 and phrase in only_line(capsys.readouterr().err)


def test_a_second_collector_exits_2_naming_the_first(baseline, tmp_path, capsys):
    import os

    from monitor import cli
    from monitor.dblock import CollectorLock

    server, _, _ = baseline
    config, db = loopback_files(tmp_path, baseline)
    first = CollectorLock(db)
    assert first.acquire() is None
    server.requests.clear()
    try:
        code = cli.main(["collect", "--once", "--config", config, "--db", db])
        assert code == 2 and f"(pid {os.getpid()}) is already collecting" in only_line(capsys.readouterr().err)
        assert server.requests == []  # it polled nothing
    finally:
        first.release()
    assert CollectorLock(db).acquire() is None  # released: the next one runs


def test_a_live_dashboard_beside_a_collector_only_reads_and_says_so(baseline, tmp_path):
    from monitor.dblock import CollectorLock
    from monitor.feed import DataFeed

    config_path, db = loopback_files(tmp_path, baseline)
    first = CollectorLock(db)
    assert first.acquire() is None
    feed = DataFeed.for_database(parse_config(Path(config_path).read_text(), config_path), "live", tmp_path / "t.db")
    try:
        feed.first_dashboard()
        assert feed.mode == "read-only" and "already collecting" in feed.notice
    finally:
        feed.close_store()
        first.release()


async def test_one_delisted_symbol_does_not_back_yahoo_off(setup):
    """Verified after "One house": Yahoo's 404 "symbol may be delisted" is about that symbol only."""
    from tests.payloads import yahoo_error

    upstream, store, collector = setup
    make_good_answers_differ(upstream, "prices")
    upstream.route("/v8/finance/chart/NVDA", json.dumps(yahoo_error()), status=404)
    collector.force_due()
    result = await collector.run_job("quotes")
    assert not result.ok and "1 of" in result.error and "symbol may be delisted" in result.error
    assert collector.health["yahoo"].failures == 0
    assert store.latest_quotes(["META"]).row(0, named=True)["price"] == PRICES["META"][1][-1] * 2.0


def test_the_screen_cache_is_data_never_code(tmp_path):
    """Verified after "One house": a pickle where the cache belongs is ignored, never unpickled."""
    import os
    import pickle

    from widgets import screen_cache

    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    cache = tmp_path / "screen.json"
    cache.write_bytes(pickle.dumps(Exploit()))
    assert screen_cache.load(cache) is None
    assert not marker.exists()


@pytest.mark.parametrize(
    "replace, key, phrase",
    [
        ("timeout_seconds = 10.0", "[sources.yahoo] timeout_seconds", "<= 3600"),
        ("timeout_seconds = 30.0", "[sources.openrouter] timeout_seconds", "<= 3600"),
        ("read_only_check_seconds = 2.0", "[ui] read_only_check_seconds", "> 0"),
    ],
)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_config_numbers_that_cannot_work_are_config_errors(replace, key, phrase, value):
    from monitor.config import ConfigError
    from tests.conftest import ROOT

    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    number, _ = replace.split(" = ")
    with pytest.raises(ConfigError) as info:
        parse_config(text.replace(replace, f"{number} = {value}"), "c.toml")
    assert info.value.key == key and info.value.line and phrase in str(info.value)


@pytest.mark.parametrize(
    "old, new, key, phrase",
    [
        ('sessions = [["09:30", "12:00"], ["13:00", "16:00"]]', "sessions = []", "sessions", "at least one session"),
        ('timezone = "Asia/Hong_Kong"', 'timezone = "Mars/Olympus"', "timezone", "unknown time zone"),
        ('export = "e"', 'export = "r"', "export", "'r' is already bound to refresh"),
        ('quit = "q"', 'quit = "ctrl+c,slash"', "quit", "'slash' is already bound to filter"),
    ],
)
def test_config_values_that_parse_but_cannot_work_are_config_errors(old, new, key, phrase):
    from monitor.config import ConfigError
    from tests.conftest import ROOT

    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    assert old in text
    with pytest.raises(ConfigError) as info:
        parse_config(text.replace(old, new, 1), "c.toml")
    assert info.value.key.endswith(key) and info.value.line and phrase in str(info.value)


def test_an_api_key_with_a_carriage_return_is_refused_and_never_printed(baseline, tmp_path, monkeypatch, capsys):
    from monitor import cli

    config, db = loopback_files(tmp_path, baseline)
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-0123456789abcdef\r")
    code = cli.main(["backfill", "--config", config, "--db", db])
    captured = capsys.readouterr()
    assert code == 2 and "contains a control character" in only_line(captured.err)
    assert "0123456789abcdef" not in captured.err + captured.out + cli.log_path().read_text()


async def test_a_key_is_redacted_in_every_form_a_message_can_print_it(setup, monkeypatch):
    _, _, collector = setup
    key = "sk-or/v1+key with space\r"
    monkeypatch.setenv("OPENROUTER_API_KEY", key)
    from urllib.parse import quote, quote_plus

    for form in (key, repr(key), repr(key.encode()), quote(key, safe=""), quote_plus(key), key.strip()):
        cleaned = collector._clean(f"openrouter: Illegal header value {form} (https://x)")
        assert "key" not in cleaned.replace("Illegal", ""), (form, cleaned)


@pytest.mark.parametrize("kind", ["fifo", "symlink", "device"])
def test_snapshot_out_never_replaces_a_device_fifo_or_symlink(baseline, tmp_path, capsys, kind):
    import os
    import stat

    from monitor import cli

    config, db = loopback_files(tmp_path, baseline)
    target = tmp_path / "target"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink":
        (tmp_path / "elsewhere.json").write_text("keep me")
        target.symlink_to(tmp_path / "elsewhere.json")
    else:
        if os.geteuid() != 0:
            pytest.skip("making a device node needs root")
        os.mknod(target, stat.S_IFCHR | 0o666, os.makedev(1, 7))  # /dev/full's numbers, in tmp_path
    before = os.lstat(target)
    code = cli.main(["snapshot", "--format", "json", "--out", str(target), "--config", config, "--db", db])
    assert code == 2 and "refusing to replace it" in only_line(capsys.readouterr().err)
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    if kind == "symlink":
        assert (tmp_path / "elsewhere.json").read_text() == "keep me"


def test_snapshot_out_dash_is_stdout(baseline, tmp_path, capsys):
    from monitor import cli

    config, db = loopback_files(tmp_path, baseline)
    assert cli.main(["snapshot", "--format", "json", "--out", "-", "--config", config, "--db", db]) == 0
    assert json.loads(capsys.readouterr().out)["companies"]
    assert not (tmp_path / "-").exists()


async def test_ten_thousand_hk_symbols_go_in_short_batches_and_one_failing_batch_loses_nothing_else(setup):
    from monitor.jobs import JobContext, tencent_quotes

    upstream, store, _ = setup
    # 167 requests: the normal timeout, not the faulted runs' 0.3 s, or one slow answer on a busy machine
    # would time out and back Tencent off for every later batch.
    config = parse_config(loopback_config_text(upstream.base_url), "c.toml")
    collector = Collector(config, store)
    served = sorted(s for s in PRICES if s.endswith(".HK"))
    symbols = [f"{n:04d}.HK" for n in range(1, 10_001) if f"{n:04d}.HK" not in served] + served
    upstream.requests.clear()
    # The first batch (codes 00001...) gets garbage; a 5xx would back Tencent off.
    upstream.fail_next("/q=r_hk00001,", FAULTS["garbage"])
    ctx = JobContext(collector.config, collector.upstreams, store, collector.clock)
    try:
        found, errors = await tencent_quotes(ctx, symbols)
    finally:
        await collector.aclose()
    assert sorted(found) == served
    assert set(symbols[:60]) <= set(errors)  # the garbage batch failed, and it took no other batch's quotes
    assert not set(errors) & set(served)
    asked = [p for p, _ in upstream.requests if p.startswith("/q=")]
    assert len(asked) == -(-len(symbols) // 60) and max(len(p) for p in asked) < 1000


async def test_daily_bars_are_kept_when_share_counts_fail(setup):
    upstream, store, collector = setup
    make_good_answers_differ(upstream, "prices")
    upstream.fail_next("/q=", *[FAULTS["500"]] * 5)
    collector.force_due()
    result = await collector.run_job("daily_bars")
    assert result.rows > 0
    close = store.frame("daily_bars", "symbol = '0100.HK'", order="date")["close"].to_list()[-1]
    assert close == PRICES["0100.HK"][1][-1] * 2.0


def test_the_job_message_quotes_the_same_symbol_whatever_order_the_answers_came_in():
    """The flaky fallback test quoted whichever symbol failed first; the summary now picks by name."""
    from monitor.jobs import Fetched
    from monitor.sources import UpstreamError

    summaries = set()
    for order in (["NVDA", "0100.HK", "META"], ["0100.HK", "META", "NVDA"], ["META", "NVDA", "0100.HK"]):
        fetched = Fetched()
        for symbol in order:
            fetched.fail(symbol, UpstreamError("yahoo", f"HTTP 500 for {symbol}"))
        summaries.add(fetched.summary())
    assert summaries == {"3 of 3 symbols failed (0100.HK, META, NVDA): yahoo: HTTP 500 for 0100.HK"}
