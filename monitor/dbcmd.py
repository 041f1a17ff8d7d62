"""`tokentape db stats|prune|check|backup|vacuum`: looking after the one SQLite file."""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from monitor.config import Config
from storage import Store

# The column that dates a row, per table that grows with history (stats shows the oldest and newest).
TIME_COLUMNS = {
    "quotes": ("ts", "unix"),
    "daily_bars": ("date", "day"),
    "fx": ("ts", "unix"),
    "token_daily": ("date", "day"),
    "token_weekly": ("week", "day"),
    "polls": ("finished", "unix"),
    "alert_events": ("fired_at", "unix"),
}


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def _when(value: object, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "unix":
        return f"{datetime.fromtimestamp(float(str(value)), UTC):%Y-%m-%d %H:%M}Z"
    return str(value)


def run_db(
    config: Config,
    path: Path,
    args: argparse.Namespace,
    open_store: Callable[[Path, bool], Store],
    usage: type[Exception],
) -> int:
    action = args.db_command
    if action == "vacuum":
        return _vacuum(path, open_store, usage)
    store = open_store(path, False)
    try:
        if action == "stats":
            return _stats(store)
        if action == "prune":
            from monitor import retention

            report = retention.prune(store, config, dry_run=args.dry_run)
            print(f"tokentape: {report.line()}")
            return 0
        if action == "check":
            problems = store.integrity_check()
            ok = problems == ["ok"]
            print(f"schema v{store.schema_version()}; integrity_check: {'ok' if ok else '; '.join(problems[:20])}")
            return 0 if ok else 1
        if action == "backup":
            target = Path(args.path).expanduser()
            if target.exists():
                raise usage(f"{target}: already exists (a backup never overwrites a file)")
            try:
                store.backup(target)
            except (OSError, sqlite3.Error) as exc:
                target.unlink(missing_ok=True)
                raise usage(f"{target}: backup failed: {exc}") from None
            print(f"tokentape: backed up {store.path} to {target} ({_mib(target.stat().st_size)})", file=sys.stderr)
            return 0
        raise usage(f"unknown db action {action!r}")
    finally:
        store.close()


def _stats(store: Store) -> int:
    from monitor.retention import last_prune

    conn = store.conn()
    print(f"{'table':<16} {'rows':>12} {'size':>12}  oldest .. newest")
    total = 0
    for row in store.table_stats():
        table = row["table"]
        total += row["bytes"]
        span = ""
        if table in TIME_COLUMNS:
            col, kind = TIME_COLUMNS[table]
            oldest, newest = conn.execute(f"SELECT MIN({col}), MAX({col}) FROM {table}").fetchone()
            span = f"{_when(oldest, kind)} .. {_when(newest, kind)}"
        print(f"{table:<16} {row['rows']:>12} {_mib(row['bytes']):>12}  {span}")
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    mode = {0: "none", 1: "full", 2: "incremental"}.get(int(conn.execute("PRAGMA auto_vacuum").fetchone()[0]), "?")
    print(
        f"file {_mib(store.path.stat().st_size)}; free pages {free} ({_mib(free * page_size)}); "
        f"auto_vacuum {mode}; schema v{store.schema_version()}"
    )
    print(f"last prune: {last_prune(store)}")
    return 0


def _vacuum(path: Path, open_store: Callable[[Path, bool], Store], usage: type[Exception]) -> int:
    """VACUUM rewrites the whole file (and turns on incremental auto-vacuum): it needs the collector stopped,
    and free disk about the size of the database (the copy) plus its WAL."""
    from monitor.dblock import CollectorLock

    lock = CollectorLock(path)
    try:
        holder = lock.acquire()
    except OSError as exc:
        raise usage(f"{path}: cannot take the collector lock {lock.path}: {exc.strerror or exc}") from None
    if holder is not None:
        lock.release()
        raise usage(f"{lock.holder_message(holder, path)}; stop it first: vacuum rewrites the whole file")
    try:
        store = open_store(path, False)
        try:
            size = path.stat().st_size
            free = shutil.disk_usage(path.parent).free
            need = 2 * size
            print(f"tokentape: vacuum needs up to {_mib(need)} of free disk; {_mib(free)} free", file=sys.stderr)
            if free < need:
                print(f"tokentape: not enough free disk in {path.parent}; nothing changed", file=sys.stderr)
                return 1
            conn = store.conn()
            conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            print(f"tokentape: vacuumed {path}: {_mib(size)} -> {_mib(path.stat().st_size)}", file=sys.stderr)
            return 0
        finally:
            store.close()
    finally:
        lock.release()
