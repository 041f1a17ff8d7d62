"""The maker share panel switches 52W / 7D / 30D / 90D: daily where the export is stored, the weekly
chart's share before the first stored day, and a gap (never a zero) where neither has data."""

from __future__ import annotations

import re

from monitor.demo import open_demo_store
from monitor.feed import DataFeed
from tests.conftest import ROOT, settle
from widgets.app import TokentapeApp
from widgets.share_chart import GAP, ShareChart

FROZEN = 1_791_424_800.0


def _row(app: TokentapeApp, maker: str) -> str:
    text = str(app.query_one(ShareChart).render())
    return next(line for line in text.splitlines() if line.startswith(maker))


async def test_w_cycles_the_share_ranges_and_missing_days_are_gaps(tmp_path):
    from monitor.config import parse_config

    config = parse_config((ROOT / "config.toml").read_text(encoding="utf-8"), tmp_path / "config.toml")
    store = open_demo_store(config)
    app = TokentapeApp(config, DataFeed.for_store(store, config, "demo"), clock=lambda: FROZEN)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(
                pilot, lambda: app.dashboard is not None and "DeepSeek" in str(app.query_one(ShareChart).render())
            )
            assert "52W" in str(app.query_one(ShareChart).render())
            await pilot.press("w")
            await settle(pilot, lambda: "7D 26-10-01…26-10-07" in str(app.query_one(ShareChart).render()))
            # The demo stores 2026-09-30, 10-01 and 10-07: in the last 7 days, 10-01 and 10-07 have bars and the
            # five days between are gaps.
            bars = _row(app, "DeepSeek")[13:20]
            assert bars[1:6] == GAP * 5 and GAP not in (bars[0] + bars[6])
            await pilot.press("w")
            await settle(
                pilot, lambda: "30D 26-09-08…26-10-07 · 2 days a column" in str(app.query_one(ShareChart).render())
            )
            # Two days a column in a 60-column pane. Before the first stored day (09-30) the weekly chart's weeks (to
            # the week of 09-21) fill in; 09-28/29 are in no stored week or day (a gap); 09-30/10-01 stored; 10-02 to
            # 10-05 gaps; 10-06/07 stored.
            bars = _row(app, "DeepSeek")[13:28]
            assert re.fullmatch(rf"[^{GAP}]{{10}}{GAP}[^{GAP}]{GAP}{GAP}[^{GAP}]", bars), bars
            await pilot.press("w")
            await settle(pilot, lambda: "90D" in str(app.query_one(ShareChart).render()))
            await pilot.press("w")
            await settle(pilot, lambda: "52W" in str(app.query_one(ShareChart).render()))
    finally:
        store.close()
