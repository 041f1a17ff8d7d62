"""The company screen's charts draw long intraday series through `envelope`: what it keeps, and that the chart a
user sees is dot for dot the one every stored quote would draw."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

import pytest

from widgets import charts
from widgets.charts import Axis, Marker, PriceSeries, ShareSeries, envelope, plot_columns, price_chart, share_chart

SESSIONS = ((9 * 3600 + 1800, 12 * 3600), (13 * 3600, 16 * 3600))  # HKEX, seconds after local midnight
DAY0 = 1_789_862_400  # 2026-09-20 00:00 UTC (the day's HKT date does not matter here)


def five_days(seed: int = 7) -> tuple[list[int], list[float], list[int]]:
    """Five HKEX days of 30-second quotes as (ts, price, breaks): `breaks` are the indices of the first quote after
    each lunch break and each night. The price walks, jumps overnight, and spikes for one quote each way on day 2."""
    rng = random.Random(seed)
    stamps: list[int] = []
    prices: list[float] = []
    breaks: list[int] = []
    price = 500.0
    for day in range(5):
        for start, end in SESSIONS:
            if stamps:
                breaks.append(len(stamps))
            for t in range(start, end + 1, 30):
                price += rng.gauss(0, 0.4)
                stamps.append(DAY0 + day * 86400 + t)
                prices.append(round(price, 3))
        price += rng.gauss(0, 8)  # the overnight gap
    day2 = 2 * (len(stamps) // 5)
    prices[day2 + 100] = max(prices) + 25.0  # one quote far above everything else
    prices[day2 + 400] = min(prices) - 25.0  # and one far below
    return stamps, prices, breaks


def test_envelope_keeps_first_last_high_low_and_both_ends_of_every_gap():
    _, prices, breaks = five_days()
    xs = [float(i) for i in range(len(prices))]  # the intraday axis: a quote index, gaps take no room
    bins = 2 * plot_columns(108)  # the 5D price pane at 160x48: braille has two dots a column
    kept_x, kept_y = envelope(xs, prices, xs[0], xs[-1], bins, breaks)

    assert len(prices) > 3000 and len(kept_x) <= 4 * (bins + len(breaks))  # down-sampled to the chart's width
    kept = [int(x) for x in kept_x]
    assert kept == sorted(set(kept))  # in order, no point twice
    assert kept_y == [prices[i] for i in kept]  # every point kept is a stored quote, unchanged: none invented
    assert (kept_y[0], kept_y[-1]) == (prices[0], prices[-1])  # the first quote and the last price
    assert max(kept_y) == max(prices) and min(kept_y) == min(prices)  # the one-quote spikes survive
    for b in breaks:  # the close before each lunch break and night, and the first quote after it
        assert b - 1 in kept and b in kept, b
    # The line never spans a gap from anywhere but its two ends: no segment joins two runs in mid-session.
    for i, j in itertools.pairwise(kept):
        crossed = [b for b in breaks if i < b <= j]
        assert not crossed or (len(crossed) == 1 and (i, j) == (crossed[0] - 1, crossed[0])), (i, j)


@pytest.mark.parametrize("size", [(108, 24), (69, 9), (40, 6)])
def test_the_chart_through_the_envelope_is_the_chart_of_every_quote(monkeypatch, size):
    """Dot for dot and colour for colour (ANSI text compared), with the IPO line and a launch marker on top."""
    stamps, prices, breaks = five_days(seed=size[0])
    n = len(prices)
    series = PriceSeries(xs=tuple(float(i) for i in range(n)), close=tuple(prices), breaks=tuple(breaks))
    axis = Axis(0.0, float(n - 1), intraday=True, labels=tuple(f"{(t // 60) % 1440:04d}" for t in stamps))
    runs = (tuple((float(i), p / 1e5) for i, p in enumerate(prices[: n // 2])),)
    shares = ShareSeries(runs=runs, weekly=())
    markers = (Marker(n / 3, "m3"),)
    width, height = size

    def drawn() -> str:
        with_ipo = replace(series, reference=510.0, reference_label="IPO 510.00")
        return price_chart(with_ipo, axis, markers, width, height, False) + share_chart(
            shares, axis, markers, width, height
        )

    seen: list[int] = []
    plot = charts.Plot.plot

    def counting(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(len(args[0]))
        return plot(self, *args, **kwargs)

    monkeypatch.setattr(charts.Plot, "plot", counting)
    sampled = drawn()
    assert max(seen) < n // 2  # plotext was handed far fewer points than stored
    monkeypatch.setattr(charts, "envelope", lambda xs, ys, *_: (list(xs), list(ys)))
    assert sampled == drawn()
