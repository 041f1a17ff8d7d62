"""Helpers shared by the benchmarks: medians, tmux screens, process stats."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
sys.path.insert(0, str(ROOT))


def median(values: list[float]) -> float:
    return statistics.median(values)


def line(name: str, value: str, target: str, ok: bool | None) -> str:
    verdict = "" if ok is None else ("  MET" if ok else "  NOT MET")
    return f"{name:<44} {value:<28} target {target}{verdict}"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout


def time_to_screen(command: str, markers: list[str], size=(160, 48), timeout: float = 20.0) -> float:
    """Seconds from starting `command` in a fresh tmux session until every marker is on screen."""
    session = f"bench{os.getpid()}{time.monotonic_ns() % 100000}"
    start = time.perf_counter()
    tmux("new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]), command)
    try:
        while time.perf_counter() - start < timeout:
            screen = tmux("capture-pane", "-p", "-t", session)
            if all(m in screen for m in markers):
                return time.perf_counter() - start
            time.sleep(0.005)
        raise RuntimeError(f"markers {markers} not on screen after {timeout} s:\n{screen}")
    finally:
        tmux("kill-session", "-t", session)
        time.sleep(0.2)


def proc_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20
