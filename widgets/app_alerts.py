"""The app's side of alerts: read the day's events after every reload, toast and ring for new ones, show
the alerts panel, and put a failed delivery on the status line. Alerts are fired and sent by the
collector (monitor/alerts.py), never here, so a read-only dashboard shows them without sending them.

A mixin of TokentapeApp (handlers by naming convention, so Textual finds them through the MRO).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from textual import work

from widgets.alerts import AlertsRead, AlertsScreen

log = logging.getLogger("tokentape.app")


class AlertsMixin:
    def _init_alerts(self) -> None:
        # Events up to this id were on record before this run (None: not read yet); the day's events for
        # the alerts panel; a failed delivery for the status line.
        self._alert_seen: int | None = None
        self._alert_day = ""
        self._alert_events: list[Any] = []
        self._alert_note: str | None = None
        self._alerts_posted: tuple[str, list[Any], int] | None = None  # what the worker last told the UI loop

    def _newest_alert_id(self) -> int:
        from monitor.alerts import newest_event_id

        try:
            return newest_event_id(self.feed.store) if self.feed.store is not None else 0
        except Exception:
            log.exception("could not read alert_events")
            return 0

    def _alerts_worker(self) -> None:
        """Read the day's events (after every reload, and when the alerts panel opens) once the screen has been
        drawn: the read runs in a thread, and a thread running while the UI loop repaints holds the GIL the
        loop needs (~0.4 ms of a 200-company refresh)."""
        self.call_after_refresh(self._read_alerts)

    @work(thread=True, group="alerts", exclusive=True, exit_on_error=False)
    def _read_alerts(self) -> None:
        """Tell the UI loop only if the events are not what it was last told: a reload that brought no alert
        costs the loop nothing."""
        from monitor.alerts import day_events, newest_event_id

        if self.feed.store is not None:
            day, events = day_events(self.feed.store, self.clock())
            read = (day, events, newest_event_id(self.feed.store))
            if read != self._alerts_posted:
                self._alerts_posted = read
                self.post_message(AlertsRead(*read))

    def on_alerts_read(self, message: AlertsRead) -> None:
        if not self.is_running or not self.screen_stack:  # a worker's message arriving during shutdown
            return
        from monitor.alerts import delivery_problem
        from monitor.text import safe_text

        self._alert_day, self._alert_events = message.day, message.events
        seen = self._alert_seen
        if seen is not None and message.newest_id > seen:
            new = [event for event in message.events if event.id > seen]
            for event in reversed(new):  # oldest first: the newest toast ends up on top
                if "screen" in event.notify:
                    self.notify(safe_text(event.message), title="alert", severity="warning", timeout=8, markup=False)
            if any("bell" in event.notify for event in new):
                self.bell()
            self._alert_seen = message.newest_id
        note = delivery_problem(message.events)
        if note != self._alert_note:
            self._alert_note = note
            self._show_alert_note()
        if isinstance(self.screen, AlertsScreen):
            self.screen.show(message.day, message.events)

    def _show_alert_note(self) -> None:
        """A failed alert delivery joins the status line's note until a delivery succeeds."""
        screen = self.dashboard_screen
        views = screen.views
        if views is None:
            return
        status = views.status
        if self._alert_note:
            status = dataclasses.replace(status, note=" · ".join(n for n in (status.note, self._alert_note) if n))
        screen.show_status(status)  # held by reference: this runs on every refresh

    def action_alerts(self) -> None:
        if isinstance(self.screen, AlertsScreen):
            self.screen.dismiss()
            return
        self.push_screen(AlertsScreen(self._alert_day or "today", self._alert_events))
        self._alerts_worker()
