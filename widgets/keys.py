"""Every key binding of the app, by id: the footer, the `?` screen, the command palette and the user's
`[keys]` table (config) all name bindings by these ids."""

from __future__ import annotations

from collections.abc import Mapping

from textual.binding import Binding, BindingType

APP_BINDINGS: list[BindingType] = [
    Binding("r", "refresh", "Refresh", id="refresh", tooltip="Poll every upstream now"),
    Binding("e", "export", "Export", id="export", tooltip="Write the screen (SVG), CSV and JSON to a folder"),
    Binding("c", "currency", "Currency", id="currency", tooltip="Switch the display currency"),
    Binding("m", "view", "Model/Maker", id="view", tooltip="Leaderboard by model or by maker"),
    Binding("s", "sort", "Sort", id="sort", tooltip="Sort the leaderboard by rank, share, Δ1d or Δ7d"),
    Binding("tab", "next_panel", "Next panel", id="next_panel", tooltip="Move to the next panel"),
    Binding("slash", "filter", "Filter", id="filter", tooltip="Filter the leaderboard by model or maker"),
    Binding("w", "share_range", "Share range", id="share_range", tooltip="Maker share chart: 52W, 7D, 30D or 90D"),
    Binding("v", "valuation", "Valuation", id="valuation", tooltip="P/S, P/ARR and token share per company"),
    Binding("a", "alerts", "Alerts", id="alerts", tooltip="Today's alerts, newest first (rules: [[alert]] in config)"),
    Binding("enter", "open", "Open", id="open", show=False, tooltip="Open the focused company card on its own screen"),
    Binding("question_mark", "help", "Help", id="help", tooltip="Keys, config and log file"),
    Binding("q", "quit", "Quit", id="quit", tooltip="Quit tokentape"),
]


def bound_keys(keymap: Mapping[str, str]) -> list[tuple[Binding, str]]:
    """Each binding with the key it is bound to now: the user's remapping, else the default."""
    return [(b, keymap.get(b.id, b.key)) for b in APP_BINDINGS if isinstance(b, Binding) and b.id]


# The drill-down screens' shared keys (widgets/company.py, widgets/model.py): back, focus, and range steps.
DRILL_BINDINGS: list[BindingType] = [
    Binding("escape", "back", "Back", id="back", tooltip="Back to the previous screen, as it was"),
    Binding("tab", "app.focus_next", "Next", show=False),
    Binding("shift+tab", "app.focus_previous", "Previous", show=False),
    Binding("left_square_bracket", "shift_range(-1)", "Range −", id="range_prev", tooltip="The shorter range"),
    Binding("right_square_bracket", "shift_range(1)", "Range +", id="range_next", tooltip="The longer range"),
]
