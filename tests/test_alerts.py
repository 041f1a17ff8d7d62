"""Alerts through the real collector against the loopback upstream: a move past a threshold fires once
(re-polls, restarts and a second process do not fire it again), fires again after clearing and the
cooldown, reaches a real apprise `json://` URL exactly once, survives a failing URL; model_enters_top and
stale; `tokentape alerts` edits the config without losing its comments; the dashboard shows alerts."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitor import cli
from monitor.config import parse_config, user_config_path
from monitor.jobs import Collector
from storage import Store
from tests.conftest import ROOT, loopback_config_text
from tests.payloads import export_csv, serve_everything, serve_export
from tests.upstream import Reply

SATURDAY = 1_791_590_400.0  # 2026-10-10 00:00 UTC: every market closed
FRIDAY_10_HKT = 1_791_428_400.0  # 2026-10-09 02:00 UTC, 10:00 HKT: HKEX trading
MINIMAX_DROP = """
[[alert]]
name = "MiniMax drop"
symbol = "0100.HK"
metric = "change_pct_1d"
op = "<="
value = -5.0
cooldown = "{cooldown}"
notify = {notify}
"""


class Hook:
    """A loopback HTTP server standing in for a webhook: records each POST body; queued statuses first."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.statuses: deque[int] = deque()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = hook.statuses.popleft() if hook.statuses else 200
                if status == 200:
                    hook.posts.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    server = Hook()
    yield server
    server.close()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def write_config(tmp_path, upstream, alerts: str):
    path = tmp_path / "config.toml"
    path.write_text(loopback_config_text(upstream.base_url) + alerts, encoding="utf-8")
    return parse_config(path.read_text(encoding="utf-8"), path)


def events(store: Store) -> list[dict]:
    return list(store.alert_events().sort("id").iter_rows(named=True))


async def until(condition, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def poll(collector: Collector, upstream, bump: float, job: str = "quotes"):
    """Serve prices scaled by `bump` (0100.HK: 330 x bump against a previous close of 320) and poll."""
    serve_everything(upstream, bump=bump)
    collector.force_due()
    return await collector.run_job(job)


async def test_a_move_past_the_threshold_fires_once_and_reaches_the_webhook_once(upstream, hook, tmp_path, capsys):
    url = f"json://tokentape:s3cretpass@127.0.0.1:{hook.port}/hook"
    config = write_config(tmp_path, upstream, MINIMAX_DROP.format(notify=json.dumps(["screen", url]), cooldown="1m"))
    db = tmp_path / "t.db"
    store = Store.open(db)
    store.sync_instruments(config.companies)
    clock = Clock(SATURDAY)
    collector = Collector(config, store, clock=clock)
    try:
        assert (await poll(collector, upstream, 1.0)).ok  # +3.1%: nothing
        assert events(store) == []
        clock.now += 60
        assert (await poll(collector, upstream, 0.9)).ok  # 297 against 320: -7.19%
        [fired] = events(store)
        assert fired["rule"] == "MiniMax drop" and fired["subject"] == "0100.HK"
        assert fired["value"] == pytest.approx(297 / 320 - 1) and fired["threshold"] == pytest.approx(-0.05)
        await until(lambda: len(hook.posts) == 1)
        assert "MiniMax drop" in hook.posts[0]["title"] + hook.posts[0]["message"]
        assert "-7.19%" in hook.posts[0]["message"]
        # The same data polled again, twice, each time past the 1-minute cooldown: the condition never cleared.
        for _ in range(2):
            clock.now += 120
            await poll(collector, upstream, 0.9)
        assert len(events(store)) == 1
    finally:
        await collector.aclose(delivery_wait=10)
        store.close()
    # A restart: a new collector and connection on the same database.
    store = Store.open(db)
    collector = Collector(config, store, clock=Clock(SATURDAY + 600))
    try:
        await poll(collector, upstream, 0.9)
        assert len(events(store)) == 1
    finally:
        await collector.aclose(delivery_wait=10)
    # A second process: `tokentape collect --once` on the same database and data. It evaluates the rule
    # (its state is updated at its own clock) and still fires nothing.
    evaluated = store.conn().execute("SELECT updated FROM alert_state").fetchone()[0]
    run = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "--config", str(config.path), "--db", str(db), "collect", "--once"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert run.returncode in (0, 1), run.stderr
    assert len(events(store)) == 1 and "ALERT" not in run.stderr
    assert store.conn().execute("SELECT updated FROM alert_state").fetchone()[0] > evaluated
    assert len(hook.posts) == 1
    [stored] = events(store)
    assert json.loads(stored["delivered_to"]) == ["screen", f"json://tokentape:****@127.0.0.1:{hook.port}/hook"]
    assert stored["delivery_error"] is None and stored["attempts"] == 1
    store.close()
    # History reads the same row, without the password.
    assert cli.main(["--config", str(config.path), "--db", str(db), "alerts", "history", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["rule"] == "MiniMax drop" and row["value"] == "-7.19%" and row["threshold"] == "<= -5.00%"
    assert "s3cretpass" not in json.dumps(row) and "****" in row["delivered_to"]


async def test_two_collectors_sharing_a_database_fire_once(upstream, tmp_path):
    # No cooldown: only the stored state and the unique transition keep the second collector from firing.
    config = write_config(tmp_path, upstream, MINIMAX_DROP.format(notify='["screen"]', cooldown="0s"))
    stores = [Store.open(tmp_path / "t.db") for _ in range(2)]  # two connections, as two processes have
    stores[0].sync_instruments(config.companies)
    collectors = [Collector(config, s, clock=Clock(SATURDAY)) for s in stores]
    try:
        serve_everything(upstream, bump=0.9)
        results = await asyncio.gather(*(c.run_job("quotes") for c in collectors))
        assert all(r.ok for r in results)
        assert len(events(stores[0])) == 1
    finally:
        for c, s in zip(collectors, stores, strict=True):
            await c.aclose()
            s.close()


async def test_clearing_and_returning_fires_again_only_after_the_cooldown(upstream, tmp_path):
    config = write_config(tmp_path, upstream, MINIMAX_DROP.format(notify='["screen"]', cooldown="1h"))
    store = Store.open(tmp_path / "t.db")
    store.sync_instruments(config.companies)
    clock = Clock(SATURDAY)
    collector = Collector(config, store, clock=clock)
    try:
        await poll(collector, upstream, 0.9)
        assert len(events(store)) == 1
        clock.now += 60
        await poll(collector, upstream, 1.0)  # cleared
        clock.now += 60
        await poll(collector, upstream, 0.9)  # back, 2 minutes after firing: the 1 h cooldown holds it
        assert len(events(store)) == 1
        clock.now = SATURDAY + 3600
        await poll(collector, upstream, 0.9)  # still there once the cooldown has passed: fires
        assert [e["fired_at"] for e in events(store)] == [SATURDAY, SATURDAY + 3600]
        clock.now += 60
        await poll(collector, upstream, 1.0)
        clock.now += 3600
        await poll(collector, upstream, 0.9)  # cleared and back after the cooldown: fires at once
        assert len(events(store)) == 3
    finally:
        await collector.aclose()
        store.close()


async def test_a_failing_url_is_recorded_and_retried_while_jobs_go_on(upstream, hook, tmp_path, caplog):
    url = f"json://tokentape:s3cretpass@127.0.0.1:{hook.port}/hook"
    config = write_config(tmp_path, upstream, MINIMAX_DROP.format(notify=json.dumps([url]), cooldown="1h"))
    store = Store.open(tmp_path / "t.db")
    store.sync_instruments(config.companies)
    collector = Collector(config, store, clock=Clock(SATURDAY))
    assert collector.alerts is not None
    collector.alerts.backoff = (0.3, 0.3, 0.3)
    hook.statuses.extend([500, 500])
    caplog.set_level(logging.INFO)
    try:
        assert (await poll(collector, upstream, 0.9)).ok
        await until(lambda: (events(store)[0]["delivery_error"] or "").find("retrying") > 0)
        failing = events(store)[0]
        assert "500" in failing["delivery_error"] and json.loads(failing["delivered_to"]) == []
        assert (await collector.run_job("fx")).ok  # the jobs go on while the delivery waits to retry
        await until(lambda: events(store)[0]["attempts"] == 3 and events(store)[0]["delivery_error"] is None)
        assert len(hook.posts) == 1 and json.loads(events(store)[0]["delivered_to"]) != []
        stored = json.dumps(events(store))
        assert "s3cretpass" not in stored and "s3cretpass" not in caplog.text
        assert "delivery failed" in caplog.text
    finally:
        await collector.aclose()
        store.close()


def export_with_new_day(new_model: str) -> bytes:
    """The sample plus 2026-10-08 (= 10-07 with its rank-50 model replaced by `new_model`) and 2026-09-29
    (= 09-30 without z-ai's glm-5.2, so 09-30 would count as an entry, were it not an older day)."""
    lines = export_csv().decode().splitlines()
    header, rows = lines[0], lines[1:]
    newest = []
    for line in rows:
        if line.startswith("2026-10-07,"):
            _, slug, rank, tokens, share = line.split(",")
            newest.append(",".join(["2026-10-08", new_model if rank == "50" else slug, rank, tokens, share]))
    older = [line.replace("2026-09-30,", "2026-09-29,", 1) for line in rows if line.startswith("2026-09-30,")]
    older = [line for line in older if "z-ai/glm-5.2" not in line]
    return ("\n".join([header, *older, *rows, *newest]) + "\n").encode()


async def test_model_enters_top_fires_when_a_new_model_of_the_maker_appears_in_a_stored_day(upstream, tmp_path):
    rule = '\n[[alert]]\nname = "new Z.ai model"\nmaker = "z-ai"\nevent = "model_enters_top"\nvalue = 50\n'
    config = write_config(tmp_path, upstream, rule)
    store = Store.open(tmp_path / "t.db")
    collector = Collector(config, store, clock=Clock(SATURDAY))
    try:
        serve_everything(upstream)
        assert (await collector.run_job("openrouter_export")).ok
        assert events(store) == []  # a fresh database: the first days stored are no news
        serve_export(upstream, export_with_new_day("z-ai/glm-6-20261005"), snapshot_date="2026-10-09")
        assert (await collector.run_job("openrouter_export")).ok
        [fired] = events(store)
        assert fired["subject"] == "z-ai/glm-6-20261005" and fired["data_time"] == "2026-10-08"
        assert "entered the top 50 (rank 50) on 2026-10-08" in fired["message"]
        assert (await collector.run_job("openrouter_export")).ok  # the same snapshot again
        assert len(events(store)) == 1
    finally:
        await collector.aclose()
        store.close()


async def test_stale_fires_when_a_source_stops(upstream, tmp_path):
    rule = '\n[[alert]]\nname = "Yahoo stopped"\nsource = "yahoo"\nevent = "stale"\nvalue = 15\n'
    config = write_config(tmp_path, upstream, rule)
    store = Store.open(tmp_path / "t.db")
    store.sync_instruments(config.companies)
    clock = Clock(FRIDAY_10_HKT)
    collector = Collector(config, store, clock=clock)
    try:
        assert (await poll(collector, upstream, 1.0)).ok
        upstream.tencent_records.clear()  # no fallback either
        upstream.fail_next("/v8/finance/chart/", *[Reply(503, b"down")] * 200)
        clock.now += 10 * 60
        collector.force_due()
        assert not (await collector.run_job("quotes")).ok
        assert events(store) == []  # 10 minutes without data: not yet
        clock.now += 10 * 60
        collector.force_due()
        assert not (await collector.run_job("quotes")).ok
        [fired] = events(store)
        assert fired["subject"] == "yahoo" and fired["value"] == 20 * 60
        assert "no new data for 20 min" in fired["message"]
        clock.now += 5 * 60
        collector.force_due()
        await collector.run_job("quotes")
        assert len(events(store)) == 1  # still stopped: no second alert
    finally:
        await collector.aclose()
        store.close()


# -- the command line ---------------------------------------------------------------------------------------


def test_alerts_add_then_list_round_trips_and_keeps_comments(tmp_path, capsys):
    path = tmp_path / "config.toml"
    original = (ROOT / "config.toml").read_text(encoding="utf-8")
    path.write_text(original, encoding="utf-8")
    base = ["--config", str(path), "alerts"]
    assert (
        cli.main([*base, "add", "0100.HK change_pct_1d <= -5", "--cooldown", "4h", "--notify", "ntfy://tt-topic"]) == 0
    )
    assert cli.main([*base, "add", "maker:z-ai token_share crosses_above 10", "--name", "Zhipu 10%"]) == 0
    text = path.read_text(encoding="utf-8")
    assert text.startswith(original.rstrip("\n"))  # every comment and key of the file, as it was
    capsys.readouterr()
    assert cli.main([*base, "list"]) == 0
    out = capsys.readouterr().out
    assert "0100.HK change_pct_1d <= -5" in out and "240m" in out and "tt-topic" in out
    assert "Zhipu 10%" in out and "maker:z-ai token_share crosses_above 10" in out
    rules = parse_config(text, path).alerts
    assert [r.threshold for r in rules] == [pytest.approx(-0.05), pytest.approx(0.10)]
    assert cli.main([*base, "delete", "Zhipu 10%"]) == 0
    assert [r.name for r in parse_config(path.read_text(encoding="utf-8"), path).alerts] == [
        "0100.HK change_pct_1d <= -5"
    ]
    assert path.read_text(encoding="utf-8").startswith(original.rstrip("\n"))


def test_alerts_add_writes_the_user_config_made_from_the_default(tmp_path, capsys):
    bundled = (ROOT / "config.toml").read_text(encoding="utf-8")
    assert cli.main(["alerts", "add", "source:yahoo stale 15"]) == 0
    user = user_config_path()
    assert user.is_file() and "[[alert]]" in user.read_text(encoding="utf-8")
    assert (ROOT / "config.toml").read_text(encoding="utf-8") == bundled  # the bundled default is never modified
    capsys.readouterr()
    assert cli.main(["alerts", "list"]) == 0
    assert "source:yahoo stale 15" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "0100.HK change_pct_1d < -5"], "op: must be one of <=, >=, crosses_above, crosses_below"),
        (["add", "9999.HK price >= 1"], "symbol: '9999.HK' is not in the watchlist"),
        (["add", "0100.HK change_pct_1d <= lots"], "value 'lots' is not a number"),
        (["add", "maker:z-ai rank <= 5", "--cooldown", "soon"], "cooldown: must be a duration"),
        (["delete", "no such rule"], "no alert named 'no such rule'"),
    ],
)
def test_a_malformed_rule_exits_2_with_one_line_and_changes_nothing(tmp_path, capsys, args, message):
    path = tmp_path / "config.toml"
    path.write_text((ROOT / "config.toml").read_text(encoding="utf-8"), encoding="utf-8")
    before = path.read_text(encoding="utf-8")
    assert cli.main(["--config", str(path), "alerts", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert path.read_text(encoding="utf-8") == before


def test_a_malformed_rule_in_the_config_names_file_line_and_key(tmp_path, capsys):
    path = tmp_path / "config.toml"
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    path.write_text(text + '\n[[alert]]\nsymbol = "0100.HK"\nmetric = "change_pct_1d"\nop = "<="\nvalue = true\n')
    assert cli.main(["--config", str(path), "alerts", "list"]) == 2
    line = text.count("\n") + 6  # the `value` line
    assert capsys.readouterr().err == f"tokentape: {path}:{line}: [alert[0]] value: must be a number (got True)\n"


# -- the dashboard ------------------------------------------------------------------------------------------


def toasts(app) -> list[str]:
    from textual.widgets._toast import Toast

    return [t._notification.message for t in app.screen.query(Toast)]


async def test_demo_shows_its_alerts_in_a_toast_and_in_the_panel_on_a_remapped_key(tmp_path):
    from monitor.demo import open_demo_store
    from monitor.feed import DataFeed
    from tests.conftest import settle
    from widgets.alerts import AlertsScreen
    from widgets.app import TokentapeApp

    path = tmp_path / "config.toml"
    path.write_text((ROOT / "config.toml").read_text().replace('alerts = "a"', 'alerts = "f2"'), encoding="utf-8")
    config = parse_config(path.read_text(encoding="utf-8"), path)
    store = open_demo_store(config)
    app = TokentapeApp(config, DataFeed.for_store(store, config, "demo"), clock=lambda: SATURDAY)
    try:
        async with app.run_test(size=(160, 48), notifications=True) as pilot:
            await settle(pilot, lambda: len(toasts(app)) == 2)
            assert any("Zhipu token share crosses 10%" in t and "10.26%" in t for t in toasts(app))
            assert any("google/gemma-4-26b-a4b-it-20260403 entered the top 50" in t for t in toasts(app))
            await pilot.press("a")  # the default key is remapped away
            await pilot.pause()
            assert not isinstance(app.screen, AlertsScreen)
            await pilot.press("f2")
            await settle(pilot, lambda: isinstance(app.screen, AlertsScreen))
            table = app.screen.query_one("DataTable")
            assert table.row_count == 2
            first = [str(cell) for cell in table.get_row_at(0)]
            assert first[1] == "New Google model in the top 50" and first[3] == "48"  # newest first (same second: id)
            title = str(app.screen.query_one("#alerts-title").render())
            assert "2026-10-08" in title and "2 alerts" in title
            await pilot.press("escape")
            await settle(pilot, lambda: not isinstance(app.screen, AlertsScreen))
    finally:
        store.close()


async def test_a_read_only_dashboard_shows_a_new_alert_but_never_sends_it(upstream, hook, tmp_path):
    from monitor.feed import DataFeed
    from tests.conftest import settle
    from widgets.app import TokentapeApp

    url = f"json://127.0.0.1:{hook.port}/hook"
    config = write_config(tmp_path, upstream, MINIMAX_DROP.format(notify=json.dumps(["screen", url]), cooldown="1m"))
    db = tmp_path / "t.db"
    writer = Store.open(db)
    writer.sync_instruments(config.companies)
    collector = Collector(config, writer, clock=Clock(SATURDAY))
    reader = Store.open(db, create=False)
    app = TokentapeApp(config, DataFeed.for_store(reader, config, "read-only"), clock=lambda: SATURDAY)
    try:
        async with app.run_test(size=(160, 48), notifications=True) as pilot:
            await settle(pilot, lambda: app.dashboard is not None)
            assert (await poll(collector, upstream, 0.9)).ok  # the collector elsewhere fires and sends
            await settle(pilot, lambda: any("MiniMax drop" in t and "-7.19%" in t for t in toasts(app)))
            await until(lambda: len(hook.posts) == 1)
            assert app.feed.collector is None
            await collector.aclose(delivery_wait=10)  # every delivery the collector started has finished
            await pilot.pause()  # and the dashboard has handled every message it had
            assert len(hook.posts) == 1  # the collector's one POST; the dashboard sent none
    finally:
        reader.close()
        writer.close()


def test_a_v2_database_migrates_to_v3_and_one_transition_is_one_row(tmp_path, monkeypatch):
    import sqlite3

    import storage.db

    monkeypatch.setattr(storage.db, "SCHEMA_VERSION", 2)  # a database as tokentape v2 left it
    old = Store.open(tmp_path / "t.db")
    old.upsert("fx", [{"pair": "HKDUSD", "ts": 1, "rate": 0.128, "source": "yahoo"}])
    assert "alert_events" not in {r[0] for r in old.conn().execute("SELECT name FROM sqlite_master")}
    old.close()
    monkeypatch.undo()
    new = Store.open(tmp_path / "t.db")
    assert new.schema_version() == storage.db.SCHEMA_VERSION and new.count("fx") == 1
    row = {"rule": "r", "rule_key": "r|x", "transition": "#1", "fired_at": 1.0}
    with new.transaction() as conn:
        assert new.add_alert_event(row, conn) == 1
        assert new.add_alert_event({**row, "fired_at": 2.0}, conn) is None  # the same transition: ignored
    with pytest.raises(sqlite3.IntegrityError), new.transaction() as conn:
        conn.execute("INSERT INTO alert_events (rule, rule_key, transition, fired_at) VALUES ('r', 'r|x', '#1', 3)")
    assert new.count("alert_events") == 1
    new.close()


def test_a_config_error_never_prints_a_notify_urls_secret(tmp_path):
    from monitor.config import ConfigError

    text = (ROOT / "config.toml").read_text(encoding="utf-8") + (
        '\n[[alert]]\nname = "t"\nsymbol = "0100.HK"\nmetric = "price"\nop = "<="\nvalue = 1.0\n'
        'notify = "json://user:S3CRET@127.0.0.1:9/hook"\n'
    )
    with pytest.raises(ConfigError) as error:
        parse_config(text, tmp_path / "config.toml")
    assert "[alert[0]] notify: must be a list" in str(error.value)
    assert "S3CRET" not in str(error.value) and "json://" in str(error.value)
