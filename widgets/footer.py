"""The footer of every screen. Whenever the full row of keys would not fit (and always below NARROW
columns) it goes compact, puts `?` help and `q` quit first, and leaves keys that would run past the
right edge to the `?` screen, never cut in half."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer

NARROW = 120  # every screen's breakpoint: below it layouts stack, columns drop and the footer is compact
PINNED_KEYS = ("help", "quit")
PALETTE_HINT = 14  # columns of the "^p palette" hint


class KeyFooter(Footer):
    narrow: reactive[bool] = reactive(False, recompose=True)
    _composed: tuple[Any, ...] | None = None  # the keys as last composed

    def _keys(self, screen: Screen[Any]) -> tuple[Any, ...]:
        """Everything about the screen's keys that the footer draws."""
        keys = [
            (b.key, self.app.get_key_display(b), b.description, b.action, b.group, enabled, tooltip)
            for _, b, enabled, tooltip in screen.active_bindings.values()
            if b.show
        ]
        return (*keys, self.show_command_palette)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        # Textual rebuilds every key widget whenever the bindings may have changed (each focus change, each
        # refresh_bindings): five times before the first screen was drawn, for the same keys each time.
        keys = self._keys(screen)
        if self._bindings_ready and screen is self.screen and keys == self._composed:
            return
        super().bindings_changed(screen)
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._composed = keys  # what the recompose it queued will draw: later calls with the same keys wait for it

    def watch_narrow(self, narrow: bool) -> None:
        self.compact = narrow
        self.show_command_palette = not narrow  # ctrl+p still opens it; the `?` screen says so

    def on_resize(self) -> None:
        self.narrow = self.app.size.width < max(NARROW, self._full_width())

    def _full_width(self) -> int:
        """Columns this screen's keys need in full, with the palette hint."""
        shown = [active.binding for active in self.screen.active_bindings.values() if active.binding.show]
        return sum(len(self.app.get_key_display(b)) + len(b.description) + 3 for b in shown) + PALETTE_HINT

    def compose(self) -> ComposeResult:
        self._composed = self._keys(self.screen) if self._bindings_ready else None
        widgets = list(super().compose())
        if self.narrow:
            pinned = {b.action for b in self.app.BINDINGS if getattr(b, "id", None) in PINNED_KEYS}  # type: ignore[union-attr]
            first = [w for w in widgets if getattr(w, "action", None) in pinned]
            widgets = first + [w for w in widgets if w not in first]
            room, kept = self.app.size.width, []
            for widget in widgets:
                need = len(getattr(widget, "key_display", "")) + len(getattr(widget, "description", "")) + 2
                if need <= room:
                    kept.append(widget)
                    room -= need
            widgets = kept
        yield from widgets
