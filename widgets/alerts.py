"""The alerts panel: the day's alert events (monitor/alerts.py), newest first, opened with the alerts key.

It only reads `alert_events`: rules are evaluated and delivered by the collector, never by a panel.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from monitor.alerts import EventView
from monitor.markets import HKT
from monitor.text import safe_text, truncate

COLUMNS = ("HKT", "rule", "subject", "value", "rule is", "data", "sent to", "delivery")


class AlertsRead(Message):
    """The day's alert events, read in a worker; `newest_id` lets the app toast only the new ones."""

    def __init__(self, day: str, events: list[EventView], newest_id: int) -> None:
        super().__init__()
        self.day = day
        self.events = events
        self.newest_id = newest_id

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, AlertsRead)


def event_row(event: EventView) -> tuple[str | Text, ...]:
    if event.delivery_error and event.undelivered:
        delivery = Text(truncate(safe_text(event.delivery_error), 60), style="red")
    else:
        delivery = Text("ok" + (f" · {event.attempts} tries" if event.attempts > 1 else ""), style="green")
    return (
        datetime.fromtimestamp(event.fired_at, HKT).strftime("%H:%M:%S"),
        Text(truncate(safe_text(event.rule), 36), style="bold"),
        truncate(safe_text(event.subject), 40),
        event.value,
        event.threshold,
        truncate(safe_text(event.data_time), 20),
        ", ".join(safe_text(t) for t in event.delivered_to) or "—",
        delivery,
    )


class AlertsScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    AlertsScreen { align: center middle; }
    AlertsScreen > Vertical { width: 96%; height: auto; max-height: 90%; border: round $warning;
                              background: $surface; padding: 0 1; }
    AlertsScreen #alerts-title { height: 1; text-style: bold; }
    AlertsScreen #alerts-hint { height: 1; color: $text-muted; }
    AlertsScreen DataTable { height: auto; max-height: 30; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close", show=False)]

    def __init__(self, day: str, events: list[EventView]) -> None:
        super().__init__()
        self.day, self.events = day, events

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("", id="alerts-title")
            yield DataTable(id="alerts-table", cursor_type="row", zebra_stripes=True)
            yield Static("esc closes · rules: [[alert]] in the config, or `tokentape alerts`", id="alerts-hint")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.show(self.day, self.events)

    def show(self, day: str, events: list[EventView]) -> None:
        self.day, self.events = day, events
        count = f"{len(events)} alert{'s' if len(events) != 1 else ''}" if events else "no alerts"
        self.query_one("#alerts-title", Static).update(f"Alerts · {day} (HKT) · {count}, newest first")
        table = self.query_one(DataTable)
        table.clear()
        for event in events:
            table.add_row(*event_row(event), key=str(event.id))
