"""The `?` help screen: every key binding (with its id, for remapping in config), the log file, the config."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from monitor.text import safe_text


def render_help(bindings: list[tuple[str, str, str]], log_file: str, config_file: str, attribution: str) -> Text:
    text = Text()
    text.append("tokentape — keys\n\n", style="bold")
    for binding_id, key, description in bindings:
        text.append(f"  {key:<14}", style="bold cyan")
        text.append(f"{description:<28}")
        text.append(f"[keys] {binding_id}\n", style="dim")
    text.append("\nRemap any key in the [keys] table of your config, by id.\n", style="dim")
    text.append(f"\nconfig  {config_file}\nlog     {log_file}\n\n")
    text.append(safe_text(attribution), style="dim")  # upstream text: escapes shown, never sent to the terminal
    text.append("\n\nesc closes this screen", style="dim")
    return text


class HelpScreen(ModalScreen):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 84; max-width: 95%; height: auto; max-height: 90%;
                                  border: round $accent; background: $surface; padding: 1 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close", show=False)]

    def __init__(self, content: Text):
        super().__init__()
        self.content = content

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self.content, id="help-text")
