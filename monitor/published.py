"""The dashboard as the database's writer last computed it, published in the database for readers.

A reader (`tokentape --read-only`, often over SSH) would otherwise compute its first screen itself: start
a process, import polars, read and aggregate, ~0.3 s of CPU before anything is on screen. The process
that writes the database (`tokentape collect`, or a live dashboard) re-reads what each poll changed
anyway; it also stores the result, as plain rows, in `meta`, stamped with

- the newest poll id it reflects (every write of a job commits with its poll row, so a newer poll means
  newer data: the same test a read-only dashboard uses to notice a collector's writes), and
- the config that shaped it (companies, makers, currency, everything), and this format's number.

A reader whose own config is the same and finds that stamp still the newest poll has the very
rows its own computation would produce; it builds its views from them with its own clock (ages, market
hours), so its first frame is the real screen, not a cached one. Any other case (an older writer, another
config, a newer poll, a damaged value) and the reader computes its own, as before. The reader still
computes its own right after (for reloads and drill-downs), and an equal screen repaints nothing.

Reading this needs neither polars nor the store: sqlite3, zlib and msgspec (msgpack keeps NaN and every
float exact, which JSON would not). Writing needs a Dashboard, so polars is loaded then anyway. At 300
models a day the value is ~170 KB, rewritten after each poll (every poll changes the status line; ~5 KB/s while
quotes are polled every 30 s).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from monitor.config import Config

if TYPE_CHECKING:
    from monitor.dashboard import Dashboard
    from storage import Store

log = logging.getLogger("tokentape.published")
META_KEY = "published_dashboard"
FORMAT = 1  # bump with any change to DashboardData or to what the loader computes: older values are ignored
Rows = list[dict[str, Any]]


class DemoClock:
    """The one clock rule of a Dashboard and of its rows: in the demo, ages are measured from the moment the
    demo data describes, not from now."""

    __slots__ = ()
    demo_as_of: float | None

    @property
    def is_demo(self) -> bool:
        return self.demo_as_of is not None

    def reference_now(self, now: float) -> float:
        return self.demo_as_of if self.demo_as_of is not None else now


class DashboardData(msgspec.Struct, DemoClock, frozen=True):
    """What the dashboard's views are built from, as plain rows: a Dashboard without polars. Dates are ISO
    strings, so the rows are the same whether built in this process or decoded from the database."""

    generated_at: float
    display_currency: str
    companies: Rows
    intraday: dict[str, list[float]]
    models: Rows
    makers: Rows
    maker_history: Rows  # date, maker_id, maker, share
    maker_weekly: Rows  # week, maker_id, total_tokens, share, maker
    medians: Rows
    polls: Rows
    demo_as_of: float | None = None
    left_out: tuple[str, ...] = ()

    @classmethod
    def from_dashboard(cls, dash: Dashboard) -> DashboardData:
        """The Dashboard's rows, dates as ISO strings."""
        import polars as pl

        def rows(frame: pl.DataFrame) -> Rows:
            return frame.with_columns(pl.col(pl.Date).cast(pl.String)).to_dicts()

        return cls(
            generated_at=dash.generated_at,
            display_currency=dash.display_currency,
            companies=rows(dash.companies),
            intraday=dash.intraday,
            models=rows(dash.models),
            makers=rows(dash.makers),
            maker_history=rows(dash.maker_history),
            maker_weekly=rows(dash.maker_weekly),
            medians=rows(dash.medians),
            polls=rows(dash.polls),
            demo_as_of=dash.demo_as_of,
            left_out=dash.left_out,
        )


class Published(msgspec.Struct, frozen=True):
    format: int
    config: bytes  # config_bytes() of the writer: compared whole (a few KB), no hash to collide or import
    poll_id: int  # the newest poll the data reflects
    data: DashboardData


def config_bytes(config: Config) -> bytes:
    """Equal for two configs that make the same Dashboard from the same rows (the file's path aside)."""
    return msgspec.json.encode(msgspec.structs.replace(config, path=Path()), enc_hook=str)


def newest_poll_id(conn: sqlite3.Connection) -> int:
    # Store.newest_poll_id's query, on a bare connection: a reader on the start path loads no store (~20 ms).
    return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM polls").fetchone()[0])


def read(db_path: Path, config: Config) -> DashboardData | None:
    """The published dashboard if it is exactly what `config` would compute from the database now; else None
    (with a log line saying why, unless nothing was ever published)."""
    if not db_path.is_file():
        return None
    try:
        conn = sqlite3.connect(db_path.resolve().as_uri() + "?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error:
        return None
    try:
        # One read transaction: the value and the newest poll id are of the same moment.
        conn.execute("BEGIN")
        row = conn.execute("SELECT value FROM meta WHERE key=?", (META_KEY,)).fetchone()
        if row is None or not isinstance(row[0], bytes):
            return None
        newest = newest_poll_id(conn)
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        log.info("no published dashboard read from %s: %s", db_path, exc)
        return None
    finally:
        conn.close()
    try:
        published = msgspec.msgpack.decode(zlib.decompress(row[0]), type=Published)
    except (zlib.error, msgspec.DecodeError) as exc:  # another format, or damaged: compute as usual
        log.info("published dashboard in %s not used: %s", db_path, exc)
        return None
    if published.format != FORMAT or published.config != config_bytes(config):
        log.info("published dashboard in %s not used: another tokentape version or config wrote it", db_path)
        return None
    if published.poll_id != newest:
        log.info("published dashboard in %s not used: poll %d is newer", db_path, newest)
        return None
    return published.data


def publish(store: Store, data: DashboardData, poll_id: int, config: Config) -> None:
    # zlib at its fastest level: 2.4x smaller (the rows' keys repeat), ~4 ms here and ~1 ms for a reader.
    blob = zlib.compress(msgspec.msgpack.encode(Published(FORMAT, config_bytes(config), poll_id, data)), 1)
    store.set_meta(META_KEY, blob)


def job_tables(job: str) -> frozenset[str] | None:
    """The tables a poll of `job` writes; None for a job this version does not know (re-read everything)."""
    from monitor.jobs import JOB_SPECS, POLL_TABLES

    spec = JOB_SPECS.get(job)
    return spec.tables | POLL_TABLES if spec is not None else None


class Publisher:
    """Keeps a writer's published dashboard current. `update()` re-reads the tables that the polls since
    the last publication wrote (`tables_of(job)`; None: every table) and publishes the result, stamped
    with the newest poll id read before those reads: a poll landing during them makes the stamp older
    than the data, which a reader takes as not current, never the other way round.

    A writer calls `request()` after each poll: the work runs on one thread of its own, and requests that
    arrive meanwhile fold into one more update (a burst of polls costs one re-read of their tables)."""

    def __init__(
        self,
        store: Store,
        config: Config,
        tables_of: Callable[[str], frozenset[str] | None] = job_tables,
    ) -> None:
        from monitor.dashboard import RECENT_TOKEN_DAYS, DashboardLoader

        self.store, self.config, self.tables_of = store, config, tables_of
        # Its own loader, of the token days a first screen shows (a live dashboard's reads 95 for the 90D range).
        self.loader = DashboardLoader(store, config, RECENT_TOKEN_DAYS)
        self.stamp: int | None = None  # the poll id last published
        self._lock = threading.Lock()
        self._queued = False
        self._queue_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def request(self, *_: object) -> None:
        """Publish soon, off the caller's thread (a poll listener: it takes and ignores the poll's result)."""
        with self._queue_lock:
            if self._queued:
                return
            self._queued = True
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="tokentape-publish")
            self._pool.submit(self._run_queued)

    def _run_queued(self) -> None:
        with self._queue_lock:
            self._queued = False
        self.update_quietly()

    def close(self) -> None:
        """Let a queued update finish (a collector stopping publishes what it last stored)."""
        with self._queue_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _tables_since(self, stamp: int, newest: int) -> set[str] | None:
        sql = "SELECT DISTINCT job FROM polls WHERE id > ? AND id <= ?"  # a range on the primary key
        jobs = [r[0] for r in self.store.conn().execute(sql, (stamp, newest))]
        tables: set[str] = set()
        for job in jobs:
            written = self.tables_of(job)
            if written is None:
                return None
            tables |= written
        return tables

    def update(self) -> bool:
        """Publish if any poll landed since the last time; True when it did. Safe from any thread."""
        with self._lock:
            newest = self.store.newest_poll_id()
            if newest == self.stamp:
                return False
            tables = None if self.stamp is None else self._tables_since(self.stamp, newest)
            dash = self.loader.load(tables)
            publish(self.store, dash.rows, newest, self.config)
            self.stamp = newest
            return True

    def update_quietly(self) -> None:
        """`update()` for a listener or a thread: a failure is logged, never raised into a poll."""
        try:
            self.update()
        except Exception as exc:  # e.g. disk full: the dashboard is still computed by every reader itself
            log.warning("could not publish the dashboard: %s", exc)
