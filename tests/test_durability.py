"""kill -9 during writes, and one writer with several readers on one database."""

from __future__ import annotations

import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from storage import Store
from tests.conftest import ROOT
from tests.writer_proc import ROWS_PER_SNAPSHOT


class Writer:
    """tests/writer_proc.py in its own process, its `ack N` lines read as they come (so a full pipe never
    stalls it, and a test can wait for commits instead of sleeping)."""

    def __init__(self, db: Path, seconds: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.writer_proc", str(db), str(seconds)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.acks: list[int] = []
        self._new: queue.Queue[int] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("ack "):
                self.acks.append(int(line.split()[1]))
                self._new.put(self.acks[-1])

    def wait_for_acks(self, count: int) -> None:
        """Until `count` more commits are acknowledged; queue.Empty if the writer stops committing."""
        for _ in range(count):
            self._new.get(timeout=60)

    def kill(self) -> str:
        """SIGKILL; returns what it wrote to stderr. `acks` then holds every acknowledgement it made."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)
        self._reader.join(timeout=60)
        assert self.proc.stderr is not None
        return self.proc.stderr.read()


def test_kill_9_during_writes_loses_nothing_acknowledged(tmp_path):
    db = tmp_path / "t.db"
    Store.open(db).close()
    acked = 0
    for _ in range(10):
        writer = Writer(db, 60)
        writer.wait_for_acks(random.randint(1, 4))  # in the middle of its write loop, past start-up
        # A write cycle takes a few ms: a random fraction of one puts the kill anywhere in the next cycle,
        # building rows, inside the transaction, or committing.
        time.sleep(random.uniform(0, 0.004))
        writer.kill()
        acked = max(acked, writer.acks[-1])
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        snapshots = conn.execute("SELECT snapshot_date, COUNT(*) FROM token_daily GROUP BY 1").fetchall()
        # Every snapshot revises all its rows: a half-applied one would leave two snapshot dates.
        assert len(snapshots) == 1 and snapshots[0][1] == ROWS_PER_SNAPSHOT
        newest = int(snapshots[0][0][1:])
        assert newest >= acked
        quotes = conn.execute("SELECT COUNT(*) FROM quotes").fetchone()[0]
        assert quotes >= acked * 20  # every acknowledged quote is there
        conn.close()


READER = """
import sys, time
from monitor.config import load_config
from monitor.dashboard import DashboardLoader
from storage import Store

store = Store.open(sys.argv[1], create=False)
loader = DashboardLoader(store, load_config())


def commits() -> int:
    return int(store.get_meta("writer_snapshot") or 0)


first, loads = commits(), 0
give_up = time.monotonic() + 60  # only a hung writer gets here; the test then fails on the counts
# Read until the writer has committed 5 times more meanwhile: every read ran beside a live writer.
while (loads < 5 or commits() < first + 5) and time.monotonic() < give_up:
    loader.load()
    store.latest_polls()
    loads += 1
print(loads, commits() - first)
"""


def test_one_writer_many_readers_never_see_database_locked(tmp_path):
    db = tmp_path / "t.db"
    Store.open(db).close()
    writer = Writer(db, 120)
    try:
        writer.wait_for_acks(1)
        readers = [
            subprocess.Popen(
                [sys.executable, "-c", READER, str(db)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        snapshot = subprocess.run(
            [sys.executable, "-m", "monitor.cli", "--db", str(db), "snapshot", "--format", "json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=60,
        )
        results = [r.communicate(timeout=90) for r in readers]
        still_writing = writer.proc.poll() is None  # it would have ended on a "database is locked" error
    finally:
        writer_err = writer.kill()
    assert snapshot.returncode == 0, snapshot.stderr
    for reader, (out, err) in zip(readers, results, strict=True):
        assert reader.returncode == 0 and "locked" not in err, err
        loads, commits_meanwhile = map(int, out.split())
        assert loads >= 5 and commits_meanwhile >= 5  # readers kept reading while the writer wrote
    assert still_writing and "locked" not in writer_err, writer_err
    assert len(writer.acks) > 10
