"""View-models: a Dashboard's rows (monitor.published.DashboardData) -> the immutable views the panels render.

Pure: no I/O, no Textual, and no polars: the rows are plain Python, whether converted from this process's
own Dashboard or read as the database's writer published them, so the app can build its first screen
before polars has loaded. `now` is passed in.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from monitor.attribution import OTHER, UNATTRIBUTED
from monitor.config import Config
from monitor.markets import HKT, MARKET_ZONES, market_state
from monitor.published import DashboardData, Rows
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
ZONE_LABELS = {"HK": "HKT", "US": "ET"}
DELAY_SECONDS = 3600  # a quote younger than this is read as "delayed by", an older one as "old"


def short_model(slug: str) -> str:
    """`deepseek/deepseek-v4.1-flash-20260910` -> `deepseek-v4.1-flash` (the maker has its own column)."""
    name = slug.split("/", 1)[1] if "/" in slug else slug
    return DATE_SUFFIX.sub("", name)


def coarse_age(seconds: float | None) -> str:
    """Ages that change at most once a minute, so an idle screen stays still."""
    if seconds is None:
        return "never"
    return "just now" if seconds < 60 else fmt_age(seconds)


def version_tag(slug: str) -> str:
    """The date in a dated permaslug, as MM-DD (`…-flash-20260731` -> `07-31`); "" when it has none."""
    found = DATE_SUFFIX.search(slug)
    return f"{found.group()[5:7]}-{found.group()[7:9]}" if found else ""


def quote_time(ts: float, market: str, ref: float) -> tuple[str, str]:
    """(the exchange's own time of a quote, how old it is): ("14:04 HKT", "16m delay") on the day
    itself and within the hour, else ("10-07 16:08 HKT", "17h old")."""
    zone = MARKET_ZONES.get(market, HKT)
    at, today = datetime.fromtimestamp(ts, zone), datetime.fromtimestamp(ref, zone)
    label = ZONE_LABELS.get(market, zone.key)
    when = at.strftime("%H:%M") if at.date() == today.date() else at.strftime("%m-%d %H:%M")
    age = ref - ts
    if age < DELAY_SECONDS:
        return f"{when} {label}", f"{coarse_age(age).replace('just now', '<1m')} delay"
    return f"{when} {label}", f"{coarse_age(age)} old"


def _close_ts(day: str, market: str) -> float:
    close = "16:00"
    return datetime.fromisoformat(f"{day}T{close}").replace(tzinfo=MARKET_ZONES.get(market, HKT)).timestamp()


def card_views(dash: DashboardData, config: Config, now: float) -> list[CardView]:
    ref = dash.reference_now(now)
    at = datetime.fromtimestamp(ref, UTC)
    cards = []
    for r in dash.companies:
        if r["group"] == "index":
            continue
        if r["price_time"] is not None:
            ts = r["price_time"]
            when, how_old = quote_time(ts, r["market"], ref)
            as_of: str | None = f"{when} · {how_old}"
        elif r["price_date"]:
            ts = _close_ts(r["price_date"], r["market"])
            as_of = f"{r['price_date'][5:]} close · {coarse_age(ref - ts)}"
        else:
            ts, as_of = None, None
        age = ref - ts if ts is not None else None
        # The calendar is consulted only when the age alone does not decide (it costs a calendar load).
        stale = age is not None and (
            age > STALE_ANY_SECONDS
            or (age > config.ui.stale_quote_seconds and market_state(config.markets[r["market"]], at).is_open)
        )
        intraday = dash.intraday.get(r["symbol"])
        closes = tuple(r["closes"] or ())
        # Daily closes are sessions, not calendar days: say how many the line holds.
        spark, label = (tuple(intraday), "today") if intraday else (closes, f"{len(closes)} sessions")
        if dash.is_demo and not intraday:
            label += "*"
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
                as_of=as_of,
                stale=stale,
            )
        )
    return cards


def _newest(rows: Rows, column: str) -> str | None:
    """The column's newest ISO date, None when no row has one (as a frame's max() would say)."""
    return max((v for r in rows if (v := r[column]) is not None), default=None)


def token_age(dash: DashboardData, now: float) -> float | None:
    """Seconds since the end of the latest token day (the figure exists only once the UTC day is over)."""
    day = _newest(dash.makers, "date")
    if day is None:
        return None
    end = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() + 86400
    return dash.reference_now(now) - end


def board_view(dash: DashboardData, mode: str, config: Config, now: float) -> BoardView:
    frame = dash.models if mode == "model" else dash.makers
    rows = []
    names = Counter(short_model(r["model_permaslug"]) for r in frame) if mode == "model" else Counter()
    for r in frame:
        tag = ""
        if mode == "model":
            key, name, maker = r["model_permaslug"], short_model(r["model_permaslug"]), r["maker"]
            if names[name] > 1:  # two versions under one name: the version date tells them apart
                tag = version_tag(key) or "undated"
        else:
            key, name, maker = r["maker_id"], r["maker"], r["maker_id"]
        rows.append(
            BoardRow(
                key=key,
                rank=r["rank"],
                rank_change=r["rank_change_1d"],
                name=name,
                tag=tag,
                maker=maker,
                tokens=r["total_tokens"],
                share=r["share"],
                d1=r["d_share_1d"],
                d7=r["d_share_7d"],
                trend=tuple(r["trend"] or ()),
            )
        )
    latest, before = _newest(frame, "date"), _newest(frame, "date_1d")
    age = token_age(dash, now)
    stale = age is not None and age > config.ui.stale_tokens_hours * 3600
    caption = f"OpenRouter · UTC day {latest or '—'} · {coarse_age(age)} old"
    d1_label = "Δ1d"
    gap = (date.fromisoformat(latest) - date.fromisoformat(before)).days if latest and before else 0
    if gap > 1 and before is not None:
        # Days are missing: Δ compares with the previous stored day, and its header says how far back that is.
        d1_label = f"Δ{gap}d"
        caption += f" · {d1_label} vs {before[5:]} ({gap - 1} days not stored)"
    elif latest is not None and before is None:
        caption += " · no earlier day stored"
    return BoardView(mode=mode, rows=tuple(rows), caption=caption + (" · STALE" if stale else ""), d1_label=d1_label)


def _every_day(stored: set[str], step: int) -> list[str]:
    """Every `step`-th day (ISO) from the first to the last of `stored`: a day nobody has data for is a gap too."""
    if not stored:
        return []
    first, last = date.fromisoformat(min(stored)), date.fromisoformat(max(stored))
    return [(first + timedelta(days=n)).isoformat() for n in range(0, (last - first).days + 1, step)]


def chart_view(dash: DashboardData, top: int = 8) -> ChartView:
    """The `top` makers of the latest day, each with its weekly and daily share series."""
    latest = sorted(dash.makers, key=lambda r: -(r["share"] or 0.0))[:top]
    weekly: dict[str, dict[str, float]] = {}
    for r in dash.maker_weekly:
        weekly.setdefault(r["maker_id"], {})[r["week"]] = r["share"]
    daily: dict[str, dict[str, float]] = {}
    for r in dash.maker_history:
        daily.setdefault(r["maker_id"], {})[r["date"]] = r["share"]
    weeks = _every_day({w for by_week in weekly.values() for w in by_week}, 7)
    days = _every_day({d for by_day in daily.values() for d in by_day}, 1)
    series = []
    for row in latest:
        maker_id = row["maker_id"]
        by_week, by_day = weekly.get(maker_id, {}), daily.get(maker_id, {})
        series.append(
            ChartSeries(
                maker={OTHER: "other", UNATTRIBUTED: "unattributed"}.get(maker_id, row["maker"]),
                weekly=tuple(by_week.get(w) for w in weeks),  # a missing week is a gap, not a zero
                daily=tuple(by_day.get(d) for d in days),
                latest=row["share"],
                d7=row["d_share_7d"],
            )
        )
    return ChartView(series=tuple(series), weeks=tuple(weeks), days=tuple(days))


def _moves_as_of(r: dict[str, Any], ref: float) -> str:
    """The quote's own time, short: "14:04" on the reference day, else "08-03"."""
    ts, day = r["price_time"], r["price_date"]
    if isinstance(ts, int):
        at = datetime.fromtimestamp(ts, MARKET_ZONES.get(str(r["market"]), HKT))
        today = datetime.fromtimestamp(ref, MARKET_ZONES.get(str(r["market"]), HKT)).date()
        return at.strftime("%H:%M") if at.date() == today else at.strftime("%m-%d")
    return str(day)[5:] if isinstance(day, str) else ""


def moves_view(dash: DashboardData, now: float) -> MovesView:
    ref = dash.reference_now(now)
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
            as_of=_moves_as_of(r, ref),
        )
        for r in dash.companies
    ]
    for m in dash.medians:
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
                as_of="",
            )
        )
    left_out = f"not in the demo (no recorded prices): {', '.join(dash.left_out)}" if dash.left_out else ""
    return MovesView(rows=tuple(rows), display_currency=dash.display_currency, note=left_out)


def status_view(
    dash: DashboardData, mode: str, now: float, next_runs: dict[str, float | None], db_path: str
) -> StatusView:
    jobs = []
    for r in dash.polls:
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
        note = f"DEMO · real data as of {as_of} · offline · * interpolated price days"
    elif mode == "read-only":
        note = f"read-only · {db_path} · refreshed when tokentape collect writes"
    elif jobs and not any(j.ok for j in jobs) and all(r["price"] is None for r in dash.companies):
        note = "no data yet: every upstream failed (see below) · tokentape --demo shows the bundled data offline"
    else:
        note = "" if jobs else "live · first polls running…"
    return StatusView(jobs=tuple(jobs), note=note)


def data_age(dash: DashboardData, now: float) -> str:
    """The header's data part: the latest token day and how old it is."""
    return f"tokens {_newest(dash.makers, 'date') or '—'} · {coarse_age(token_age(dash, now))}"


def screen_views(
    dash: Dashboard | DashboardData,
    config: Config,
    now: float,
    mode: str,
    next_runs: dict[str, float | None],
    db_path: str,
) -> ScreenViews:
    """Everything on screen from a Dashboard (converted to its rows here) or rows published by a writer."""
    if not isinstance(dash, DashboardData):
        dash = dash.rows
    return ScreenViews(
        cards=tuple(card_views(dash, config, now)),
        boards={m: board_view(dash, m, config, now) for m in ("model", "maker")},
        chart=chart_view(dash),
        moves=moves_view(dash, now),
        status=status_view(dash, mode, now, next_runs, db_path),
        data_age=data_age(dash, now),
        currency=dash.display_currency,
        demo=dash.is_demo,
        made_at=now,
        clock_at=dash.demo_as_of,
    )
