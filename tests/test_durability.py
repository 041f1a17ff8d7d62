"""kill -9 during writes, and one writer with several readers on one database."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

from storage import Store
from tests.conftest import ROOT
from tests.writer_proc import ROWS_PER_SNAPSHOT


def start_writer(db, seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.writer_proc", str(db), str(seconds)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kill_9_during_writes_loses_nothing_acknowledged(tmp_path):
    db = tmp_path / "t.db"
    Store.open(db).close()
    acked = 0
    for _ in range(10):
        writer = start_writer(db, 30)
        time.sleep(random.uniform(0.6, 1.2))  # past start-up, in the middle of the write loop
        writer.send_signal(signal.SIGKILL)
        out, _ = writer.communicate()
        acks = [int(line.split()[1]) for line in out.splitlines() if line.startswith("ack ")]
        assert acks, "the writer committed nothing before the kill"
        acked = max(acked, acks[-1])
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


def test_one_writer_many_readers_never_see_database_locked(tmp_path):
    db = tmp_path / "t.db"
    Store.open(db).close()
    writer = start_writer(db, 6)
    time.sleep(0.5)
    reader_code = (
        "import sys, time\n"
        "from monitor.config import load_config\n"
        "from monitor.dashboard import DashboardLoader\n"
        "from storage import Store\n"
        "store = Store.open(sys.argv[1], create=False)\n"
        "loader = DashboardLoader(store, load_config())\n"
        "n = 0\n"
        "end = time.monotonic() + 3\n"
        "while time.monotonic() < end:\n"
        "    loader.load(); store.latest_polls(); n += 1\n"
        "print(n)\n"
    )
    readers = [subprocess.Popen([sys.executable, "-c", reader_code, str(db)], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(3)]
    snapshot = subprocess.run([sys.executable, "-m", "monitor.cli", "--db", str(db), "snapshot", "--format", "json"],
                              cwd=ROOT, capture_output=True, text=True, env=dict(os.environ), timeout=60)
    results = [r.communicate(timeout=60) for r in readers]
    writer_out, writer_err = writer.communicate(timeout=60)
    assert snapshot.returncode == 0, snapshot.stderr
    for reader, (out, err) in zip(readers, results):
        assert reader.returncode == 0 and "locked" not in err, err
        assert int(out) > 5  # readers kept reading while the writer wrote
    assert writer.returncode == 0 and "locked" not in writer_err
    assert writer_out.count("ack") > 10
