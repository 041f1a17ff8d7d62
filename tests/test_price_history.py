"""The catalogue's price history keeps changes only: an unchanged day moves the price's `last_seen`, a changed price
adds a row; a migrated day-by-day history keeps every row and reads the same; the valuation's spend notes name the
first and the last day a price was listed, and mark one carried past its last confirmation as stale."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

import storage.db
from monitor import spend, valuation
from monitor.jobs import Collector
from monitor.sources import openrouter
from storage import SCHEMA_VERSION, Store
from tests.conftest import ROOT
from tests.payloads import catalogue_with_price, models_catalogue

SLUG = "minimax/minimax-m3-20260531"
DAY1, DAY2, DAY3 = "2026-10-01", "2026-10-02", "2026-10-03"
OLD, NEW = ("0.000001", "0.000004"), ("0.000002", "0.000008")


def _noon(day: str) -> float:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC).timestamp()


def _catalogue(prompt: str, completion: str) -> str:
    return catalogue_with_price(SLUG, prompt, completion)


def _history(store: Store, slug: str = SLUG) -> list[tuple[str, float, float, str]]:
    frame = store.model_prices_until("9999-12-31", [slug])
    return frame.select("date", "prompt_price", "completion_price", "last_seen").rows()


def _tokens(day: str, slug: str = SLUG, tokens: int = 1_000_000) -> dict[str, object]:
    author = slug.split("/", 1)[0]
    return {"date": day, "model_permaslug": slug, "author": author, "rank": 1, "total_tokens": tokens,
            "share": 0.5, "snapshot_date": day, "source": "test"}  # fmt: skip


def _usage(day: str, prompt: int, completion: int) -> dict[str, object]:
    return {"date": day, "model_permaslug": SLUG, "variant": "standard", "prompt_tokens": prompt,
            "completion_tokens": completion, "requests": 1, "usage_usd": None, "source": "test"}  # fmt: skip


def _model(prompt: float, completion: float) -> dict[str, object]:
    return {"canonical_slug": SLUG, "id": "minimax/minimax-m3", "prompt_price": prompt, "completion_price": completion}


async def test_the_catalogue_job_stores_a_price_once_and_moves_its_last_seen_until_it_changes(
    upstream, loopback_config, tmp_path
):
    store = Store.open(tmp_path / "t.db")
    collector = Collector(loopback_config, store)
    listed = len(models_catalogue()["data"])
    try:
        changed = {}
        # Daily polls through the real job, the third day's twice: the price holds on day 2 and doubles on day 3.
        for poll, (day, price) in enumerate(((DAY1, OLD), (DAY2, OLD), (DAY3, NEW), (DAY3, NEW))):
            upstream.route("/api/v1/models", _catalogue(*price), Content_Type="application/json")
            collector.clock = lambda day=day: _noon(day)
            result = await collector.run_job("openrouter_models")
            assert result is not None and result.ok, result
            changed[poll] = result.rows
    finally:
        await collector.aclose()
    assert _history(store) == [(DAY1, 1e-6, 4e-6, DAY2), (DAY3, 2e-6, 8e-6, DAY3)]
    assert store.count("model_prices") == listed + 1  # one row a price, not one a model a day
    # Day 2 only confirmed each price (a change to re-read: "last confirmed" moved); a second poll of a day is a no-op.
    assert changed[1] == listed and changed[3] == 0
    # Day 2's spend still uses the price listed since day 1, and says it was confirmed on day 2 itself.
    store.upsert("token_daily", [_tokens(DAY1), _tokens(DAY2), _tokens(DAY3)])
    store.upsert("model_day_usage", [_usage("2026-09-30", 750, 250)])
    days = {r["date"]: r for r in valuation.spend_window(store).iter_rows(named=True)}
    day1_usd = 1_000_000 * (0.75 * 1e-6 + 0.25 * 4e-6)
    assert days[DAY2]["spend_usd"] == pytest.approx(day1_usd)
    assert (days[DAY2]["price_date"], days[DAY2]["price_seen"]) == (DAY1, DAY2)
    assert days[DAY3]["spend_usd"] == pytest.approx(2 * day1_usd) and days[DAY3]["price_date"] == DAY3
    store.close()


def test_a_price_changed_again_the_same_day_replaces_its_row_and_a_late_day_confirms_the_price_of_its_day(tmp_path):
    store = Store.open(tmp_path / "t.db")
    row = {"canonical_slug": SLUG, "id": "minimax/minimax-m3", "source": "test"}
    store.upsert("model_prices", [row | {"date": DAY1, "prompt_price": 1e-6, "completion_price": 4e-6}])
    store.upsert("model_prices", [row | {"date": DAY3, "prompt_price": 2e-6, "completion_price": 8e-6}])
    store.upsert("model_prices", [row | {"date": DAY3, "prompt_price": 3e-6, "completion_price": 9e-6}])
    # A catalogue day arriving late (a clock set back) is compared with the price in effect on its own day.
    assert store.upsert("model_prices", [row | {"date": DAY2, "prompt_price": 1e-6, "completion_price": 4e-6}]) == 1
    assert _history(store) == [(DAY1, 1e-6, 4e-6, DAY2), (DAY3, 3e-6, 9e-6, DAY3)]
    store.close()


def test_a_v6_day_by_day_history_migrates_whole_and_reads_as_the_change_only_one_would(tmp_path, monkeypatch):
    v6_columns = {c: t for c, t in storage.db.TABLES["model_prices"]["columns"].items() if c != "last_seen"}
    monkeypatch.setattr(storage.db, "SCHEMA_VERSION", 6)
    monkeypatch.setitem(storage.db.TABLES["model_prices"], "columns", v6_columns)  # the table as v6 made it
    old = Store.open(tmp_path / "t.db")
    days = [(date(2026, 9, 28) + timedelta(n)).isoformat() for n in range(5)]  # 09-28 … 10-02
    with old.transaction() as conn:  # as v6 stored it: one row a model a day, the price cut on 10-01
        conn.executemany(
            "INSERT INTO model_prices (canonical_slug, date, id, prompt_price, completion_price, source) "
            "VALUES (?,?,?,?,?,?)",
            [(SLUG, d, "minimax/minimax-m3", 1e-6 if d < DAY1 else 5e-7, 4e-6, "openrouter-models") for d in days],
        )
    old.close()
    monkeypatch.undo()
    new = Store.open(tmp_path / "t.db")
    assert new.schema_version() == SCHEMA_VERSION == 7
    assert _history(new) == [(d, 1e-6 if d < DAY1 else 5e-7, 4e-6, d) for d in days]  # every row, seen on its day
    # The next catalogue day, unchanged: no new row, the newest one is confirmed on it.
    new.upsert("model_prices", openrouter.price_rows([_model(5e-7, 4e-6)], DAY3))
    assert new.count("model_prices") == len(days) and _history(new)[-1] == (DAY2, 5e-7, 4e-6, DAY3)
    # What the spend estimate says of each day is what a change-only history of the same catalogue days says.
    fresh = Store.open(tmp_path / "fresh.db")
    for d in [*days, DAY3]:
        fresh.upsert("model_prices", openrouter.price_rows([_model(1e-6 if d < DAY1 else 5e-7, 4e-6)], d))
    assert fresh.count("model_prices") == 2
    for store in (new, fresh):
        store.upsert("token_daily", [_tokens(d) for d in days])
        store.upsert("model_day_usage", [_usage("2026-09-27", 750, 250)])
    migrated, change_only = valuation.spend_window(new), valuation.spend_window(fresh)
    assert migrated.equals(change_only)
    assert migrated.filter(date="2026-09-30").select("price_date", "price_seen").row(0) == ("2026-09-28", "2026-09-30")
    assert migrated.filter(date=DAY2).select("price_date", "price_seen").row(0) == (DAY1, DAY3)
    new.close()
    fresh.close()


def _maker_note(db, capsys) -> str:
    """MiniMax's spend note as `tokentape snapshot --view valuation --format json` gives it on this database."""
    from monitor.cli import main

    assert main(["--config", str(ROOT / "config.toml"), "--db", str(db), "snapshot", "--view", "valuation",
                 "--format", "json"]) == 0  # fmt: skip
    notes = json.loads(capsys.readouterr().out)["spend_notes"]
    return next(n for n in notes if n.startswith("MiniMax: spend"))


def test_the_spend_note_names_when_a_price_was_first_and_last_listed_and_marks_one_carried_past_it(tmp_path, capsys):
    from monitor.config import load_config

    store = Store.open(tmp_path / "t.db")
    store.sync_instruments(load_config(str(ROOT / "config.toml")).companies)  # as a collector's start does
    store.upsert("token_daily", [_tokens(d) for d in (DAY1, DAY2, DAY3)])
    store.upsert("model_day_usage", [_usage("2026-09-30", 750, 250)])
    # Listed on 09-20 and last confirmed on DAY1 (the model gone from the catalogue since): DAY3 is 2 days past it.
    store.upsert("model_prices", openrouter.price_rows([_model(1e-6, 4e-6)], "2026-09-20"))
    store.upsert("model_prices", openrouter.price_rows([_model(1e-6, 4e-6)], DAY1))
    note = _maker_note(store.path, capsys)
    assert note.endswith(
        f"list prices first seen 2026-09-20, last confirmed {DAY1} (stale: up to 2 days old on the days priced)"
    )
    # The catalogue lists it again the day after the newest token day: confirmed, nothing stale.
    store.upsert("model_prices", openrouter.price_rows([_model(1e-6, 4e-6)], "2026-10-04"))
    assert _maker_note(store.path, capsys).endswith("list prices first seen 2026-09-20, last confirmed 2026-10-04")
    store.close()


def test_maker_spend_reads_a_history_without_last_seen_as_confirmed_on_each_day():
    import polars as pl

    prices = pl.DataFrame(
        [{"canonical_slug": SLUG, "date": DAY1, "id": "m", "prompt_price": 1e-6, "completion_price": 1e-6,
          "source": "t"}]
    )  # fmt: skip
    tokens = pl.DataFrame([_tokens(DAY1), _tokens(DAY3)])
    usage = pl.DataFrame([_usage(DAY1, 1, 1)])
    maker = spend.maker_spend(spend.model_days(tokens, usage, prices), ["minimax"])
    assert maker is not None and maker.price_dates == maker.prices_confirmed == (DAY1,)
    assert maker.price_unconfirmed_days == 2
