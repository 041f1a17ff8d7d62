"""Analytics on small hand-checked frames and on the real export sample."""

from __future__ import annotations

import json

import polars as pl
import pytest

from monitor import analytics
from monitor.sources import openrouter
from storage.db import _schema
from tests.conftest import shared_fixture
from tests.payloads import EXPORT_CSV


def tokens(rows) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "date": d,
                "model_permaslug": m,
                "author": openrouter.author_of(m),
                "rank": r,
                "total_tokens": t,
                "share": None,
                "snapshot_date": "s",
                "source": "test",
            }
            for d, m, r, t in rows
        ],
        schema=_schema("token_daily"),
    )


SMALL = tokens(
    [
        # day 1: total 1000
        (
            "2026-10-01",
            "minimax/m3",
            2,
            200,
        ),
        ("2026-10-01", "z-ai/glm", 1, 500),
        ("2026-10-01", "stealth/x", 3, 100),
        ("2026-10-01", "other", None, 200),
        # day 2 (1 day later): total 2000
        ("2026-10-02", "minimax/m3", 2, 600),
        ("2026-10-02", "z-ai/glm", 1, 1000),
        ("2026-10-02", "stealth/x", 3, 200),
        ("2026-10-02", "other", None, 200),
        # day 8 (7 days after day 1): total 1000
        ("2026-10-08", "minimax/m3", 1, 500),
        ("2026-10-08", "z-ai/glm", 2, 300),
        ("2026-10-08", "openrouter/y", 3, 100),
        ("2026-10-08", "other", None, 100),
    ]
).with_columns((pl.col("total_tokens") / pl.col("total_tokens").sum().over("date")).alias("share"))

MAKERS = {"minimax": "MiniMax", "z-ai": "Zhipu"}
UNATTRIBUTED = ["stealth", "openrouter"]


def test_maker_share_by_hand():
    makers = analytics.maker_share(SMALL, MAKERS, UNATTRIBUTED)
    day2 = {r["maker_id"]: r for r in makers.filter(pl.col("date").dt.day() == 2).iter_rows(named=True)}
    assert day2["minimax"]["share"] == pytest.approx(0.30)
    assert day2["minimax"]["maker"] == "MiniMax"
    # Δ1d: 0.30 now, 0.20 the day before.
    assert day2["minimax"]["d_share_1d"] == pytest.approx(0.10)
    assert day2["minimax"]["rank"] == 2 and day2["z-ai"]["rank"] == 1
    # Anonymous authors pool into one bucket; `other` keeps its own; neither gets a rank.
    assert day2["unattributed"]["share"] == pytest.approx(0.10) and day2["unattributed"]["rank"] is None
    assert day2["other"]["share"] == pytest.approx(0.10)
    day8 = {r["maker_id"]: r for r in makers.filter(pl.col("date").dt.day() == 8).iter_rows(named=True)}
    # Δ7d: 0.50 on day 8 vs 0.20 on day 1. No day 7 is stored: Δ1d compares with day 2, the previous
    # stored day, and says which day that was (0.50 vs 0.30; rank 2 -> 1).
    assert day8["minimax"]["d_share_7d"] == pytest.approx(0.30)
    assert day8["minimax"]["date_1d"].isoformat() == "2026-10-02"
    assert day8["minimax"]["d_share_1d"] == pytest.approx(0.20)
    assert day8["minimax"]["rank_change_1d"] == 1
    assert day2["minimax"]["date_1d"].isoformat() == "2026-10-01"
    assert day8["unattributed"]["share"] == pytest.approx(0.10)  # openrouter/* this time


def test_maker_share_of_no_tokens_has_the_columns_of_a_computed_one():
    computed = analytics.maker_share(SMALL, MAKERS, UNATTRIBUTED)
    empty = analytics.maker_share(SMALL.clear(), MAKERS, UNATTRIBUTED)
    assert empty.is_empty() and dict(empty.schema) == dict(computed.schema)


def test_model_leaderboard_latest_day_with_trend():
    board = analytics.latest_day(analytics.model_share(SMALL, MAKERS, UNATTRIBUTED), "model_permaslug")
    assert board["date"].unique().to_list()[0].isoformat() == "2026-10-08"
    first = board.row(0, named=True)
    assert first["model_permaslug"] == "minimax/m3" and first["rank"] == 1
    assert first["trend"] == pytest.approx([0.2, 0.3, 0.5])
    assert board["model_permaslug"].to_list()[-1] == "other"


def test_real_sample_each_day_sums_to_one_and_maker_shares():
    rows = openrouter.parse_rankings_csv(shared_fixture(EXPORT_CSV).read_text(), "2026-10-08")
    frame = pl.DataFrame(rows, schema=_schema("token_daily"))
    makers = analytics.maker_share(frame, MAKERS, UNATTRIBUTED)
    for total in makers.group_by("date").agg(pl.col("share").sum())["share"]:
        assert total == pytest.approx(1.0, abs=1e-9)
    for total in frame.group_by("date").agg(pl.col("share").sum())["share"]:
        assert total == pytest.approx(1.0, abs=1e-9)
    latest = {r["maker_id"]: r["share"] for r in analytics.latest_day(makers, "maker_id").iter_rows(named=True)}
    # Author shares on 2026-10-07 as the research recorded them.
    assert latest["deepseek"] == pytest.approx(0.358, abs=5e-4)
    assert latest["z-ai"] == pytest.approx(0.103, abs=5e-4)
    assert latest["openai"] == pytest.approx(0.094, abs=5e-4)
    assert latest["xiaomi"] == pytest.approx(0.078, abs=5e-4)
    assert latest["other"] == pytest.approx(0.071, abs=5e-4)
    board = analytics.latest_day(analytics.model_share(frame, MAKERS, UNATTRIBUTED), "model_permaslug")
    m3 = board.filter(pl.col("model_permaslug") == "minimax/minimax-m3-20260531").row(0, named=True)
    assert m3["rank"] == 22 and m3["share"] == pytest.approx(0.0077, abs=1e-4)


def instruments(**over):
    base = {
        "symbol": "0100.HK",
        "name": "MiniMax",
        "currency": "HKD",
        "grp": "core",
        "market": "HK",
        "total_shares": 300_000_000,
        "reported_shares": None,
        "reported_shares_time": None,
        "ipo_date": "2026-01-09",
        "ipo_price": 165.0,
        "authors": json.dumps(["minimax"]),
    }
    return pl.DataFrame([{**base, **over}], schema=_schema("instruments"))


def bars(symbol, closes):
    return pl.DataFrame(
        [
            {
                "symbol": symbol,
                "date": d,
                "open": None,
                "high": None,
                "low": None,
                "close": c,
                "volume": None,
                "source": "yahoo",
            }
            for d, c in closes
        ],
        schema=_schema("daily_bars"),
    )


FX = pl.DataFrame([{"pair": "HKDUSD", "ts": 1000, "rate": 0.128, "source": "yahoo"}], schema=_schema("fx"))
NO_QUOTES = pl.DataFrame(schema=_schema("quotes"))
CLOSES = [
    ("2026-08-31", 200.0),
    ("2026-09-01", 210.0),
    ("2026-09-02", 220.0),
    ("2026-09-03", 230.0),
    ("2026-09-04", 240.0),
    ("2026-09-07", 250.0),
    ("2026-09-30", 300.0),
    ("2026-10-01", 330.0),
]


def test_market_cap_native_and_display_and_moves():
    quote = pl.DataFrame(
        [
            {
                "symbol": "0100.HK",
                "ts": 1_791_100_000,
                "price": 363.0,
                "prev_close": 330.0,
                "volume": None,
                "source": "yahoo",
            }
        ],
        schema=_schema("quotes"),
    )  # 2026-10-04 HKT
    view = analytics.market_view(instruments(), quote, bars("0100.HK", CLOSES), FX, "USD").row(0, named=True)
    assert view["price_date"] == "2026-10-04"
    assert view["change_pct"] == pytest.approx(0.10)
    assert view["market_cap"] == pytest.approx(363.0 * 300e6)
    assert view["market_cap_display"] == pytest.approx(363.0 * 300e6 * 0.128)
    assert view["fx_time"] == 1000
    # 5 sessions before 2026-10-04: closes before it are ..., 240, 250, 300, 330 -> 5th from the end is 230.
    assert view["move_5d"] == pytest.approx(363 / 230 - 1)
    # One month before: on or before 2026-09-04 -> 240.
    assert view["move_1m"] == pytest.approx(363 / 240 - 1)
    # Listed this year: YTD runs from the IPO price.
    assert view["move_ytd"] == pytest.approx(363 / 165 - 1)
    assert view["move_ipo"] == pytest.approx(363 / 165 - 1)


def test_without_quotes_price_is_last_close_and_prev_from_bars():
    view = analytics.market_view(instruments(), NO_QUOTES, bars("0100.HK", CLOSES), FX, "HKD").row(0, named=True)
    assert view["price"] == 330.0 and view["prev_close"] == 300.0
    assert view["change_pct"] == pytest.approx(0.10)
    assert view["market_cap_display"] == view["market_cap"]  # HKD in HKD


def test_display_currency_uses_inverse_rate():
    inst = instruments(symbol="NVDA", currency="USD", market="US", total_shares=10, ipo_date=None, ipo_price=None)
    view = analytics.market_view(inst, NO_QUOTES, bars("NVDA", [("2026-10-01", 100.0)]), FX, "HKD").row(0, named=True)
    assert view["market_cap_display"] == pytest.approx(1000 / 0.128)


def test_reported_shares_used_when_config_has_none_and_missing_fx_is_null():
    inst = instruments(total_shares=None, reported_shares=1000)
    view = analytics.market_view(inst, NO_QUOTES, bars("0100.HK", CLOSES), FX.clear(), "USD").row(0, named=True)
    assert view["market_cap"] == 330_000.0 and view["shares_source"] == "tencent"
    assert view["market_cap_display"] is None


def test_group_median():
    rows = pl.concat(
        [
            analytics.market_view(instruments(symbol=s, grp="peer", ipo_price=p), NO_QUOTES, bars(s, c), FX, "USD")
            for s, p, c in [
                ("A.HK", 100.0, [("2026-10-01", 110.0)]),
                ("B.HK", 100.0, [("2026-10-01", 130.0)]),
                ("C.HK", 100.0, [("2026-10-01", 200.0)]),
            ]
        ]
    )
    median = analytics.group_medians(rows).row(0, named=True)
    assert median["group"] == "peer" and median["move_ipo"] == pytest.approx(0.30)


def test_company_view_joins_makers_share():
    makers = analytics.maker_share(SMALL, MAKERS, UNATTRIBUTED)
    market = analytics.market_view(instruments(), NO_QUOTES, bars("0100.HK", CLOSES), FX, "USD")
    view = analytics.company_view(market, makers).row(0, named=True)
    assert view["token_date"] == "2026-10-08"
    assert view["token_share"] == pytest.approx(0.50)
    assert view["token_share_change_7d"] == pytest.approx(0.30)
    assert view["token_rank"] == 1


def test_company_whose_makers_are_not_in_the_export_has_unknown_share():
    makers = analytics.maker_share(SMALL, MAKERS, UNATTRIBUTED)
    inst = instruments(symbol="9888.HK", authors=json.dumps(["baidu"]))
    view = analytics.company_view(
        analytics.market_view(inst, NO_QUOTES, NO_QUOTES.pipe(lambda f: bars("x", [])), FX, "USD"), makers
    ).row(0, named=True)
    assert view["token_share"] is None and view["price"] is None


@pytest.mark.parametrize(
    ("price_day", "month_ago", "close_then"),
    [
        ("2026-10-31", "2026-09-30", 300.0),  # clamped to September's last day, not the 28th
        ("2026-10-30", "2026-09-30", 300.0),  # the same day a month earlier
        ("2026-10-29", "2026-09-29", 250.0),  # on or before 09-29: the 09-07 close
    ],
)
def test_one_month_move_uses_the_same_day_a_month_earlier_clamped_to_that_months_end(price_day, month_ago, close_then):
    closes = [*CLOSES, (price_day, 400.0)]
    view = analytics.market_view(instruments(), NO_QUOTES, bars("0100.HK", closes), FX, "HKD").row(0, named=True)
    assert view["price_date"] == price_day
    assert view["move_1m"] == pytest.approx(400.0 / close_then - 1)
