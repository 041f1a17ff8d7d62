"""The first screen, as the child process computes it (widgets/first_screen.py), and `snapshot` read only the
token history they show (RECENT_TOKEN_DAYS, not the 90D range's window): what they show must be what the
app's own data path shows, panel for panel and number for number."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from monitor import export
from monitor.config import load_config
from monitor.dashboard import RECENT_TOKEN_DAYS, TOKEN_WINDOW_DAYS, DashboardLoader
from storage import Store
from widgets.share_chart import RANGES, render_chart
from widgets.viewmodels import screen_views

NEWEST = date(2026, 11, 24)
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC).timestamp()
MODELS = (  # (permaslug, author, tokens on an ordinary day)
    ("minimax/minimax-m2.5-20260212", "minimax", 300e9),
    ("z-ai/glm-5-20260211", "z-ai", 200e9),
    ("openai/gpt-5-20250807", "openai", 250e9),
    ("anthropic/claude-opus-4.6", "anthropic", 150e9),
)


def token_history(store: Store, days: int) -> None:
    """`days` days of the daily export's rows, ending NEWEST, with a MiniMax spike 70 days back: older
    than what the first screen reads, so a chart scaled on it would draw differently."""
    rows = []
    for back in range(days):
        day = NEWEST - timedelta(days=back)
        tokens = [
            (slug, author, base * (1 + 0.03 * ((back * (i + 1)) % 5))) for i, (slug, author, base) in enumerate(MODELS)
        ]
        if back == 70:
            tokens[0] = (tokens[0][0], tokens[0][1], 5e12)
        total = sum(t for _, _, t in tokens)
        ranked = sorted(tokens, key=lambda row: -row[2])
        rows += [
            {
                "date": day.isoformat(),
                "model_permaslug": slug,
                "author": author,
                "rank": rank,
                "total_tokens": int(count),
                "share": count / total,
                "snapshot_date": day.isoformat(),
                "source": "openrouter",
            }
            for rank, (slug, author, count) in enumerate(ranked, 1)
        ]
    store.upsert("token_daily", rows)


def test_the_first_screen_draws_what_the_apps_own_path_draws(tmp_path):
    config = load_config()
    store = Store.open(tmp_path / "t.db")
    store.sync_instruments(config.companies)
    token_history(store, 120)

    def views(token_days: int):
        return screen_views(DashboardLoader(store, config, token_days).load(), config, NOW, "read-only", {}, "t.db")

    first, full = views(RECENT_TOKEN_DAYS), views(TOKEN_WINDOW_DAYS)
    assert len(first.chart.days) < len(full.chart.days)  # the first screen did read less
    assert first.cards == full.cards
    assert first.boards == full.boards  # shares, ranks, Δ1d, Δ7d and 30-day trends of every model and maker
    assert first.moves == full.moves
    for width in (60, 80, 110):  # the 52W chart, as drawn at start-up: its daily column and its one scale
        assert render_chart(first.chart, width).plain == render_chart(full.chart, width).plain
    assert "52W" in RANGES[0]
    store.close()


def test_a_snapshot_reads_the_recent_token_history_and_exports_every_number_the_full_one_does(tmp_path):
    config = load_config()
    store = Store.open(tmp_path / "t.db")
    store.sync_instruments(config.companies)
    token_history(store, 120)
    recent = DashboardLoader(store, config, RECENT_TOKEN_DAYS).load()
    full = DashboardLoader(store, config, TOKEN_WINDOW_DAYS).load()
    assert recent.maker_history.height < full.maker_history.height
    assert export.sections(recent) == export.sections(full)
    assert export.sections(recent)["models"][0]["share_change_7d"] is not None
    store.close()
