"""The footer of every screen. Whenever the full row of keys would not fit (and always below NARROW
columns) it goes compact, puts `?` help and `q` quit first, and leaves keys that would run past the
right edge to the `?` screen, never cut in half."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widgets import Footer

NARROW = 120  # every screen's breakpoint: below it layouts stack, columns drop and the footer is compact
PINNED_KEYS = ("help", "quit")
PALETTE_HINT = 14  # columns of the "^p palette" hint


class KeyFooter(Footer):
    narrow: reactive[bool] = reactive(False, recompose=True)

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
