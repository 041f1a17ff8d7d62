"""Token economics: catalogue price history through the real job, a day's spend at that day's price, reported
spend from the day view, the split, `:free` at $0, unknown prices, and the valuation rows and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime

import polars as pl
import pytest

from monitor import spend, valuation
from monitor.jobs import Collector
from monitor.sources import openrouter
from storage import Store
from tests.conftest import ROOT, shared_fixture
from tests.payloads import catalogue_with_price, models_catalogue

SLUG = "minimax/minimax-m3-20260531"
DAY1, DAY2 = "2026-10-01", "2026-10-02"
VIEW_DAY = "openrouter/frontend_v1_rankings_models_view-day_2026-09-22.json"


def _noon(day: str) -> float:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC).timestamp()


def _tokens(day: str, slug: str, tokens: int, author: str = "minimax") -> dict[str, object]:
    return {
        "date": day,
        "model_permaslug": slug,
        "author": author,
        "rank": 1,
        "total_tokens": tokens,
        "share": 0.5,
        "snapshot_date": day,
        "source": "test",
    }


def _usage(day: str, slug: str, prompt: int, completion: int, usd: float | None = None) -> dict[str, object]:
    return {
        "date": day,
        "model_permaslug": slug,
        "variant": "standard",
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "requests": 1,
        "usage_usd": usd,
        "source": "test",
    }


def _catalogue(prompt: str, completion: str) -> str:
    return catalogue_with_price(SLUG, prompt, completion)


async def test_each_days_spend_uses_that_days_catalogue_price(upstream, loopback_config, tmp_path):
    store = Store.open(tmp_path / "t.db")
    collector = Collector(loopback_config, store)
    try:
        # Two daily catalogue polls through the real job: the price doubles on the second day.
        for day, (prompt, completion) in ((DAY1, ("0.000001", "0.000004")), (DAY2, ("0.000002", "0.000008"))):
            upstream.route("/api/v1/models", _catalogue(prompt, completion), Content_Type="application/json")
            collector.clock = lambda day=day: _noon(day)
            result = await collector.run_job("openrouter_models")
            assert result is not None and result.ok, result
    finally:
        await collector.aclose()
    prices = store.model_prices_until(DAY2, [SLUG])
    assert prices.select("date", "prompt_price").rows() == [(DAY1, 1e-6), (DAY2, 2e-6)]
    assert store.model_catalogue([SLUG])["prompt_price"].to_list() == [2e-6]  # `models` keeps only the newest
    # The same tokens on both days, split 3:1 prompt:completion by the model's own day-view ratio.
    store.upsert("token_daily", [_tokens(DAY1, SLUG, 1_000_000), _tokens(DAY2, SLUG, 1_000_000)])
    store.upsert("model_day_usage", [_usage("2026-09-30", SLUG, 750, 250)])
    days = {r["date"]: r for r in valuation.spend_window(store).iter_rows(named=True)}
    day1_usd = 1_000_000 * (0.75 * 1e-6 + 0.25 * 4e-6)  # $1.75
    assert days[DAY1]["spend_usd"] == pytest.approx(day1_usd) and days[DAY1]["price_date"] == DAY1
    assert days[DAY2]["spend_usd"] == pytest.approx(2 * day1_usd) and days[DAY2]["price_date"] == DAY2
    assert days[DAY1]["kind"] == days[DAY2]["kind"] == "estimate"
    assert days[DAY1]["split"] == "model's day-view ratio 2026-09-30"
    store.close()


def test_reported_spend_wins_free_is_zero_unknown_price_is_unknown_and_the_overall_split_is_named():
    prices = pl.DataFrame(
        [
            {"canonical_slug": "a/priced", "date": DAY1, "id": "a/priced", "prompt_price": 1e-6,
             "completion_price": 3e-6, "source": "t"},
            {"canonical_slug": "a/reported", "date": DAY1, "id": "a/reported", "prompt_price": 1.0,
             "completion_price": 1.0, "source": "t"},
            {"canonical_slug": "a/later", "date": DAY2, "id": "a/later", "prompt_price": 1e-6,
             "completion_price": 1e-6, "source": "t"},
        ]
    )  # fmt: skip
    token_daily = pl.DataFrame(
        [
            _tokens(DAY1, "a/priced", 1_000_000, "a"),
            _tokens(DAY1, "a/priced:free", 5_000_000, "a"),
            _tokens(DAY1, "a/sibling-of-priced", 1_000_000, "a"),
            _tokens(DAY1, "a/later", 1_000_000, "a"),  # priced only from the next day
            _tokens(DAY1, "a/reported", 1_000_000, "a"),
        ]
    )
    usage = pl.DataFrame([_usage(DAY1, "a/reported", 600, 400, usd=12.5), _usage(DAY1, "b/other", 1000, 0)])
    rows = {r["model_permaslug"]: r for r in spend.model_days(token_daily, usage, prices).iter_rows(named=True)}
    assert rows["a/reported"]["spend_usd"] == 12.5 and rows["a/reported"]["kind"] == "reported"
    assert rows["a/priced:free"]["spend_usd"] == 0.0 and rows["a/priced:free"]["kind"] == "free"
    assert rows["a/sibling-of-priced"]["spend_usd"] is None
    assert rows["a/sibling-of-priced"]["reason"] == "no stored list price for this model"
    assert rows["a/later"]["spend_usd"] is None  # a later day's price never prices an earlier day
    # a/priced has no day-view row of its own: the day's overall ratio, (600 + 1000) / 2000 prompt.
    assert rows["a/priced"]["split"] == f"day's overall ratio {DAY1}"
    assert rows["a/priced"]["spend_usd"] == pytest.approx(1_000_000 * (0.8 * 1e-6 + 0.2 * 3e-6))
    maker = spend.maker_spend(spend.model_days(token_daily, usage, prices), ["a"])
    assert maker is not None and maker.spend_kind == "reported+estimate" and maker.estimated_7d
    assert maker.spend_usd_day == pytest.approx(12.5 + 1.4)
    assert maker.run_rate_usd == pytest.approx((12.5 + 1.4) * 365)
    assert maker.coverage_7d == pytest.approx(7 / 9)  # priced, free and reported of 9 M tokens


def test_the_demo_shows_the_day_views_real_spend_labelled_and_the_revenue_a_cap_needs(capsys):
    from monitor.cli import main

    assert main(["--demo", "snapshot", "--view", "valuation", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = {r["symbol"]: r for r in data["valuation"]}
    # Zhipu's three models in the recorded day view: 157,455.96 + 121,720.23 + 108,041.96 USD reported.
    view = openrouter.parse_day_view(json.loads(shared_fixture(VIEW_DAY).read_text()))
    zhipu = sum(r["usage_usd"] for r in view if r["model_permaslug"].startswith("z-ai/"))
    assert rows["2513.HK"]["spend_usd_day"] == pytest.approx(zhipu)
    assert rows["2513.HK"]["spend_day"] == "2026-09-22" and rows["2513.HK"]["spend_kind"] == "reported"
    assert rows["2513.HK"]["spend_is_estimate"] is False
    assert 0 < rows["2513.HK"]["spend_share_7d"] < 1
    assert data["reference_multiple"] == {"name": "Anthropic", "p_arr": pytest.approx(190.0)}
    assert rows["0100.HK"]["revenue_needed_usd"] == pytest.approx(rows["0100.HK"]["market_cap_usd"] / 190.0)
    assert "2026-09-22" in data["spend_days"]
    notes = "\n".join(data["spend_notes"])
    assert "Zhipu: spend 2026-09-22 reported by OpenRouter" in notes
    assert "no stored list price" in notes  # models the 2026-04-30 catalogue does not list: unknown, said so
    # Anthropic's newest known day is estimated from the recorded catalogue of 2026-04-30, and says so: a price
    # listed then and not confirmed since, so stale by the days it priced (09-24 … 10-01 of the spend window)
    assert "Anthropic: spend 2026-10-01 ESTIMATE" in notes
    assert "list prices first seen 2026-04-30, last confirmed 2026-04-30 (stale: up to 154 days old" in notes


def test_migrating_a_v5_database_seeds_price_history_from_the_catalogue(tmp_path, monkeypatch):
    import storage.db

    monkeypatch.setattr(storage.db, "SCHEMA_VERSION", 5)
    old = Store.open(tmp_path / "t.db")
    rows = openrouter.parse_models(models_catalogue(), int(_noon(DAY1)))
    old.upsert("models", rows)
    old.close()
    monkeypatch.undo()
    new = Store.open(tmp_path / "t.db")
    seeded = new.model_prices_until(date(2026, 12, 31).isoformat(), [SLUG, "z-ai/glm-5.3-flash-20260826"])
    assert set(seeded["date"]) == set(seeded["last_seen"]) == {DAY1} and len(seeded) == 2
    new.close()


def test_the_spend_window_reads_are_bounded():
    """spend_window through the retention tests' plan check: no history table is read by a full scan."""
    import re

    from monitor.config import load_config
    from monitor.demo import open_demo_store
    from tests.test_retention import SMALL_TABLES, _plans

    store = open_demo_store(load_config())
    statements: list[str] = []
    store.conn().set_trace_callback(statements.append)
    assert not valuation.spend_window(store).is_empty()
    store.conn().set_trace_callback(None)
    assert any("model_prices" in s for s in statements)
    plans = _plans(store, statements)
    assert [p for p in plans if (m := re.match(r"SCAN (\w+)", p)) and m.group(1) not in SMALL_TABLES] == []


async def test_e_on_the_valuation_screen_exports_the_valuation_view(tmp_path):
    from monitor.config import parse_config
    from monitor.demo import open_demo_store
    from monitor.feed import DataFeed
    from tests.conftest import ROOT, settle
    from widgets.app import TokentapeApp
    from widgets.valuation import ValuationScreen

    text = (ROOT / "config.toml").read_text().replace('export_dir = ""', f'export_dir = "{tmp_path / "exports"}"')
    config = parse_config(text, tmp_path / "config.toml")
    store = open_demo_store(config)
    app = TokentapeApp(config, DataFeed.for_store(store, config, "demo"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, lambda: app.dashboard is not None)
        await pilot.press("v")
        await settle(pilot, lambda: isinstance(app.screen, ValuationScreen) and app.screen.view is not None)
        await pilot.press("e")
        await settle(pilot, lambda: app.last_export is not None)
        folder = app.last_export
        assert folder.parent == tmp_path / "exports" and folder.name.startswith("tokentape-valuation-")
        data = json.loads((folder / "valuation.json").read_text())
        zhipu = next(r for r in data["valuation"] if r["symbol"] == "2513.HK")
        shown = next(r for r in app.screen.view.rows if r.key == "2513.HK")
        assert zhipu["spend_usd_day"] == pytest.approx(shown.spend_day) and zhipu["ps"] == pytest.approx(shown.ps)
        assert (folder / "valuation.csv").is_file() and (folder / "references.csv").is_file()
        assert "spend" in (folder / "screen.svg").read_text()
        assert not (folder / "snapshot.json").exists()  # the valuation view, not the dashboard's export
    store.close()


def test_a_share_count_tencent_reports_more_than_1_percent_apart_is_said_on_the_row(tmp_path):
    from monitor.config import load_config

    config = load_config()
    store = Store.open(tmp_path / "t.db")
    store.sync_instruments(config.companies)
    minimax, zhipu = (config.company(s).total_shares for s in ("0100.HK", "2513.HK"))
    assert minimax and zhipu
    with store.transaction() as conn:
        store.set_reported_shares({"0100.HK": int(minimax / 1.05), "2513.HK": int(zhipu / 1.005)}, 1_790_000_000, conn)
    notes = valuation.shares_notes(store.instruments())
    assert set(notes) == {"0100.HK"}  # 0.5 % apart is not worth a note
    assert "Tencent-reported" in notes["0100.HK"] and "+5.0% apart" in notes["0100.HK"]
    store.close()


def test_the_demo_labels_a_references_estimated_spend_and_the_cny_rate_with_its_own_day(tmp_path):
    """Anthropic's demo spend is partly estimated (tokens x list price): its row says so like a company's; the
    demo's CNY rate is the PBOC parity of 2026-01-08, and every conversion names that day, not the demo's."""
    out = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "snapshot", "--demo", "--view", "valuation", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)},
    )
    data = json.loads(out.stdout)
    anthropic = next(r for r in data["references"] if r["name"] == "Anthropic")
    assert anthropic["spend_7d_is_estimate"] is True and 0 < anthropic["spend_coverage_7d"] < 1
    table = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "snapshot", "--demo", "--view", "valuation", "--format", "table"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)},
    ).stdout
    assert "1 CNY = 0.142456 USD (demo-reported 2026-01-08" in table
