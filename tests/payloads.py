"""Payloads for the loopback upstream, each derived from a real recording in ../shared/fixtures.

No HK Yahoo chart was recorded, so HK charts are the real 7974.T chart with its meta and prices
rewritten (same keys, same nesting, same arrays). Tencent records are the real 2018 record padded
to the current ~78-field layout with total shares at index 69 and the currency at 75. The export
manifest is the real manifest with sha256, bytes and row_count recomputed for the file served.
"""

from __future__ import annotations

import copy
import hashlib
import json
from functools import cache

from tests.conftest import shared_fixture

EXPORT_CSV = "openrouter/rankings-daily_sample_2026-09-30_2026-10-01_2026-10-07.csv"
MANIFEST = "openrouter/rankings-daily_manifest_2026-10-08.json"
WEEKLY = "openrouter/frontend_v1_rankings_model-rankings-chart_weekly_2025-09-29_2026-09-21.json"
DAY_VIEW = "openrouter/frontend_v1_rankings_models_view-day_2026-09-22.json"
YAHOO = "yahoo/yfinance_recorded_v8_chart_7974.T_1d_2026-09.json"
TENCENT = "tencent/qt_gtimg_r_hk00700_r_hk00980_2018-03-29.txt"


@cache
def real_yahoo_body() -> dict:
    return json.loads(shared_fixture(YAHOO).read_text())[0]["response"]["json"]


def yahoo_chart(
    symbol: str,
    currency: str,
    closes: list[float | None],
    previous_close: float,
    gmtoffset: int = 28800,
    timezone: str = "Asia/Hong_Kong",
) -> dict:
    """The real chart body with `closes` (oldest first) replacing the last len(closes) bars."""
    body = copy.deepcopy(real_yahoo_body())
    result = body["chart"]["result"][0]
    n = len(closes)
    result["timestamp"] = result["timestamp"][-n:]
    quote = result["indicators"]["quote"][0]
    for key in ("open", "high", "low", "volume"):
        quote[key] = quote[key][-n:]
    quote["close"] = list(closes)
    result["indicators"]["adjclose"] = [{"adjclose": list(closes)}]
    meta = result["meta"]
    last = next(c for c in reversed(closes) if c is not None)
    meta.update(
        symbol=symbol,
        currency=currency,
        regularMarketPrice=last,
        chartPreviousClose=previous_close,
        gmtoffset=gmtoffset,
        exchangeTimezoneName=timezone,
        regularMarketTime=result["timestamp"][-1] + 3600,
    )
    return body


def yahoo_error(description: str = "No data found, symbol may be delisted", code: str = "Not Found") -> dict:
    """Yahoo's chart error body, as other clients' tests record it: with HTTP 404 for an unknown symbol
    (code "Not Found"), with HTTP 400 for a range it has no data for (code "Bad Request", "Data doesn't
    exist for startDate = …, endDate = …"), and with HTTP 200 at times. research/data-sources.md §Yahoo."""
    return {"chart": {"result": None, "error": {"code": code, "description": description}}}


def yahoo_empty() -> dict:
    return {"chart": {"result": [], "error": None}}


@cache
def real_tencent_record() -> list[str]:
    text = shared_fixture(TENCENT).read_text(encoding="utf-8")
    first = text.split('"')[1]
    return first.split("~")


def tencent_record(
    code5: str, name: str, price: float, prev_close: float, total_shares: int, when: str = "2026/10/07 16:08:11"
) -> str:
    fields = list(real_tencent_record())
    fields += [""] * (78 - len(fields))
    fields[1], fields[2], fields[3], fields[4], fields[30] = name, code5, f"{price:.3f}", f"{prev_close:.3f}", when
    fields[32] = f"{(price / prev_close - 1) * 100:.2f}"
    fields[44] = f"{price * total_shares / 1e8:.4f}"
    fields[69], fields[70], fields[75] = str(total_shares), str(total_shares), "HKD"
    return f'v_r_hk{code5}="{"~".join(fields)}";'


def export_csv() -> bytes:
    return shared_fixture(EXPORT_CSV).read_bytes()


def manifest_for(csv_bytes: bytes, snapshot_date: str = "2026-10-08") -> dict:
    manifest = json.loads(shared_fixture(MANIFEST).read_text())
    manifest["snapshot_date"] = snapshot_date
    manifest["row_count"] = csv_bytes.replace(b"\r\n", b"\n").strip().count(b"\n")
    manifest["files"]["csv"].update(
        url=f"https://openrouter.ai/api/v1/datasets/exports/rankings-daily/{snapshot_date}.csv",
        bytes=len(csv_bytes),
        sha256=hashlib.sha256(csv_bytes).hexdigest(),
    )
    return manifest


def weekly_chart() -> bytes:
    return shared_fixture(WEEKLY).read_bytes()


def day_view() -> bytes:
    return shared_fixture(DAY_VIEW).read_bytes()


def catalogue_with_price(slug: str, prompt: str, completion: str) -> str:
    """The catalogue body with one model's list prices (USD per token, as strings) changed."""
    body = models_catalogue()
    for item in body["data"]:
        if item["canonical_slug"] == slug:
            item["pricing"] |= {"prompt": prompt, "completion": completion}
    return json.dumps(body)


def models_catalogue() -> dict:
    """No real /api/v1/models body was recorded; this follows the documented Model fields exactly."""

    def model(mid: str, canonical: str, name: str, prompt: str, completion: str) -> dict:
        return {
            "id": mid,
            "canonical_slug": canonical,
            "hugging_face_id": "",
            "name": name,
            "created": 1780000000,
            "description": "",
            "context_length": 1000000,
            "architecture": {
                "modality": "text->text",
                "input_modalities": ["text"],
                "output_modalities": ["text"],
                "tokenizer": "Other",
                "instruct_type": None,
            },
            "pricing": {
                "prompt": prompt,
                "completion": completion,
                "request": "0",
                "image": "0",
                "web_search": "0",
                "internal_reasoning": "0",
            },
            "top_provider": {"context_length": 1000000, "max_completion_tokens": 131072, "is_moderated": False},
            "per_request_limits": None,
            "supported_parameters": ["tools"],
        }

    return {
        "data": [
            model("minimax/minimax-m3", "minimax/minimax-m3-20260531", "MiniMax: MiniMax M3", "0.0000003", "0.0000012"),
            model("z-ai/glm-5.3-flash", "z-ai/glm-5.3-flash-20260826", "Z.ai: GLM 5.3 Flash", "0.0000001", "0.0000004"),
            model("openrouter/auto", "openrouter/auto", "Auto Router", "-1", "-1"),
        ]
    }


# Prices served for the watchlist: (currency, last 5 daily closes, previous close, total shares for Tencent).
PRICES = {
    "0100.HK": ("HKD", [300.0, 310.0, 305.0, 320.0, 330.0], 320.0, 310_000_000),
    "2513.HK": ("HKD", [2000.0, 2010.0, 1990.0, 2050.0, 2100.0], 2050.0, 440_000_000),
    "0700.HK": ("HKD", [450.0, 455.0, 460.0, 458.0, 462.0], 458.0, 9_082_721_689),
    "9988.HK": ("HKD", [150.0, 151.0, 152.0, 153.0, 154.0], 153.0, 19_000_000_000),
    "9888.HK": ("HKD", [100.0, 101.0, 102.0, 103.0, 104.0], 103.0, 2_800_000_000),
    "1810.HK": ("HKD", [50.0, 51.0, 52.0, 53.0, 54.0], 53.0, 25_000_000_000),
    "0020.HK": ("HKD", [2.0, 2.1, 2.2, 2.3, 2.4], 2.3, 36_000_000_000),
    "^HSTECH": ("HKD", [6000.0, 6100.0, 6050.0, 6200.0, 6300.0], 6200.0, 0),
    "NVDA": ("USD", [180.0, 182.0, 181.0, 185.0, 190.0], 185.0, 0),
    "GOOGL": ("USD", [250.0, 251.0, 252.0, 253.0, 254.0], 253.0, 0),
    "META": ("USD", [700.0, 701.0, 702.0, 703.0, 704.0], 703.0, 0),
    "MSFT": ("USD", [500.0, 501.0, 502.0, 503.0, 504.0], 503.0, 0),
    "AMZN": ("USD", [220.0, 221.0, 222.0, 223.0, 224.0], 223.0, 0),
    "HKDUSD=X": ("USD", [0.1282, 0.1282, 0.1283, 0.1283, 0.1284], 0.1283, 0),
    "HKDCNY=X": ("CNY", [0.9150, 0.9152, 0.9148, 0.9151, 0.9153], 0.9151, 0),
    "USDCNY=X": ("CNY", [7.1300, 7.1320, 7.1290, 7.1310, 7.1330], 7.1310, 0),
}


def serve_everything(upstream, csv_bytes: bytes | None = None, bump: float = 1.0) -> None:
    """Route every upstream path tokentape asks for to a payload derived from the real recordings.

    `bump` scales every price, so a second serving differs from the first."""
    for symbol, (currency, closes, prev, _) in PRICES.items():
        body = json.dumps(yahoo_chart(symbol, currency, [c * bump for c in closes], prev))
        upstream.route(f"/v8/finance/chart/{symbol}", body, Content_Type="application/json")
    for symbol, (_, closes, prev, shares) in PRICES.items():
        if symbol.endswith(".HK"):
            code5 = f"{int(symbol[:4]):05d}"
            upstream.tencent_records[f"r_hk{code5}"] = tencent_record(
                code5, f"测试{code5}", closes[-1] * bump, prev, shares
            )
    serve_export(upstream, export_csv() if csv_bytes is None else csv_bytes)
    upstream.route("/api/v1/models", json.dumps(models_catalogue()), Content_Type="application/json")
    upstream.route("/api/frontend/v1/rankings/model-rankings-chart", weekly_chart(), Content_Type="application/json")
    upstream.route("/api/frontend/v1/rankings/models", day_view(), Content_Type="application/json")


def serve_export(upstream, csv_bytes: bytes, snapshot_date: str = "2026-10-08", manifest_bytes: bytes | None = None):
    """A manifest for `csv_bytes` (or for `manifest_bytes`, to serve a file that does not match it)."""
    manifest = manifest_for(csv_bytes if manifest_bytes is None else manifest_bytes, snapshot_date)
    upstream.route(
        "/api/v1/datasets/exports/rankings-daily/latest.manifest.json",
        json.dumps(manifest),
        Content_Type="application/json",
    )
    upstream.route(f"/api/v1/datasets/exports/rankings-daily/{snapshot_date}.csv", csv_bytes, Content_Type="text/csv")


def revised_export() -> bytes:
    """The sample with every share nudged, as the next day's snapshot would revise the last days."""
    lines = export_csv().decode().splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        day, slug, rank, tokens, share = line.split(",")
        out.append(",".join([day, slug, rank, str(int(tokens) + 1), share]))
    return ("\n".join(out) + "\n").encode()
