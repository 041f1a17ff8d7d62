"""The floor for the start-up and idle benchmarks: a bare Textual app with the same widgets, layout,
stylesheet and key bindings as the dashboard (header, 12 company cards, leaderboard with its title and
hidden filter, share chart, peer-moves table, status line, footer), filled with fixed text shaped like
the dashboard's, so the start-up benchmark's screen markers match it exactly as they match tokentape.
It imports nothing but Textual (no polars, httpx, apscheduler, sqlite, no tokentape code).

    .venv/bin/python bench/bare_app.py [--clock]    (--clock: a 1 s header clock, as the dashboard has)
"""

from __future__ import annotations

import sys
import time
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, HorizontalScroll, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Input, Static

COMPANIES = (  # (name, symbol, group): the companies the demo lists (the others have no recorded prices)
    ("MiniMax", "0100.HK", "core"),
    ("Zhipu", "2513.HK", "core"),
    ("Tencent", "0700.HK", "peer"),
)
CARD = (
    "HKD 297.40  -4.94 -1.63%\nmcap HKD 92.2B · USD 11.8B\nvs IPO 165.00 +80.24%\n"
    "███▇▇▇▇▆▆▆▅▅▅▄▄▄▄▃▃▃▃▂▂▂▂▁▁▁▁▁  30d*\ntokens 0.77% #13 Δ7d -0.00pp"
)
BOARD_COLUMNS = (
    ("#", 3),
    ("±", 3),
    ("model", 24),
    ("maker", 10),
    ("tokens", 7),
    ("share", 6),
    ("Δ1d", 8),
    ("Δ7d", 8),
    ("trend", 8),
)
MOVES_COLUMNS = (
    ("name", 15),
    ("symbol", 8),
    ("price", 10),
    ("1d", 8),
    ("5d", 8),
    ("1m", 8),
    ("YTD", 9),
    ("IPO", 9),
    ("mcap USD", 9),
    ("tokens", 7),
)
CHART = "\n".join(
    ["             weekly 2026-05-11 … 2026-09-21 (20 wk)"]
    + [
        f"{maker:<13}▂▄▃▄▁▃▁▃▂▁▃▄██▅▂▂▃▇▆ ▁▁█  {share:>7} {d7:>8}"
        for maker, share, d7 in (
            ("DeepSeek", "35.84%", "+14.50pp"),
            ("Zhipu", "10.26%", "+1.99pp"),
            ("OpenAI", "9.39%", "-1.45pp"),
            ("Xiaomi", "7.80%", "+0.28pp"),
            ("other", "7.05%", "+0.90pp"),
            ("Tencent", "6.61%", "+0.68pp"),
            ("Anthropic", "5.89%", "+2.01pp"),
            ("NVIDIA", "4.71%", "+1.41pp"),
        )
    ]
    + ["weekly: top 9 models + Others · then daily · share, Δ7d"]
)
STATUS = "DEMO · real data as of 2026-10-08 01:46 UTC · offline · * interpolated price days"
HEADER = " tokentape  DEMO  {clock}  HK open US closed  tokens 2026-10-07 · 2h  USD"

# The dashboard's stylesheet (widgets/app.tcss) and its widgets' own DEFAULT_CSS, inlined.
CSS = """
Screen { layout: vertical; }
#header { height: 1; background: $panel; }
#body { height: 1fr; scrollbar-size-vertical: 1; }
#cards { height: 7; scrollbar-size-horizontal: 0; }
.card { width: 40; height: 7; border: round $secondary; padding: 0 1; }
.card.-core { border: round $accent; }
.card.-stale { border: round $error; }
#middle { height: 19; }
#board-pane { width: 1fr; height: 100%; }
#board { height: 1fr; }
#chart-pane { width: 60; height: 100%; padding-left: 1; }
#chart { height: auto; }
#moves-pane { height: auto; }
#moves { height: auto; max-height: 18; }
.pane-title { height: 1; color: $text-muted; text-style: bold; }
#filter { height: 3; }
#status { height: auto; max-height: 3; background: $panel; }
"""


class Bare(App[None]):
    CSS = CSS
    TITLE = "tokentape"
    # The dashboard's keys, so the footer draws the same thing; only q does anything.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="refresh"),
        Binding("e", "export", "Export", id="export"),
        Binding("c", "currency", "Currency", id="currency"),
        Binding("m", "view", "Model/Maker", id="view"),
        Binding("s", "sort", "Sort", id="sort"),
        Binding("tab", "next_panel", "Next panel", id="next_panel"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(self, clock: bool) -> None:
        super().__init__()
        self.clock = clock
        self.animation_level = "none"

    def compose(self) -> ComposeResult:
        yield Static(HEADER.format(clock=time.strftime("%a %m-%d %H:%M:%S HKT")), id="header")
        with VerticalScroll(id="body"):
            with HorizontalScroll(id="cards"):
                for name, symbol, group in COMPANIES:
                    card = Static(CARD, classes="card -core" if group == "core" else "card")
                    card.border_title = f"{name} {symbol}"
                    card.border_subtitle = "demo · 08-03 close · 66d STALE"
                    yield card
            with Horizontal(id="middle"):
                with Vertical(id="board-pane"):
                    yield Static(
                        "Tokens by model · sort rank · OpenRouter export · UTC day 2026-10-07 · 2h old",
                        id="board-title",
                        classes="pane-title",
                    )
                    yield Input(placeholder="filter models and makers (esc clears)", id="filter")
                    yield DataTable(id="board", cursor_type="row", zebra_stripes=True)
                with Vertical(id="chart-pane"):
                    yield Static("Token share by maker · OpenRouter", id="chart-title", classes="pane-title")
                    yield Static(CHART, id="chart")
            with Vertical(id="moves-pane"):
                yield Static(
                    "Peer moves · market cap in USD · prices: Yahoo (Tencent fallback)",
                    id="moves-title",
                    classes="pane-title",
                )
                yield DataTable(id="moves", cursor_type="row", zebra_stripes=True)
        yield Static(STATUS, id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        board = self.query_one("#board", DataTable)
        for label, width in BOARD_COLUMNS:
            board.add_column(label, width=width, key=label)
        for i in range(51):
            board.add_row(
                str(i + 1),
                "",
                "deepseek-v4.1-flash" if i == 0 else f"model-{i}",
                "DeepSeek",
                "7.52T",
                "29.93%",
                "—",
                "+15.61pp",
                "▁▁█",
            )
        moves = self.query_one("#moves", DataTable)
        for label, width in MOVES_COLUMNS:
            moves.add_column(label, width=width, key=label)
        for name, symbol, _ in COMPANIES:
            moves.add_row(name, symbol, "297.40", "-1.6%", "-7.9%", "-29.2%", "+80.2%", "+80.2%", "11.8B", "0.77%")
        moves.add_row("Hang Seng Tech", "^HSTECH", "—", "—", "—", "—", "—", "—", "—", "—")
        for group in ("core", "peer"):
            moves.add_row(f"median {group}", "", "—", "-0.8%", "-4.0%", "-14.9%", "+864.5%", "+864.5%", "—", "—")
        if self.clock:
            header = self.query_one("#header", Static)
            self.set_interval(
                1.0, lambda: header.update(HEADER.format(clock=time.strftime("%a %m-%d %H:%M:%S HKT")), layout=False)
            )


for _action in ("refresh", "export", "currency", "view", "sort", "next_panel", "filter", "help"):
    setattr(Bare, f"action_{_action}", lambda self: None)  # distinct actions: the footer lists each binding


if __name__ == "__main__":
    Bare(clock="--clock" in sys.argv).run()
