"""The parsers against every real payload in ../shared/fixtures, and against broken variants of them."""

from __future__ import annotations

import copy
import itertools
import json

import httpx
import pytest

from monitor.sources import BadPayload, HttpStatusError, NoData, RateLimited, openrouter, tencent, yahoo
from tests.conftest import shared_fixture
from tests.payloads import EXPORT_CSV, MANIFEST, TENCENT, WEEKLY, real_yahoo_body, yahoo_error

VIEW_DAY = "openrouter/frontend_v1_rankings_models_view-day_2026-09-22.json"


def test_yahoo_chart_real_7974t():
    chart = yahoo.parse_chart(real_yahoo_body())
    assert chart.meta.symbol == "7974.T"
    assert chart.meta.currency == "JPY"
    assert chart.meta.price == 8100.0
    assert chart.meta.previous_close == 8728.0
    bars = yahoo.daily_bar_rows(chart, "7974.T")
    assert len(bars) == 18
    # Bars are stamped at the open in UTC; the date is the Tokyo trading date.
    assert bars[0]["date"] == "2026-08-28" and bars[0]["close"] == 8993.0
    assert bars[-1]["date"] == "2026-09-25" and bars[-1]["close"] == 8100.0
    assert all(b["date"] < c["date"] for b, c in itertools.pairwise(bars))


def test_yahoo_nulls_stay_null():
    body = real_yahoo_body()
    body = json.loads(json.dumps(body))
    body["chart"]["result"][0]["indicators"]["quote"][0]["close"][3] = None
    bars = yahoo.daily_bar_rows(yahoo.parse_chart(body), "7974.T")
    assert bars[3]["close"] is None
    assert bars[4]["close"] is not None


def test_yahoo_volume_of_the_bar_at_regular_market_time_is_kept():
    body = copy.deepcopy(real_yahoo_body())
    result = body["chart"]["result"][0]
    last_bar, last_volume = result["timestamp"][-1], result["indicators"]["quote"][0]["volume"][-1]
    result["meta"]["regularMarketTime"] = last_bar  # the meta's price is stamped at a bar's own time
    rows = {r["ts"]: r for r in yahoo.quote_rows(yahoo.parse_chart(body), "7974.T")}
    assert len(rows) == len(result["timestamp"])
    assert last_volume and rows[last_bar]["volume"] == last_volume
    assert rows[last_bar]["price"] == 8100.0  # the regular-market price, at that time


def test_yahoo_regular_market_time_after_the_last_bar_is_a_row_of_its_own():
    chart = yahoo.parse_chart(real_yahoo_body())  # regularMarketTime 1790317800 is after the last bar's open
    rows = yahoo.quote_rows(chart, "7974.T")
    assert len(rows) == len(chart.bars) + 1
    assert rows[-1]["ts"] == 1790317800 and rows[-1]["price"] == 8100.0 and rows[-1]["volume"] is None


def yahoo_answering(status: int, body: bytes) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(status, content=body)))


@pytest.mark.parametrize(
    "status, code, description",
    [
        (404, "Not Found", "No data found, symbol may be delisted"),
        (400, "Bad Request", "Data doesn't exist for startDate = 1565740800, endDate = 1596067200"),
    ],
)
async def test_yahoo_4xx_chart_error_is_about_the_symbol_in_yahoos_words(status, code, description):
    async with yahoo_answering(status, json.dumps(yahoo_error(description, code)).encode()) as client:
        with pytest.raises(NoData) as info:
            await yahoo.fetch_chart(client, "https://y.test", "ZZZZ.HK", timeout=1.0, range_="1d", interval="2m")
    assert f"HTTP {status}: {description}" in str(info.value) and "ZZZZ.HK" in str(info.value)
    assert not info.value.upstream_wide


@pytest.mark.parametrize(
    "status, body, kind, wide",
    [
        (404, b'{"error":{"message":"Not Found","code":404}}', HttpStatusError, False),  # not Yahoo's chart shape
        (
            401,
            b'{"finance":{"result":null,"error":{"code":"Unauthorized","description":"Invalid Crumb"}}}',
            HttpStatusError,
            True,
        ),
        (429, b"Too Many Requests", RateLimited, True),
        (500, json.dumps(yahoo_error()).encode(), HttpStatusError, True),
        (200, b"<!DOCTYPE html><html><body>Will be right back...</body></html>", BadPayload, True),
        (200, b'{"chart":{"result":[{"meta"', BadPayload, False),
    ],
)
async def test_yahoo_other_failures_keep_their_kind(status, body, kind, wide):
    async with yahoo_answering(status, body) as client:
        with pytest.raises(kind) as info:
            await yahoo.fetch_chart(client, "https://y.test", "NVDA", timeout=1.0, range_="1d", interval="2m")
    assert info.value.upstream_wide is wide


@pytest.mark.parametrize(
    "mutate, error",
    [
        (
            lambda b: b.update(chart={"result": None, "error": {"code": "Not Found", "description": "No data found"}}),
            NoData,
        ),
        (lambda b: b["chart"].update(result=[]), NoData),
        (lambda b: b["chart"]["result"][0]["indicators"]["quote"][0]["close"].__setitem__(0, -5.0), BadPayload),
        (lambda b: b["chart"]["result"][0]["indicators"]["quote"][0]["close"].pop(), BadPayload),
        (lambda b: b["chart"]["result"][0].pop("meta"), BadPayload),
        (lambda b: b.pop("chart"), BadPayload),
    ],
)
def test_yahoo_off_shape_bodies_are_typed_errors(mutate, error):
    body = json.loads(json.dumps(real_yahoo_body()))
    mutate(body)
    with pytest.raises(error):
        yahoo.parse_chart(body)


def test_tencent_real_2018_record():
    quotes = tencent.parse_quotes(shared_fixture(TENCENT).read_text(encoding="utf-8"))
    q = quotes["r_hk00700"]
    assert q.name == "腾讯控股"
    assert q.price == 409.6 and q.prev_close == 412.2 and q.change_pct == -0.63
    assert q.market_cap == pytest.approx(38909.443e8)
    # The 2018 layout has no field 69 (total shares) or 75 (currency).
    assert q.total_shares is None and q.currency == "HKD"
    assert quotes["r_hk00980"].price == 2.39


async def test_tencent_fetch_decodes_the_gbk_on_the_wire():
    # The recorded body is stored as UTF-8; the live endpoint sends GBK, and its header may not say so.
    wire = shared_fixture(TENCENT).read_text(encoding="utf-8").encode("gbk")
    asked: list[str] = []

    def tencent_server(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(200, content=wire, headers={"Content-Type": "text/html"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(tencent_server)) as client:
        quotes = await tencent.fetch_quotes(client, "https://qt.gtimg.cn", ["0700.HK", "0980.HK"], timeout=1.0)
    assert asked == ["/q=r_hk00700,r_hk00980"]
    assert quotes["0700.HK"].name == "腾讯控股" and quotes["0700.HK"].price == 409.6
    assert quotes["0980.HK"].price == 2.39


def test_tencent_codes():
    assert tencent.tencent_code("0100.HK") == "r_hk00100"
    assert tencent.tencent_code("2513.HK") == "r_hk02513"


def test_tencent_garbage_is_bad_payload():
    with pytest.raises(BadPayload):
        tencent.parse_quotes("<html>blocked</html>")


def test_export_manifest_real():
    manifest = openrouter.parse_manifest(json.loads(shared_fixture(MANIFEST).read_text()))
    assert manifest.snapshot_date == "2026-10-08"
    assert manifest.csv_path == "/api/v1/datasets/exports/rankings-daily/2026-10-08.csv"
    assert manifest.csv_sha256.startswith("a568e932f96c")
    assert manifest.row_count == 1530
    assert manifest.attribution.startswith("Source: OpenRouter (openrouter.ai), licensed under CC BY 4.0")


def test_export_csv_real_sample():
    rows = openrouter.parse_rankings_csv(shared_fixture(EXPORT_CSV).read_text(), "2026-10-08")
    assert len(rows) == 153
    by = {(r["date"], r["model_permaslug"]): r for r in rows}
    m3 = by[("2026-10-07", "minimax/minimax-m3-20260531")]
    assert m3["rank"] == 22 and m3["author"] == "minimax" and m3["total_tokens"] == 193845922229
    other = by[("2026-10-07", "other")]
    assert other["rank"] is None and other["author"] == "other"
    assert by[("2026-09-30", "stealth/space-bunny-alpha")]["rank"] == 1


def test_export_csv_crlf_and_lf_parse_the_same():
    text = shared_fixture(EXPORT_CSV).read_text()
    lf = openrouter.parse_rankings_csv(text, "2026-10-08")
    crlf = openrouter.parse_rankings_csv(text.replace("\n", "\r\n"), "2026-10-08")
    assert lf == crlf


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace(
            "date,model_permaslug,rank,total_tokens,share_of_daily_tokens",
            "date,model_permaslug,rank,total_tokens,share",
        ),
        lambda t: t.replace("0.21870872876777964", "1.21870872876777964"),
        lambda t: t.replace(",5331621827040,", ",-5331621827040,"),
        lambda t: t.replace(",5331621827040,", ",lots,"),
        lambda t: t.splitlines()[0] + "\n",
    ],
)
def test_export_csv_changed_or_absurd_is_refused(edit):
    text = edit(shared_fixture(EXPORT_CSV).read_text())
    with pytest.raises((BadPayload, NoData)):
        openrouter.parse_rankings_csv(text, "2026-10-08")


def test_weekly_chart_real():
    rows = openrouter.parse_weekly_chart(json.loads(shared_fixture(WEEKLY).read_text()))
    weeks = sorted({r["week"] for r in rows})
    assert weeks[0] == "2025-09-29" and weeks[-1] == "2026-09-21" and len(weeks) == 52
    top = {}
    for r in rows:
        if r["model_permaslug"] != "other" and r["total_tokens"] > top.get(r["week"], ("", -1))[1]:
            top[r["week"]] = (r["model_permaslug"], r["total_tokens"])
    # MiniMax M2.5 led OpenRouter from February to early March 2026.
    assert top["2026-02-16"][0].startswith("minimax/minimax-m2.5")
    assert all(r["author"] == "other" for r in rows if r["model_permaslug"] == "other")


def test_weekly_chart_shape_change_is_loud():
    with pytest.raises(BadPayload):
        openrouter.parse_weekly_chart({"data": []})
    with pytest.raises(BadPayload):
        openrouter.parse_weekly_chart({"data": {"data": [{"x": "2026-01-01", "ys": {"a/b": "many"}}]}})


def test_view_day_real_payload_has_prompt_completion_split():
    rows = openrouter.parse_day_view(json.loads(shared_fixture(VIEW_DAY).read_text()))
    assert len(rows) == 20
    glm = rows[0]
    assert glm["model_permaslug"] == "z-ai/glm-5.3-flash-20260826" and glm["date"] == "2026-09-22"
    assert glm["prompt_tokens"] == 3118113724797 and glm["completion_tokens"] == 35001486689
    assert glm["requests"] == 46904488


def test_keyed_history_shape_gets_share_and_rank():
    payload = {
        "data": [
            {"date": "2026-10-07", "model_permaslug": "a/x", "total_tokens": "300"},
            {"date": "2026-10-07", "model_permaslug": "b/y", "total_tokens": "600"},
            {"date": "2026-10-07", "model_permaslug": "other", "total_tokens": "100"},
        ],
        "meta": {"as_of": "2026-10-08T02:00:00Z", "version": "v1"},
    }
    rows = {r["model_permaslug"]: r for r in openrouter.parse_history(payload)}
    assert rows["b/y"]["rank"] == 1 and rows["a/x"]["rank"] == 2 and rows["other"]["rank"] is None
    assert rows["a/x"]["share"] == pytest.approx(0.3)
    assert rows["a/x"]["snapshot_date"] == "2026-10-08"


def test_models_catalogue_prices_and_dynamic():
    from tests.payloads import models_catalogue

    rows = {r["canonical_slug"]: r for r in openrouter.parse_models(models_catalogue(), updated_at=1)}
    assert rows["minimax/minimax-m3-20260531"]["prompt_price"] == pytest.approx(3e-7)
    assert rows["openrouter/auto"]["prompt_price"] is None  # "-1" = dynamic pricing


def test_mirror_url_keeps_path_on_configured_host():
    url = openrouter.mirror_url("http://127.0.0.1:9", "https://openrouter.ai/api/v1/datasets/exports/x/2026.csv")
    assert url == "http://127.0.0.1:9/api/v1/datasets/exports/x/2026.csv"
