"""Start to first full screen: `tokentape --demo` in tmux until both core company cards and the
leaderboard are painted, against the bare Textual app with the same widgets (the floor).
Target: <= 1.5x the floor. Runs alternate between the two to share the machine's noise.

    .venv/bin/python bench/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse

from common import PY, ROOT, line, median, time_to_screen

TOKENTAPE = str(ROOT / ".venv" / "bin" / "tokentape")


def clear_screen_cache() -> None:
    import platformdirs

    for path in platformdirs.user_cache_path("tokentape").glob("screen-*.pickle"):
        path.unlink()


def main(runs: int) -> None:
    floor, warm, cold = [], [], []
    markers = ["MiniMax 0100.HK", "Zhipu 2513.HK", "HKD 297.40", "deepseek-v4.1-flash", "median core"]
    for _ in range(runs):
        floor.append(time_to_screen(f"{PY} {ROOT / 'bench' / 'bare_app.py'}", ["MiniMax", "Zhipu", "deepseek-v4.1"]))
        clear_screen_cache()  # first start on this database: no last screen to show
        cold.append(time_to_screen(f"{TOKENTAPE} --demo", markers))
        warm.append(time_to_screen(f"{TOKENTAPE} --demo", markers))  # opens on the screen the run above kept
    print(line("floor: bare Textual app, same widgets", f"median {median(floor):.3f} s", "-", None))
    for label, times in (("tokentape --demo, last screen cached", warm), ("tokentape --demo, first start", cold)):
        ratio = median(times) / median(floor)
        print(line(label, f"median {median(times):.3f} s = {ratio:.2f}x", "<= 1.5x", ratio <= 1.5))
    print(f"  runs {runs}: floor {[round(x, 3) for x in floor]}")
    print(f"  cached {[round(x, 3) for x in warm]}  first {[round(x, 3) for x in cold]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    main(parser.parse_args().runs)
