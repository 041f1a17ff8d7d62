"""Start to first full screen: `tokentape --demo` in tmux, against a bare Textual app with the same
widgets (bench/bare_app.py, the floor), measured side by side in one run. Targets: both cases <= 1.5x
the floor's median.

- first start: a fresh, empty home (HOME and every XDG dir): no config, no cached screen, no cached
  demo database, so the run builds the demo database and draws the first screen from it;
- warm start: the second run in that same home, which opens on the screen the first run cached; it is
  timed until the database has been read and shown too (the status line no longer says "cached").

A run ends when the full screen is on it: both core cards and their rows in the peer-moves table with a
price, row 1 of the leaderboard with a share, the share chart, the core median, the DEMO status line,
and nothing saying the screen is cached. The markers are patterns, not figures, so new demo data does not
break them; the floor draws the same shapes, so both pay the same to be recognised.

Each round runs the floor, the first start and the warm start once, in a rotating order (all 6 orders in
turn, so no case always follows another); one unmeasured round first warms the disk cache and the
bytecode. Reported: medians, spread (min–max), the ratio of medians.

    .venv/bin/python bench/startup.py [--runs 7] [--root DIR | --cmd 'COMMAND']

--root DIR times the tokentape in DIR (e.g. an exported older commit), run as `python -c ...monitor.cli`
from DIR with this venv; the script checks that `monitor`, `widgets` and `storage` load from DIR.
--cmd COMMAND times any simple command instead (run from --root, default this checkout).
Exit status: 0 both targets met, 1 a target not met, 2 the app never reached its full screen.
"""

from __future__ import annotations

import argparse
import itertools
import re
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

from common import (
    PY,
    ROOT,
    Homes,
    Marker,
    ScreenTimeout,
    TmuxServer,
    app_argv,
    check_imports,
    home_env,
    line,
    median,
    shell_command,
    spread,
    time_to_screen,
)

TARGET = 1.5
SIZE = (160, 48)
M = re.MULTILINE
PRESENT: list[Marker] = [
    "MiniMax 0100.HK",  # the two core cards' titles ...
    "Zhipu 2513.HK",
    re.compile(r"^[│┃] [A-Z]{3} [\d,]+\.\d\d .*[│┃][│┃] [A-Z]{3} [\d,]+\.\d\d ", M),  # ... both priced (┃: focused)
    re.compile(r"^ *MiniMax +0100\.HK +[\d,]+\.\d\d ", M),  # peer moves: both core rows priced
    re.compile(r"^ *Zhipu +2513\.HK +[\d,]+\.\d\d ", M),
    re.compile(r"^ *median core .*[+-]\d+\.\d%", M),  # ... down to the group medians
    re.compile(r"^ +1 +\S.*\d\.\d\d%", M),  # leaderboard: row 1 with a share
    re.compile(r"\d\.\d\d% +[+-]\d+\.\d\dpp *$", M),  # share chart: a maker's share and Δ7d, at the right edge
    "DEMO · real data as of",  # the status line of the demo, once its database has been read
]
ABSENT: list[Marker] = ["cached screen", "reading the database"]
KINDS = ("floor", "first", "warm")
LABELS = {
    "floor": "floor: bare Textual app, same widgets",
    "first": "first start, fresh home",
    "warm": "warm start, cached screen -> database",
}


def screen_cached(home: Path) -> bool:
    """Whether the app has written its last screen (any format; not a partial .tmp) in this home."""
    folder = home / ".cache" / "tokentape"
    return any(not p.name.endswith(".tmp") for p in folder.glob("screen-*")) if folder.is_dir() else False


def wait_for_screen_cache(home: Path, timeout: float = 10.0) -> Callable[[], None]:
    def wait() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not screen_cached(home):
            time.sleep(0.02)
        if not screen_cached(home):
            raise RuntimeError(
                f"the first start wrote no screen-* cache in {home / '.cache' / 'tokentape'} "
                f"within {timeout:.0f} s: a warm start from it would not be warm"
            )

    return wait


def main(runs: int, root: Path, cmd: str | None, timeout: float) -> int:
    homes = Homes()
    server = TmuxServer()
    times: dict[str, list[float]] = {k: [] for k in KINDS}
    cached_seen = 0
    ready: list[Path] = []  # homes after a first start: each is used by exactly one warm start

    def command(kind: str, home: Path) -> str:
        env = home_env(home)
        if kind == "floor":
            return shell_command([PY, str(ROOT / "bench" / "bare_app.py")], env, cwd=root)
        if cmd:
            return shell_command(shlex.split(cmd), env, cwd=root)
        return shell_command(app_argv(), env, cwd=root)

    def run(kind: str) -> float:
        nonlocal cached_seen
        if kind == "warm":
            if not ready:
                run("first")  # unmeasured: a home for this warm start
                times["first"].pop()
            home = ready.pop(0)
            assert screen_cached(home)
            result = time_to_screen(server, command("warm", home), PRESENT, ABSENT, SIZE, timeout)
            cached_seen += result.saw_absent
        else:
            home = homes.new()
            after = wait_for_screen_cache(home) if kind == "first" else None
            result = time_to_screen(server, command(kind, home), PRESENT, ABSENT, SIZE, timeout, before_end=after)
            if kind == "first":
                ready.append(home)
        times[kind].append(result.seconds)
        return result.seconds

    orders = list(itertools.permutations(KINDS))
    try:
        if cmd is None:
            origin = check_imports(root, home_env(homes.new()))
            what = f"cd {root} && python -c '…monitor.cli.main()' --demo  (monitor: {origin})"
        else:
            what = f"cd {root} && {cmd}"
        print(
            f"app: {what}\nfloor: {ROOT / 'bench' / 'bare_app.py'}; {SIZE[0]}x{SIZE[1]} tmux; {runs} rounds "
            f"+ 1 warm-up round",
            flush=True,
        )
        for kind in KINDS:  # warm-up: disk cache, .pyc files; not counted
            run(kind)
            times[kind].pop()
        cached_seen = 0
        for i in range(runs):
            order = orders[i % len(orders)]
            got = {kind: run(kind) for kind in order}
            print(
                f"  round {i + 1}/{runs} {'→'.join(order):<18} " + "  ".join(f"{k} {got[k]:.3f}" for k in KINDS),
                flush=True,
            )
    except (ScreenTimeout, RuntimeError) as exc:
        print(f"startup.py: {exc}", file=sys.stderr)
        return 2
    finally:
        server.close()
        homes.close()

    floor = median(times["floor"])
    print(line(LABELS["floor"], f"median {floor:.3f} s ({spread(times['floor'])})", "-", None))
    ok = True
    for kind in ("first", "warm"):
        ratio = median(times[kind]) / floor
        ok = ok and ratio <= TARGET
        print(
            line(
                LABELS[kind],
                f"median {median(times[kind]):.3f} s = {ratio:.3f}x ({spread(times[kind])})",
                f"<= {TARGET}x",
                ratio <= TARGET,
            )
        )
    print(
        f"  {runs} runs each, interleaved; the cached screen was seen on {cached_seen}/{runs} warm starts "
        f"before the database replaced it"
    )
    for kind in KINDS:
        print(f"  {kind:<6} {[round(t, 3) for t in times[kind]]}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="rounds; each runs every case once (at least 5)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose tokentape is timed")
    parser.add_argument("--cmd", default=None, help="time this simple command instead, run from --root")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds one run may take")
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5 (medians of fewer runs are noise)")
    sys.exit(main(args.runs, args.root.resolve(), args.cmd, args.timeout))
