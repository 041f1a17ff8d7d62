"""Idle cost with the screen open, clock ticking, no new data: CPU, bytes written to the terminal per
minute, RSS; against the bare app with a 1 s clock (the floor). `--minutes 30` for the RSS-growth run.

Targets: CPU <= 1 % of a core; bytes/min <= 1.5x the floor; RSS <= 150 MB; RSS growth over 30 min <= 5 MB.

    .venv/bin/python bench/idle.py [--seconds 60] [--minutes 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from common import PY, ROOT, line, proc_cpu_seconds, proc_rss_mb, tmux

TOKENTAPE = str(ROOT / ".venv" / "bin" / "tokentape")


def child_python(script_pid: int) -> int:
    """The Python process under `script` (the app itself)."""
    for _ in range(100):
        out = subprocess.run(["pgrep", "-P", str(script_pid)], capture_output=True, text=True).stdout.split()
        for pid in out:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"python" in cmd or b"tokentape" in cmd:
                return int(pid)
            deeper = subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split()
            if deeper:
                return int(deeper[0])
        time.sleep(0.05)
    raise RuntimeError("app process not found")


def measure(command: str, seconds: float, warmup: float = 10.0, samples_every: float | None = None) -> dict:
    typescript = Path(tempfile.mkdtemp()) / "typescript"
    session = f"idle{os.getpid()}{time.monotonic_ns() % 10000}"
    tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "48", f"script -q -f -c '{command}' {typescript}")
    try:
        time.sleep(1.0)
        script_pid = int(tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())
        pid = child_python(script_pid)
        time.sleep(warmup)
        cpu0, bytes0, rss0, t0 = proc_cpu_seconds(pid), typescript.stat().st_size, proc_rss_mb(pid), time.time()
        rss_samples = [rss0]
        while time.time() - t0 < seconds:
            time.sleep(min(samples_every or seconds, seconds - (time.time() - t0)) or 0.01)
            rss_samples.append(proc_rss_mb(pid))
        elapsed = time.time() - t0
        cpu1, bytes1, rss1 = proc_cpu_seconds(pid), typescript.stat().st_size, proc_rss_mb(pid)
        return {"cpu_pct": 100 * (cpu1 - cpu0) / elapsed, "bytes_per_min": (bytes1 - bytes0) * 60 / elapsed,
                "rss_start": rss0, "rss_end": rss1, "rss_max": max(rss_samples)}
    finally:
        tmux("kill-session", "-t", session)
        subprocess.run(["pkill", "-f", str(typescript)], capture_output=True)


def main(seconds: float, minutes: float | None) -> None:
    floor = measure(f"{PY} {ROOT / 'bench' / 'bare_app.py'} --clock", seconds)
    ours = measure(f"{TOKENTAPE} --demo", seconds)
    print(line("floor: bare app, 1 s clock: bytes/min", f"{floor['bytes_per_min'] / 1000:.1f} KB", "-", None))
    print(line("floor: CPU", f"{floor['cpu_pct']:.2f} % of a core", "-", None))
    print(line("tokentape --demo idle CPU", f"{ours['cpu_pct']:.2f} % of a core", "<= 1 %", ours["cpu_pct"] <= 1))
    ratio = ours["bytes_per_min"] / max(floor["bytes_per_min"], 1)
    print(line("tokentape --demo bytes to terminal / min", f"{ours['bytes_per_min'] / 1000:.1f} KB ({ratio:.2f}x)",
               "<= 1.5x floor", ratio <= 1.5))
    print(line("tokentape --demo RSS", f"{ours['rss_end']:.1f} MB", "<= 150 MB", ours["rss_end"] <= 150))
    if minutes:
        long = measure(f"{TOKENTAPE} --demo", minutes * 60, samples_every=60)
        growth = long["rss_end"] - long["rss_start"]
        print(line(f"RSS growth over {minutes:g} min", f"{long['rss_start']:.1f} -> {long['rss_end']:.1f} MB "
                   f"({growth:+.1f})", "<= 5 MB", growth <= 5))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--minutes", type=float, default=None)
    args = parser.parse_args()
    main(args.seconds, args.minutes)
