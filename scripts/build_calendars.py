"""Build monitor/calendars.json: the exchange calendars (holidays and half days) of XHKG and XNYS for the
years a fresh install is likely to open first, as the installed `holidays` package works them out.

A start on a fresh home has no calendar in its cache dir, and importing the package costs ~0.13 s of the
first screen's budget; with this file it reads a few kilobytes instead. monitor/markets.py uses it only
while the installed package is the version recorded here, so a new `holidays` release is never second-
guessed: rerun this after upgrading the package.

Run from the repository root: .venv/bin/python scripts/build_calendars.py
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.markets import CALENDARS_FILE, SEEDED_YEARS, compute_calendar  # noqa: E402


def main() -> int:
    seeded: dict[str, dict[str, list[list[str]]]] = {}
    for calendar in ("XHKG", "XNYS"):
        seeded[calendar] = {}
        for year in SEEDED_YEARS:
            full, half = compute_calendar(calendar, year)
            seeded[calendar][str(year)] = [sorted(map(str, full)), sorted(map(str, half))]
    # One exchange-year a line, so a rebuild's diff shows exactly which days moved.
    blocks = []
    for calendar, by_year in seeded.items():
        lines = ",\n".join(f'    "{year}": {json.dumps(days)}' for year, days in by_year.items())
        blocks.append(f'  "{calendar}": {{\n{lines}\n  }}')
    years = ",\n".join(blocks)
    text = f'{{"holidays": {json.dumps(version("holidays"))}, "calendars": {{\n{years}\n}}}}\n'
    json.loads(text)  # the file must stay plain JSON
    CALENDARS_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {CALENDARS_FILE.relative_to(ROOT)} (holidays {version('holidays')}, {len(SEEDED_YEARS)} years)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
