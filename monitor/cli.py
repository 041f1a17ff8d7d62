"""The `tokentape` command: the dashboard, and the headless collect / backfill / snapshot commands.

User errors (bad config, bad arguments, unwritable paths) print one line to stderr and exit 2; they
never print a traceback and never rewrite or delete a file. stdout carries only requested output.
Heavy modules (textual, polars, httpx) are imported only by the command that needs them.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import platformdirs

from monitor import APP_NAME

if TYPE_CHECKING:  # the store (and polars) load only in the commands that use them
    from monitor.config import Config
    from monitor.dashboard import Dashboard
    from monitor.dblock import CollectorLock
    from monitor.feed import Mode
    from storage import Store
    from widgets.first_screen import FirstScreen

log = logging.getLogger("tokentape")
EXIT_USAGE = 2


class UsageError(Exception):
    """A one-line, user-fixable problem: exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + error
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def log_path() -> Path:
    return platformdirs.user_state_path(APP_NAME) / "tokentape.log"


def setup_logging(level: str) -> Path:
    """Logs go to a rotating file: Textual owns the terminal while it runs."""
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError as exc:
        raise UsageError(f"cannot write log file {path}: {exc.strerror or exc}") from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # APScheduler logs each job run at INFO; keep its warnings and errors only.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    return path


def database_path(config: Config, cli_db: str | None) -> Path:
    from monitor.config import database_path as resolve

    return resolve(config, cli_db)


def _common(parser: argparse.ArgumentParser, top: bool = False) -> None:
    # On subcommands the defaults are suppressed, so `tokentape --db X snapshot` keeps X.
    default = (lambda value: value) if top else (lambda value: argparse.SUPPRESS)
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=default(None),
        help="config file (default: $TOKENTAPE_CONFIG, ~/.config/tokentape/config.toml, else the bundled default)",
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=default(None),
        help="SQLite database (default: config `database`, else ~/.local/share/tokentape/tokentape.db)",
    )
    parser.add_argument(
        "--log-level",
        default=default("INFO"),
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log file level (default INFO)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tokentape",
        description="Token share on OpenRouter beside the share prices of the "
        "model makers listed in Hong Kong (MiniMax 0100.HK, Zhipu 2513.HK) and their peers.",
        epilog=f"Logs: {log_path()}",
    )
    _common(parser, top=True)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--demo", action="store_true", help="open the bundled demo data; no network at all")
    mode.add_argument(
        "--read-only",
        action="store_true",
        help="only read the database that a `tokentape collect` elsewhere keeps fresh",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    collect = commands.add_parser("collect", help="poll every upstream into the database, without the dashboard")
    _common(collect)
    collect.add_argument(
        "--once", action="store_true", help="run every job once; exit 0 if all succeeded, else 1 naming the failures"
    )

    backfill = commands.add_parser("backfill", help="daily prices since listing and all reachable token history")
    _common(backfill)
    backfill.add_argument(
        "--since",
        default="2025-01-01",
        metavar="YYYY-MM-DD",
        help="first day of keyed OpenRouter history (needs $OPENROUTER_API_KEY)",
    )

    snapshot = commands.add_parser("snapshot", help="print or write what the dashboard shows")
    _common(snapshot)
    snapshot.add_argument("--format", default="table", choices=["table", "csv", "json", "parquet", "md"])
    snapshot.add_argument("--out", metavar="PATH", help="write here instead of stdout (csv/parquet: a directory)")
    snapshot.add_argument(
        "--table",
        default="companies",
        choices=["companies", "models", "makers"],
        help="the table --format csv writes to stdout (default companies); --out DIR writes all three",
    )
    snapshot.add_argument("--currency", metavar="CODE", help="display currency (default: config display_currency)")
    snapshot.add_argument(
        "--view",
        default="dashboard",
        choices=["dashboard", "valuation"],
        help="what to snapshot: the dashboard (default) or the valuation view (P/S, P/ARR, token share)",
    )
    snapshot.add_argument(
        "--demo", action="store_true", default=argparse.SUPPRESS, help="snapshot the bundled demo data"
    )
    _alerts_parser(commands)
    _history_parser(commands)
    _db_parser(commands)
    return parser


def _db_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    db = commands.add_parser("db", help="the database: stats, prune, check, backup, vacuum")
    _common(db)
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", parser_class=_Parser, required=True)
    _common(actions.add_parser("stats", help="rows and bytes per table, oldest and newest row, last prune"))
    prune = actions.add_parser("prune", help="apply the [storage] retention now (safe while `collect` runs)")
    _common(prune)
    prune.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    _common(actions.add_parser("check", help="integrity_check and the schema version; exit 1 if damaged"))
    backup = actions.add_parser("backup", help="a consistent copy by SQLite's online backup (safe while collecting)")
    _common(backup)
    backup.add_argument("path", metavar="PATH", help="the new file (never overwritten)")
    _common(
        actions.add_parser(
            "vacuum", help="rewrite the file compactly, converting it to incremental auto-vacuum (collector stopped)"
        )
    )


def _history_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    history = commands.add_parser(
        "history", help="one company's daily bars beside its maker's token share and model launches, or one model's"
    )
    _common(history)
    history.add_argument("subject", metavar="SYMBOL|MODEL", help="a watchlist symbol (0100.HK) or a model slug")
    history.add_argument("--range", default="max", choices=["1m", "6m", "ytd", "1y", "ipo", "max"])
    history.add_argument("--format", default="table", choices=["table", "csv", "json", "parquet"])
    history.add_argument("--demo", action="store_true", default=argparse.SUPPRESS, help="read the bundled demo data")


def _alerts_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    alerts = commands.add_parser("alerts", help="add, list and delete alert rules; show what fired")
    _common(alerts)
    actions = alerts.add_subparsers(dest="alerts_command", metavar="ACTION", parser_class=_Parser, required=True)
    add = actions.add_parser(
        "add",
        help='add a rule to your config: "0100.HK change_pct_1d <= -5", "maker:z-ai token_share crosses_above 10", '
        '"maker:z-ai model_enters_top 50", "source:yahoo stale 15"',
    )
    _common(add)
    add.add_argument("expression", help="SUBJECT METRIC OP VALUE, or SUBJECT EVENT VALUE (README: Alerts)")
    add.add_argument("--name", help="the rule's name (default: the expression)")
    add.add_argument(
        "--notify",
        action="append",
        metavar="TARGET",
        help="screen, bell or any apprise URL (ntfy://, tgram://, json://…); repeat for several (default: screen)",
    )
    add.add_argument("--cooldown", metavar="DURATION", help="least time between two firings, e.g. 30m, 4h (default 1h)")
    listing = actions.add_parser("list", help="the rules in the config in effect")
    _common(listing)
    delete = actions.add_parser("delete", help="remove the rule NAME from your config")
    _common(delete)
    delete.add_argument("name", metavar="NAME")
    history = actions.add_parser("history", help="what fired, newest first, from the database")
    _common(history)
    history.add_argument("--since", metavar="YYYY-MM-DD", help="from this UTC day on (default: everything)")
    history.add_argument("--format", default="table", choices=["table", "csv", "json"])


def main(argv: list[str] | None = None) -> int:
    # The dashboard's first screen comes from a child process (widgets/first_screen.py): started before this
    # process imports anything more, it has its answer about when Textual has drawn the empty screen.
    parsed = _parse_quietly(argv)
    first_screen = _start_first_screen(parsed) if parsed is not None else None
    from monitor.config import ConfigError

    try:  # arguments that did not parse quietly parse again here, to say what is wrong (or print --help)
        return _main(parsed or build_parser().parse_args(argv), first_screen)
    except (UsageError, ConfigError) as exc:
        print(f"tokentape: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    finally:
        if first_screen is not None:
            first_screen.cancel()  # a child nobody read (e.g. a bad config): never left running


def _parse_quietly(argv: list[str] | None) -> argparse.Namespace | None:
    """The parsed arguments, or None where parsing would print or fail (--help, --version, a usage error)."""
    given = sys.argv[1:] if argv is None else argv
    if any(arg in ("-h", "--help", "--version") for arg in given):
        return None
    try:
        return build_parser().parse_args(given)
    except UsageError:
        return None


def _mode(args: argparse.Namespace) -> Mode:
    return "demo" if args.demo else "read-only" if args.read_only else "live"


def _start_first_screen(args: argparse.Namespace) -> FirstScreen | None:
    """The child computing the dashboard's first screen, for the dashboard command; None for any other."""
    if args.command is not None:
        return None
    from widgets.first_screen import FirstScreen  # a Popen and a pipe; Textual loads only with widgets.app

    return FirstScreen(args.config, _mode(args), args.db)


def _open_store(path: Path, create: bool = True) -> Store:
    from storage import StorageError, Store

    try:
        return Store.open(path, create=create)
    except StorageError as exc:
        raise UsageError(str(exc)) from None


def _main(args: argparse.Namespace, first_screen: FirstScreen | None = None) -> int:
    from monitor.config import load_config

    config = load_config(args.config)
    setup_logging(args.log_level)
    log.info("tokentape %s with config %s", args.command or "dashboard", config.path)
    if args.command == "collect":
        return _collect(config, args)
    if args.command == "backfill":
        import asyncio  # here, not at the top: the dashboard's start-up never needs it before Textual does

        return asyncio.run(_backfill(config, args))
    if args.command == "snapshot":
        return _snapshot(config, args)
    if args.command == "history":
        return _history(config, args)
    if args.command == "alerts":
        return _alerts(config, args)
    if args.command == "db":
        from monitor.dbcmd import run_db

        return run_db(config, database_path(config, args.db), args, _open_store, UsageError)
    return _dashboard(config, args, first_screen)


def _demo_store(config: Config) -> Store:
    from monitor.demo import open_demo_store

    return open_demo_store(config)


def _dashboard(config: Config, args: argparse.Namespace, first_screen: FirstScreen | None) -> int:
    """The one joint of the layers: the Textual app (widgets/) is imported here, lazily, and only here."""
    from monitor.feed import DataFeed

    mode = _mode(args)
    db_path = database_path(config, args.db)
    feed = DataFeed.for_database(config, mode, db_path)
    from widgets.first_screen import published_views

    first_views = published_views(config, mode, db_path)
    if first_views is not None and first_screen is not None:
        first_screen.cancel()  # the writer has computed this screen already: no need for a second process
        first_screen = None
    from widgets.app import TokentapeApp, cache_file_for

    cache_file = cache_file_for("demo" if args.demo else str(db_path.resolve()), config.path)
    app = TokentapeApp(
        config, feed, log_file=log_path(), cache_file=cache_file, first_screen=first_screen, first_views=first_views
    )
    try:
        app.run()
    finally:
        feed.close_store()
    if app.open_error is not None:
        raise UsageError(str(app.open_error))
    return app.return_code or 0


def _open_writer(config: Config, db_arg: str | None) -> tuple[Store, CollectorLock]:
    """The database for a command that polls into it: one such process per database (a second one
    exits 2 naming the first), and a disk-full or read-only database said as such before any polling."""
    import sqlite3

    from monitor.dblock import CollectorLock
    from storage.db import describe_error

    path = database_path(config, db_arg)
    lock = CollectorLock(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        holder = lock.acquire()
    except OSError as exc:
        raise UsageError(
            f"{path}: cannot open database: no collector lock {lock.path}: {exc.strerror or exc}"
        ) from None
    if holder is not None:
        raise UsageError(lock.holder_message(holder, path))
    try:
        store = _open_store(path)
        try:
            store.sync_instruments(config.companies)
            from monitor.valuation import sync as sync_fundamentals

            sync_fundamentals(store, config)
        except sqlite3.Error as exc:
            store.close()
            raise UsageError(f"{path}: {describe_error(exc)}") from None
    except BaseException:
        lock.release()
        raise
    return store, lock


def _collect(config: Config, args: argparse.Namespace) -> int:
    import asyncio

    store, lock = _open_writer(config, args.db)
    try:
        return asyncio.run(_collect_async(config, store, args.once))
    finally:
        lock.release()


async def _collect_async(config: Config, store: Store, once: bool) -> int:
    import asyncio

    from monitor.jobs import Collector, PollResult, build_scheduler
    from monitor.published import Publisher

    collector = Collector(config, store)

    def report(result: PollResult) -> None:
        status = "ok" if result.ok else f"FAILED: {result.error}"
        print(
            f"{datetime.now(UTC):%H:%M:%SZ} {result.job}: {status} ({result.rows} rows changed, "
            f"{result.finished - result.started:.2f} s)",
            file=sys.stderr,
        )

    collector.listeners.append(report)
    # Readers open on the dashboard this process computes after each poll (monitor/published.py).
    publisher = Publisher(store, config)
    collector.listeners.append(publisher.request)
    if collector.alerts is not None:
        collector.alerts.listeners.append(
            lambda fired: print(
                f"{datetime.now(UTC):%H:%M:%SZ} ALERT {fired.message}" + ("\a" if "bell" in fired.rule.notify else ""),
                file=sys.stderr,
            )
        )
    try:
        if once:
            results = await collector.run_all_once()
            failed = [r for r in results if not r.ok]
            for r in failed:
                print(f"tokentape: {r.job} failed: {r.error}", file=sys.stderr)
            return 1 if failed else 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        scheduler = build_scheduler(collector)
        scheduler.start()
        print(f"tokentape: collecting into {store.path} (Ctrl-C stops)", file=sys.stderr)
        await stop.wait()
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)
        return 0
    finally:
        await collector.aclose(delivery_wait=30.0)  # alerts' deliveries (and their retries) get time to finish
        await asyncio.to_thread(publisher.close)
        store.close()


def _progress(label: str) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        end = "\n" if done >= total else ""
        print(
            f"\r{label:<18} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
            end=end,
            file=sys.stderr,
            flush=True,
        )

    return show


async def _backfill(config: Config, args: argparse.Namespace) -> int:
    from monitor.jobs import Collector, JobFailed

    try:
        since = datetime.strptime(args.since, "%Y-%m-%d").date()
    except ValueError:
        raise UsageError(f"--since: not a YYYY-MM-DD date: {args.since!r}") from None
    store, lock = _open_writer(config, args.db)
    collector = Collector(config, store)
    collector.alerts = None  # history is not news: a backfill fires no alert
    failures = []
    try:
        if problem := collector.api_key_problem():
            raise UsageError(problem)
        show = _progress("daily prices")
        show(0, 1)
        bars = await collector.backfill_daily_bars()
        if bars and not bars.ok:
            failures.append(f"daily prices: {bars.error}")
        show(1, 1)
        result = await collector.run_job("openrouter_export")
        if result and not result.ok:
            failures.append(f"token export: {result.error}")
        if collector.api_key():
            try:
                await collector.backfill_history(
                    since.isoformat(), datetime.now(UTC).date().isoformat(), _progress("token history")
                )
            except JobFailed as exc:
                failures.append(f"token history: {exc}")
        else:
            print(
                f"tokentape: ${config.sources['openrouter'].api_key_env} not set: token history limited to the "
                "export's last 30 days",
                file=sys.stderr,
            )
    finally:
        await collector.aclose()
        store.close()
        lock.release()
    for failure in failures:
        print(f"tokentape: {failure}", file=sys.stderr)
    return 1 if failures else 0


def _snapshot(config: Config, args: argparse.Namespace) -> int:
    from monitor import export
    from monitor.dashboard import RECENT_TOKEN_DAYS, DashboardLoader

    currency = (args.currency or config.display_currency).upper()
    if currency not in config.display_currencies:
        raise UsageError(
            f"--currency {currency}: not in display_currencies {list(config.display_currencies)} of {config.path}; "
            f'add "{currency}" to that list (the fx job then fetches its rates) or pick one of them'
        )
    if args.out == "-":  # stdout, written through (a pipe, a terminal, /dev/full: its errors are its own)
        args.out = None
    if args.format == "parquet" and not args.out:
        raise UsageError("--format parquet needs --out DIR (parquet is binary; one file per table)")
    if args.out:
        _check_writable(Path(args.out).expanduser())
    store = _demo_store(config) if args.demo else _open_store(database_path(config, args.db), create=False)
    try:
        # The latest day's shares and their Δ1d/Δ7d: the recent token history, not the 90D chart's.
        dash = DashboardLoader(store, config, RECENT_TOKEN_DAYS).load(display_currency=currency)
        if getattr(args, "view", "dashboard") == "valuation":
            return _snapshot_valuation(store, config, dash, args)
        if args.out:
            for path in export.write(dash, args.format, args.out):
                print(f"tokentape: wrote {path}", file=sys.stderr)
        else:
            sys.stdout.write(export.render(dash, args.format, args.table))
    except export.ExportError as exc:
        raise UsageError(str(exc)) from None
    finally:
        store.close()
    return 0


def _snapshot_valuation(store: Store, config: Config, dash: Dashboard, args: argparse.Namespace) -> int:
    from monitor import valuation

    try:
        val = valuation.load(store, config, dash)
        if args.out:
            for path in valuation.write(val, args.format, args.out):
                print(f"tokentape: wrote {path}", file=sys.stderr)
        else:
            sys.stdout.write(valuation.render(val, args.format))
    except valuation.ValuationError as exc:
        raise UsageError(str(exc)) from None
    return 0


def _history(config: Config, args: argparse.Namespace) -> int:
    from monitor import history

    if args.format == "parquet" and sys.stdout.isatty():
        raise UsageError("--format parquet is binary: redirect it to a file (tokentape history … > bars.parquet)")
    store = _demo_store(config) if getattr(args, "demo", False) else _open_store(database_path(config, args.db), False)
    try:
        output = history.render(history.load(store, config, args.subject, args.range), args.format)
    except history.HistoryError as exc:
        raise UsageError(str(exc)) from None
    finally:
        store.close()
    sys.stdout.buffer.write(output)
    sys.stdout.flush()
    return 0


def _check_writable(path: Path) -> None:
    """Fail before any work if --out cannot be written (nearest existing ancestor must be writable), or
    if it names something a write-then-rename would replace rather than write: a symlink, a device, a FIFO
    or a socket. A regular file, a directory (csv/parquet tables) or a new path is fine."""
    import stat

    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise UsageError(f"--out {path}: {exc.strerror or exc}") from None
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        kind = (
            "a symlink"
            if stat.S_ISLNK(mode)
            else "a FIFO"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "not a regular file"
        )
        raise UsageError(f"--out {path}: is {kind}; refusing to replace it (give a new path, or - for stdout)")
    probe = path
    while not probe.exists():
        probe = probe.parent
    target = probe if probe.is_dir() else probe.parent
    if not os.access(target, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"--out {path}: not writable")


def _alerts(config: Config, args: argparse.Namespace) -> int:
    """`tokentape alerts add/list/delete/history`; add and delete edit the user's file, comments kept."""
    from monitor import alert_rules as alerts
    from monitor.config import CONFIG_ENV, bundled_config_path, user_config_path

    if args.alerts_command == "history":
        return _alerts_history(config, args)
    if args.alerts_command == "list":
        print(f"# [[alert]] rules in {config.path}", file=sys.stderr)
        rows = [("NAME", "RULE", "COOLDOWN", "NOTIFY")]
        for rule in config.alerts:
            notify = ", ".join(alerts.mask(t) for t in rule.notify)
            rows.append((rule.name, rule.expression, f"{rule.cooldown / 60:g}m", notify))
        if len(rows) == 1:
            print('no alert rules (add one: tokentape alerts add "0100.HK change_pct_1d <= -5")', file=sys.stderr)
            return 0
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for row in rows:
            print("  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3])
        return 0
    # The file to edit: --config, else $TOKENTAPE_CONFIG, else the user's (made from the default on first write).
    path = Path(args.config or os.environ.get(CONFIG_ENV) or user_config_path()).expanduser()
    if path.resolve() == bundled_config_path().resolve():
        raise UsageError(f"{path} is the bundled default; pass --config PATH to edit a copy of it")
    try:
        if args.alerts_command == "delete":
            if not path.is_file() or not alerts.delete_rule(path, args.name):
                raise UsageError(f"no alert named {args.name!r} in {path} (see `tokentape alerts list`)")
            print(f"tokentape: deleted alert {args.name!r} from {path}", file=sys.stderr)
            return 0
        table = alerts.parse_expression(args.expression)
        if args.name:
            table = {"name": args.name, **table}
        if args.cooldown:
            table["cooldown"] = args.cooldown
        if args.notify:
            table["notify"] = args.notify
        rule = alerts.add_rule(path, table, bundled_config_path().read_text(encoding="utf-8"))
    except alerts.RuleError as exc:
        raise UsageError(f"alerts {args.alerts_command}: {exc.key}: {exc.message}") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None
    print(f"tokentape: added alert {rule.name!r} ({rule.expression}) to {path}", file=sys.stderr)
    return 0


def _alerts_history(config: Config, args: argparse.Namespace) -> int:
    import csv
    import io
    import json

    from monitor.alerts import event_views

    since = 0.0
    if args.since:
        try:
            since = datetime.strptime(args.since, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
        except ValueError:
            raise UsageError(f"--since: not a YYYY-MM-DD date: {args.since!r}") from None
    store = _open_store(database_path(config, args.db), create=False)
    try:
        events = event_views(store.alert_events(since))
    finally:
        store.close()
    rows = [
        {
            "fired_at": f"{datetime.fromtimestamp(e.fired_at, UTC):%Y-%m-%dT%H:%M:%SZ}",
            "rule": e.rule,
            "subject": e.subject,
            "value": e.value,
            "threshold": e.threshold,
            "data_time": e.data_time,
            "delivered_to": " ".join(e.delivered_to),
            "delivery_error": e.delivery_error or "",
            "attempts": e.attempts,
        }
        for e in events
    ]
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
    elif args.format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["fired_at", "rule"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(out.getvalue())
    else:
        columns = ["fired_at", "rule", "subject", "value", "threshold", "data_time", "delivered_to", "delivery_error"]
        table = [columns] + [[str(r[c]) for c in columns] for r in rows]
        widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
        for line in table:
            sys.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() + "\n")
        if not rows:
            print("no alert has fired" + (f" since {args.since}" if args.since else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
