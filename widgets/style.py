"""Text styles that keep their meaning without colour (NO_COLOR, 16-colour and monochrome terminals).

A fall is red *and* bold with a minus sign, STALE and DEMO are reversed, so none of them depends on
colour alone. A move is styled by the sign it is shown with: a value that rounds to 0.00 is neutral.
"""

from __future__ import annotations

from rich.text import Text

UP = "green"
DOWN = "bold red"
STALE = "bold reverse red"
DEMO = "bold reverse yellow"
DIM = "dim"


def set_monochrome(monochrome: bool) -> None:
    """Under NO_COLOR Textual turns colours into greys, and red into a grey too dark to read: there a
    fall is bold and underlined, STALE and DEMO reversed in the terminal's own colours."""
    global UP, DOWN, STALE, DEMO
    if monochrome:
        UP, DOWN, STALE, DEMO = "", "bold underline", "bold reverse", "bold reverse"
    else:
        UP, DOWN, STALE, DEMO = "green", "bold red", "bold reverse red", "bold reverse yellow"


def move_style(shown: str) -> str:
    """The style of a move as it is shown ("+1.2%", "-0.4pp", "0.00%", "—")."""
    return UP if shown.startswith("+") else DOWN if shown.startswith("-") else ""


def move(shown: str, justify: str = "right") -> Text:
    return Text(shown, style=move_style(shown), justify=justify)  # type: ignore[arg-type]
