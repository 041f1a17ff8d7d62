"""Which table columns fit: the most important first, never a column cut at the right edge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CELL_PADDING = 2  # DataTable pads every cell by one column on each side


@dataclass(frozen=True)
class Column:
    key: str
    width: int
    priority: int  # 0 is kept first; higher numbers are dropped first when the table is narrow
    grow: int = 0  # a column that takes spare width, up to this many more cells


def fit_columns(columns: Sequence[Column], width: int) -> tuple[tuple[str, int], ...]:
    """(key, width) of the columns that fit in `width` cells, in display order, chosen by priority;
    spare width goes to the growing column."""
    kept: set[str] = set()
    used = 0
    for column in sorted(columns, key=lambda c: c.priority):
        need = column.width + CELL_PADDING
        if used + need > width and kept:
            break  # strictly by priority: a less important column never displaces a more important one
        kept.add(column.key)
        used += need
    spare = max(0, width - used)
    shown = []
    for column in columns:
        if column.key in kept:
            extra = min(spare, column.grow)
            spare -= extra
            shown.append((column.key, column.width + extra))
    return tuple(shown)
