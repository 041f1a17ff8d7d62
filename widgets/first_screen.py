"""The first screen from the database, computed in a second process while the app starts.

Importing Textual and importing polars each hold the GIL for a few hundred milliseconds, so in one
process the first full screen costs their sum. A child process (`python -m widgets.first_screen`)
opens the store, computes the views and writes them to stdout as JSON, on the other core, while the
app imports Textual and paints; the app shows them as soon as they arrive, then loads its own data
path (polars) with the screen already full. If the child fails or is slow, the app's own path
simply comes first: this only ever makes the first screen earlier, never different.

The child needs no Textual: views and view-models are plain Python.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import msgspec

from widgets.views import ScreenViews

TIMEOUT_SECONDS = 15.0


class FirstScreen:
    """A running child process and, once it has answered, its views."""

    def __init__(self, config_path: Path, mode: str, db_path: Path) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "widgets.first_screen",
                "--config",
                str(config_path),
                "--mode",
                mode,
                "--db",
                str(db_path),
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
        try:
            return msgspec.json.decode(out, type=ScreenViews)
        except msgspec.DecodeError:
            return None

    def cancel(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m widgets.first_screen")
    parser.add_argument("--config", required=True)
    parser.add_argument("--mode", choices=["live", "read-only", "demo"], required=True)
    parser.add_argument("--db", required=True)
    args = parser.parse_args(argv)

    from monitor.config import load_config
    from monitor.feed import DataFeed
    from widgets.viewmodels import screen_views

    config = load_config(args.config)
    # Read-only: never create a database here; the app's own path does that, with its error messages.
    feed = DataFeed.for_database(config, "demo" if args.mode == "demo" else "read-only", Path(args.db))
    try:
        views = screen_views(feed.first_dashboard(), config, time.time(), args.mode, {}, args.db)
    finally:
        feed.close_store()
    sys.stdout.buffer.write(msgspec.json.encode(views))
    return 0


if __name__ == "__main__":
    sys.exit(main())
