"""A DataTable of view rows that a refresh updates in place: the work is O(rows that changed) plus the
rows in view, not O(rows x columns).

Rows are given as (key, row) pairs, `row` an immutable view object (a MovesRow, a BoardRow). Each cell
is a `LazyCell`: it formats its text from the row it points at only when it is drawn or read, so a
refresh that moves 200 prices stores 200 references and formats only the rows on screen. A refresh with
the same columns and the same set of keys neither clears the table nor adds rows (so no relayout, and the
cursor and scroll position stay), it re-points the rows that changed and reorders if the order changed.
Only rows in view are compared (the others are re-pointed and format when next drawn), and only the cells
that changed in them are repainted: Textual draws their lines again and the terminal gets those cells.
Drawn cells are cached by what they show, so after a refresh only the cells whose text changed are
rendered again (DataTable's own cache is dropped whole on every change).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

# What a cell shows: (text, style, justify, appended parts), as Text(text, style=style, justify=justify)
# followed by Text.append(part, style=part_style) for each part. Hashable: equal specs draw equal cells.
CellSpec = tuple[str, str, Any, tuple[tuple[str, str], ...]]
Format = Callable[[Any, str], CellSpec]  # (row, column key) -> what the cell shows


def spec(text: str, style: str = "", justify: Any = None, *parts: tuple[str, str]) -> CellSpec:
    return (text, style, justify, parts)


class _Slot:
    """One row of the table: the view row it shows now, and the cell texts formatted from it so far."""

    __slots__ = ("cells", "row", "specs")

    def __init__(self, row: object) -> None:
        self.row = row
        self.specs: dict[str, CellSpec] = {}
        self.cells: tuple[LazyCell, ...] = ()  # in the order of the layout's columns


class LazyCell:
    """A cell's content, formatted from its row when drawn or read (`plain`, `text()`)."""

    __slots__ = ("_column", "_format", "_slot")

    def __init__(self, slot: _Slot, column: str, format: Format) -> None:
        self._slot, self._column, self._format = slot, column, format

    def spec(self) -> CellSpec:
        specs = self._slot.specs
        found = specs.get(self._column)
        if found is None:
            found = specs[self._column] = self._format(self._slot.row, self._column)
        return found

    def text(self) -> Text:
        text, style, justify, parts = self.spec()
        out = Text(text, style=style, justify=justify)
        for part, part_style in parts:
            out.append(part, style=part_style)
        return out

    @property
    def plain(self) -> str:
        text, _, _, parts = self.spec()
        return text + "".join(part for part, _ in parts)

    def __str__(self) -> str:
        return self.plain

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        return self.text().__rich_console__(console, options)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return self.text().__rich_measure__(console, options)


class _Kept:
    """A bounded cache that costs one dict lookup on a hit: entries go into `new` until it holds `size`, then
    `new` becomes `old` and the previous `old` is dropped; an entry found in `old` moves back to `new`. So what
    is drawn again and again stays, and what has not been asked for in `size` insertions goes."""

    __slots__ = ("new", "old", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.new: dict[Any, Any] = {}
        self.old: dict[Any, Any] = {}

    def revive(self, key: Any) -> Any:
        """The entry from `old` (None if none), moved back to `new`."""
        found = self.old.pop(key, None)
        if found is not None:
            self.put(key, found)
        return found

    def put(self, key: Any, value: Any) -> None:
        if len(self.new) >= self.size:
            self.old, self.new = self.new, {}
        self.new[key] = value

    def clear(self) -> None:
        self.new, self.old = {}, {}


class _Frame:
    """What every line drawn in one render_lines reads of the table (reactives cost ~1 us a read)."""

    __slots__ = (
        "cursor",
        "cursor_type",
        "direct",
        "filled",
        "fixed_height",
        "fixed_rows",
        "hover",
        "layout_order",
        "plain_rows",
        "remaining",
        "scroll_x",
        "scroll_y",
        "show_cursor",
        "show_hover_cursor",
        "width",
        "widths",
        "widths_key",
    )

    def __init__(self, table: RowTable) -> None:
        self.width = table.size.width
        self.scroll_x, self.scroll_y = table.scroll_offset
        self.fixed_rows = table.fixed_rows
        locations = table._row_locations
        self.fixed_height = sum(table.get_row_height(locations.get_key(i)) for i in range(self.fixed_rows))
        if table.show_header:
            self.fixed_height += table.get_row_height(table._header_row_key)
        # Every row is one line high (rows are added with DataTable's default height): line y is row y.
        self.direct = not self.fixed_rows and (not table.show_header or table.header_height == 1)
        self.cursor, self.hover = table.cursor_coordinate, table.hover_coordinate
        self.cursor_type = table.cursor_type
        self.show_cursor = table.show_cursor
        self.show_hover_cursor = table._show_hover_cursor
        self.widths, self.remaining = table._widths()
        self.widths_key = tuple(self.widths)
        # The columns in the order of the layout they were added in (a row's LazyCells are in that order).
        self.layout_order = [column.key.value for column in table.ordered_columns] == [k for k, _ in table._layout]
        self.filled = sum(self.widths) + table._row_label_column_width + self.remaining
        # Rows that RowTable draws itself (its _render_line_in_row), their cells' lines simplified.
        labels = table._labelled_row_exists and table.show_row_labels
        self.plain_rows = self.cursor_type == "row" and not table.fixed_columns and not labels


class RowTable(DataTable[Any]):
    """A DataTable that `show`s keyed view rows; see the module docstring."""

    def __init__(self, **kwargs: Any) -> None:
        # Before DataTable's __init__, whose reactive setters already clear the caches.
        self._drawn = _Kept(1024)  # cell renders, by what they show
        self._styles: dict[str, Style] = {}
        self._row_styles: dict[tuple[object, ...], Style] = {}
        self._header: LRUCache[tuple[object, ...], Any] = LRUCache(16)  # header lines, by what they show
        self._line_style: Style | None = None
        self._flags: tuple[object, ...] | None = None
        self._widths_for: tuple[tuple[int, ...], list[int], int] | None = None
        self._styled: LRUCache[tuple[object, ...], Style] = LRUCache(4096)
        self._frame: _Frame | None = None
        # What each row index's line showed when last drawn: (place, cell specs, cell segments).
        self._rows_drawn: dict[int, tuple[tuple[object, ...], list[object], tuple[list[Segment], ...]]] = {}
        super().__init__(**kwargs)
        self._layout: tuple[tuple[str, int], ...] = ()
        self._slots: dict[str, _Slot] = {}
        self._order: list[str] = []

    def show(
        self,
        layout: tuple[tuple[str, int], ...],
        labels: Mapping[str, str],
        rows: Sequence[tuple[str, object]],
        format: Format,
        home: bool = False,
    ) -> None:
        """Show `rows` in the columns of `layout` ((key, width) in display order), headed by `labels`.
        `format` must depend only on the layout (a new layout rebuilds the table, and with it the cells).
        `home`: the cursor and the scroll go back to the top (a new sort or filter), as on a rebuild;
        otherwise (a refresh) they stay where they were."""
        header = False
        if layout != self._layout:
            self.clear(columns=True)
            for key, width in layout:
                self.add_column(Text(labels.get(key, key)), width=width, key=key)
            self._layout = layout
            self._slots, self._order = {}, []
        else:
            for key, _ in layout:
                column = self.columns[ColumnKey(key)]
                label = labels.get(key, key)
                if column.label.plain != label:
                    column.label = Text(label)
                    header = True
        slots = self._slots
        if len(rows) != len(slots):
            self._rebuild(layout, rows, format)
            return
        keys = []
        changed: dict[str, list[int]] = {}  # the rows in view that show something new: their cells that do
        repointed = False  # any row, in view or not, given a new row
        # Rows out of view take their new row without a comparison (~1 us each, hundreds a refresh): formatting
        # is lazy, so a row re-pointed but equal costs nothing until drawn, and then formats as before.
        first, last = self._rows_in_view()
        for index, (key, row) in enumerate(rows):
            slot = slots.get(key)
            if slot is None:  # another set of rows (the same number): start again
                self._rebuild(layout, rows, format)
                return
            keys.append(key)
            if slot.row is not row:
                in_view = first <= index < last
                if not in_view or slot.row != row:
                    before, slot.row, slot.specs = slot.specs, row, {}
                    repointed = True
                    if in_view:  # formatted now (they are about to be drawn), to repaint only what changed
                        cells = slot.cells
                        changed[key] = [i for i, cell in enumerate(cells) if cell.spec() != before.get(cell._column)]
        moved = keys != self._order
        if moved:
            # What DataTable.sort does: the rows stay, their places change.
            self._row_locations = type(self._row_locations)({RowKey(key): i for i, key in enumerate(keys)})
            self._order = keys
        if header or moved or repointed:
            self._update_count += 1  # what DataTable.update_cell does, once for every cell that changed
            # DataTable keys these by the update count: what they hold can never be used again. Kept, they fill
            # to a thousand lines each, ~30 k objects that every full garbage collection walks on the UI loop.
            for cache in (
                self._row_render_cache,
                self._line_cache,
                self._row_renderable_cache,
                self._cell_render_cache,
            ):
                cache.clear()
            if header or moved:
                self.refresh()
            elif changed:
                self._refresh_rows(changed)
        if home:
            self.cursor_coordinate = Coordinate(0, 0)
            self.scroll_to(0, 0, animate=False, immediate=True)

    def _rows_in_view(self) -> tuple[int, int]:
        """The indices of the rows on screen (first, last + 1), as last laid out; all of them with fixed rows."""
        if self.fixed_rows:
            return 0, len(self._order)
        first = round(self.scroll_offset.y)
        return first, first + self.size.height - (self.header_height if self.show_header else 0)

    def _refresh_rows(self, cells: Mapping[str, list[int]]) -> None:
        """Repaint the cells that changed in the rows in view, and only those: the rest of the table (the header,
        other cells, rows that did not change, rows scrolled out of sight) keeps what it drew, and the terminal
        gets the cells that changed. Every row here is one line high (rows are added with DataTable's default
        height), so row i is line i below the header; Textual draws the whole line again (its lines are
        cached whole) and sends the terminal the changed part."""
        if self.fixed_rows:
            self.refresh()
            return
        top = self.header_height if self.show_header else 0
        first, last = self._rows_in_view()
        order, width = self._order, self.size.width
        widths, _ = self._widths()
        edges = [0]
        for cell_width in widths:
            edges.append(edges[-1] + cell_width)
        by_cell = not (self.scroll_offset.x or self.fixed_columns or self._row_label_column_width)
        regions = []
        for index in range(first, min(len(order), last)):
            changed = cells.get(order[index])
            if not changed:  # not in view, or a new row that shows the same
                continue
            y = top + index - first
            if not by_cell:  # scrolled sideways (or columns before the cells): the whole line
                regions.append(Region(0, y, width, 1))
                continue
            start = end = changed[0]  # runs of neighbouring cells, one region each
            for column in [*changed[1:], -1]:
                if column == end + 1:
                    end = column
                    continue
                regions.append(Region(edges[start], y, edges[end + 1] - edges[start], 1))
                start = end = column
        if regions:
            self.refresh(*regions)

    def _rebuild(self, layout: tuple[tuple[str, int], ...], rows: Iterable[tuple[str, object]], format: Format) -> None:
        """Another set of rows (first data, a filter, a company added): start again."""
        if self.row_count:
            self.clear()
        self._slots, self._order = {}, []
        self._rows_drawn.clear()
        for key, row in rows:
            slot = self._slots[key] = _Slot(row)
            self._order.append(key)
            slot.cells = tuple(LazyCell(slot, column, format) for column, _ in layout)
            self.add_row(*slot.cells, key=key)

    # -- drawing ---------------------------------------------------------------------------------------
    #
    # DataTable draws a cell through Rich's generic pipeline (Styled(Padding(Text)) -> render_lines), about
    # 65 us a cell, and then spends another ~300 us a line on bookkeeping; its caches are dropped whole on
    # every change. A refresh that moves every price redraws every visible line, ~1 ms each. Here a cell of
    # one line of single-width text is built directly as the segments that pipeline produces (same text,
    # same styles, so the line DataTable assembles and simplifies is the same; tests/test_ui_refresh_table.py
    # compares the two), cached by what it shows; anything else (the header, wide characters, text wider
    # than its column) goes through DataTable's own code. A line drawn again keeps the segments of each cell
    # that shows what it showed (`_rows_drawn`), and needs no Segment.simplify of its own (see _render_line).

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> Any:
        """DataTable's cell (a list of lines of segments), each line simplified: a line joins its cells'
        segments as they are, so it needs no Segment.simplify of its own (see `_render_line`)."""
        flags = self._flags or self._current_flags()
        if row_index < max(0, flags[6]) or column_index < max(0, flags[7]):  # the header, labels, fixed cells
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        try:
            row_key = self._row_locations.get_key(row_index)
            cell = self._data[row_key][self._column_locations.get_key(column_index)]
            height = self.rows[row_key].height
        except KeyError:
            cell = None
        if not isinstance(cell, LazyCell) or height != 1:
            lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
            return [list(Segment.simplify(line)) for line in lines]
        # row_index and column_index are in the segments' metadata (mouse clicks).
        key = (cell.spec(), row_index, column_index, base_style, width, cursor, hover, flags)
        return self._drawn.new.get(key) or self._draw_cell(key)

    def _draw_cell(self, key: tuple[Any, ...]) -> list[list[Segment]]:
        """The cell of `key` (spec, row, column, style, width, cursor, hover, flags), drawn and kept."""
        found = self._drawn.revive(key)
        if found is not None:
            return found  # type: ignore[no-any-return]
        spec, row_index, column_index, base_style, width, cursor, hover, flags = key
        lines = self._cell_segments(spec, row_index, column_index, base_style, width, cursor, hover, flags)
        if lines is None:
            lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        lines = [list(Segment.simplify(line)) for line in lines]
        self._drawn.put(key, lines)
        return lines

    def _current_flags(self) -> tuple[object, ...]:
        """The table's settings a drawn cell depends on (read once per render_lines: reactives are slow)."""
        return (
            self.show_cursor,
            self._show_hover_cursor,
            self._pseudo_class_state,
            self.cursor_foreground_priority,
            self.cursor_background_priority,
            self.cell_padding,
            self.fixed_rows,
            self.fixed_columns,
        )

    def _cell_segments(
        self,
        spec: CellSpec,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool,
        hover: bool,
        flags: tuple[Any, ...],
    ) -> list[list[Segment]] | None:
        """The one line DataTable._render_cell makes of a simple cell, or None for any other."""
        text, style, justify, parts = spec
        plain = text + "".join(part for part, _ in parts) if parts else text
        pad = flags[5]
        inner = width - 2 * pad
        if (
            inner < len(plain)
            or cell_len(plain) != len(plain)  # wide characters: Rich's own rules
            or justify not in (None, "default", "left", "right")
            or (justify == "right" and plain != plain.rstrip())
        ):
            return None
        place = (base_style, row_index, column_index, cursor, hover, flags)
        styled = self._styled_for
        # Text(text, style) + append(part, part_style), rendered: the base style over the whole line (and over
        # the spaces that left or right justification adds), each part's style over the part.
        base = (style,) if style else ()
        edge = styled(place, ())
        out = [Segment(" " * pad, edge)] if pad else []
        fill = inner - len(plain)
        fill_style = styled(place, base) if justify in ("left", "right") else edge
        if fill and justify == "right":
            out.append(Segment(" " * fill, fill_style))
        if text:
            out.append(Segment(text, styled(place, base)))
        for part, part_style in parts:
            if part:
                out.append(Segment(part, styled(place, base + ((part_style,) if part_style else ()))))
        if fill and justify != "right":
            out.append(Segment(" " * fill, fill_style))
        if pad:
            out.append(Segment(" " * pad, edge))
        return [out]

    def _styled_for(self, place: tuple[Any, ...], names: tuple[str, ...]) -> Style:
        """The style of a run of a cell's characters: DataTable's pre-style (the row's style, the cell's place
        as metadata, the cursor's component style), then the text's spans as Text.render combines them (on the
        joined line's null style; none at all is the same), then the post-style, as Styled applies them."""
        key = (place, names)
        found = self._styled.get(key)
        if found is None:
            base_style, row_index, column_index, cursor, hover, flags = place
            component, post = self._get_styles_to_render_cell(
                False, False, False, hover, cursor, flags[0], flags[1], flags[3] == "css", flags[4] == "css"
            )
            pre = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component
            inner = Style.combine([Style.null(), *(self._style(name) for name in names)]) if names else None
            found = pre + inner
            if post:
                found = found + post if found else post
            self._styled[key] = found
        return found

    def _style(self, name: str) -> Style:
        found = self._styles.get(name)
        if found is None:
            found = self._styles[name] = self.app.console.get_style(name, default=Style.null())
        return found

    def _render_line_in_row(
        self,
        row_key: RowKey,
        line_no: int,
        base_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
    ) -> tuple[list[list[Segment]], list[list[Segment]]]:
        """DataTable's, for a data row of a row-cursor table without fixed columns or row labels: the same
        segments, without the per-line style lookups (the row styles are kept until the styles change)."""
        if self.fixed_columns or (self._labelled_row_exists and self.show_row_labels):
            return super()._render_line_in_row(row_key, line_no, base_style, cursor_location, hover_location)
        if row_key is self._header_row_key:
            # The same labels in the same columns draw the same header, whatever else changed.
            key = (
                tuple(
                    (c.label.plain, str(c.label.style), tuple(c.label.spans), c.get_render_width(self))
                    for c in self.ordered_columns
                ),
                line_no,
                base_style,
                cursor_location,
                hover_location,
                self.cursor_type,
                self.show_cursor,
                self._show_hover_cursor,
                self._pseudo_class_state,
                self.size.width,
            )
            header = self._header.get(key)
            if header is None:
                header = self._header[key] = super()._render_line_in_row(
                    row_key, line_no, base_style, cursor_location, hover_location
                )
            return header
        if row_key not in self._row_locations or self.cursor_type != "row":
            return super()._render_line_in_row(row_key, line_no, base_style, cursor_location, hover_location)
        frame = self._frame or self._current_frame()
        row_index = self._row_locations.get(row_key)
        assert row_index is not None
        row_style = self._row_style(row_index, base_style)
        cursor = row_index == cursor_location.row
        hover = row_index == hover_location.row  # what _should_highlight says of (row, 0) for a row cursor
        flags = self._flags or self._current_flags()
        # The cells of a plain row are its slot's, in column order (what _render_cell looks up, once a row),
        # and a cell that shows what this line showed last time (the same spec object: formats keep theirs) in
        # the same place keeps its segments without a lookup: a new price redraws one cell of the line.
        slot = self._slots.get(row_key.value) if frame.layout_order and row_index >= max(0, frame.fixed_rows) else None
        cells = slot.cells if slot is not None and self.rows[row_key].height == 1 else ()
        place = (row_style, cursor, hover, flags, frame.widths_key, line_no)
        last = self._rows_drawn.get(row_index)
        last_specs, last_lines = (last[1], last[2]) if last is not None and last[0] == place else ((), ())
        drawn = self._drawn.new
        specs: list[object] = []
        scrollable_row = []
        for column_index, width in enumerate(frame.widths):
            cell = cells[column_index] if cells else None
            if cell is not None:
                shows = cell.spec()
                if last_specs and last_specs[column_index] is shows:
                    line = last_lines[column_index]
                else:
                    key = (shows, row_index, column_index, row_style, width, cursor, hover, flags)
                    line = (drawn.get(key) or self._draw_cell(key))[line_no]
            else:
                shows = None
                line = self._render_cell(row_index, column_index, row_style, width, cursor, hover)[line_no]
            specs.append(shows)
            scrollable_row.append(line)
        self._rows_drawn[row_index] = (place, specs, tuple(scrollable_row))
        extend_key = ("extend", row_style, row_index, cursor, hover, frame.show_cursor, frame.show_hover_cursor)
        extend_style = self._styled.get(extend_key)
        if extend_style is None:
            extend_style, _ = self._get_styles_to_render_cell(
                False, False, False, hover, cursor, frame.show_cursor, frame.show_hover_cursor, False, False
            )
            extend_style = row_style + extend_style
            extend_style += Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
            self._styled[extend_key] = extend_style
        scrollable_row.append([Segment(" " * frame.remaining, extend_style)])
        return [], scrollable_row

    def render_lines(self, crop: Region) -> list[Strip]:
        cache = self._styles_cache
        if (
            not cache._dirty_lines
            and cache._width == self.region.width
            and all(map(cache._cache.__contains__, crop.line_range))
        ):
            # Every line asked for is drawn already (the compositor asks every widget under a repaint, changed
            # or not: a refresh of the table beside this one): nothing to look up.
            return super().render_lines(crop)
        # Looked up once for the lines drawn now, not once a line (~25 us) or a cell (reactives, ~1 us each).
        self._pseudo_class_state = self.get_pseudo_class_state()
        self._line_style = self.rich_style
        self._flags = self._current_flags()
        self._frame = self._current_frame()
        try:
            return super().render_lines(crop)
        finally:
            self._line_style = self._flags = self._frame = None

    def _current_frame(self) -> _Frame:
        return _Frame(self)

    def render_line(self, y: int) -> Strip:
        """DataTable.render_line, with what every line reads looked up once per render_lines."""
        frame = self._frame
        if frame is None or self._line_style is None:
            return super().render_line(y)
        if y >= frame.fixed_height:
            y += frame.scroll_y
        return self._render_line(y, frame.scroll_x, frame.scroll_x + frame.width, self._line_style)

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """DataTable's: a line of the table as one Strip. For a line that exactly fills an unscrolled table
        (every line here, unless the columns overflow) the crop and the length adjustment change nothing, so
        the one Strip is made directly (each Strip costs ~20 us: DataTable made three a line). Its cells'
        segments are simplified already, and two cells never share a style (each cell's segments carry its
        column in their metadata, and the room right of the last cell carries its own), so the line joined
        from them is the line DataTable simplifies (tests/test_ui_refresh_table.py compares the two)."""
        frame = self._frame or self._current_frame()
        width = frame.width
        if x1 or self.fixed_columns:
            return super()._render_line(y, x1, x2, base_style)
        try:
            row_key, y_offset_in_row = self._offsets(y, frame)
        except LookupError:
            return super()._render_line(y, x1, x2, base_style)
        # No line cache (DataTable keeps one, dropped on every update): Textual's StylesCache keeps the lines
        # drawn, and draws a line again only when it changed.
        fixed, scrollable = self._render_line_in_row(row_key, y_offset_in_row, base_style, frame.cursor, frame.hover)
        if fixed or x2 != width:
            return super()._render_line(y, x1, x2, base_style)
        segments = [segment for cell in scrollable for segment in cell]
        if row_key is self._header_row_key or not frame.plain_rows:
            if Segment.get_line_length(segments) != width:
                return super()._render_line(y, x1, x2, base_style)
            return Strip(Segment.simplify(segments), width)
        if frame.filled != width:  # the columns overflow the table: DataTable crops the line
            return super()._render_line(y, x1, x2, base_style)
        return Strip(segments, width)

    def _offsets(self, y: int, frame: _Frame) -> tuple[RowKey, int]:
        """DataTable._get_offsets (the row at line y, and the line within it) without its list of every line of
        the table, rebuilt on each update: here every row is one line high, so line y is a row's index below the
        header (or the header itself)."""
        if not frame.direct:
            return self._get_offsets(y)
        index = y - frame.fixed_height
        if index < 0:
            return self._header_row_key, y
        key = self._row_locations.get_key(index)
        if key is None:
            raise LookupError(y)
        return key, 0

    def _widths(self) -> tuple[list[int], int]:
        """The columns' widths and the room right of them: once per update and size, not once a line."""
        key = (self._update_count, self.cell_padding, self.size.width, self._row_label_column_width)
        if self._widths_for is None or self._widths_for[0] != key:
            widths = [column.get_render_width(self) for column in self.ordered_columns]
            self._widths_for = (key, widths, max(0, key[2] - (sum(widths) + key[3])))
        return self._widths_for[1], self._widths_for[2]

    def _row_style(self, row_index: int, base_style: Style) -> Style:
        """_get_row_style, kept by (the row's parity, the pseudo-classes) until the styles change."""
        key = (row_index < self.fixed_rows, row_index % 2, self.zebra_stripes, base_style, self._pseudo_class_state)
        found = self._row_styles.get(key)
        if found is None:
            found = self._row_styles[key] = self._get_row_style(row_index, base_style)
        return found

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._forget_styles()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._forget_styles()

    def _forget_styles(self) -> None:
        self._drawn.clear()
        self._rows_drawn.clear()
        self._styles.clear()
        self._row_styles.clear()
        self._header.clear()
        self._styled.clear()
