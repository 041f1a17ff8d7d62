"""Upstream text is shown literally: markup is not interpreted, control codes never reach the terminal,
long names are cut cleanly, and CSV cells cannot become spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest

from monitor import export
from monitor.config import parse_config
from monitor.dashboard import DashboardLoader
from monitor.feed import DataFeed
from monitor.sources import openrouter
from monitor.text import csv_cell, safe_text, truncate
from storage import Store
from tests.conftest import ROOT, settle
from widgets.app import TokentapeApp
from widgets.leaderboard import Leaderboard

HOSTILE = {
    "markup": "evil/[bold red]PWNED[/bold red]",
    "link": "evil/[link=https://x.invalid]click[/link]",
    "ansi": "evil/model\x1b[31mRED\x1b[0m",
    "osc": "evil/title\x1b]0;owned\x07",
    "formula": '=HYPERLINK("http://x.invalid")/m',
    "rtl": "evil/مرحبا\u202eoverride",
    "emoji": "evil/🚀🚀 rocket",
    "long": "evil/" + "very-long-model-name-" * 8,
}


def test_safe_text_escapes_controls_and_keeps_the_rest():
    assert safe_text("a\x1b[31mb") == "a\\x1b[31mb"
    assert safe_text("t\x1b]0;x\x07") == "t\\x1b]0;x\\x07"
    assert safe_text("[bold]x[/bold]") == "[bold]x[/bold]"  # markup is text; widgets never parse it
    assert safe_text("مرحبا\u202ex") == "مرحبا\\u202ex"
    assert safe_text("🚀") == "🚀"


def test_truncate_counts_wide_characters():
    assert truncate("🚀" * 10, 7) == "🚀🚀🚀…"
    assert truncate("abc", 7) == "abc"


@pytest.mark.parametrize(
    "value, expected",
    [("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("fine", "fine"), (-0.5, -0.5)],
)
def test_csv_formula_cells_are_neutralised(value, expected):
    assert csv_cell(value) == expected


@pytest.fixture
def hostile_store(tmp_path):
    text = (ROOT / "config.toml").read_text().replace('name = "MiniMax"', 'name = "[blink]Mini\\u001b[5mMax"')
    config = parse_config(text, tmp_path / "config.toml")
    store = Store.open(tmp_path / "t.db")
    store.sync_instruments(config.companies)
    rows = [
        {
            "date": "2026-10-07",
            "model_permaslug": slug,
            "author": openrouter.author_of(slug),
            "rank": i,
            "total_tokens": 1000 - i,
            "share": 0.1,
            "snapshot_date": "2026-10-08",
            "source": "test",
        }
        for i, slug in enumerate(HOSTILE.values(), start=1)
    ]
    store.upsert("token_daily", rows)
    yield config, store
    store.close()


def test_every_export_format_shows_hostile_names_literally(hostile_store, tmp_path):
    config, store = hostile_store
    dash = DashboardLoader(store, config).load()
    for fmt in ("table", "md", "csv", "json"):
        out = export.render(dash, fmt)
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out, fmt
    table = export.render(dash, "table")
    assert "[bold red]PWNED" in table and "\\x1b[31mRED" in table
    data = json.loads(export.render(dash, "json"))
    assert any(m["model"] == HOSTILE["ansi"] for m in data["models"])  # JSON keeps the value, escaped on the wire
    assert data["companies"][0]["name"] == "[blink]Mini\x1b[5mMax"
    written = export.write(dash, "csv", str(tmp_path / "csv"))
    models = list(csv.DictReader(io.StringIO((tmp_path / "csv" / "models.csv").read_text().split("\n# ")[0])))
    formula = next(r for r in models if "HYPERLINK" in r["model"])
    assert formula["model"].startswith("'=")
    assert all("\x1b" not in p.read_text() for p in written if p.suffix != ".parquet")


async def test_dashboard_shows_hostile_names_literally(hostile_store):
    config, store = hostile_store
    app = TokentapeApp(config, DataFeed.for_store(store, config, "read-only"), clock=time.time)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, lambda: app.query_one(Leaderboard).row_count > 0)
        board = app.query_one(Leaderboard)
        names = [board.get_row_at(i)[2].plain for i in range(board.row_count)]
        assert any(n.startswith("[bold red]PWNED[/bold r") for n in names)  # literal, not bold red
        assert any("\\x1b[31mRED" in n for n in names)
        assert all("\x1b" not in n and "\u202e" not in n for n in names)
        assert any(n.endswith("…") for n in names)  # the long one is cut cleanly
        title = str(app.query_one("#card-0100_HK").border_title)
        assert "[blink]Mini\\x1b[5mMax" in title
        svg = app.export_screenshot()
        assert "\x1b" not in svg and "PWNED" in svg


# -- issue 13: one sanitiser on every path ----------------------------------------------------------------

OSC_ATTRIBUTION = (
    "Source: OpenRouter \x1b]52;c;cm0gLXJmIH4=\x07\x1b]8;;https://x.invalid\x07click\x1b]8;;\x07\x1b[2J\x1bc"
)


async def test_a_hostile_attribution_is_escaped_on_screen_in_help_and_in_every_file(upstream, tmp_path):
    """OSC 52 (clipboard), OSC 8 (link) and clear-screen in the manifest's attribution: shown as escapes."""
    import polars as pl

    from monitor.jobs import Collector
    from tests.conftest import loopback_config_text
    from tests.payloads import export_csv, manifest_for, serve_everything
    from widgets.help import render_help

    serve_everything(upstream)
    manifest = manifest_for(export_csv())
    manifest["attribution"] = OSC_ATTRIBUTION
    upstream.route("/api/v1/datasets/exports/rankings-daily/latest.manifest.json", json.dumps(manifest))
    config = parse_config(loopback_config_text(upstream.base_url), tmp_path / "c.toml")
    store = Store.open(tmp_path / "t.db")
    store.sync_instruments(config.companies)
    collector = Collector(config, store)
    assert (await collector.run_job("openrouter_export")).ok
    await collector.aclose()
    dash = DashboardLoader(store, config).load()
    help_text = render_help([], "log", "config", dash.attribution).plain
    assert "\\x1b]52;c;" in help_text and "\x1b" not in help_text and "\x07" not in help_text
    written = export.write(dash, "parquet", str(tmp_path / "pq")) + export.write(dash, "csv", str(tmp_path / "csv"))
    attribution = (tmp_path / "pq" / "ATTRIBUTION.txt").read_text()
    assert "\\x1b]52" in attribution and "\x1b" not in attribution
    for path in written:
        if path.suffix == ".parquet":
            meta = pl.read_parquet_metadata(path)["attribution"]
            assert "\x1b" not in meta and "\\x1b]52" in meta
        else:
            assert "\x1b" not in path.read_text()
    for fmt in ("table", "md", "csv", "json"):
        assert "\x1b" not in export.render(dash, fmt)
    store.close()


@pytest.fixture
def slug_store(tmp_path):
    config = parse_config((ROOT / "config.toml").read_text(), tmp_path / "config.toml")
    store = Store.open(tmp_path / "t.db")
    store.sync_instruments(config.companies)
    slugs = [
        "evil/<img src=x onerror=alert(1)>",
        "evil/[click](javascript:alert(1))",
        "evil/<javascript:alert(2)>",
        "evil/see http://x.invalid/a",
        "minimax/minimax-m3",
        "minimax/mini\u200bmax-m3",
    ]
    rows = [
        {
            "date": "2026-10-07",
            "model_permaslug": slug,
            "author": openrouter.author_of(slug),
            "rank": i,
            "total_tokens": 1000 - i,
            "share": 0.1,
            "snapshot_date": "2026-10-08",
            "source": "test",
        }
        for i, slug in enumerate(slugs, start=1)
    ]
    store.upsert("token_daily", rows)
    yield config, store
    store.close()


def test_markdown_export_escapes_html_and_neutralises_links(slug_store):
    config, store = slug_store
    md = export.render(DashboardLoader(store, config).load(), "md")
    assert "<img" not in md and "&lt;img src=x onerror=alert\\(1\\)&gt;" in md
    assert "](javascript:" not in md and "javascript:" not in md and "<javascript" not in md
    assert "http://x.invalid" not in md and "http\\://x.invalid" in md


def test_zero_width_characters_are_shown_as_escapes(slug_store):
    assert safe_text("mini\u200bmax") == "mini\\u200bmax"
    for invisible in ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u2028", "\U000e0041"):
        assert invisible not in safe_text(f"a{invisible}b"), repr(invisible)
    config, store = slug_store
    table = export.render(DashboardLoader(store, config).load(), "table")
    assert "minimax/mini\\u200bmax-m3" in table and "\u200b" not in table  # two models that no longer look alike


async def test_upstream_words_in_a_failed_poll_are_escaped_in_the_message_and_the_log(upstream, tmp_path, caplog):
    from monitor.jobs import Collector
    from tests.conftest import loopback_config_text
    from tests.payloads import serve_everything, yahoo_error

    serve_everything(upstream)
    upstream.route("/v8/finance/chart/NVDA", json.dumps(yahoo_error("gone\x1b]52;c;eA==\x07\u200b")), status=404)
    config = parse_config(loopback_config_text(upstream.base_url), tmp_path / "c.toml")
    store = Store.open(tmp_path / "t.db")
    store.sync_instruments(config.companies)
    collector = Collector(config, store)
    result = await collector.run_job("quotes")
    await collector.aclose()
    assert "gone\\x1b]52;c;eA==\\x07\\u200b" in result.error
    assert "\x1b" not in caplog.text and "\u200b" not in caplog.text
    assert "\x1b" not in store.latest_polls().filter(job="quotes").row(0, named=True)["error"]
    store.close()
