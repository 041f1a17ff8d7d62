"""The status line at any width: one line each for the note, the jobs and the first error, never wrapped; as
the terminal narrows the least important parts go first, and nothing shown is cut inside a word or a figure."""

from __future__ import annotations

import re

import pytest
from rich.cells import cell_len

from monitor.demo import open_demo_store
from tests.conftest import settle
from tests.test_app import config_with, demo_app
from widgets.status import StatusLine, render_status
from widgets.views import JobStatus, StatusView

JOBS = (
    JobStatus("daily_bars", True, "10h", "14h", None),
    JobStatus("fx", True, "12m", "48m", None),
    JobStatus("openrouter_day_view", True, "12m", "2h", None),
    JobStatus("openrouter_export", True, "12m", "2h", None),
    JobStatus("openrouter_models", True, "12m", "23h", None),
    JobStatus("openrouter_weekly", False, "12m", "5h", "openrouter: HTTP 503 Service Unavailable (weekly 2026-10-07)"),
    JobStatus("quotes", True, "40s", "<1m", None),
)
GAP = "  "  # between two jobs
DEMO_NOTE = "DEMO · real data as of 2026-10-08 01:46 UTC · offline · * interpolated price days"


@pytest.mark.parametrize("no_color", [False, True], ids=["color", "NO_COLOR"])
async def test_the_demo_status_line_is_one_line_at_80_columns_and_whole_at_160(tmp_path, monkeypatch, no_color):
    from widgets import style

    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")  # read (and removed) by the app as it is made
    config = config_with(tmp_path)
    store = open_demo_store(config)
    try:
        app = demo_app(config, store)
        async with app.run_test(size=(80, 24)) as pilot:
            status = app.query_one(StatusLine)
            await settle(pilot, lambda: "DEMO · real data" in status.render().plain)
            line = status.render().plain
            assert status.size.height == 1 and "\n" not in line and cell_len(line) <= 80, line
            # the date and time whole, and the remark left out whole (not "… price" with "days" below it)
            assert re.fullmatch(r"DEMO · real data as of \d{4}-\d\d-\d\d \d\d:\d\d UTC( · offline)?", line), line
            await pilot.resize_terminal(160, 48)
            await settle(pilot, lambda: status.render().plain.endswith("· * interpolated price days"))
            assert status.size.height == 1
    finally:
        store.close()
        style.set_monochrome(False)


def parts(line: str) -> list[str]:
    return line.split(GAP)


def test_the_jobs_line_leaves_out_whole_parts_least_important_first_and_keeps_the_failure():
    view = StatusView(JOBS, DEMO_NOTE)
    full_note, full_jobs, error = render_status(view, 1000).plain.split("\n")
    assert parts(full_jobs)[5] == "✗ openrouter_weekly 12m next 5h"
    wider: set[str] | None = None
    at: dict[int, set[str]] = {}
    for width in (160, 120, 100, 80, 60, 40):
        note, jobs, err = render_status(view, width).plain.split("\n")
        assert max(cell_len(note), cell_len(jobs), cell_len(err)) <= width, width
        assert "✗ openrouter_weekly 12m next 5h" in parts(jobs)  # the failure and its next try, at every width
        shown = [p for p in parts(jobs) if not p.startswith("+")]
        count = [int(p.split()[0]) for p in parts(jobs) if p.startswith("+")]
        assert len(shown) + sum(count) == len(JOBS)  # every job shown or counted
        for part in shown:  # whole: as in the full line, or the same without its next poll
            assert any(f == part or f.startswith(part + " next ") for f in parts(full_jobs)), part
        if wider is not None:
            assert {p.split(" next ")[0] for p in shown} <= wider  # narrower: only ever fewer jobs
        wider = at[width] = {p.split(" next ")[0] for p in shown}
        clauses = note.split(" · ")
        assert clauses[0] == "DEMO" and all(c in full_note.split(" · ") for c in clauses)  # whole clauses
        assert err == error or (err.endswith("…") and re.match(re.escape(err[:-1]) + "[ :·]", error))  # at a space
    assert at[160] == {p.split(" next ")[0] for p in parts(full_jobs)}
    assert at[80] == {"✓ openrouter_export 12m", "✗ openrouter_weekly 12m", "✓ quotes 40s"}
    assert at[60] == {"✗ openrouter_weekly 12m", "✓ quotes 40s"}  # the failure, then the quotes
    assert render_status(view, 160).plain.split("\n")[0] == DEMO_NOTE
    assert render_status(view, 80).plain.split("\n")[0] == "DEMO · real data as of 2026-10-08 01:46 UTC · offline"
