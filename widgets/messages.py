"""Typed messages from the engine side (workers, job listeners) to the app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from monitor.dashboard import Dashboard
    from monitor.jobs import PollResult
    from widgets.views import ScreenViews


class PollFinished(Message):
    """A job finished; `result.changed` names the tables whose rows changed."""

    def __init__(self, result: PollResult) -> None:
        super().__init__()
        self.result = result


class DashboardReady(Message):
    """Fresh numbers for every panel. Only the newest one matters, so a queued one is replaced."""

    def __init__(self, dashboard: Dashboard, views: ScreenViews) -> None:
        super().__init__()
        self.dashboard = dashboard
        self.views = views

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DashboardReady)


class FirstScreenReady(Message):
    """The first screen computed from the database by a second process (see widgets/first_screen.py)."""

    def __init__(self, views: ScreenViews) -> None:
        super().__init__()
        self.views = views
