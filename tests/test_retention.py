"""Bounded reads, retention and `tokentape db` (issue 15)."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

import storage.db
from monitor import export, retention
from monitor.cli import main
from monitor.config import load_config
from monitor.dashboard import DashboardLoader
from monitor.demo import open_demo_store
from storage import SCHEMA_VERSION, Store
from tests.test_durability import Writer

HK = "0100.HK"
# Tables that stay a handful of rows whatever the history: a SCAN of these is fine.
SMALL_TABLES = {"instruments", "meta", "job_state", "symbol_status", "alert_state", "models", "pairs"}
STEP = 120  # seconds between intraday bars


def _hk_ts(day: date, hour: int, minute: int = 0) -> int:
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=8)  # HKT = UTC+8
    return int(local.timestamp())


def _day_quotes(symbol: str, day: date, price: float = 300.0) -> list[dict[str, object]]:
    start = _hk_ts(day, 10)
    return [
        {
            "symbol": symbol,
            "ts": start + i * STEP,
            "price": price + i,
            "prev_close": 299.0,
            "volume": 10.0,
            "source": "t",
        }
        for i in range(60)
    ]


def _bar(symbol: str, day: date) -> dict[str, object]:
    return {
        "symbol": symbol,
        "date": day.isoformat(),
        "open": 1.0,
        "high": 2.0,
        "low": 0.5,
        "close": 1.5,
        "volume": 100.0,
        "source": "t",
    }


@pytest.fixture
def history(tmp_path: Path) -> tuple[Store, date, list[date]]:
    """60 days of HK quotes and daily bars ending today, one old day without its bar, polls over 200 days."""
    config = load_config()
    store = Store.open(tmp_path / "h.db")
    store.sync_instruments(config.companies)
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=n) for n in range(60, -1, -1)]
    no_bar = days[5]
    store.upsert("quotes", [q for d in days for q in _day_quotes(HK, d)])
    store.upsert("daily_bars", [_bar(HK, d) for d in days if d != no_bar])
    store.upsert("fx", [{"pair": "HKDUSD", "ts": 1000 + n, "rate": 0.128, "source": "t"} for n in range(50)])
    now = time.time()
    for n in range(200, -1, -1):
        store.record_poll("quotes", now - n * 86400, now - n * 86400 + 1, n % 7 != 0, None if n % 7 else "boom", 3)
    return store, no_bar, days


def _plans(store: Store, statements: list[str]) -> list[str]:
    conn = sqlite3.connect(store.path)
    details = []
    for sql in statements:
        if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        details += [f"{row[3]}  <-  {sql[:100]}" for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
    conn.close()
    return details


def test_reload_path_and_snapshot_read_no_history_table_by_scan(history):
    store, _, _ = history
    statements: list[str] = []
    store.conn().set_trace_callback(statements.append)
    loader = DashboardLoader(store, load_config())
    loader.load()  # the first paint, and what `snapshot` reads
    loader.load({"quotes", "polls", "symbol_status"})  # the reload after a quote poll
    loader.load({"fx", "daily_bars", "token_daily", "token_weekly", "instruments", "meta"})
    store.conn().set_trace_callback(None)
    plans = _plans(store, statements)
    assert any("SEARCH" in p for p in plans)
    scans = [p for p in plans if (m := re.match(r"SCAN (\w+)", p)) and m.group(1) not in SMALL_TABLES]
    assert scans == []


def test_the_old_queries_are_caught_by_the_plan_check(history):
    """The check above is not vacuous: the unbounded reads it replaced show up as a SCAN."""
    store, _, _ = history
    old = [
        "SELECT p.job FROM polls p WHERE p.id = (SELECT MAX(id) FROM polls q WHERE q.job = p.job)",
        "SELECT pair FROM fx WHERE ts = (SELECT MAX(ts) FROM fx f2 WHERE f2.pair = fx.pair)",
        "SELECT symbol FROM daily_bars WHERE date >= '2020-01-01'",
    ]
    assert len([p for p in _plans(store, old) if p.startswith("SCAN ")]) >= 3


def _snapshot_json(store: Store) -> dict[str, object]:
    payload = json.loads(export.to_json(DashboardLoader(store, load_config()).load()))
    payload.pop("generated_at")
    return payload


def test_pruning_keeps_what_panels_show_and_everything_in_the_window(history):
    store, no_bar, days = history
    config = load_config()
    before_json = _snapshot_json(store)
    polls_before = store.latest_polls()
    quotes_before = store.count("quotes")
    now = time.time()
    dry = retention.prune(store, config, now=now, dry_run=True)
    assert store.count("quotes") == quotes_before  # a dry run deletes nothing
    report = retention.prune(store, config, now=now)
    assert report.quotes == dry.quotes > 0 and report.polls == dry.polls > 0
    assert _snapshot_json(store) == before_json
    assert store.latest_polls().equals(polls_before)  # the newest poll, last success and status line
    state = store.frame("job_state").row(0, named=True)
    assert state["polls"] == 201 and state["failures"] == 29  # counters survive their rows
    cutoff = datetime.fromtimestamp(now, UTC).date() - timedelta(days=config.storage.intraday_days)
    conn = store.conn()
    for day in days:
        kept = conn.execute(
            "SELECT COUNT(*) FROM quotes WHERE symbol=? AND ts BETWEEN ? AND ?", (HK, _hk_ts(day, 0), _hk_ts(day, 23))
        ).fetchone()[0]
        # Inside the window every row stays; before it a day goes only when its daily bar is stored.
        assert kept == (60 if day >= cutoff or day == no_bar else 0), day
    assert store.count("daily_bars") == len(days) - 1 and store.count("fx") == 50  # kept forever
    oldest_poll = conn.execute("SELECT MIN(finished) FROM polls").fetchone()[0]
    assert oldest_poll >= now - config.storage.poll_days * 86400
    assert store.count("polls") == config.storage.poll_days + 1
    assert retention.prune(store, config, now=now).quotes == 0  # nothing left to do
    assert "deleted" in retention.last_prune(store)


def test_new_databases_give_pruned_space_back(history):
    store, _, _ = history
    conn = store.conn()
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    store.upsert("quotes", [q for n in range(400) for q in _day_quotes(HK, date(2020, 1, 1) + timedelta(days=n))])
    store.upsert("daily_bars", [_bar(HK, date(2020, 1, 1) + timedelta(days=n)) for n in range(400)])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    retention.prune(store, load_config())
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert conn.execute("PRAGMA page_count").fetchone()[0] < pages * 0.7


def test_a_pre_retention_database_migrates_keeping_every_row(tmp_path, monkeypatch):
    monkeypatch.setattr(storage.db, "SCHEMA_VERSION", 3)  # as tokentape left it before job_state
    old = Store.open(tmp_path / "t.db")
    old.upsert("quotes", _day_quotes(HK, date(2024, 3, 4)))
    old.upsert("daily_bars", [_bar(HK, date(2024, 3, 4))])
    with old.transaction() as conn:
        conn.executemany(
            "INSERT INTO polls (job, started, finished, ok, error, rows) VALUES (?,?,?,?,?,?)",
            [("quotes", n, n + 0.5, int(n % 3 != 0), None if n % 3 else "x", 1) for n in range(1, 31)]
            + [("fx", n, n + 0.5, 1, None, 1) for n in range(1, 6)],
        )
    tables = [r[0] for r in old.conn().execute("SELECT name FROM sqlite_master WHERE type='table'")]
    counts = {t: old.count(t) for t in tables}
    old.close()
    monkeypatch.undo()
    new = Store.open(tmp_path / "t.db")
    assert new.schema_version() == SCHEMA_VERSION
    assert {t: new.count(t) for t in tables} == counts
    polls = {r["job"]: r for r in new.frame("job_state").iter_rows(named=True)}
    assert polls["quotes"]["polls"] == 30 and polls["quotes"]["failures"] == 10 and polls["fx"]["polls"] == 5
    assert polls["quotes"]["finished"] == 30.5 and polls["quotes"]["last_ok"] == 29.5  # poll 30 failed
    new.record_poll("quotes", 40.0, 40.5, True, None, 1)
    assert new.frame("job_state", "job = 'quotes'").row(0, named=True)["polls"] == 31


def test_db_backup_while_a_writer_runs_is_a_sound_database(tmp_path, capsys):
    db = tmp_path / "t.db"
    Store.open(db).close()
    writer = Writer(db, 60)
    try:
        writer.wait_for_acks(3)
        assert main(["db", "--db", str(db), "backup", str(tmp_path / "copy.db")]) == 0
        writer.wait_for_acks(2)  # the writer went on committing
    finally:
        writer.kill()
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT COUNT(*) FROM quotes").fetchone()[0] >= 3 * 20
    copy.close()
    assert main(["db", "--db", str(tmp_path / "copy.db"), "check"]) == 0
    assert main(["db", "--db", str(db), "backup", str(tmp_path / "copy.db")]) == 2  # never overwrites
    assert "already exists" in capsys.readouterr().err


def test_db_stats_prune_and_vacuum(history, capsys):
    store, _, _ = history
    db = str(store.path)
    store.close()
    assert main(["db", "--db", db, "stats"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^quotes\s+3660\s", out, re.M) and "last prune: never" in out
    assert main(["db", "--db", db, "prune", "--dry-run"]) == 0
    assert "would delete" in capsys.readouterr().out
    assert Store.open(db).count("quotes") == 3660
    assert main(["db", "--db", db, "prune"]) == 0
    assert main(["db", "--db", db, "vacuum"]) == 0
    assert "vacuumed" in capsys.readouterr().err
    assert main(["db", "--db", db, "check"]) == 0


def test_demo_store_reads_are_bounded_too(tmp_path):
    """The demo database (every panel filled) through the same plan check."""
    config = load_config()
    store = open_demo_store(config)
    statements: list[str] = []
    store.conn().set_trace_callback(statements.append)
    DashboardLoader(store, config).load()
    store.conn().set_trace_callback(None)
    plans = _plans(store, statements)
    assert [p for p in plans if (m := re.match(r"SCAN (\w+)", p)) and m.group(1) not in SMALL_TABLES] == []
