"""The store: schema and WAL, idempotent upserts, newest snapshot wins, whole-or-nothing writes."""

from __future__ import annotations

import sqlite3

import polars as pl
import pytest

import storage.db
from storage import SCHEMA_VERSION, StorageError, Store


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "t.db")
    yield s
    s.close()


def token_row(day, slug, share, snapshot, tokens=100, rank=1):
    return {
        "date": day,
        "model_permaslug": slug,
        "author": slug.split("/")[0],
        "rank": rank,
        "total_tokens": tokens,
        "share": share,
        "snapshot_date": snapshot,
        "source": "openrouter-export",
    }


def tables_of(store: Store) -> set[str]:
    return {r[0] for r in store.conn().execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_new_database_is_wal_with_schema_version(store):
    assert store.conn().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION) == "7"
    assert {
        "instruments",
        "quotes",
        "daily_bars",
        "fx",
        "token_daily",
        "models",
        "model_prices",
        "model_day_usage",
        "polls",
        "symbol_status",
    } <= tables_of(store)


def test_a_v1_database_migrates_to_v2_and_keeps_its_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(storage.db, "SCHEMA_VERSION", 1)  # a database as tokentape v1 left it
    old = Store.open(tmp_path / "t.db")
    old.upsert("fx", [{"pair": "HKDUSD", "ts": 1, "rate": 0.128, "source": "yahoo"}])
    with old.transaction() as conn:  # as v1 recorded a poll (job_state came in v4)
        conn.execute("INSERT INTO polls (job, started, finished, ok, error, rows) VALUES ('fx', 1, 2, 1, NULL, 1)")
    assert old.schema_version() == 1 and "symbol_status" not in tables_of(old)
    old.close()
    monkeypatch.undo()
    new = Store.open(tmp_path / "t.db")
    assert new.schema_version() == SCHEMA_VERSION
    assert new.count("fx") == 1 and new.latest_polls().row(0, named=True)["job"] == "fx"
    with new.transaction() as conn:
        new.set_symbol_status("fx", [("HKDUSD=X", True, None)], 3.0, conn)
    assert new.frame("symbol_status").row(0, named=True) == {
        "job": "fx",
        "symbol": "HKDUSD=X",
        "checked": 3.0,
        "ok": 1,
        "error": None,
        "last_ok": 3.0,
    }
    new.close()


def test_symbol_status_is_the_newest_outcome_and_keeps_the_last_success(store):
    with store.transaction() as conn:
        store.set_symbol_status(
            "quotes", [("NVDA", True, None), ("0100.HK", True, "yahoo: x; served by tencent")], 10.0, conn
        )
    with store.transaction() as conn:
        store.set_symbol_status("quotes", [("NVDA", False, "yahoo: HTTP 404: No data found")], 20.0, conn)
    rows = {r["symbol"]: r for r in store.frame("symbol_status").iter_rows(named=True)}
    assert rows["NVDA"] == {
        "job": "quotes",
        "symbol": "NVDA",
        "checked": 20.0,
        "ok": 0,
        "error": "yahoo: HTTP 404: No data found",
        "last_ok": 10.0,
    }
    assert rows["0100.HK"]["ok"] == 1 and rows["0100.HK"]["error"] == "yahoo: x; served by tencent"


def test_reopening_migrates_nothing_and_keeps_rows(tmp_path):
    s = Store.open(tmp_path / "t.db")
    s.upsert("fx", [{"pair": "HKDUSD", "ts": 1, "rate": 0.128, "source": "yahoo"}])
    s.close()
    again = Store.open(tmp_path / "t.db")
    assert again.count("fx") == 1
    again.close()


def test_newer_schema_is_refused(tmp_path):
    s = Store.open(tmp_path / "t.db")
    s.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    s.close()
    with pytest.raises(StorageError, match="newer than this tokentape"):
        Store.open(tmp_path / "t.db")


def test_unwritable_path_is_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="cannot open database"):
        Store.open(blocker / "sub" / "t.db")


def test_upsert_twice_changes_nothing(store):
    rows = [
        {"symbol": "0100.HK", "ts": t, "price": 300.0 + t, "prev_close": 299.0, "volume": None, "source": "yahoo"}
        for t in range(5)
    ]
    assert store.upsert("quotes", rows) == 5
    assert store.upsert("quotes", rows) == 0
    rows[2]["price"] = 999.0
    assert store.upsert("quotes", rows) == 1
    assert store.count("quotes") == 5


def test_newest_snapshot_revises_and_older_cannot(store):
    store.upsert("token_daily", [token_row("2026-10-07", "a/x", 0.10, "2026-10-08")])
    # The next day's snapshot revises the day.
    assert store.upsert("token_daily", [token_row("2026-10-07", "a/x", 0.11, "2026-10-09")]) == 1
    # A late-arriving older snapshot must not undo the revision.
    assert store.upsert("token_daily", [token_row("2026-10-07", "a/x", 0.10, "2026-10-08")]) == 0
    assert store.token_daily()["share"].to_list() == [0.11]


def test_a_failed_transaction_leaves_nothing(store):
    with pytest.raises(RuntimeError), store.transaction() as conn:
        store.upsert("token_daily", [token_row("2026-10-07", "a/x", 0.1, "s")], conn)
        raise RuntimeError("parse failed half way")
    assert store.count("token_daily") == 0


def test_reads_are_typed_frames_even_when_empty(store):
    frame = store.token_daily()
    assert frame.is_empty()
    assert frame.schema["total_tokens"] == pl.Int64 and frame.schema["share"] == pl.Float64
    assert store.latest_quotes(["0100.HK"]).schema["price"] == pl.Float64


def test_latest_quote_skips_null_prices(store):
    store.upsert(
        "quotes",
        [
            {"symbol": "0100.HK", "ts": 10, "price": 300.0, "prev_close": 290.0, "volume": 1.0, "source": "yahoo"},
            {"symbol": "0100.HK", "ts": 20, "price": None, "prev_close": 290.0, "volume": None, "source": "yahoo"},
        ],
    )
    latest = store.latest_quotes(["0100.HK"]).row(0, named=True)
    assert latest["ts"] == 10 and latest["price"] == 300.0
    assert store.quotes_since(["0100.HK"], 0)["price"].to_list() == [300.0, None]


def test_polls_latest_and_last_ok(store):
    store.record_poll("quotes", 1.0, 2.0, True, None, 5)
    store.record_poll("quotes", 3.0, 4.0, False, "yahoo: HTTP 500", 0)
    row = store.latest_polls().row(0, named=True)
    assert row["ok"] == 0 and row["error"] == "yahoo: HTTP 500" and row["last_ok"] == 2.0


def test_a_poll_recorded_inside_a_transaction_rolls_back_with_its_rows(store):
    with pytest.raises(sqlite3.OperationalError), store.transaction() as conn:
        store.upsert("fx", [{"pair": "HKDUSD", "ts": 1, "rate": 0.128, "source": "yahoo"}], conn)
        store.record_poll("fx", 1.0, 2.0, True, None, 1, conn)
        conn.execute("INSERT INTO no_such_table VALUES (1)")  # the write fails after both
    assert store.count("fx") == 0 and store.count("polls") == 0


def test_second_connection_sees_committed_rows(store, tmp_path):
    store.upsert("fx", [{"pair": "HKDUSD", "ts": 1, "rate": 0.128, "source": "yahoo"}])
    other = sqlite3.connect(tmp_path / "t.db")
    assert other.execute("SELECT rate FROM fx").fetchone()[0] == 0.128
    other.close()


def test_opening_a_current_database_takes_no_write_lock(tmp_path):
    Store.open(tmp_path / "t.db").close()
    writer = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a collector mid-write holds the write lock
    try:
        reader = Store.open(tmp_path / "t.db", create=False)  # must not wait for, or need, that lock
        assert reader.schema_version() == SCHEMA_VERSION
        reader.close()
    finally:
        writer.execute("ROLLBACK")
        writer.close()
