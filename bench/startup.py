"""Start to first full screen: `tokentape --demo` in tmux until both core company cards and the
leaderboard are painted, against the bare Textual app with the same widgets (the floor).
Target: <= 1.5x the floor. Runs alternate between the two to share the machine's noise.

    .venv/bin/python bench/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse

from common import PY, ROOT, line, median, time_to_screen

TOKENTAPE = str(ROOT / ".venv" / "bin" / "tokentape")


def main(runs: int) -> None:
    floor, ours = [], []
    for _ in range(runs):
        floor.append(time_to_screen(f"{PY} {ROOT / 'bench' / 'bare_app.py'}", ["MiniMax", "Zhipu", "deepseek-v4.1"]))
        ours.append(time_to_screen(f"{TOKENTAPE} --demo", ["MiniMax 0100.HK", "Zhipu 2513.HK", "HKD 297.40",
                                                            "deepseek-v4.1-flash", "median core"]))
    ratio = median(ours) / median(floor)
    print(line("floor: bare Textual app, same widgets", f"median {median(floor):.3f} s", "-", None))
    print(line("tokentape --demo to full screen", f"median {median(ours):.3f} s", "-", None))
    print(line("ratio", f"{ratio:.2f}x (runs {runs})", "<= 1.5x", ratio <= 1.5))
    print(f"  all runs floor {[round(x, 3) for x in floor]} ours {[round(x, 3) for x in ours]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    main(parser.parse_args().runs)
