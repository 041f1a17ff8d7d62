"""The tokentape command end to end: collect against a loopback upstream, then snapshot every format."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import polars as pl
import pytest

from tests.conftest import ROOT, loopback_config_text
from tests.payloads import PRICES, serve_everything


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ),
        timeout=timeout,
    )


@pytest.fixture
def collected(upstream, tmp_path):
    """A database filled by `tokentape collect --once` from the loopback upstream."""
    serve_everything(upstream)
    config = tmp_path / "config.toml"
    config.write_text(loopback_config_text(upstream.base_url), encoding="utf-8")
    db = tmp_path / "tokentape.db"
    result = run("--config", str(config), "--db", str(db), "collect", "--once")
    assert result.returncode == 0, result.stderr
    return config, db


def test_collect_once_then_json_snapshot_shows_what_was_served(collected):
    config, db = collected
    result = run("--config", str(config), "--db", str(db), "snapshot", "--format", "json")
    assert result.returncode == 0, result.stderr
    snap = json.loads(result.stdout)
    assert set(snap) >= {"generated_at", "display_currency", "companies", "models", "makers", "attribution"}
    assert snap["attribution"].startswith("Source: OpenRouter (openrouter.ai), licensed under CC BY 4.0")
    companies = {c["symbol"]: c for c in snap["companies"]}
    fx = PRICES["HKDUSD=X"][1][-1]
    for symbol, shares, share in (("0100.HK", 310_000_000, 0.0077165), ("2513.HK", 440_000_000, 0.10264)):
        c = companies[symbol]
        price = PRICES[symbol][1][-1]
        assert c["price"] == price and c["currency"] == "HKD" and c["source"] == "yahoo"
        assert c["change_pct"] == pytest.approx(price / PRICES[symbol][2] - 1)
        assert c["market_cap"] == pytest.approx(price * shares)
        assert c["market_cap_display"] == pytest.approx(price * shares * fx)
        assert c["token_share"] == pytest.approx(share, abs=5e-5)
        assert c["token_date"] == "2026-10-07"
        assert c["price_time"] and c["name"] in ("MiniMax", "Zhipu")
        for key in (
            "name",
            "symbol",
            "price",
            "currency",
            "change_pct",
            "market_cap",
            "market_cap_display",
            "token_share",
            "token_share_change_7d",
            "price_time",
            "source",
        ):
            assert key in c
    model = snap["models"][0]
    assert set(model) >= {"rank", "model", "maker", "tokens", "share", "date"}
    assert model["rank"] == 1 and model["date"] == "2026-10-07"
    m3 = next(m for m in snap["models"] if m["model"] == "minimax/minimax-m3-20260531")
    assert m3["rank"] == 22 and m3["maker"] == "MiniMax"


def test_collect_publishes_the_dashboard_a_reader_opens_on(collected):
    """A reader of what `collect` wrote finds the dashboard it would compute itself, current (no newer poll)."""
    from monitor import published
    from monitor.config import load_config
    from monitor.dashboard import TOKEN_WINDOW_DAYS, DashboardLoader
    from storage import Store
    from widgets.viewmodels import screen_views

    config_path, db = collected
    config = load_config(str(config_path))
    data = published.read(db, config)
    assert data is not None
    store = Store.open(db, create=False)
    own = screen_views(DashboardLoader(store, config, TOKEN_WINDOW_DAYS).load(), config, 0.0, "read-only", {}, "x")
    first = screen_views(data, config, 0.0, "read-only", {}, "x")
    assert (first.cards, first.boards, first.moves, first.status) == (own.cards, own.boards, own.moves, own.status)
    assert {c.symbol: c.price for c in first.cards}["0100.HK"] == PRICES["0100.HK"][1][-1]
    store.close()


def test_snapshot_formats(collected, tmp_path):
    config, db = collected
    base = ("--config", str(config), "--db", str(db), "snapshot")
    table = run(*base)
    assert table.returncode == 0 and "MiniMax" in table.stdout and "Source: OpenRouter" in table.stdout
    md = run(*base, "--format", "md")
    assert "| MiniMax | 0100.HK |" in md.stdout and "Source: OpenRouter" in md.stdout
    out = tmp_path / "csvout"
    written = run(*base, "--format", "csv", "--out", str(out))
    assert written.returncode == 0 and f"wrote {out}" in written.stderr
    rows = list(csv.DictReader(io.StringIO((out / "companies.csv").read_text().split("\n# ")[0])))
    assert {r["symbol"] for r in rows} >= {"0100.HK", "2513.HK"}
    assert "Source: OpenRouter" in (out / "companies.csv").read_text()
    pq = tmp_path / "pq"
    assert run(*base, "--format", "parquet", "--out", str(pq)).returncode == 0
    frame = pl.read_parquet(pq / "models.parquet")
    assert frame.filter(pl.col("model") == "minimax/minimax-m3-20260531")["rank"].to_list() == [22]
    assert "Source: OpenRouter" in (pq / "ATTRIBUTION.txt").read_text()


@pytest.mark.parametrize(
    "args, phrase",
    [
        (("snapshot", "--format", "xml"), "invalid choice: 'xml'"),
        (("snapshot", "--format", "parquet"), "needs --out"),
        (("snapshot", "--currency", "EUR"), "not in display_currencies"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(collected, args, phrase):
    config, db = collected
    result = run("--config", str(config), "--db", str(db), *args)
    assert result.returncode == 2
    assert phrase in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_unwritable_out_exits_2(collected, tmp_path):
    config, db = collected
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "file").write_text("x")
    result = run(
        "--config",
        str(config),
        "--db",
        str(db),
        "snapshot",
        "--format",
        "json",
        "--out",
        str(locked / "file" / "snap.json"),
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (locked / "file").read_text() == "x"


def test_snapshot_without_database_says_how_to_make_one(tmp_path):
    result = run("--db", str(tmp_path / "none.db"), "snapshot")
    assert result.returncode == 2 and "tokentape collect" in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_collect_once_names_failures(upstream, tmp_path):
    serve_everything(upstream)
    upstream.route("/api/v1/models", "<html>down</html>", status=502)
    config = tmp_path / "config.toml"
    config.write_text(loopback_config_text(upstream.base_url), encoding="utf-8")
    result = run("--config", str(config), "--db", str(tmp_path / "t.db"), "collect", "--once")
    assert result.returncode == 1
    assert "openrouter_models failed: openrouter: HTTP 502" in result.stderr
    assert "Traceback" not in result.stderr


def test_unwritable_database_path_exits_2(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    result = run("--db", str(blocker / "sub" / "t.db"), "collect", "--once")
    assert result.returncode == 2 and "cannot open database" in result.stderr
    assert "Traceback" not in result.stderr and blocker.read_text() == "x"


def test_demo_snapshot_is_labelled():
    result = run("snapshot", "--demo")
    assert result.returncode == 0
    assert result.stdout.startswith("DEMO DATA")


def test_backfill_with_key_never_leaks_it(upstream, tmp_path, isolated_dirs, monkeypatch):
    secret = "sk-or-v1-DO-NOT-LEAK-0123456789"
    monkeypatch.setenv("OPENROUTER_API_KEY", secret)
    serve_everything(upstream)
    upstream.route("/api/v1/datasets/rankings-daily", f'{{"error": "invalid key {secret}"}}', status=401)
    config = tmp_path / "config.toml"
    config.write_text(loopback_config_text(upstream.base_url), encoding="utf-8")
    db = tmp_path / "t.db"
    result = run("--config", str(config), "--db", str(db), "--log-level", "DEBUG", "backfill", "--since", "2026-09-01")
    assert result.returncode == 1 and "token history: openrouter: HTTP 401" in result.stderr
    assert "daily prices" in result.stderr  # the progress bar
    snap = run("--config", str(config), "--db", str(db), "snapshot", "--format", "json")
    log_file = isolated_dirs / "xdg_state_home" / "tokentape" / "tokentape.log"
    assert log_file.is_file()
    for text in (result.stdout, result.stderr, snap.stdout, snap.stderr, log_file.read_text()):
        assert secret not in text
    assert any(h.get("Authorization") == f"Bearer {secret}" for _, h in upstream.requests)
