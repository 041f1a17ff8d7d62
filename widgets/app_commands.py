"""The app's help screen, export and command palette: what a trader asks of the screen itself, whichever
screen is showing. A mixin of TokentapeApp."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import SystemCommand
from textual.screen import Screen

from widgets.help import HelpScreen, render_help
from widgets.keys import bound_keys

if TYPE_CHECKING:
    from monitor.dashboard import Dashboard


class CommandsMixin:
    def action_help(self) -> None:
        # Keys as the footer shows them: "/" and "?", not "slash" and "question_mark".
        rows = [
            (str(b.id), self.get_key_display(dataclasses.replace(b, key=key)), b.description)
            for b, key in bound_keys(self.config.keys)
        ]
        attribution = self.dashboard.attribution if self.dashboard else ""
        self.push_screen(HelpScreen(render_help(rows, str(self.log_file or "—"), str(self.config.path), attribution)))

    def action_export(self) -> None:
        from widgets.valuation import ValuationScreen

        if isinstance(self.screen, ValuationScreen):  # the valuation view exports itself
            self.screen.export_view(self.export_screenshot(title="tokentape valuation"))
            return
        if self.dashboard is None:
            self.notify("nothing to export yet", severity="warning")
            return
        self._export_worker(self.dashboard, self.export_screenshot(title="tokentape"))

    @work(thread=True, group="export", exit_on_error=False)
    def _export_worker(self, dashboard: Dashboard, svg: str) -> None:
        from monitor import export

        export_dir = self.config.ui.export_dir
        root = Path(export_dir).expanduser() if export_dir else Path.home() / "tokentape-exports"
        try:
            folder = export.export_folder(dashboard, root, svg)
        except export.ExportError as exc:
            self._from_worker(self.notify, str(exc), severity="error", timeout=10, markup=False)
            return
        self.last_export = folder
        self._from_worker(self.notify, f"exported to {folder}", timeout=8, markup=False)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding, key in bound_keys(self.config.keys):
            if binding.id != "quit":
                yield SystemCommand(
                    f"{binding.description} ({key})",
                    binding.tooltip,
                    lambda action=binding.action: self.run_action(action),
                )
