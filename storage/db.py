"""The SQLite store: schema, migrations, idempotent upserts and typed reads returning polars frames.

One file, WAL mode, a busy timeout, one connection per thread (sqlite3 connections are thread-bound),
and one in-process write lock so concurrent jobs queue instead of hitting "database is locked".
Every write is one transaction: a snapshot lands whole or not at all.
Upserts only touch rows whose values differ, so re-running a fetch changes nothing and the number
of changed rows tells the UI whether anything needs re-rendering.
"""

from __future__ import annotations

import errno
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # polars (~0.12 s to import) loads with the first frame read, never for a write alone
    import polars as pl

SCHEMA_VERSION = 7
BUSY_TIMEOUT_MS = 10_000


class StorageError(Exception):
    """A user-visible storage problem (unwritable path, corrupt or newer database); str() is one line."""


# Column order and types of each table; the polars schema of its reads follows from it.
TABLES: dict[str, dict[str, Any]] = {
    "instruments": {
        "columns": {
            "symbol": str,
            "name": str,
            "currency": str,
            "grp": str,
            "market": str,
            "total_shares": int,
            "reported_shares": int,
            "reported_shares_time": int,
            "ipo_date": str,
            "ipo_price": float,
            "authors": str,
        },
        "pk": ("symbol",),
    },
    "quotes": {
        "columns": {"symbol": str, "ts": int, "price": float, "prev_close": float, "volume": float, "source": str},
        "pk": ("symbol", "ts"),
    },
    "daily_bars": {
        "columns": {
            "symbol": str,
            "date": str,
            "open": float,
            "high": float,
            "low": float,
            "close": float,
            "volume": float,
            "source": str,
        },
        "pk": ("symbol", "date"),
    },
    "fx": {
        "columns": {"pair": str, "ts": int, "rate": float, "source": str},
        "pk": ("pair", "ts"),
    },
    "token_daily": {
        "columns": {
            "date": str,
            "model_permaslug": str,
            "author": str,
            "rank": int,
            "total_tokens": int,
            "share": float,
            "snapshot_date": str,
            "source": str,
        },
        "pk": ("date", "model_permaslug"),
    },
    "token_weekly": {
        "columns": {"week": str, "model_permaslug": str, "author": str, "total_tokens": int, "source": str},
        "pk": ("week", "model_permaslug"),
    },
    "models": {
        "columns": {
            "canonical_slug": str,
            "id": str,
            "name": str,
            "created": int,
            "context_length": int,
            "prompt_price": float,
            "completion_price": float,
            "updated_at": int,
        },
        "pk": ("canonical_slug",),
    },
    # The catalogue's list prices (USD per token) as a history of changes, written with `models` by the catalogue
    # job through `record_prices`: a row per model per price, dated by the first UTC day the catalogue listed that
    # price, and `last_seen`, the newest day it still listed it (an unchanged day moves `last_seen`, nothing else).
    # A day's spend estimate uses the newest row on or before it; both days are named on screen, so a price
    # confirmed yesterday reads apart from one not seen for months. Rows written before v7 are one per day.
    "model_prices": {
        "columns": {
            "canonical_slug": str,
            "date": str,
            "id": str,
            "prompt_price": float,
            "completion_price": float,
            "source": str,
            "last_seen": str,
        },
        "pk": ("canonical_slug", "date"),
    },
    # OpenRouter's per-model day view (rankings/models?view=day): the prompt/completion split and, where it
    # reports `total_usage`, the model-day's real spend in USD (usage_usd NULL when not reported).
    "model_day_usage": {
        "columns": {
            "date": str,
            "model_permaslug": str,
            "variant": str,
            "prompt_tokens": int,
            "completion_tokens": int,
            "requests": int,
            "usage_usd": float,
            "source": str,
        },
        "pk": ("date", "model_permaslug", "variant"),
    },
    "polls": {
        "columns": {"id": int, "job": str, "started": float, "finished": float, "ok": int, "error": str, "rows": int},
        "pk": ("id",),
    },
    # Each symbol's outcome in the newest poll of a job that fetches symbol by symbol: one symbol's
    # failure (Yahoo: "No data found, symbol may be delisted") in the upstream's own words, beside
    # the job's one-line summary in `polls`. `error` is also kept when a fallback served the symbol.
    "symbol_status": {
        "columns": {"job": str, "symbol": str, "checked": float, "ok": int, "error": str, "last_ok": float},
        "pk": ("job", "symbol"),
    },
    # Each job's newest poll, newest success and counters, updated in the poll's own transaction: the
    # dashboard's status line reads these few rows, never the `polls` history (which retention prunes).
    "job_state": {
        "columns": {
            "job": str,
            "last_id": int,
            "started": float,
            "finished": float,
            "ok": int,
            "error": str,
            "rows": int,
            "last_ok": float,
            "polls": int,
            "failures": int,
        },
        "pk": ("job",),
    },
    "meta": {"columns": {"key": str, "value": str}, "pk": ("key",)},
    # One row per firing of an alert rule (monitor/alerts.py). UNIQUE(rule_key, transition) is what makes a
    # firing happen once, whatever the number of processes, restarts or re-fetches. value and threshold are
    # the fractions the engine compares (unit says how a trader reads them); targets are masked URLs.
    "alert_events": {
        "columns": {
            "id": int,
            "rule": str,
            "rule_key": str,
            "transition": str,
            "subject": str,
            "metric": str,
            "op": str,
            "value": float,
            "threshold": float,
            "unit": str,
            "data_time": str,
            "fired_at": float,
            "message": str,
            "notify": str,
            "delivered_to": str,
            "delivery_error": str,
            "attempts": int,
        },
        "pk": ("id",),
    },
    # Each rule's side of its condition after its newest evaluation, and its newest firing.
    "alert_state": {
        "columns": {
            "rule_key": str,
            "in_cond": int,
            "fired": int,
            "episode": int,
            "last_fired": float,
            "last_value": float,
            "data_time": str,
            "updated": float,
        },
        "pk": ("rule_key",),
    },
    # Reported company figures (the bundled monitor/fundamentals.toml plus the config's [[fundamental]] tables) and
    # private references (symbol "private:<name>"), rewritten whole from the config by `sync_fundamentals`.
    # months: the period's length (12 a fiscal year, 9, 6, 3); NULL for a point-in-time figure (ARR, valuation).
    # qualifier: "about" / "more than" as the publication words it; date_approx 1 when the date is a convention.
    "fundamentals": {
        "columns": {
            "symbol": str,
            "metric": str,
            "period_end": str,
            "months": int,
            "value": float,
            "currency": str,
            "qualifier": str,
            "source": str,
            "url": str,
            "published": str,
            "date_approx": int,
            "note": str,
            "origin": str,
        },
        "pk": ("symbol", "metric", "period_end", "months"),
    },
}


def describe_error(exc: BaseException) -> str:
    """One line naming what went wrong with the database: disk full and read-only are said as such."""
    text = str(exc)
    if isinstance(exc, sqlite3.Error):
        lowered = text.lower()
        if "disk is full" in lowered or "disk full" in lowered:
            return f"disk full: the database cannot grow ({text})"
        if "readonly" in lowered or "read-only" in lowered:
            return f"database is read-only ({text})"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"disk full ({exc.strerror})"
    return f"{type(exc).__name__}: {text}"


# The tables every read and poll needs, by the schema version that made them: a database without one was
# altered or damaged, and says so when opened instead of failing in the middle of a read.
CORE_TABLES = dict.fromkeys(
    ("meta", "instruments", "quotes", "daily_bars", "fx", "token_daily", "token_weekly", "models", "polls"), 1
) | {"symbol_status": 2, "job_state": 4, "fundamentals": 5, "model_prices": 6, "model_day_usage": 6}
# Tables whose newer rows must not be overwritten by an older snapshot.
NEWEST_WINS = {"token_daily": "snapshot_date"}
# Bookkeeping columns that do not make a row "changed" (so re-fetching an unchanged catalogue is a no-op,
# and `updated_at` keeps the time the entry last really changed).
NOT_A_CHANGE = {"models": {"updated_at"}}


def _schema(table: str, columns: Sequence[str] | None = None) -> dict[str, type[pl.DataType]]:
    import polars as pl

    polars_types: dict[type, type[pl.DataType]] = {str: pl.String, int: pl.Int64, float: pl.Float64}
    cols = TABLES[table]["columns"]
    return {c: polars_types[cols[c]] for c in (columns or cols)}


def _frame(rows: list[Any], schema: dict[str, type[pl.DataType]]) -> pl.DataFrame:
    # Rows come in as Python tuples from the sqlite3 module. polars reads SQLite without them only through
    # connectorx or ADBC, and each links its own copy of SQLite: two copies in one process each track the
    # database's POSIX locks, a close() by one drops the other's, and the live dashboard writes through
    # sqlite3 in this process (https://sqlite.org/howtocorrupt.html, "multiple copies of SQLite"). The
    # reads stay bounded instead (tests/test_retention.py checks their query plans).
    import polars as pl

    return pl.DataFrame(rows, schema=schema, orient="row")


def _create_keyed_table(db: Any, name: str) -> None:
    spec = TABLES[name]
    # WITHOUT ROWID: the primary key is the table's one B-tree, instead of a rowid table plus a
    # unique index to keep in step (upserts measured ~1.3x faster; bench/store_writes.py).
    sql = db.create_table_sql(name, spec["columns"], pk=spec["pk"][0] if len(spec["pk"]) == 1 else spec["pk"])
    db.execute(sql.rstrip().rstrip(";") + " WITHOUT ROWID")


def _migrate_v1(db: Any) -> None:
    # The tables v1 made, named: tables added later belong to their own migration.
    for name in ("instruments", "quotes", "daily_bars", "fx", "token_daily", "token_weekly", "models"):
        _create_keyed_table(db, name)
    db.execute(
        "CREATE TABLE IF NOT EXISTS polls (id INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL, "
        "started REAL, finished REAL, ok INTEGER, error TEXT, rows INTEGER)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS polls_job ON polls (job, id)")
    db.execute("CREATE INDEX IF NOT EXISTS token_daily_author ON token_daily (author, date)")


def _migrate_v2(db: Any) -> None:
    _create_keyed_table(db, "symbol_status")


def _migrate_v3(db: Any) -> None:
    db.execute(
        "CREATE TABLE IF NOT EXISTS alert_events (id INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT NOT NULL, "
        "rule_key TEXT NOT NULL, transition TEXT NOT NULL, subject TEXT, metric TEXT, op TEXT, value REAL, "
        "threshold REAL, unit TEXT, data_time TEXT, fired_at REAL NOT NULL, message TEXT, notify TEXT, "
        "delivered_to TEXT, delivery_error TEXT, attempts INTEGER NOT NULL DEFAULT 0, UNIQUE (rule_key, transition))"
    )
    db.execute("CREATE INDEX IF NOT EXISTS alert_events_fired ON alert_events (fired_at)")
    _create_keyed_table(db, "alert_state")


def _migrate_v4(db: Any) -> None:
    # job_state from the poll history, once: every poll row is kept (retention prunes later, by its window).
    _create_keyed_table(db, "job_state")
    if db.execute("SELECT 1 FROM polls LIMIT 1").fetchone() is None:
        return  # a new database: nothing to carry over, nothing written
    db.execute(
        "INSERT INTO job_state (job, last_id, started, finished, ok, error, rows, last_ok, polls, failures) "
        "SELECT p.job, p.id, p.started, p.finished, p.ok, p.error, p.rows, "
        "(SELECT MAX(finished) FROM polls q WHERE q.job = p.job AND q.ok = 1), "
        "(SELECT COUNT(*) FROM polls q WHERE q.job = p.job), "
        "(SELECT COUNT(*) FROM polls q WHERE q.job = p.job AND q.ok = 0) "
        "FROM polls p WHERE p.id = (SELECT MAX(id) FROM polls q WHERE q.job = p.job)"
    )


def _migrate_v5(db: Any) -> None:
    # A rowid table: months is NULL for point-in-time figures, which a WITHOUT ROWID primary key cannot hold.
    db.execute(
        "CREATE TABLE IF NOT EXISTS fundamentals (symbol TEXT NOT NULL, metric TEXT NOT NULL, "
        "period_end TEXT NOT NULL, months INTEGER, value REAL NOT NULL, currency TEXT NOT NULL, qualifier TEXT, "
        "source TEXT, url TEXT, published TEXT, date_approx INTEGER, note TEXT, origin TEXT, "
        "UNIQUE (symbol, metric, period_end, months))"
    )


def _migrate_v6(db: Any) -> None:
    # Catalogue price history and the day view's usage; the catalogue's current prices seed the history once.
    _create_keyed_table(db, "model_prices")
    _create_keyed_table(db, "model_day_usage")
    db.execute(
        "INSERT OR IGNORE INTO model_prices (canonical_slug, date, id, prompt_price, completion_price, source) "
        "SELECT canonical_slug, date(updated_at, 'unixepoch'), id, prompt_price, completion_price, 'openrouter-models' "
        "FROM models WHERE updated_at IS NOT NULL"
    )


def _migrate_v7(db: Any) -> None:
    # model_prices stores price changes from now on (see record_prices). Every older row stays, as what it was: the
    # price listed on its own day, and confirmed that day only. (v6 made the table from the current TABLES on a new
    # database, so the column may be there already.)
    if "last_seen" not in {c.name for c in db["model_prices"].columns}:
        db.execute("ALTER TABLE model_prices ADD COLUMN last_seen TEXT")
    db.execute("UPDATE model_prices SET last_seen = date WHERE last_seen IS NULL")


MIGRATIONS = {
    1: _migrate_v1,
    2: _migrate_v2,
    3: _migrate_v3,
    4: _migrate_v4,
    5: _migrate_v5,
    6: _migrate_v6,
    7: _migrate_v7,
}


SQL_IN_BATCH = 500  # symbols per statement: far below SQLite's limit on bound parameters


class _Reads:
    """The typed reads: polars frames (or single values) read on the calling thread's connection."""

    def conn(self) -> sqlite3.Connection:
        raise NotImplementedError  # Store opens one connection per thread

    def frame(
        self,
        table: str,
        where: str = "",
        params: Sequence[Any] = (),
        columns: Sequence[str] | None = None,
        order: str = "",
    ) -> pl.DataFrame:
        cols = list(columns or TABLES[table]["columns"])
        sql = (
            f"SELECT {', '.join(cols)} FROM {table}"
            + (f" WHERE {where}" if where else "")
            + (f" ORDER BY {order}" if order else "")
        )
        rows = self.conn().execute(sql, params).fetchall()
        return _frame(rows, _schema(table, cols))

    def get_meta(self, key: str) -> str | None:
        row = self.conn().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row else None

    def instruments(self) -> pl.DataFrame:
        return self.frame("instruments", order="symbol")

    def latest_quotes(self, symbols: Iterable[str]) -> pl.DataFrame:
        """The newest priced quote of each symbol; one indexed lookup each, whatever the history size."""
        rows = []
        conn = self.conn()
        for symbol in symbols:
            row = conn.execute(
                "SELECT symbol, ts, price, prev_close, volume, source FROM quotes "
                "WHERE symbol=? AND price IS NOT NULL ORDER BY ts DESC LIMIT 1",
                (symbol,),
            ).fetchone()
            if row:
                rows.append(row)
        return _frame(rows, _schema("quotes"))

    def quotes_since(self, symbols: Iterable[str], since_ts: int) -> pl.DataFrame:
        """(symbol, ts, price) from `since_ts` on, by symbol then time: what sparklines need, and no more
        columns than that. One statement (`symbol IN (...)`: one range of the (symbol, ts) key each).
        (polars cannot read SQLite without connectorx or pyarrow, which the project does not depend on.)"""
        wanted = sorted(set(symbols))
        rows: list[Any] = []
        conn = self.conn()
        for start in range(0, len(wanted), SQL_IN_BATCH):
            batch = wanted[start : start + SQL_IN_BATCH]
            rows += conn.execute(
                f"SELECT symbol, ts, price FROM quotes WHERE symbol IN ({', '.join('?' * len(batch))}) AND ts >= ? "
                "ORDER BY symbol, ts",
                [*batch, since_ts],
            ).fetchall()
        return _frame(rows, _schema("quotes", ["symbol", "ts", "price"]))

    def daily_bars(self, since: str, symbols: Iterable[str]) -> pl.DataFrame:
        """The symbols' bars from `since` on: one range of the (symbol, date) key each."""
        rows = []
        conn, cols = self.conn(), ", ".join(TABLES["daily_bars"]["columns"])
        for symbol in sorted(set(symbols)):
            rows += conn.execute(
                f"SELECT {cols} FROM daily_bars WHERE symbol = ? AND date >= ? ORDER BY date", (symbol, since)
            ).fetchall()
        return _frame(rows, _schema("daily_bars"))

    def newest_bar_date(self, symbols: Iterable[str]) -> str | None:
        """The newest daily bar's date over these symbols: one key lookup each (no scan of the bars)."""
        days = [day for day in map(self.last_bar_date, symbols) if day is not None]
        return max(days) if days else None

    def latest_fx(self) -> pl.DataFrame:
        """The newest rate of each pair: the pairs by a skip-scan of the (pair, ts) key, then one lookup each."""
        cols = ", ".join(f"f.{c}" for c in TABLES["fx"]["columns"])
        rows = (
            self.conn()
            .execute(
                "WITH RECURSIVE pairs(pair) AS (SELECT MIN(pair) FROM fx UNION ALL "
                "SELECT (SELECT MIN(pair) FROM fx WHERE pair > pairs.pair) FROM pairs WHERE pairs.pair IS NOT NULL) "
                f"SELECT {cols} FROM pairs JOIN fx f ON f.pair = pairs.pair "
                "AND f.ts = (SELECT MAX(ts) FROM fx g WHERE g.pair = pairs.pair) ORDER BY f.pair"
            )
            .fetchall()
        )
        return _frame(rows, _schema("fx"))

    def token_daily(
        self, since: str | None = None, columns: Sequence[str] | None = None, *, key_order: bool = False
    ) -> pl.DataFrame:
        """Every model's row of each day since `since`, by date and rank, or in the (date, model) key's own
        order with `key_order` (no sort: ~15 ms less at 95 days of 300 models, for a caller that sorts
        anyway). `columns` narrows the read: each column of each row is a Python object on its way in."""
        order = "date, model_permaslug" if key_order else "date, rank"
        if since is None:
            return self.frame("token_daily", columns=columns, order=order)
        return self.frame("token_daily", "date >= ?", (since,), columns=columns, order=order)

    def latest_token_date(self) -> str | None:
        day = self.conn().execute("SELECT MAX(date) FROM token_daily").fetchone()[0]
        return str(day) if day is not None else None

    def token_weekly(self, since: str | None = None) -> pl.DataFrame:
        if since is None:
            return self.frame("token_weekly", order="week")
        return self.frame("token_weekly", "week >= ?", (since,), order="week")

    def latest_token_week(self) -> str | None:
        week = self.conn().execute("SELECT MAX(week) FROM token_weekly").fetchone()[0]
        return str(week) if week is not None else None

    # -- range reads (company and model screens, `tokentape history`): each one an index range ----------

    def bars_between(self, symbol: str, start: str, end: str) -> pl.DataFrame:
        """One symbol's daily bars with start <= date <= end: a range on the (symbol, date) primary key."""
        return self.frame("daily_bars", "symbol = ? AND date BETWEEN ? AND ?", (symbol, start, end), order="date")

    def last_bar_date(self, symbol: str) -> str | None:
        row = self.conn().execute("SELECT MAX(date) FROM daily_bars WHERE symbol = ?", (symbol,)).fetchone()
        return str(row[0]) if row and row[0] is not None else None

    def first_bar_date(self, symbol: str) -> str | None:
        row = self.conn().execute("SELECT MIN(date) FROM daily_bars WHERE symbol = ?", (symbol,)).fetchone()
        return str(row[0]) if row and row[0] is not None else None

    def quotes_between(self, symbol: str, since_ts: int, until_ts: int) -> pl.DataFrame:
        """One symbol's intraday quotes with since_ts <= ts <= until_ts: a range on the (symbol, ts) key."""
        return self.frame("quotes", "symbol = ? AND ts BETWEEN ? AND ?", (symbol, since_ts, until_ts), order="ts")

    def last_quote_ts(self, symbol: str) -> int | None:
        row = self.conn().execute("SELECT MAX(ts) FROM quotes WHERE symbol = ?", (symbol,)).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def token_days_between(self, start: str, end: str) -> list[str]:
        """The UTC days stored in token_daily from start to end: a range on the (date, model) key."""
        rows = self.conn().execute(
            "SELECT DISTINCT date FROM token_daily WHERE date BETWEEN ? AND ? ORDER BY date", (start, end)
        )
        return [str(r[0]) for r in rows]

    def first_token_date(self) -> str | None:
        day = self.conn().execute("SELECT MIN(date) FROM token_daily").fetchone()[0]
        return str(day) if day is not None else None

    def token_daily_for(
        self, authors: Sequence[str], start: str, end: str, models: Sequence[str] | None = None
    ) -> pl.DataFrame:
        """The rows of `authors` (optionally only `models`) from start to end: the (author, date) index."""
        if not authors:
            return self.frame("token_daily", "0")
        marks = ", ".join("?" * len(authors))
        where, params = f"author IN ({marks}) AND date BETWEEN ? AND ?", [*authors, start, end]
        if models is not None:
            where += f" AND model_permaslug IN ({', '.join('?' * len(models))})"
            params += list(models)
        return self.frame("token_daily", where, params, order="date, rank")

    def model_first_days(self, authors: Sequence[str]) -> list[tuple[str, str]]:
        """(model, first stored day) for every model of `authors`: the (author, date) index, no table scan."""
        marks = ", ".join("?" * len(authors))
        rows = self.conn().execute(
            f"SELECT model_permaslug, MIN(date) FROM token_daily WHERE author IN ({marks}) GROUP BY model_permaslug",
            list(authors),
        )
        return [(str(m), str(d)) for m, d in rows]

    def weekly_between(self, start: str, end: str) -> pl.DataFrame:
        """The weekly chart's rows from start to end (a range on the (week, model) key; ~10 rows a week)."""
        return self.frame("token_weekly", "week BETWEEN ? AND ?", (start, end), order="week")

    def model_catalogue(self, slugs: Sequence[str]) -> pl.DataFrame:
        """The stored catalogue entries (list prices) of these canonical slugs."""
        if not slugs:
            return self.frame("models", "0")
        return self.frame("models", f"canonical_slug IN ({', '.join('?' * len(slugs))})", list(slugs))

    def model_prices_until(self, end: str, slugs: Sequence[str]) -> pl.DataFrame:
        """These models' stored list prices first listed on or before `end` (each with its `last_seen`, which may
        be later than `end`): a range per slug on the (slug, date) key."""
        if not slugs:
            return self.frame("model_prices", "0")
        where = f"canonical_slug IN ({', '.join('?' * len(slugs))}) AND date <= ?"
        return self.frame("model_prices", where, [*slugs, end], order="canonical_slug, date")

    def latest_day_usage_date(self) -> str | None:
        row = self.conn().execute("SELECT MAX(date) FROM model_day_usage").fetchone()
        return str(row[0]) if row and row[0] else None

    def model_day_usage(self, start: str, end: str) -> pl.DataFrame:
        """The stored day-view rows (split and reported spend) from start to end."""
        return self.frame("model_day_usage", "date BETWEEN ? AND ?", (start, end), order="date, model_permaslug")

    def latest_polls(self) -> pl.DataFrame:
        """Each job's newest poll, and its newest successful one as last_ok: the few rows of job_state."""
        cols = ["job", "started", "finished", "ok", "error", "rows", "last_ok"]
        return self.frame("job_state", columns=cols, order="job")

    def newest_poll_id(self) -> int:
        """Cheap check for rows another process wrote: a collector records a poll after every write."""
        return int(self.conn().execute("SELECT COALESCE(MAX(id), 0) FROM polls").fetchone()[0])

    def count(self, table: str) -> int:
        return int(self.conn().execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def alert_events(self, since: float = 0.0, until: float | None = None) -> pl.DataFrame:
        """Alert firings from `since` (a Unix time) on, newest first."""
        if until is None:
            return self.frame("alert_events", "fired_at >= ?", (since,), order="fired_at DESC, id DESC")
        return self.frame(
            "alert_events", "fired_at >= ? AND fired_at < ?", (since, until), order="fired_at DESC, id DESC"
        )

    def newest_alert_event(self) -> tuple[int, float] | None:
        """(id, fired_at) of the newest firing, or None: a cheap check for new alerts."""
        row = self.conn().execute("SELECT id, fired_at FROM alert_events ORDER BY id DESC LIMIT 1").fetchone()
        return (int(row[0]), float(row[1])) if row else None

    def fundamentals(self) -> pl.DataFrame:
        """Every stored reported figure (a few dozen rows), newest period first within a symbol and metric."""
        return self.frame("fundamentals", order="symbol, metric, period_end DESC, months DESC")


class _Maintenance(_Reads):
    """Retention and upkeep: monitor/retention.py decides what goes; these do it in small batches, each in its
    own short transaction, so the collector's writes never wait long."""

    _write_lock: threading.Lock

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # Store's one write transaction

    def prune_quotes(self, symbol: str, start_ts: int, end_ts: int, limit: int) -> int:
        """Delete at most `limit` of the symbol's quotes with start_ts <= ts < end_ts, in one short transaction."""
        with self.transaction() as tx:
            return tx.execute(
                "DELETE FROM quotes WHERE symbol = ? AND ts IN (SELECT ts FROM quotes WHERE symbol = ? "
                "AND ts >= ? AND ts < ? ORDER BY ts LIMIT ?)",
                (symbol, symbol, start_ts, end_ts, limit),
            ).rowcount

    def count_quotes(self, symbol: str, start_ts: int, end_ts: int) -> int:
        sql = "SELECT COUNT(*) FROM quotes WHERE symbol = ? AND ts >= ? AND ts < ?"
        return int(self.conn().execute(sql, (symbol, start_ts, end_ts)).fetchone()[0])

    def first_quote_ts(self, symbol: str) -> int | None:
        row = self.conn().execute("SELECT MIN(ts) FROM quotes WHERE symbol = ?", (symbol,)).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def prune_polls(self, before: float, limit: int, dry_run: bool = False) -> int:
        """Delete (or with dry_run count) at most `limit` of the oldest polls that finished before `before`.
        A job's newest poll is kept whatever its age; job_state keeps each job's counters."""
        keep = "id NOT IN (SELECT last_id FROM job_state)"
        if dry_run:
            sql = f"SELECT COUNT(*) FROM (SELECT id FROM polls WHERE finished < ? AND {keep} ORDER BY id LIMIT ?)"
            return int(self.conn().execute(sql, (before, limit)).fetchone()[0])
        with self.transaction() as tx:
            return tx.execute(
                f"DELETE FROM polls WHERE id IN (SELECT id FROM polls WHERE finished < ? AND {keep} "
                "ORDER BY id LIMIT ?)",
                (before, limit),
            ).rowcount

    def incremental_vacuum(self, pages: int = 2000) -> int:
        """Hand back up to `pages` free pages to the file system (auto_vacuum=INCREMENTAL databases only);
        returns the pages still free."""
        conn = self.conn()
        if int(conn.execute("PRAGMA auto_vacuum").fetchone()[0]) != 2:
            return int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        with self._write_lock:
            conn.execute(f"PRAGMA incremental_vacuum({int(pages)})").fetchall()
        return int(conn.execute("PRAGMA freelist_count").fetchone()[0])

    def backup(self, target: str | Path) -> None:
        """A consistent copy by SQLite's online backup API, safe while a collector writes: one step inside one
        read transaction (WAL: the writer is never blocked, and the copy is never restarted by its commits)."""
        dest = sqlite3.connect(target)
        try:
            self.conn().backup(dest)
            dest.execute("PRAGMA journal_mode=DELETE")
        finally:
            dest.close()

    def integrity_check(self) -> list[str]:
        return [str(r[0]) for r in self.conn().execute("PRAGMA integrity_check").fetchall()]

    def table_stats(self) -> list[dict[str, Any]]:
        """Rows and bytes (table plus its indexes) per table, from the dbstat virtual table."""
        conn = self.conn()
        sizes: dict[str, int] = {}
        for tbl, size in conn.execute(
            "SELECT COALESCE(m.tbl_name, d.name), SUM(d.pgsize) FROM dbstat d "
            "LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY d.name"
        ):
            sizes[str(tbl)] = sizes.get(str(tbl), 0) + int(size)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return [{"table": t, "rows": self.count(t), "bytes": sizes.get(t, 0)} for t in tables]


class _Writes(_Maintenance):
    """Writes of one kind of record each (watchlist, fundamentals, share counts, per-symbol status, alert
    events); the generic upsert, the poll record and the transaction itself are Store's."""

    def sync_instruments(self, companies: Iterable[Any]) -> None:
        """Write the configured watchlist; keeps the share counts an upstream reported."""
        with self.transaction() as conn:
            for c in companies:
                conn.execute(
                    "INSERT INTO instruments (symbol, name, currency, grp, market, total_shares, ipo_date, ipo_price,"
                    " authors) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(symbol) DO UPDATE SET name=excluded.name,"
                    " currency=excluded.currency, grp=excluded.grp, market=excluded.market,"
                    " total_shares=excluded.total_shares, ipo_date=excluded.ipo_date, ipo_price=excluded.ipo_price,"
                    " authors=excluded.authors",
                    (
                        c.symbol,
                        c.name,
                        c.currency,
                        c.group,
                        c.market,
                        c.total_shares,
                        c.ipo_date.isoformat() if c.ipo_date else None,
                        c.ipo_price,
                        json.dumps(list(c.openrouter_authors)),
                    ),
                )

    def sync_fundamentals(self, rows: Iterable[Mapping[str, object]]) -> int:
        """Replace the stored fundamentals with `rows` (the config's, whole); returns how many rows changed."""
        cols = list(TABLES["fundamentals"]["columns"])
        data = sorted((tuple(row[c] for c in cols) for row in rows), key=repr)  # repr: None sorts too
        with self.transaction() as conn:
            stored = sorted(conn.execute(f"SELECT {', '.join(cols)} FROM fundamentals").fetchall(), key=repr)
            if stored == data:
                return 0
            conn.execute("DELETE FROM fundamentals")
            conn.executemany(
                f"INSERT INTO fundamentals ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", data
            )
            return len(data) + len(stored)

    def record_prices(self, rows: Iterable[Mapping[str, Any]], conn: sqlite3.Connection) -> int:
        """Catalogue days' list prices (openrouter.price_rows: slug, date, id, prices, source) into the
        `model_prices` history of changes; returns how many rows were inserted or changed.

        A row goes in only when its (prompt, completion) price differs from the model's newest stored row on or
        before its day, or the model has none; an unchanged day moves that row's `last_seen` on instead, so a
        day's re-polls change nothing. A price changed again later the same day replaces the day's row (the
        day's newest catalogue wins, as before v7); id and source stay those of the day the price first showed."""
        before = conn.total_changes
        for row in rows:
            slug, day = row["canonical_slug"], row["date"]
            stored = conn.execute(
                "SELECT date, prompt_price, completion_price FROM model_prices "
                "WHERE canonical_slug = ? AND date <= ? ORDER BY date DESC LIMIT 1",
                (slug, day),
            ).fetchone()
            if stored is not None and (stored[1], stored[2]) == (row["prompt_price"], row["completion_price"]):
                conn.execute(
                    "UPDATE model_prices SET last_seen = ? WHERE canonical_slug = ? AND date = ? "
                    "AND (last_seen IS NULL OR last_seen < ?)",
                    (day, slug, stored[0], day),
                )
            elif stored is not None and stored[0] == day:
                conn.execute(
                    "UPDATE model_prices SET id = ?, prompt_price = ?, completion_price = ?, source = ?, last_seen = ? "
                    "WHERE canonical_slug = ? AND date = ?",
                    (row["id"], row["prompt_price"], row["completion_price"], row["source"], day, slug, day),
                )
            else:
                conn.execute(
                    "INSERT INTO model_prices (canonical_slug, date, id, prompt_price, completion_price, source, "
                    "last_seen) VALUES (?,?,?,?,?,?,?)",
                    (slug, day, row["id"], row["prompt_price"], row["completion_price"], row["source"], day),
                )
        return conn.total_changes - before

    def set_reported_shares(self, shares: Mapping[str, int], at: int, conn: sqlite3.Connection) -> int:
        before = conn.total_changes
        conn.executemany(
            "UPDATE instruments SET reported_shares=?, reported_shares_time=? WHERE symbol=? "
            "AND reported_shares IS NOT ?",
            [(n, at, s, n) for s, n in shares.items()],
        )
        return conn.total_changes - before

    def set_symbol_status(
        self, job: str, outcomes: Iterable[tuple[str, bool, str | None]], at: float, conn: sqlite3.Connection
    ) -> None:
        """(symbol, got data, error text or None) for each symbol a poll asked for; `last_ok` keeps the
        time of each symbol's newest success."""
        conn.executemany(
            "INSERT INTO symbol_status (job, symbol, checked, ok, error, last_ok) VALUES (?,?,?,?,?,?) "
            "ON CONFLICT(job, symbol) DO UPDATE SET checked=excluded.checked, ok=excluded.ok, error=excluded.error, "
            "last_ok=COALESCE(excluded.last_ok, symbol_status.last_ok)",
            [(job, symbol, at, int(ok), error, at if ok else None) for symbol, ok, error in outcomes],
        )

    def alert_state(self, rule_key: str, conn: sqlite3.Connection) -> dict[str, Any] | None:
        cols = list(TABLES["alert_state"]["columns"])
        row = conn.execute(f"SELECT {', '.join(cols)} FROM alert_state WHERE rule_key=?", (rule_key,)).fetchone()
        return dict(zip(cols, row, strict=True)) if row else None

    def add_alert_event(self, event: Mapping[str, object], conn: sqlite3.Connection) -> int | None:
        """Insert one firing; None when this (rule_key, transition) already fired (another process, a restart)."""
        cols = [c for c in TABLES["alert_events"]["columns"] if c != "id" and c in event]
        cursor = conn.execute(
            f"INSERT INTO alert_events ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            "ON CONFLICT (rule_key, transition) DO NOTHING",  # only this conflict: a NOT NULL breach still raises
            [event[c] for c in cols],
        )
        return cursor.lastrowid if cursor.rowcount == 1 else None

    def record_alert_delivery(self, event_id: int, delivered_to: str, error: str | None, attempts: int) -> None:
        with self.transaction() as tx:
            tx.execute(
                "UPDATE alert_events SET delivered_to=?, delivery_error=?, attempts=? WHERE id=?",
                (delivered_to, error, attempts, event_id),
            )


class Store(_Writes):
    """The one SQLite database of a tokentape install. Safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()

    @classmethod
    def open(cls, path: str | Path, create: bool = True) -> Store:
        """Open (and if needed create and migrate) the database, or raise a one-line StorageError."""
        store = cls(path)
        if not create and not store.path.is_file():
            raise StorageError(f"{store.path}: no database here (start `tokentape collect` to create it)")
        try:
            if create:
                store.path.parent.mkdir(parents=True, exist_ok=True)
            else:  # a reader never writes: it neither creates a schema nor upgrades one
                version = store.schema_version()
                if version == 0:
                    raise StorageError(
                        f"{store.path}: not a tokentape database (empty or foreign; `tokentape collect` makes one)"
                    )
                if version < SCHEMA_VERSION:
                    raise StorageError(
                        f"{store.path}: database schema v{version} is older than this tokentape's "
                        f"(v{SCHEMA_VERSION}); run `tokentape collect` once to upgrade it"
                    )
            store.migrate()
            store.check_tables()
        except (OSError, sqlite3.Error, StorageError) as exc:
            store.close()
            if isinstance(exc, StorageError):
                raise
            raise StorageError(f"{store.path}: cannot open database: {exc}") from None
        return store

    def check_tables(self) -> None:
        """Every table of the schema is there (a tampered or half-copied file fails here, in one line)."""
        present = {r[0] for r in self.conn().execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = self.schema_version()
        missing = [t for t, since in CORE_TABLES.items() if version >= since and t not in present]
        if missing:
            raise StorageError(
                f"{self.path}: table {', '.join(missing)} missing from a schema v{version} database "
                "(altered or damaged; restore a backup or move it aside)"
            )

    # -- connections -------------------------------------------------------------------------------

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                with suppress(sqlite3.Error):
                    conn.close()
            self._connections.clear()
        self._local = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. BEGIN IMMEDIATE takes the write lock up front, so a concurrent
        writer in another process waits on the busy timeout instead of failing mid-transaction."""
        conn = self.conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def schema_version(self) -> int:
        """The database's schema version, read without taking any lock (0 for a new file)."""
        conn = self.conn()
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone():
            return 0
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        try:
            return int(row[0]) if row else 0
        except (TypeError, ValueError):
            raise StorageError(
                f"{self.path}: schema_version is {str(row[0])[:20]!r}, not a number (altered or damaged database)"
            ) from None

    def migrate(self) -> None:
        """Bring the schema up to date. A current database is only read: a --read-only dashboard or a
        snapshot never takes the write lock the collector needs."""
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StorageError(
                f"{self.path}: database schema v{current} is newer than this tokentape "
                f"(v{SCHEMA_VERSION}); upgrade tokentape"
            )
        if current == SCHEMA_VERSION:
            return
        conn = self.conn()
        if current == 0:  # a new file: pages freed by retention can be handed back (`PRAGMA incremental_vacuum`)
            conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        mode = str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
        if mode.lower() != "wal":
            raise StorageError(f"{self.path}: could not switch to WAL mode (got {mode})")
        # Only a new or older database pays for importing sqlite-utils (~0.1 s of start-up).
        import sqlite_utils

        db = sqlite_utils.Database(conn)
        with self.transaction():
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            current = self.schema_version()  # again, under the write lock: another process may have migrated
            for version in range(current + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[version](db)
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES('schema_version', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (str(version),),
                )

    # -- writes ------------------------------------------------------------------------------------

    def upsert(self, table: str, rows: Iterable[Mapping[str, object]], conn: sqlite3.Connection | None = None) -> int:
        """Insert or update rows by primary key; returns how many rows were inserted or changed.

        Pass `conn` (from `transaction()`) to make several upserts one transaction. `model_prices` is a history of
        changes: its rows (one catalogue day each) go through `record_prices`, whoever writes them."""
        if table == "model_prices":
            if conn is not None:
                return self.record_prices(rows, conn)
            with self.transaction() as tx:
                return self.record_prices(rows, tx)
        spec = TABLES[table]
        cols = list(spec["columns"])
        pick = itemgetter(*cols)  # every producer passes complete rows; ~3x faster than dict.get per column
        data = [pick(row) for row in rows]
        if not data:
            return 0
        pk = spec["pk"]
        updates = [c for c in cols if c not in pk]
        ignored = NOT_A_CHANGE.get(table, set())
        differs = " OR ".join(f"{table}.{c} IS NOT excluded.{c}" for c in updates if c not in ignored)
        guard = f"({differs})"
        if table in NEWEST_WINS:
            col = NEWEST_WINS[table]
            guard += f" AND excluded.{col} >= {table}.{col}"
        sql = (
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT({', '.join(pk)}) DO UPDATE SET "
            + ", ".join(f"{c}=excluded.{c}" for c in updates)
            + f" WHERE {guard}"
        )
        if conn is not None:
            before = conn.total_changes
            conn.executemany(sql, data)
            return conn.total_changes - before
        with self.transaction() as tx:
            before = tx.total_changes
            tx.executemany(sql, data)
            return tx.total_changes - before

    def record_poll(
        self,
        job: str,
        started: float,
        finished: float,
        ok: bool,
        error: str | None,
        rows: int,
        conn: sqlite3.Connection | None = None,
    ) -> None:
        """Pass `conn` (from `transaction()`) to commit the poll with the rows it wrote, or neither."""
        if conn is not None:
            self._record_poll(conn, job, started, finished, ok, error, rows)
        else:
            with self.transaction() as tx:
                self._record_poll(tx, job, started, finished, ok, error, rows)

    @staticmethod
    def _record_poll(
        conn: sqlite3.Connection, job: str, started: float, finished: float, ok: bool, error: str | None, rows: int
    ) -> None:
        cursor = conn.execute(
            "INSERT INTO polls (job, started, finished, ok, error, rows) VALUES (?,?,?,?,?,?)",
            (job, started, finished, int(ok), error, rows),
        )
        conn.execute(
            "INSERT INTO job_state (job, last_id, started, finished, ok, error, rows, last_ok, polls, failures) "
            "VALUES (?,?,?,?,?,?,?,?,1,?) ON CONFLICT(job) DO UPDATE SET last_id=excluded.last_id, "
            "started=excluded.started, finished=excluded.finished, ok=excluded.ok, error=excluded.error, "
            "rows=excluded.rows, last_ok=COALESCE(excluded.last_ok, job_state.last_ok), polls=job_state.polls + 1, "
            "failures=job_state.failures + excluded.failures",
            (job, cursor.lastrowid, started, finished, int(ok), error, rows, finished if ok else None, int(not ok)),
        )

    def set_meta(self, key: str, value: str | bytes, conn: sqlite3.Connection | None = None) -> None:
        sql = "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value"
        if conn is not None:
            conn.execute(sql, (key, value))
        else:
            with self.transaction() as tx:
                tx.execute(sql, (key, value))
