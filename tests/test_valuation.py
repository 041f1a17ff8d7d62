"""The valuation view: bundled fundamentals -> store -> polars multiples, the config's [[fundamental]] rules, the
snapshot, and the screen behind key `v`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import polars as pl
import pytest

from monitor import valuation
from monitor.cli import main
from monitor.config import ConfigError, parse_config
from monitor.dashboard import DashboardLoader
from monitor.feed import DataFeed
from storage import Store
from tests.conftest import ROOT, settle

BASE = (ROOT / "config.toml").read_text(encoding="utf-8")
AS_OF = int(datetime(2026, 3, 2, 8, 0, tzinfo=UTC).timestamp())
TOKEN_DAYS = [f"2026-02-{d:02d}" for d in range(20, 28)]  # eight stored days: the share uses the last seven


def near(value: float, expected: float, rel: float = 0.001) -> bool:
    return value == pytest.approx(expected, rel=rel)


def fresh_store(tmp_path, text: str = BASE, cap_hkd: float = 300e9, hkd_per_usd: float = 7.80) -> tuple:
    """The bundled config and fundamentals in a new store; MiniMax closes at the price that makes `cap_hkd`."""
    config = parse_config(text, tmp_path / "config.toml")
    store = Store.open(tmp_path / "v.db")
    store.sync_instruments(config.companies)
    valuation.sync(store, config)
    shares = config.company("0100.HK").total_shares
    tokens = []
    for day in TOKEN_DAYS:
        tokens += [
            {"date": day, "model_permaslug": "minimax/minimax-m2.5", "author": "minimax", "rank": 2,
             "total_tokens": 100 if day != TOKEN_DAYS[0] else 10_000, "share": 0.1, "snapshot_date": day,
             "source": "test"},
            {"date": day, "model_permaslug": "other", "author": "other", "rank": None, "total_tokens": 900,
             "share": 0.9, "snapshot_date": day, "source": "test"},
        ]  # fmt: skip
    with store.transaction() as conn:
        store.upsert(
            "daily_bars",
            [{"symbol": "0100.HK", "date": "2026-02-25", "open": None, "high": None, "low": None,
              "close": cap_hkd / shares, "volume": None, "source": "test"}],
            conn,
        )  # fmt: skip
        store.upsert("fx", [{"pair": "HKDUSD", "ts": AS_OF, "rate": 1 / hkd_per_usd, "source": "test"}], conn)
        store.upsert("token_daily", tokens, conn)
    return config, store


def snapshot_json(store, config) -> dict:
    dash = DashboardLoader(store, config).load(display_currency="USD")
    val = valuation.compute(
        store.fundamentals(),
        dash.companies,
        store.latest_fx(),
        valuation.last_token_days(store),
        "USD",
        date(2026, 3, 2),
        makers=config.makers,
    )
    return json.loads(valuation.to_json(val))


def test_the_bundled_figures_reproduce_the_articles_anchors_through_the_store(tmp_path):
    config, store = fresh_store(tmp_path)
    payload = snapshot_json(store, config)
    minimax = next(r for r in payload["valuation"] if r["symbol"] == "0100.HK")
    assert near(minimax["market_cap_usd"], 300e9 / 7.80)
    assert minimax["revenue_basis"] == "FY2025" and minimax["revenue_period_end"] == "2025-12-31"
    assert near(minimax["ps"], 486.6)  # ÷ FY2025 revenue US$79.038 M
    assert near(minimax["p_arr"], 256.4)  # ÷ ARR US$150 M (end of February 2026)
    assert minimax["arr_as_of"] == "2026-02-28" and minimax["arr_kind"] == "ARR"
    anthropic = next(r for r in payload["references"] if r["name"] == "Anthropic")
    assert near(anthropic["p_arr"], 190.0)
    # the article's >700x: the same multiple on the nine months to 2025-09-30, not annualised
    figures = valuation.to_usd(store.fundamentals(), store.latest_fx())
    nine = figures.filter((pl.col("symbol") == "0100.HK") & (pl.col("metric") == "revenue") & (pl.col("months") == 9))
    frame = pl.DataFrame({"cap": [minimax["market_cap_usd"]], "revenue": [nine["value_usd"][0]]})
    assert near(frame.select(valuation.multiple(pl.col("cap"), pl.col("revenue")))["cap"][0], 719.7)
    # each figure's source travels with it
    used = {(s["metric"], s["source"]) for s in minimax["sources"]}
    assert used == {("revenue", "NextFin"), ("arr", "NextFin")}
    for key in ("market_cap_display", "display_currency", "fx_rate", "fx_time", "token_share_7d", "spend_share_7d"):
        assert key in minimax


def test_cny_revenue_converts_at_the_newest_stored_cny_rate_and_zhipu_has_an_api_arr(tmp_path):
    config, store = fresh_store(tmp_path)
    store.upsert("fx", [{"pair": "USDCNY", "ts": AS_OF - 3600, "rate": 7.0, "source": "yahoo"}])
    zhipu = next(r for r in snapshot_json(store, config)["valuation"] if r["symbol"] == "2513.HK")
    assert near(zhipu["revenue_12m_usd"], 724e6 / 7.0)
    assert zhipu["sources"][0]["usd_rate"] == pytest.approx(1 / 7.0)
    assert zhipu["arr_kind"] == "API-ARR" and near(zhipu["arr_usd"], 250e6)
    assert zhipu["ps"] is None  # Zhipu has no price stored here: no cap, so no multiple, never a zero
    store.upsert("fx", [{"pair": "USDCNY", "ts": AS_OF, "rate": 7.25, "source": "yahoo"}])
    zhipu = next(r for r in snapshot_json(store, config)["valuation"] if r["symbol"] == "2513.HK")
    assert near(zhipu["revenue_12m_usd"], 724e6 / 7.25)


def test_without_a_cny_rate_cny_revenue_is_unknown_not_zero(tmp_path):
    config, store = fresh_store(tmp_path)
    zhipu = next(r for r in snapshot_json(store, config)["valuation"] if r["symbol"] == "2513.HK")
    assert zhipu["revenue_12m_usd"] is None and zhipu["ps"] is None


def test_token_share_7d_is_token_weighted_over_the_last_seven_stored_days(tmp_path):
    config, store = fresh_store(tmp_path)
    minimax = next(r for r in snapshot_json(store, config)["valuation"] if r["symbol"] == "0100.HK")
    # the eighth-newest day (10,000 MiniMax tokens) is left out: 7 x 100 over 7 x 1000
    assert minimax["token_share_7d"] == pytest.approx(0.1)
    assert near(minimax["cap_per_pp_usd"], 300e9 / 7.80 / 10)


TTM = """
[[fundamental]]
symbol = "0100.HK"
metric = "revenue"
value = 40e6
currency = "USD"
period_end = 2025-06-30
months = 6
source = "test"

[[fundamental]]
symbol = "0100.HK"
metric = "revenue"
value = 60e6
currency = "USD"
period_end = 2026-06-30
months = 6
source = "test"
"""


def test_a_later_half_year_makes_a_trailing_twelve_months_and_old_figures_are_stale(tmp_path):
    config, store = fresh_store(tmp_path, BASE + TTM)
    minimax = next(r for r in snapshot_json(store, config)["valuation"] if r["symbol"] == "0100.HK")
    assert minimax["revenue_basis"] == "TTM to 2026-06-30"
    assert near(minimax["revenue_12m_usd"], 79.038e6 + 60e6 - 40e6)
    assert not minimax["revenue_stale"]
    dash = DashboardLoader(store, config).load()
    later = valuation.compute(
        store.fundamentals(), dash.companies, store.latest_fx(), pl.DataFrame(), "USD", date(2027, 8, 1)
    )
    row = later.rows.filter(pl.col("symbol") == "0100.HK").row(0, named=True)
    assert row["revenue_stale"] is False and row["arr_stale"] is True  # 13 and 17 months old
    assert row["arr_age_months"] > 15


@pytest.mark.parametrize(
    ("entry", "key", "words"),
    [
        ('metric = "revenue"\nvalue = 1.0\ncurrency = "RMB"\nmonths = 12', "currency", "unknown currency 'RMB'"),
        ('metric = "revenues"\nvalue = 1.0\ncurrency = "USD"\nmonths = 12', "metric", "unknown metric"),
        ('metric = "revenue"\nvalue = -5.0\ncurrency = "USD"\nmonths = 12', "value", "revenue must be >= 0"),
        ('metric = "arr"\nvalue = 5.0\ncurrency = "USD"\nmonths = 12', "months", "leave months out"),
        ('metric = "revenue"\nvalue = 5.0\ncurrency = "USD"', "months", "missing required key"),
    ],
)
def test_a_bad_fundamental_is_one_line_naming_file_line_and_key(tmp_path, entry, key, words):
    text = BASE + f'\n[[fundamental]]\nsymbol = "0100.HK"\nperiod_end = 2025-12-31\nsource = "x"\n{entry}\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text, tmp_path / "config.toml")
    message = str(caught.value)
    lines = text.splitlines()
    assert f"[fundamental[0]] {key}: " in message and words in message and "\n" not in message
    line = int(message.split(":")[1])
    # the key's own line, or the table's header where the key is missing
    assert lines[line - 1].startswith(key if f"{key} =" in text.split("[[fundamental]]")[-1] else "[[fundamental]]")


def test_an_unknown_symbol_exits_2_naming_the_key(tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_text(
        BASE + '\n[[fundamental]]\nsymbol = "9999.HK"\nmetric = "revenue"\nvalue = 1.0\ncurrency = "USD"\n'
        'period_end = 2025-12-31\nmonths = 12\nsource = "x"\n',
        encoding="utf-8",
    )
    assert main(["--config", str(path), "snapshot", "--demo", "--view", "valuation"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"tokentape: {path}:") and "[fundamental[0]] symbol: unknown symbol '9999.HK'" in err


def test_a_config_entry_replaces_the_bundled_one_and_a_reference_can_be_added(tmp_path):
    extra = (
        '\n[[fundamental]]\nsymbol = "0100.HK"\nmetric = "arr"\nvalue = 300e6\ncurrency = "USD"\n'
        'period_end = 2026-02-28\nsource = "mine"\n'
        '\n[[reference]]\nname = "OpenAI"\nvaluation = 500e9\ncurrency = "USD"\nas_of = 2026-01-01\narr = 20e9\n'
        'source = "mine"\n'
    )
    config, store = fresh_store(tmp_path, BASE + extra)
    payload = snapshot_json(store, config)
    minimax = next(r for r in payload["valuation"] if r["symbol"] == "0100.HK")
    assert near(minimax["p_arr"], 300e9 / 7.8 / 300e6)
    assert {r["name"]: r["p_arr"] for r in payload["references"]} == {"Anthropic": 190.0, "OpenAI": 25.0}


def test_snapshot_view_valuation_on_the_demo_fills_cap_ps_and_p_arr(capsys):
    assert main(["snapshot", "--demo", "--view", "valuation", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    rows = {r["symbol"]: r for r in payload["valuation"]}
    for symbol in ("0100.HK", "2513.HK"):
        assert rows[symbol]["market_cap_usd"] and rows[symbol]["ps"] and rows[symbol]["p_arr"]
        assert rows[symbol]["sources"]
    assert rows["2513.HK"]["arr_kind"] == "API-ARR"
    assert any("CNY" in note and "demo-reported" in note for note in payload["fx"])
    assert main(["snapshot", "--demo", "--view", "valuation", "--format", "md"]) == 0
    assert "| MiniMax | 0100.HK |" in capsys.readouterr().out


@pytest.mark.parametrize("size", [(160, 48), (80, 24)])
async def test_v_opens_the_valuation_view_with_sources_and_escape_returns(size):
    from monitor.demo import open_demo_store
    from widgets.app import TokentapeApp
    from widgets.charts import ChartPane
    from widgets.dashboard import DashboardScreen
    from widgets.valuation import ValuationScreen

    config = parse_config(BASE, ROOT / "config.toml")
    store = open_demo_store(config)
    app = TokentapeApp(config, DataFeed.for_store(store, config, "demo"))
    async with app.run_test(size=size) as pilot:
        await settle(pilot, lambda: app.dashboard is not None)
        await pilot.press("v")
        await settle(pilot, lambda: isinstance(app.screen, ValuationScreen) and app.screen.view is not None)
        screen = app.screen
        rows = {r.key: r for r in screen.view.rows}
        assert rows["0100.HK"].ps and rows["0100.HK"].p_arr and rows["2513.HK"].p_arr
        assert any("NextFin" in d for d in rows["0100.HK"].detail)
        table = screen.query_one("#val-table")
        assert "P/S" in [str(c.label) for c in table.columns.values()]
        await settle(pilot, lambda: screen.query_one("#val-scatter", ChartPane).renders > 0)
        await pilot.press("s")
        await settle(pilot, lambda: screen.sort == "ps")
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(app.screen, DashboardScreen))
    store.close()


async def test_the_valuation_key_can_be_remapped():
    from monitor.demo import open_demo_store
    from widgets.app import TokentapeApp
    from widgets.valuation import ValuationScreen

    config = parse_config(BASE.replace('valuation = "v"', 'valuation = "f6"'), ROOT / "config.toml")
    store = open_demo_store(config)
    app = TokentapeApp(config, DataFeed.for_store(store, config, "demo"))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, lambda: app.dashboard is not None)
        await pilot.press("f6")
        await settle(pilot, lambda: isinstance(app.screen, ValuationScreen))
    store.close()
