"""widgets/table.py: a refresh updates a table in place (the rows that changed, no rebuild), and the cells
and lines it draws by its own fast path are exactly the segments DataTable's own code makes of them."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from tests.conftest import settle
from tests.test_ui_refresh_app import drawn, terminal_writes
from widgets.style import DIM
from widgets.table import CellSpec, RowTable, spec


@dataclass(frozen=True)
class Row:
    key: str
    name: str
    price: float
    move: str


def fmt(row: Row, column: str) -> CellSpec:
    if column == "name":
        return spec(row.name, "italic dim" if row.key.startswith("m") else "")
    if column == "tag":
        return spec(row.name[:3] + " ", "", None, (row.key[-2:], DIM))
    if column == "price":
        return spec(f"{row.price:,.2f}", "", "right")
    if column == "left":
        return spec(row.key, "bold", "left")
    return spec(
        row.move, "green" if row.move.startswith("+") else "bold red" if row.move.startswith("-") else "", "right"
    )


LAYOUT = (("name", 14), ("tag", 8), ("price", 9), ("left", 6), ("move", 7))
NAMES = ["MiniMax", "Zhipu", "Tencent", "中文名字", "", "x" * 20, "trailing ", "Xiaomi"]


def rows(seed: int, count: int = 30) -> list[tuple[str, Row]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        key = f"{'m' if i % 5 == 0 else 's'}{i:02d}"
        move = rng.choice(["+1.2%", "-0.4%", "0.0%", "—", ""])
        out.append((key, Row(key, rng.choice(NAMES), rng.uniform(0, 5000), move)))
    return out


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RowTable(cursor_type="row", zebra_stripes=True)


def _simple(line: list[Segment]) -> list[Segment]:
    return list(Segment.simplify(line))


async def test_fast_cells_and_lines_are_what_datatable_draws():
    app = TableApp()
    async with app.run_test(size=(80, 30)) as pilot:
        table = app.query_one(RowTable)
        table.show(LAYOUT, {}, rows(1), fmt)
        await settle(pilot, lambda: table.row_count == 30)
        table.move_cursor(row=3)
        table.hover_coordinate = Coordinate(5, 0)
        await pilot.pause()
        fast = 0
        for focused in (False, True):
            if focused:
                table.focus()
                await pilot.pause()
            table._pseudo_class_state = table.get_pseudo_class_state()
            base = table.rich_style
            for row_index, (column_index, column) in itertools.product(range(table.row_count), enumerate(LAYOUT)):
                row_style = table._get_row_style(row_index, base)
                width = table.ordered_columns[column_index].get_render_width(table)
                for cursor, hover in itertools.product((False, True), repeat=2):
                    theirs = DataTable._render_cell(table, row_index, column_index, row_style, width, cursor, hover)
                    cell = table.get_row_at(row_index)[column_index]
                    flags = table._current_flags()
                    ours = table._cell_segments(
                        cell.spec(), row_index, column_index, row_style, width, cursor, hover, flags
                    )
                    if ours is not None:
                        fast += 1
                        assert _simple(ours[0]) == _simple(theirs[0]), (row_index, column, cell.plain)
            for row_index in range(table.row_count):
                key = table._row_locations.get_key(row_index)
                args = (key, 0, base, table.cursor_coordinate, table.hover_coordinate)
                theirs = DataTable._render_line_in_row(table, *args)
                table._row_render_cache.clear()
                ours = table._render_line_in_row(*args)
                assert ours[0] == theirs[0] == []
                flat = [_simple([s for cell in part for s in cell]) for part in (ours[1], theirs[1])]
                assert flat[0] == flat[1], row_index
            width = table.size.width
            for y in range(table.size.height):
                table._line_cache.clear()
                theirs = DataTable._render_line(table, y, 0, width, base)
                table._line_cache.clear()
                assert list(table._render_line(y, 0, width, base)) == list(theirs), y
        assert fast > 200  # most cells took the fast path; wide names and overlong text did not


async def test_a_refresh_updates_rows_in_place_and_keeps_the_cursor():
    app = TableApp()
    async with app.run_test(size=(80, 30)) as pilot:
        table = app.query_one(RowTable)
        first = rows(2)
        table.show(LAYOUT, {"move": "1d"}, first, fmt)
        await settle(pilot, lambda: table.row_count == 30)
        table.move_cursor(row=7)
        await pilot.pause()
        keys = [table._row_locations.get_key(i) for i in range(30)]
        moved = [(key, Row(row.key, row.name, row.price + 1, "+9.9%")) for key, row in first]
        table.show(LAYOUT, {"move": "1d▼"}, moved, fmt)
        await pilot.pause()
        assert [table._row_locations.get_key(i) for i in range(30)] == keys  # the same rows, not new ones
        assert table.cursor_row == 7  # a rebuild would have sent it to the top
        assert table.get_row_at(0)[2].plain == f"{moved[0][1].price:,.2f}"
        assert {table.get_row_at(i)[4].plain for i in range(30)} == {"+9.9%"}
        assert str(table.ordered_columns[4].label) == "1d▼"
        # A new order moves the rows; a new sort sends the cursor home, as a rebuild did.
        table.show(LAYOUT, {}, list(reversed(moved)), fmt, home=True)
        await pilot.pause()
        assert table.get_row_at(0)[3].plain == moved[-1][0]
        assert table.cursor_row == 0
        # Another set of rows (a filter) starts again.
        table.show(LAYOUT, {}, moved[:4], fmt)
        await pilot.pause()
        assert table.row_count == 4


async def test_a_refresh_repaints_only_the_rows_that_changed_in_view():
    """Over SSH every byte counts: a refresh sends the terminal the lines of the rows that changed and are in
    view, not the header, the other rows, or rows scrolled out of sight (nothing at all if only those changed);
    those show what they were given once scrolled to."""
    app = TableApp()
    async with app.run_test(size=(80, 20)) as pilot:
        table = app.query_one(RowTable)
        first = rows(3, count=60)
        key, row = first[51]
        first[51] = (key, Row(row.key, "中文名字", row.price, row.move))  # wide characters: DataTable draws them
        table.show(LAYOUT, {}, first, fmt)
        await settle(pilot, lambda: table.row_count == 60)
        await drawn(pilot)

        def moved(indices: set[int]) -> list[tuple[str, Row]]:
            return [
                (key, Row(row.key, row.name, row.price + 1, row.move) if i in indices else row)
                for i, (key, row) in enumerate(first)
            ]

        with terminal_writes(app) as written:
            table.show(LAYOUT, {}, moved({2, 50}), fmt)  # row 50 is out of sight
            await pilot.pause()
        assert written == {1 + 2}  # the header is line 0
        price = sum(width + 2 for _, width in LAYOUT[:2])  # the price column, after name and tag (and padding)
        assert written.spans == [(3, price, price + LAYOUT[2][1] + 2)]  # its cell only: the rest did not change
        table.scroll_to(y=45, animate=False, immediate=True)  # row 51 drawn as it is, then out of sight again
        await drawn(pilot)
        table.scroll_to(y=0, animate=False, immediate=True)
        await drawn(pilot)
        again = moved({2, 50, 51})
        key, row = again[51]
        again[51] = (key, Row(row.key, "新名字", row.price, row.move))
        with terminal_writes(app) as written:
            table.show(LAYOUT, {}, again, fmt)
            await pilot.pause()
        assert written == set()
        table.scroll_to(y=45, animate=False, immediate=True)
        await pilot.pause()
        [line] = [s.text for s in app.screen._compositor.render_strips() if f" {first[51][0]} " in s.text]
        assert f"{first[51][1].price + 1:,.2f}" in line and "新名字" in line and "中文名字" not in line
