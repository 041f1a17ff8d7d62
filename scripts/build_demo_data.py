"""Build monitor/demo_data/demo.json, the dataset behind `tokentape --demo`, from real figures only.

Token usage: the real OpenRouter payloads in ../shared/fixtures (the daily export sample and the
52-week chart), parsed by tokentape's own parsers. Prices: closes reported in the press for MiniMax,
Zhipu and Tencent (../shared/research/data-sources.md §D1, §C1, §C2), each with its source. Trading
days between two reported closes (HKEX calendar) are filled geometrically and marked as interpolated;
nothing is extrapolated past the last reported close.

Run from the repository root: .venv/bin/python scripts/build_demo_data.py [path/to/shared]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.config import load_config  # noqa: E402
from monitor.demo import filled_daily_bars  # noqa: E402
from monitor.sources import openrouter  # noqa: E402

# (date, close, source). Day-1 closes and listing prices from Wallstreetcn / The Star (2026-01-09/12);
# later closes from TMTPost (tmtpost.com/8076149.html) and the research note cited in data-sources.md.
REPORTED_CLOSES = {
    "0100.HK": [
        ("2026-01-09", 345.0, "day-1 close (IPO HK$165.00), Wallstreetcn 2026-01-09"),
        ("2026-01-30", 473.0, "end-January close, reported"),
        ("2026-02-25", 880.0, "close 2026-02-25, reported"),
        ("2026-03-18", 1330.0, "peak around HK$1,330, TMTPost"),
        ("2026-08-03", 297.4, "close 2026-08-03, TMTPost"),
    ],
    "2513.HK": [
        ("2026-01-08", 131.5, "day-1 close (IPO HK$116.20), Reuters"),
        ("2026-01-30", 226.4, "end-January close, reported"),
        ("2026-02-25", 628.0, "close 2026-02-25, reported"),
        ("2026-06-22", 2980.0, "peak around HK$2,980, TMTPost"),
        ("2026-06-26", 2046.0, "close 2026-06-26, TMTPost"),
        ("2026-08-04", 2032.0, "HK$2,032 (market cap HK$9,059.5亿), TMTPost"),
    ],
    "0700.HK": [
        ("2026-08-07", 478.8, "Tencent qt quote capture 2026-08-07"),
        ("2026-08-27", 447.8, "previous close in Sina quote 2026-08-28"),
        ("2026-08-28", 455.8, "Sina quote 2026-08-28 14:04 HKT"),
    ],
}
# The demo's alert rules ([[alert]] tables): both fire on the data above, so a newcomer sees alerts at once.
# monitor/demo.py stores the token days before the newest first, then the newest one, and evaluates in between.
DEMO_ALERTS = [
    {
        "name": "Zhipu token share crosses 10%",
        "maker": "z-ai",
        "metric": "token_share",
        "op": "crosses_above",
        "value": 10.0,
        "notify": ["screen"],
    },
    {
        "name": "New Google model in the top 50",
        "maker": "google",
        "event": "model_enters_top",
        "value": 50,
        "notify": ["screen"],
    },
]
DAY_VIEW = "frontend_v1_rankings_models_view-day_2026-09-22"
DAY_VIEW_SOURCE = "demo: OpenRouter day view 2026-09-22 (recorded)"
CATALOGUE, CATALOGUE_DAY = "api_v1_models_data_sorted_2026-04-30", "2026-04-30"
CATALOGUE_SOURCE = "demo: OpenRouter catalogue 2026-04-30 (recorded)"
# HKD is pegged to the USD within 7.75-7.85; the demo uses the midpoint.
HKD_USD = 1 / 7.80


def main(shared: Path) -> None:
    fixtures = shared / "fixtures" / "openrouter"
    manifest = openrouter.parse_manifest(json.loads((fixtures / "rankings-daily_manifest_2026-10-08.json").read_text()))
    csv_text = (fixtures / "rankings-daily_sample_2026-09-30_2026-10-01_2026-10-07.csv").read_text()
    daily = openrouter.parse_rankings_csv(csv_text, manifest.snapshot_date)
    weekly = openrouter.parse_weekly_chart(
        json.loads(
            (fixtures / "frontend_v1_rankings_model-rankings-chart_weekly_2025-09-29_2026-09-21.json").read_text()
        )
    )
    # Token economics: the day view's real spend for its own day, and the recorded catalogue's list prices for the
    # demo models it lists (the bare `data` array of 2026-04-30, see SOURCES.md), stored as that day's prices.
    day_view = [
        row | {"source": DAY_VIEW_SOURCE}
        for row in openrouter.parse_day_view(json.loads((fixtures / f"{DAY_VIEW}.json").read_text()))
    ]
    demo_models = {r["model_permaslug"] for r in daily} | {r["model_permaslug"] for r in day_view}
    catalogue = openrouter.parse_models({"data": json.loads((fixtures / f"{CATALOGUE}.json").read_text())}, 0)
    prices = openrouter.price_rows(
        [m for m in catalogue if m["canonical_slug"] in demo_models], CATALOGUE_DAY, CATALOGUE_SOURCE
    )
    data = {
        "as_of": "2026-10-08T01:46:15Z",
        "note": "demo: tokens are OpenRouter's real export (3 sample days to 2026-10-07) and 52-week chart; "
        "prices are reported closes, days between them interpolated; prices end Aug 2026",
        "attribution": manifest.attribution,
        "snapshot_date": manifest.snapshot_date,
        "alerts": DEMO_ALERTS,
        "token_daily": daily,
        "token_weekly": weekly,
        "reported_closes": {s: [list(p) for p in points] for s, points in REPORTED_CLOSES.items()},
        # Materialised here, on HKEX's calendar, so the demo starts without loading a calendar.
        "daily_bars": filled_daily_bars(REPORTED_CLOSES, load_config(str(ROOT / "config.toml")).markets["HK"]),
        "model_prices": prices,
        "model_day_usage": day_view,
        "fx": {"pair": "HKDUSD", "rate": HKD_USD, "note": "HKD peg midpoint 7.80 per USD"},
    }
    out = ROOT / "monitor" / "demo_data" / "demo.json"
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        f"wrote {out} ({out.stat().st_size} bytes, {len(daily)} daily and {len(weekly)} weekly token rows, "
        f"{len(prices)} catalogue prices, {len(day_view)} day-view rows)"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared")
