"""`tokentape history` and the headless range, gap and launch computations behind the company screen."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date

import polars as pl
import pytest

from monitor.config import parse_config
from monitor.history import company_history, launches, range_start, segments
from storage import Store
from tests.conftest import ROOT, loopback_config_text
from tests.payloads import serve_everything


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "monitor.cli", *args]
    return subprocess.run(command, capture_output=True, cwd=ROOT, env=dict(os.environ), timeout=timeout)


@pytest.fixture
def collected(upstream, tmp_path):
    serve_everything(upstream)
    config = tmp_path / "config.toml"
    config.write_text(loopback_config_text(upstream.base_url), encoding="utf-8")
    db = tmp_path / "tokentape.db"
    result = run("--config", str(config), "--db", str(db), "collect", "--once")
    assert result.returncode == 0, result.stderr
    return config, db


def test_history_max_csv_is_exactly_the_stored_bars(collected):
    config, db = collected
    result = run("--config", str(config), "--db", str(db), "history", "0100.HK", "--range", "max", "--format", "csv")
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    lines = text.splitlines()
    assert lines[-1].startswith("# Source: OpenRouter (openrouter.ai), licensed under CC BY 4.0")
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[:-1]))))
    store = Store.open(db, create=False)
    sql = "SELECT date, open, high, low, close, volume, source FROM daily_bars WHERE symbol='0100.HK' ORDER BY date"
    stored = store.conn().execute(sql).fetchall()
    store.close()
    assert len(stored) >= 5

    def number(text: str) -> float | None:
        return float(text) if text else None

    printed = [
        (r["date"], *(number(r[c]) for c in ("open", "high", "low", "close", "volume")), r["source"])
        for r in rows
        if r["close"]
    ]
    assert printed == [tuple(row) for row in stored]
    # Rows without a bar are token days (the maker's share) or launch days, never an empty price row.
    assert all(r["token_status"] != "no data" or r["launches"] for r in rows if not r["close"])
    assert not any(r["open"] or r["volume"] for r in rows if not r["close"])
    day = next(r for r in rows if r["date"] == "2026-10-07")
    assert float(day["token_share"]) == pytest.approx(0.0077165, abs=1e-6)


def test_history_json_and_table_carry_attribution_and_bad_subjects_exit_2(collected):
    config, db = collected
    base = ("--config", str(config), "--db", str(db), "history")
    result = run(*base, "2513.HK", "--range", "ytd", "--format", "json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["symbol"] == "2513.HK" and payload["attribution"].startswith("Source: OpenRouter")
    assert payload["rows"] and all(r["date"] >= payload["start"] for r in payload["rows"])
    table = run(*base, "minimax/minimax-m3", "--format", "table")
    assert table.returncode == 0, table.stderr
    assert b"minimax/minimax-m3-20260531" in table.stdout and b"CC BY 4.0" in table.stdout
    unknown = run(*base, "NOPE")
    assert unknown.returncode == 2 and b"neither a watchlist symbol" in unknown.stderr
    assert run(*base, "minimax/minimax-m3", "--range", "ipo").returncode == 2


def test_range_starts():
    end = date(2026, 10, 7)
    assert range_start("1M", end, None, None) == date(2026, 9, 7)
    assert range_start("6M", end, None, None) == date(2026, 4, 7)
    assert range_start("YTD", end, None, None) == date(2026, 1, 1)
    assert range_start("1Y", end, None, None) == date(2025, 10, 7)
    assert range_start("IPO", end, date(2026, 1, 9), date(2025, 12, 1)) == date(2026, 1, 9)
    assert range_start("1M", date(2026, 3, 31), None, None) == date(2026, 2, 28)  # no 31 February


def test_a_missing_day_or_an_unranked_day_splits_the_line():
    d = [date(2026, 9, day) for day in (1, 2, 4, 5, 6)]
    runs = segments(d, [0.1, 0.2, 0.3, None, 0.5])
    assert runs == [[(d[0], 0.1), (d[1], 0.2)], [(d[2], 0.3)], [(d[4], 0.5)]]


def token_row(day: str, slug: str, share: float, rank: int) -> dict:
    return {
        "date": day,
        "model_permaslug": slug,
        "author": slug.split("/")[0],
        "rank": rank,
        "total_tokens": int(share * 1e12),
        "share": share,
        "snapshot_date": "2026-10-08",
        "source": "test",
    }


@pytest.fixture
def store(tmp_path):
    config = parse_config((ROOT / "config.toml").read_text(encoding="utf-8"), tmp_path / "c.toml")
    store = Store.open(tmp_path / "t.db")
    store.sync_instruments(config.companies)
    yield config, store
    store.close()


def test_launch_only_after_a_stored_day_without_the_model(store):
    config, store = store
    rows = [
        token_row("2026-09-01", "minimax/minimax-m2", 0.02, 10),  # on the first stored day: no launch
        token_row("2026-09-01", "other", 0.98, 0),
        token_row("2026-09-02", "minimax/minimax-m2", 0.02, 10),
        token_row("2026-09-02", "minimax/minimax-m3:free", 0.01, 20),  # first seen on day 2: launched then
        token_row("2026-09-02", "other", 0.97, 0),
        token_row("2026-09-04", "minimax/minimax-m3", 0.03, 8),  # the same model's plain variant: no new launch
        token_row("2026-09-04", "other", 0.97, 0),
    ]
    store.upsert("token_daily", rows)
    found = launches(store, ["minimax"], date(2026, 1, 1), date(2026, 12, 31))
    assert [(x.day, x.model, x.source) for x in found] == [(date(2026, 9, 2), "minimax/minimax-m3", "daily top 50")]
    assert launches(store, ["minimax"], date(2026, 9, 3), date(2026, 12, 31)) == ()  # outside the range
    history = company_history(store, config, "0100.HK", "1M")
    assert [x.day for x in history.launches] == [date(2026, 9, 2)]
    # 3 September is not stored: the share frame has no row for it (a gap), and no zero anywhere.
    assert history.share["date"].to_list() == [date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 4)]
    assert history.share["share"].to_list() == pytest.approx([0.02, 0.03, 0.03])
    assert isinstance(history.share, pl.DataFrame)
