"""Header (HKT clock, market states, data age) and status line (each job's last poll, next poll, error)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from monitor.text import safe_text, truncate
from widgets import style
from widgets.style import DIM
from widgets.views import JobStatus, StatusView

STATE_STYLE = {
    "open": "bold green",
    "pre-open": "yellow",
    "lunch": "yellow",
    "auction": "bold yellow",
    "closed": "dim",
    "holiday": "magenta",
}


MODE_BADGES = {"demo": " DEMO ", "read-only": " READ-ONLY ", "live": " LIVE "}


def render_header(view: HeaderView, width: int = 200) -> Text:
    """One line that is never cut: the mode, the clock and the market states come first; the name of
    the app, the currency and the data age are left out, in that order, when the terminal is narrow."""
    badge = MODE_BADGES.get(view.mode, "")
    markets = [(f" {market} ", "bold") for market, _ in view.markets]
    states = [(state, STATE_STYLE.get(state, "")) for _, state in view.markets]
    parts: list[tuple[int, list[tuple[str, str]]]] = [
        (3, [(" tokentape ", "bold reverse")]),
        (0, [(badge, style.DEMO if view.mode == "demo" else "bold reverse")] if badge else []),
        (0, [(f" {view.clock} ", "bold" if view.mode == "demo" else "")]),
        (1, [segment for pair in zip(markets, states, strict=True) for segment in pair]),
        (4, [(f"  {view.data}", DIM)]),
        (2, [(f"  {view.currency}", "bold")]),
    ]
    dropped: set[int] = set()
    for level in (3, 4, 2, 1):
        if sum(cell_len(t) for i, (_, segs) in enumerate(parts) if i not in dropped for t, _ in segs) <= width:
            break
        dropped |= {i for i, (p, _) in enumerate(parts) if p == level}
    text = Text(no_wrap=True, overflow="ellipsis")
    for i, (_, segments) in enumerate(parts):
        if i not in dropped:
            for segment, look in segments:
                text.append(segment, style=look)
    return text


@dataclass(frozen=True)
class HeaderView:
    clock: str
    markets: tuple[tuple[str, str], ...]  # (market, state)
    data: str
    currency: str
    demo: bool
    mode: str = "live"


class MarketHeader(Static):
    DEFAULT_CSS = "MarketHeader { height: 1; background: $panel; }"

    view: reactive[HeaderView | None] = reactive(None, layout=False, init=False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)

    def watch_view(self, view: HeaderView | None) -> None:
        self._paint()

    def on_resize(self) -> None:
        self._paint()

    def _paint(self) -> None:
        if self.view is not None:
            # One line of fixed height: the clock tick never changes the layout, so skip the relayout.
            self.update(render_header(self.view, self.size.width or 200), layout=False)


# The status line fits its width by leaving parts out, least important first, never by cutting one: a date, an age
# or a count is shown whole or not at all. The jobs' line leaves out, in turn: the next poll of each job that is fine;
# then jobs that are fine, one by one (any job not in JOB_PRIORITY, then JOB_PRIORITY from its end), counted in a
# last part `+N ok`; a failed job (with its next try) goes last. The note leaves out its ' · ' clauses: remarks without
# a figure first, then those with one (a date, a time), each from the last; its first clause (the mode, or the
# headline) stays, cut at a space if it alone is too long.
JOB_PRIORITY = ("quotes", "openrouter_export", "daily_bars", "fx")  # what the dashboard's first panels show
GAP = "  "


def clip(text: str, width: int) -> str:
    """`text` in `width` cells: whole, or cut at a space (not inside a word or a number) and ending in an ellipsis."""
    if cell_len(text) <= width:
        return text
    head = truncate(text, width)[:-1]
    if " " in head.strip() and not text[len(head)].isspace():
        head = head[: head.rstrip().rfind(" ")]
    return head.rstrip(" ·:") + "…"


def fit_note(note: str, width: int) -> str:
    """The note's ' · ' clauses that fit `width` (see above), in their order."""
    clauses = note.split(" · ")
    later = sorted(range(1, len(clauses)), key=lambda i: (any(c.isdigit() for c in clauses[i]), -i), reverse=True)
    keep = [0]
    for i in later:
        if cell_len(" · ".join(clauses[j] for j in sorted([*keep, i]))) > width:
            break
        keep.append(i)
    return clip(" · ".join(clauses[j] for j in sorted(keep)), width)


def _job_part(job: JobStatus, with_next: bool) -> tuple[str, str]:
    mark, look = ("✓", "green") if job.ok else ("✗", style.DOWN) if job.ok is False else ("·", DIM)
    return f"{mark} {job.job} {job.last}" + (f" next {job.next}" if job.next and with_next else ""), look


def fit_jobs(jobs: Sequence[JobStatus], width: int) -> list[tuple[str, str]]:
    """Each job's (text, style) that fits `width` (see above), in their order, and what was left out, counted."""

    def rank(job: JobStatus) -> tuple[bool, int]:
        return job.ok is not False, JOB_PRIORITY.index(job.job) if job.job in JOB_PRIORITY else len(JOB_PRIORITY)

    def fits(parts: list[tuple[str, str]]) -> bool:
        return cell_len(GAP.join(text for text, _ in parts)) <= width

    full = [_job_part(job, True) for job in jobs]
    if fits(full):
        return full
    shown = [_job_part(job, job.ok is False) for job in jobs]
    hidden: list[int] = []
    for i in sorted(range(len(jobs)), key=lambda i: rank(jobs[i]), reverse=True):  # least important first
        if fits(parts := _with_count(shown, jobs, hidden)):
            return parts
        hidden.append(i)
    return _with_count(shown, jobs, hidden)


def _with_count(shown: list[tuple[str, str]], jobs: Sequence[JobStatus], hidden: list[int]) -> list[tuple[str, str]]:
    parts = [part for i, part in enumerate(shown) if i not in hidden]
    if hidden:
        failed = any(jobs[i].ok is False for i in hidden)
        fine = all(jobs[i].ok for i in hidden)
        parts.append((f"+{len(hidden)} " + ("ok" if fine else "more"), style.DOWN if failed else DIM))
    return parts


def render_status(view: StatusView, width: int) -> Text:
    """The note, the jobs' last (and next) polls and the first failed job's error: a line each, each fitted to
    `width` (see above)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if view.note:
        text.append(fit_note(safe_text(view.note), width), style="bold yellow")
        if view.jobs:
            text.append("\n")
    for i, (part, look) in enumerate(fit_jobs(view.jobs, width)):
        text.append((GAP if i else "") + part, style=look)
    errors = [j for j in view.jobs if j.error]
    if errors:
        text.append("\n")
        text.append(clip(f"{errors[0].job}: {safe_text(errors[0].error)}", width), style=style.DOWN)
    return text


class StatusLine(Static):
    """Up to three lines, each fitted to the width (render_status); never wrapped."""

    DEFAULT_CSS = (
        "StatusLine { height: auto; max-height: 3; background: $panel; text-wrap: nowrap; text-overflow: ellipsis; }"
    )

    view: reactive[StatusView | None] = reactive(None, init=False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self._lines = -1  # lines shown: the line's height follows them, so only a new count needs a layout

    def watch_view(self, view: StatusView | None) -> None:
        self._paint()

    def on_resize(self) -> None:
        self._paint()  # the parts that fit depend on the width

    def _paint(self) -> None:
        if self.view is not None:
            text = render_status(self.view, self.size.width or 80)
            lines = text.plain.count("\n") + 1
            self.update(text, layout=lines != self._lines)  # a layout here reflows the whole screen
            self._lines = lines
