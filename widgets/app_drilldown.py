"""The app's side of drilling down: `enter` on a company card, a peer-moves row or a leaderboard row opens
the company screen (widgets/company.py) or the model screen (widgets/model.py); `escape` pops back to
the dashboard exactly as it was.

A mixin of TokentapeApp (handlers by naming convention, so Textual finds them through the MRO).
"""

from __future__ import annotations

from textual.widgets import DataTable


class DrillDownMixin:
    DASHBOARD_ONLY = frozenset({"view", "sort", "filter", "next_panel", "open", "share_range"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The dashboard's panel keys do nothing on a drill-down screen: they would change the hidden dashboard,
        which `escape` must bring back exactly as it was (tab there moves focus within the screen instead).
        A class attribute, not isinstance: the footer asks on every resize, first paint included, and importing
        those screens would load polars on the UI loop before the dashboard is drawn."""
        return not (action in self.DASHBOARD_ONLY and getattr(self.screen, "DRILL_DOWN", False))

    def action_valuation(self) -> None:
        """`v`: the valuation view (widgets/valuation.py), over whatever screen is showing."""
        from widgets.valuation import ValuationScreen

        if isinstance(self.screen, ValuationScreen):
            return
        if self.feed.store is None:
            self.notify("still reading the database…")
            return
        self.push_screen(ValuationScreen())

    def action_open(self) -> None:
        """`enter` on a focused company card (the tables open their rows through RowSelected)."""
        from widgets.cards import CompanyCard

        if isinstance(self.focused, CompanyCard):
            self.open_company(self.focused.symbol)

    def open_company(self, symbol: str) -> None:
        from widgets.company import CompanyScreen

        if self.feed.store is None:
            self.notify("still reading the database…")
            return
        self.push_screen(CompanyScreen(symbol))

    def open_model(self, model: str) -> None:
        from widgets.model import ModelScreen

        if self.feed.store is None:
            self.notify("still reading the database…")
            return
        self.push_screen(ModelScreen(model))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """`enter` on a peer-moves row opens its company; on the leaderboard, a model opens its model screen and
        a maker its listed company's screen, else its top model's."""
        from widgets.leaderboard import Leaderboard
        from widgets.peer_moves import PeerMoves

        key = str(event.row_key.value or "")
        if isinstance(event.data_table, PeerMoves) and self.config.company(key) is not None:
            self.open_company(key)
        elif isinstance(event.data_table, Leaderboard) and key:
            if self.dashboard_screen.board_mode == "model":
                self.open_model(key)
                return
            company = self.config.author_company().get(key)
            if company is not None:
                self.open_company(company.symbol)
            elif self.dashboard is not None:
                models = self.dashboard.models.filter(self.dashboard.models["maker_id"] == key)
                if not models.is_empty():
                    self.open_model(str(models.sort("rank", nulls_last=True)["model_permaslug"][0]))
