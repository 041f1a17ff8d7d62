"""The floor for the start-up and idle benchmarks: a bare Textual app with the same widgets as the
dashboard (header, company cards, two tables, a chart panel, status, footer) filled with fixed text,
importing nothing else (no polars, httpx, apscheduler, sqlite). `--clock` ticks a 1 s header clock."""

from __future__ import annotations

import sys
import time

from textual.app import App, ComposeResult
from textual.containers import Horizontal, HorizontalScroll, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Static

CARD = "HKD 297.40  -4.94 -1.63%\nmcap HKD 92.2B · USD 11.8B\nvs IPO 165.00 +80.24%\n▁▂▃▄▅▆▇█ 30d\ntokens 0.77%"


class Bare(App):
    CSS = """
    #cards { height: 7; } #middle { height: 19; } #chart { width: 60; }
    .card { width: 40; height: 7; border: round $secondary; padding: 0 1; }
    """

    def __init__(self, clock: bool):
        super().__init__()
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield Static("tokentape bare", id="header")
        with VerticalScroll():
            with HorizontalScroll(id="cards"):
                for name in ("MiniMax", "Zhipu", "Tencent", "Alibaba", "Baidu", "Xiaomi", "SenseTime", "NVIDIA",
                             "Alphabet", "Meta", "Microsoft", "Amazon"):
                    card = Static(CARD, classes="card")
                    card.border_title = name
                    yield card
            with Horizontal(id="middle"):
                with Vertical():
                    yield DataTable(id="board")
                yield Static("DeepSeek ▁▂▃▄▅▆▇█ 35.84%\n" * 8, id="chart")
            yield DataTable(id="moves")
        yield Static("status", id="status")
        yield Footer()

    def on_mount(self) -> None:
        board = self.query_one("#board", DataTable)
        board.add_columns("#", "model", "maker", "tokens", "share", "Δ1d", "Δ7d")
        for i in range(51):
            board.add_row(str(i + 1), "deepseek-v4.1-flash" if i == 0 else f"model-{i}", "DeepSeek", "7.52T",
                          "29.93%", "—", "+15.61pp")
        moves = self.query_one("#moves", DataTable)
        moves.add_columns("name", "symbol", "price", "1d", "5d", "1m", "YTD", "IPO", "mcap", "tokens")
        for i in range(15):
            moves.add_row("MiniMax", "0100.HK", "297.40", "-1.6%", "-7.9%", "-29.2%", "+80.2%", "+80.2%", "11.8B",
                          "0.77%")
        if self.clock:
            self.set_interval(1.0, lambda: self.query_one("#header", Static).update(time.strftime("%H:%M:%S")))


if __name__ == "__main__":
    Bare(clock="--clock" in sys.argv).run()
