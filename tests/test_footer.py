"""The footer redraws its keys when what it shows changes (a key going or coming back), and only then."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType

from tests.conftest import settle
from widgets.footer import KeyFooter


class Keys(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "refresh", "Refresh"), Binding("q", "quit", "Quit")]

    def __init__(self) -> None:
        super().__init__()
        self.live = True

    def compose(self) -> ComposeResult:
        yield KeyFooter()

    def action_refresh(self) -> None:
        pass

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.live if action == "refresh" else True  # False: the key is not shown


def refresh_key(app: Keys):
    """The footer's `r` key, None while the footer is being rebuilt."""
    return next((k for k in app.query("FooterKey") if k.action == "refresh"), None)


async def test_a_key_that_goes_or_comes_back_is_redrawn_and_asking_again_for_the_same_keys_redraws_nothing():
    app = Keys()
    async with app.run_test(size=(120, 10)) as pilot:
        await settle(pilot, lambda: refresh_key(app) is not None)
        first = refresh_key(app)
        assert first is not None
        for _ in range(3):  # what a focus change or refresh_bindings does, with nothing changed
            app.refresh_bindings()
            await pilot.pause()
        assert refresh_key(app) is first  # the same key widgets: nothing was rebuilt

        app.live = False
        app.refresh_bindings()
        await settle(pilot, lambda: refresh_key(app) is None and bool(app.query("FooterKey")))
        app.live = True
        app.refresh_bindings()
        await settle(pilot, lambda: refresh_key(app) is not None)
