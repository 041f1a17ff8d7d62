"""Making untrusted upstream text safe to show, and formatting numbers the same way everywhere.

Model, maker and company names come from upstreams. They are shown literally: control characters
(ANSI/OSC escapes, C1 codes) and bidi overrides are replaced by visible escapes, never passed to a
terminal; Rich markup is never interpreted because widgets render these as plain Text, not markup.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TypeGuard

from rich.cells import cell_len

# C0 and C1 controls (incl. ESC, which starts ANSI/OSC sequences), DEL, the bidi embedding and isolate
# controls that can reorder what follows them on screen, and the invisible characters that make two
# different names look the same: zero-width spaces and joiners, word joiners and invisible operators,
# the soft hyphen, the BOM, line/paragraph separators, Hangul fillers, variation selectors, tag characters.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
_CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: object) -> str:
    """The text with every control character shown as its escape, e.g. ESC -> '\\x1b'."""
    text = "" if value is None else str(value)
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


# Characters Markdown (and the HTML it may hold) gives meaning to: each is backslash-escaped, and < > &
# become entities, so an upstream name can form no tag, link, image, emphasis or table cell border.
_MARKDOWN = re.compile(r"([\\`*_\[\]()|~])")
# A link target's scheme, and GFM's bare www. autolinks: their colon or dot is escaped, so none links.
_LINK = re.compile(r"(?i)\b(javascript|vbscript|data|file|https?|ftp|mailto)(:)|\b(www)(\.)")


def markdown_text(value: object) -> str:
    """Untrusted text for a Markdown table cell: `safe_text`, then HTML escaped and Markdown syntax
    neutralised; `javascript:` and other link targets lose their meaning with their escaped colon."""
    text = safe_text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN.sub(r"\\\1", text)
    return _LINK.sub(lambda m: f"{m.group(1) or m.group(3)}\\{m.group(2) or m.group(4)}", text)


def truncate(text: str, width: int) -> str:
    """Cut to at most `width` terminal cells (wide CJK and emoji count 2), ending in an ellipsis."""
    if cell_len(text) <= width:
        return text
    out: list[str] = []
    used = 0
    for char in text:
        w = cell_len(char)
        if used + w > width - 1:
            break
        out.append(char)
        used += w
    return "".join(out) + "…"


def csv_cell(value: object) -> object:
    """Neutralise spreadsheet formulas in text cells (a leading = + - @ gets a quote prefix)."""
    if isinstance(value, str):
        value = safe_text(value)
        if value.startswith(_CSV_FORMULA):
            return "'" + value
    return value


def _finite(value: object) -> TypeGuard[float]:
    """A real number, not None, NaN or infinite (frames from upstreams can hold any of those)."""
    return isinstance(value, (int, float)) and math.isfinite(value)


def fmt_price(value: float | None) -> str:
    if not _finite(value):
        return "—"
    return f"{value:,.2f}" if value < 10_000 else f"{value:,.0f}"


def fmt_big(value: float | None, currency: str = "") -> str:
    """1.07e11 -> '107.0B'; with a currency, 'HKD 107.0B'."""
    if not _finite(value):
        return "—"
    for divisor, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= divisor:
            text = f"{value / divisor:.2f}{suffix}" if abs(value) < 10 * divisor else f"{value / divisor:.1f}{suffix}"
            break
    else:
        text = f"{value:.0f}"
    return f"{currency} {text}".strip()


def _signed(value: float, digits: int) -> str:
    """`value` with its sign, except that what rounds to zero is shown unsigned: never '-0.00'."""
    text = f"{value:+.{digits}f}"
    return text[1:] if float(text) == 0 else text


def fmt_pct(value: float | None, digits: int = 2) -> str:
    """A ratio as a signed percentage: 0.0321 -> '+3.21%'; -0.00001 -> '0.00%'."""
    return "—" if not _finite(value) else f"{_signed(value * 100, digits)}%"


def fmt_share(value: float | None) -> str:
    return "—" if not _finite(value) else f"{value * 100:.2f}%"


def fmt_pp(value: float | None) -> str:
    """A change of share in percentage points: 0.0145 -> '+1.45pp'; -0.00001 -> '0.00pp'."""
    return "—" if not _finite(value) else f"{_signed(value * 100, 2)}pp"


def fmt_age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    seconds = max(0, seconds)
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f}m"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None] | None, width: int | None = None) -> str:
    """Unicode block sparkline of the last `width` values (nulls skipped)."""
    points = [v for v in (values or []) if _finite(v)]
    if width:
        points = points[-width:]
    if not points:
        return ""
    low, high = min(points), max(points)
    if high == low:
        return SPARK[3] * len(points)
    return "".join(SPARK[min(7, int((v - low) / (high - low) * 7.999))] for v in points)
