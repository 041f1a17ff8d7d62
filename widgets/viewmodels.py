"""View-models: a Dashboard (the engine's polars frames) -> the immutable views the panels render.

Pure: no I/O, no Textual, and no polars import (it only walks the frames it is given), so the app can
import this module before polars has loaded. `now` is passed in.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from monitor.config import Config
from monitor.markets import HKT, MARKET_ZONES, market_state
from monitor.text import fmt_age
from widgets.views import (
    BoardRow,
    BoardView,
    CardView,
    ChartSeries,
    ChartView,
    JobStatus,
    MovesRow,
    MovesView,
    ScreenViews,
    StatusView,
)

if TYPE_CHECKING:
    from monitor.dashboard import Dashboard

DATE_SUFFIX = re.compile(r"-(19|20)\d{6}(?=$|:)")
STALE_ANY_SECONDS = 4 * 86400  # a price older than a long weekend is stale whatever the calendar says


def short_model(slug: str) -> str:
    """`deepseek/deepseek-v4.1-flash-20260910` -> `deepseek-v4.1-flash` (the maker has its own column)."""
    name = slug.split("/", 1)[1] if "/" in slug else slug
    return DATE_SUFFIX.sub("", name)


def coarse_age(seconds: float | None) -> str:
    """Ages that change at most once a minute, so an idle screen stays still."""
    if seconds is None:
        return "never"
    return "just now" if seconds < 60 else fmt_age(seconds)


def _close_ts(day: str, market: str) -> float:
    close = "16:00"
    return datetime.fromisoformat(f"{day}T{close}").replace(tzinfo=MARKET_ZONES.get(market, HKT)).timestamp()


def card_views(dash: Dashboard, config: Config, now: float) -> list[CardView]:
    ref = dash.reference_now(now)
    at = datetime.fromtimestamp(ref, UTC)
    cards = []
    for r in dash.companies.iter_rows(named=True):
        if r["group"] == "index":
            continue
        if r["price_time"] is not None:
            ts = r["price_time"]
            as_of = datetime.fromtimestamp(ts, MARKET_ZONES.get(r["market"], HKT)).strftime("%m-%d %H:%M")
        elif r["price_date"]:
            ts, as_of = _close_ts(r["price_date"], r["market"]), r["price_date"][5:] + " close"
        else:
            ts, as_of = None, None
        age = ref - ts if ts is not None else None
        # The calendar is consulted only when the age alone does not decide (it costs a calendar load).
        stale = age is not None and (
            age > STALE_ANY_SECONDS
            or (age > config.ui.stale_quote_seconds and market_state(config.markets[r["market"]], at).is_open)
        )
        intraday = dash.intraday.get(r["symbol"])
        spark, label = (tuple(intraday), "today") if intraday else (tuple(r["closes"] or ()), "30d")
        if dash.is_demo and not intraday:
            label = "30d*"
        cards.append(
            CardView(
                symbol=r["symbol"],
                name=r["name"],
                group=r["group"],
                currency=r["currency"],
                price=r["price"],
                change=r["change"],
                change_pct=r["change_pct"],
                market_cap=r["market_cap"],
                market_cap_display=r["market_cap_display"],
                display_currency=r["display_currency"],
                ipo_price=r["ipo_price"],
                move_ipo=r["move_ipo"],
                spark=spark,
                spark_label=label,
                token_share=r["token_share"],
                token_share_change_7d=r["token_share_change_7d"],
                token_rank=r["token_rank"],
                token_date=r["token_date"],
                source=r["source"],
                as_of=f"{as_of} · {coarse_age(age)}" if as_of else None,
                stale=stale,
            )
        )
    return cards


def token_age(dash: Dashboard, now: float) -> float | None:
    """Seconds since the end of the latest token day (the figure exists only once the UTC day is over)."""
    if dash.makers.is_empty():
        return None
    day = dash.makers["date"].max()
    end = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + 86400
    return dash.reference_now(now) - end


def board_view(dash: Dashboard, mode: str, config: Config, now: float) -> BoardView:
    frame = dash.models if mode == "model" else dash.makers
    rows = []
    for r in frame.iter_rows(named=True):
        if mode == "model":
            key, name, maker = r["model_permaslug"], short_model(r["model_permaslug"]), r["maker"]
        else:
            key, name, maker = r["maker_id"], r["maker"], r["maker_id"]
        rows.append(
            BoardRow(
                key=key,
                rank=r["rank"],
                rank_change=r["rank_change_1d"],
                name=name,
                maker=maker,
                tokens=r["total_tokens"],
                share=r["share"],
                d1=r["d_share_1d"],
                d7=r["d_share_7d"],
                trend=tuple(r["trend"] or ()),
            )
        )
    day = frame["date"].max().isoformat() if not frame.is_empty() else None
    age = token_age(dash, now)
    stale = age is not None and age > config.ui.stale_tokens_hours * 3600
    caption = f"OpenRouter export · UTC day {day or '—'} · {coarse_age(age)} old{' STALE' if stale else ''}"
    return BoardView(mode=mode, rows=tuple(rows), caption=caption)


def chart_view(dash: Dashboard, top: int = 8) -> ChartView:
    """The `top` makers of the latest day, each with its weekly and daily share series."""
    from monitor.analytics import OTHER, UNATTRIBUTED  # polars is loaded by now: a Dashboard exists

    latest = sorted(dash.makers.iter_rows(named=True), key=lambda r: -(r["share"] or 0.0))[:top]
    weekly: dict[str, dict[object, float]] = {}
    for week, maker_id, share in dash.maker_weekly.select("week", "maker_id", "share").iter_rows():
        weekly.setdefault(maker_id, {})[week] = share
    daily: dict[str, dict[object, float]] = {}
    for day, maker_id, share in dash.maker_history.select("date", "maker_id", "share").iter_rows():
        daily.setdefault(maker_id, {})[day] = share
    weeks = sorted({w for by_week in weekly.values() for w in by_week})
    days = sorted({d for by_day in daily.values() for d in by_day})
    series = []
    for row in latest:
        maker_id = row["maker_id"]
        by_week, by_day = weekly.get(maker_id, {}), daily.get(maker_id, {})
        series.append(
            ChartSeries(
                maker={OTHER: "other", UNATTRIBUTED: "unattributed"}.get(maker_id, row["maker"]),
                weekly=tuple(by_week.get(w, 0.0) for w in weeks),
                daily=tuple(by_day[d] for d in days if d in by_day),
                latest=row["share"],
                d7=row["d_share_7d"],
            )
        )
    return ChartView(series=tuple(series), weeks=tuple(w.isoformat() for w in weeks))  # type: ignore[attr-defined]


def moves_view(dash: Dashboard) -> MovesView:
    rows = [
        MovesRow(
            symbol=r["symbol"],
            name=r["name"],
            price=r["price"],
            currency=r["currency"],
            change_pct=r["change_pct"],
            move_5d=r["move_5d"],
            move_1m=r["move_1m"],
            move_ytd=r["move_ytd"],
            move_ipo=r["move_ipo"],
            market_cap_display=r["market_cap_display"],
            token_share=r["token_share"],
        )
        for r in dash.companies.iter_rows(named=True)
    ]
    for m in dash.medians.iter_rows(named=True):
        if m["group"] == "index":
            continue
        rows.append(
            MovesRow(
                symbol=f"median-{m['group']}",
                name=f"median {m['group']}",
                price=None,
                currency="",
                change_pct=m["change_pct"],
                move_5d=m["move_5d"],
                move_1m=m["move_1m"],
                move_ytd=m["move_ytd"],
                move_ipo=m["move_ipo"],
                market_cap_display=None,
                token_share=None,
            )
        )
    return MovesView(rows=tuple(rows), display_currency=dash.display_currency)


def status_view(dash: Dashboard, mode: str, now: float, next_runs: dict[str, float | None], db_path: str) -> StatusView:
    jobs = []
    for r in dash.polls.iter_rows(named=True):
        nxt = next_runs.get(r["job"])
        jobs.append(
            JobStatus(
                job=r["job"],
                ok=bool(r["ok"]),
                last=coarse_age(now - r["finished"]),
                next=coarse_age(nxt - now).replace("just now", "<1m") if nxt else "",
                error=None if r["ok"] else r["error"],
            )
        )
    if mode == "demo":
        as_of = datetime.fromtimestamp(dash.demo_as_of or now, UTC).strftime("%Y-%m-%d %H:%M UTC")
        note = (
            f"DEMO · bundled real data as of {as_of}, no network · * price days between reported closes are "
            f"interpolated"
        )
    elif mode == "read-only":
        note = f"read-only · {db_path} · refreshed when tokentape collect writes"
    elif jobs and not any(j.ok for j in jobs) and dash.companies["price"].null_count() == dash.companies.height:
        note = "no data yet: every upstream failed (see below) · tokentape --demo shows the bundled data offline"
    else:
        note = "" if jobs else "live · first polls running…"
    return StatusView(jobs=tuple(jobs), note=note)


def data_age(dash: Dashboard, now: float) -> str:
    """The header's data part: the latest token day and how old it is."""
    age = token_age(dash, now)
    day = dash.makers["date"].max().isoformat() if not dash.makers.is_empty() else "—"
    return f"tokens {day} · {coarse_age(age)}"


def screen_views(
    dash: Dashboard, config: Config, now: float, mode: str, next_runs: dict[str, float | None], db_path: str
) -> ScreenViews:
    return ScreenViews(
        cards=tuple(card_views(dash, config, now)),
        boards={m: board_view(dash, m, config, now) for m in ("model", "maker")},
        chart=chart_view(dash),
        moves=moves_view(dash),
        status=status_view(dash, mode, now, next_runs, db_path),
        data_age=data_age(dash, now),
        currency=dash.display_currency,
        demo=dash.is_demo,
        made_at=now,
    )
