"""The first screen from the database, computed in a second process while the app starts.

Importing Textual and importing polars each hold the GIL for a few hundred milliseconds, so in one
process the first full screen costs their sum. A child process (`python -m widgets.first_screen`)
opens the store, computes the views and writes them to stdout as JSON, on the other core, while the
app imports Textual and paints; the app shows them as soon as they arrive, then loads its own data
path (polars) with the screen already full. If the child fails or is slow, the app's own path
simply comes first: this only ever makes the first screen earlier, never different.

The child needs no Textual: views and view-models are plain Python.

Before any of that, `published_views` looks for the dashboard the database's writer published
(monitor/published.py): when it is current, the first screen is built from it in milliseconds, without
polars, and no child is needed at all.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.config import Config
    from widgets.views import ScreenViews

TIMEOUT_SECONDS = 15.0


class FirstScreen:
    """A running child process and, once it has answered, its views."""

    def __init__(self, config_path: str | Path | None, mode: str, db_path: str | Path | None) -> None:
        """`config_path` and `db_path` as the command line gave them (None: the defaults, which the child
        resolves as the app does). The CLI starts this first thing, so this module imports next to nothing."""
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "widgets.first_screen",
                "--config",
                str(config_path or ""),
                "--mode",
                mode,
                "--db",
                str(db_path or ""),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def result(self) -> ScreenViews | None:
        """Block until the child answers: its views, or None if it failed (the app's own path follows)."""
        try:
            out, _ = self.process.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            return None
        if self.process.returncode != 0 or not out:
            return None
        import msgspec

        from widgets.views import ScreenViews

        try:
            return msgspec.json.decode(out, type=ScreenViews)
        except msgspec.DecodeError:
            return None

    def cancel(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def published_views(config: Config, mode: str, db_path: Path) -> ScreenViews | None:
    """The first screen from the dashboard the database's writer published, if it is still current (see
    monitor/published.py): sqlite3 and msgspec, no polars, a few milliseconds. The child is then not needed."""
    if mode == "demo":
        return None  # a fresh copy of the bundled data each time: nothing was published into it
    from monitor import published

    data = published.read(db_path, config)
    if data is None:
        return None
    from widgets.viewmodels import screen_views

    try:
        return screen_views(data, config, time.time(), mode, {}, str(db_path))
    except (KeyError, TypeError, ValueError) as exc:  # rows of another shape (a FORMAT not bumped): compute as usual
        logging.getLogger("tokentape.app").warning("published dashboard in %s not used: %r", db_path, exc)
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m widgets.first_screen")
    parser.add_argument("--config", required=True)
    parser.add_argument("--mode", choices=["live", "read-only", "demo"], required=True)
    parser.add_argument("--db", required=True)
    args = parser.parse_args(argv)

    import msgspec

    from monitor.config import database_path, load_config
    from monitor.dashboard import RECENT_TOKEN_DAYS
    from monitor.feed import DataFeed
    from widgets.viewmodels import screen_views

    config = load_config(args.config or None)
    db_path = database_path(config, args.db or None)
    # Read-only: never create a database here; the app's own path does that, with its error messages.
    # The token history the first screen shows, not the 90D range's: at 300 models a day, a third of the rows.
    mode = "demo" if args.mode == "demo" else "read-only"
    feed = DataFeed.for_database(config, mode, db_path, token_days=RECENT_TOKEN_DAYS)
    try:
        views = screen_views(feed.first_dashboard(), config, time.time(), args.mode, {}, str(db_path))
    finally:
        feed.close_store()
    sys.stdout.buffer.write(msgspec.json.encode(views))
    return 0


if __name__ == "__main__":
    sys.exit(main())
