"""Idle cost with the screen open, clock ticking, no new data: CPU, bytes written to the terminal per
minute, RSS; against the bare app with a 1 s clock (the floor). `--minutes 30` for the RSS-growth run.

Targets: CPU <= 1 % of a core; bytes/min <= 1.5x the floor; RSS <= 150 MB; RSS growth over 30 min <= 5 MB.

Each app runs under `script` (which records every byte sent to the terminal) in a tmux session of the
benchmark's own tmux server, with a fresh temporary home (no user config, cache or database touched).
The app writes its own pid to a file before it starts, so the figures are that process's and the
benchmark ends exactly the processes it started (the app, `script`, its tmux server), by pid.

    .venv/bin/python bench/idle.py [--seconds 60] [--minutes 30] [--root DIR]

The app is `tokentape --demo` from --root (default this checkout), run as `python -c ...monitor.cli` with
this venv; the script checks that its packages load from there.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import TypedDict

from common import (
    PY,
    ROOT,
    Homes,
    TmuxServer,
    app_argv,
    check_imports,
    end_pid,
    home_env,
    line,
    proc_alive,
    proc_cpu_seconds,
    proc_rss_mb,
    proc_start_ticks,
    shell_command,
)


class Figures(TypedDict):
    cpu_pct: float
    bytes_per_min: float
    rss_start: float
    rss_end: float
    rss_max: float


def wait_for_pid(pidfile: Path, timeout: float = 15.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = pidfile.read_text().strip() if pidfile.exists() else ""
        if text.isdigit():
            return int(text)
        time.sleep(0.05)
    raise RuntimeError(f"the app did not start within {timeout:.0f} s (no pid in {pidfile})")


def measure(
    server: TmuxServer,
    homes: Homes,
    argv: list[str],
    cwd: Path,
    seconds: float,
    warmup: float = 10.0,
    samples_every: float | None = None,
) -> Figures:
    home = homes.new()
    typescript, pidfile = home / "typescript", home / "app.pid"
    # script runs `$SHELL -c`: the shell writes its pid, then becomes the app (exec), so that pid is the app's.
    inner = f"echo $$ > {shlex.quote(str(pidfile))}; exec {shlex.join(argv)}"
    session = server.new_session(
        shell_command(["script", "-q", "-f", "-c", inner, str(typescript)], home_env(home), cwd=cwd), (160, 48)
    )
    pid, start = None, None
    try:
        pid = wait_for_pid(pidfile)
        start = proc_start_ticks(pid)
        time.sleep(warmup)
        if not proc_alive(pid, start):
            raise RuntimeError(f"the app exited during the warm-up; screen:\n{server.capture(session)}")
        cpu0, bytes0, rss0, t0 = proc_cpu_seconds(pid), typescript.stat().st_size, proc_rss_mb(pid), time.monotonic()
        rss_samples = [rss0]
        step = samples_every or seconds
        while (elapsed := time.monotonic() - t0) < seconds:
            time.sleep(max(0.01, min(step, seconds - elapsed)))
            rss_samples.append(proc_rss_mb(pid))
        elapsed = time.monotonic() - t0
        cpu1, bytes1, rss1 = proc_cpu_seconds(pid), typescript.stat().st_size, proc_rss_mb(pid)
        return {
            "cpu_pct": 100 * (cpu1 - cpu0) / elapsed,
            "bytes_per_min": (bytes1 - bytes0) * 60 / elapsed,
            "rss_start": rss0,
            "rss_end": rss1,
            "rss_max": max(rss_samples),
        }
    finally:
        server.end_session(session)  # q to the app, then the session and `script` (its pane), by pid
        if pid is not None:
            end_pid(pid, start)  # the app itself, had it outlived its terminal


def main(seconds: float, minutes: float | None, root: Path) -> int:
    homes = Homes(prefix="tokentape-idle-")
    server = TmuxServer()
    bare = [PY, str(ROOT / "bench" / "bare_app.py"), "--clock"]
    try:
        print(
            f"app: cd {root} && python -c '…monitor.cli.main()' --demo  (monitor: "
            f"{check_imports(root, home_env(homes.new()))})",
            flush=True,
        )
        floor = measure(server, homes, bare, root, seconds)
        ours = measure(server, homes, app_argv(), root, seconds)
        long = measure(server, homes, app_argv(), root, minutes * 60, samples_every=60) if minutes else None
    except RuntimeError as exc:
        print(f"idle.py: {exc}", file=sys.stderr)
        return 2
    finally:
        server.close()
        homes.close()
    print(line("floor: bare app, 1 s clock: bytes/min", f"{floor['bytes_per_min'] / 1000:.1f} KB", "-", None))
    print(line("floor: CPU", f"{floor['cpu_pct']:.2f} % of a core", "-", None))
    print(line("tokentape --demo idle CPU", f"{ours['cpu_pct']:.2f} % of a core", "<= 1 %", ours["cpu_pct"] <= 1))
    ratio = ours["bytes_per_min"] / max(floor["bytes_per_min"], 1)
    print(
        line(
            "tokentape --demo bytes to terminal / min",
            f"{ours['bytes_per_min'] / 1000:.1f} KB ({ratio:.2f}x)",
            "<= 1.5x floor",
            ratio <= 1.5,
        )
    )
    print(line("tokentape --demo RSS", f"{ours['rss_end']:.1f} MB", "<= 150 MB", ours["rss_end"] <= 150))
    if long is not None and minutes:
        growth = long["rss_end"] - long["rss_start"]
        print(
            line(
                f"RSS growth over {minutes:g} min",
                f"{long['rss_start']:.1f} -> {long['rss_end']:.1f} MB ({growth:+.1f})",
                "<= 5 MB",
                growth <= 5,
            )
        )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--minutes", type=float, default=None)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose tokentape is measured")
    args = parser.parse_args()
    sys.exit(main(args.seconds, args.minutes, args.root.resolve()))
