"""A DataTable of view rows that a refresh updates in place: the work is O(rows that changed) plus the
rows in view, not O(rows x columns).

Rows are given as (key, row) pairs, `row` an immutable view object (a MovesRow, a BoardRow). Each cell
is a `LazyCell`: it formats its text from the row it points at only when it is drawn or read, so a
refresh that moves 200 prices stores 200 references and formats only the rows on screen. A refresh with
the same columns and the same set of keys neither clears the table nor adds rows (so no relayout, and the
cursor and scroll position stay), it re-points the rows that changed and reorders if the order changed.
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

    __slots__ = ("row", "specs")

    def __init__(self, row: object) -> None:
        self.row = row
        self.specs: dict[str, CellSpec] = {}


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


class RowTable(DataTable[Any]):
    """A DataTable that `show`s keyed view rows; see the module docstring."""

    def __init__(self, **kwargs: Any) -> None:
        # Before DataTable's __init__, whose reactive setters already clear the caches.
        self._drawn: LRUCache[tuple[object, ...], Any] = LRUCache(1024)  # cell renders, by what they show
        self._styles: dict[str, Style] = {}
        self._row_styles: dict[tuple[object, ...], Style] = {}
        self._header: LRUCache[tuple[object, ...], Any] = LRUCache(16)  # header lines, by what they show
        self._line_style: Style | None = None
        self._flags: tuple[object, ...] | None = None
        self._widths_for: tuple[tuple[int, ...], list[int], int] | None = None
        self._styled: LRUCache[tuple[object, ...], Style] = LRUCache(4096)
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
        keys = [key for key, _ in rows]
        if len(keys) != len(self._slots) or any(key not in self._slots for key in keys):
            self._rebuild(layout, rows, format)
            return
        changed = header
        for key, row in rows:
            slot = self._slots[key]
            if slot.row is not row and slot.row != row:
                slot.row, slot.specs = row, {}
                changed = True
        if keys != self._order:
            # What DataTable.sort does: the rows stay, their places change.
            self._row_locations = type(self._row_locations)({RowKey(key): i for i, key in enumerate(keys)})
            self._order = keys
            changed = True
        if changed:
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
            self.refresh()
        if home:
            self.cursor_coordinate = Coordinate(0, 0)
            self.scroll_to(0, 0, animate=False, immediate=True)

    def _rebuild(self, layout: tuple[tuple[str, int], ...], rows: Iterable[tuple[str, object]], format: Format) -> None:
        """Another set of rows (first data, a filter, a company added): start again."""
        if self.row_count:
            self.clear()
        self._slots, self._order = {}, []
        for key, row in rows:
            slot = self._slots[key] = _Slot(row)
            self._order.append(key)
            self.add_row(*(LazyCell(slot, column, format) for column, _ in layout), key=key)

    # -- drawing ---------------------------------------------------------------------------------------
    #
    # DataTable draws a cell through Rich's generic pipeline (Styled(Padding(Text)) -> render_lines), about
    # 65 us a cell, and then spends another ~300 us a line on bookkeeping; its caches are dropped whole on
    # every change. A refresh that moves every price redraws every visible line, ~1 ms each. Here a cell of
    # one line of single-width text is built directly as the segments that pipeline produces (same text,
    # same styles, so the line DataTable assembles and simplifies is the same; tests/test_ui_refresh_table.py
    # compares the two), cached by what it shows; anything else (the header, wide characters, text wider
    # than its column) goes through DataTable's own code.

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> Any:
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
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        # row_index and column_index are in the segments' metadata (mouse clicks).
        key = (cell.spec(), row_index, column_index, base_style, width, cursor, hover, flags)
        lines = self._drawn.get(key)
        if lines is None:
            lines = self._cell_segments(key[0], row_index, column_index, base_style, width, cursor, hover, flags)
            if lines is None:
                lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
            self._drawn[key] = lines
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
        cache_key = (
            row_key,
            line_no,
            base_style,
            cursor_location,
            hover_location,
            self.cursor_type,
            self.show_cursor,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        found = self._row_render_cache.get(cache_key)
        if found is not None:
            return found  # type: ignore[no-any-return]
        row_index = self._row_locations.get(row_key)
        row_style = self._row_style(row_index, base_style)
        cursor = row_index == cursor_location.row
        hover = row_index == hover_location.row  # what _should_highlight says of (row, 0) for a row cursor
        render_cell = self._render_cell
        widths, remaining_space = self._widths()
        scrollable_row = [
            render_cell(row_index, column_index, row_style, width, cursor=cursor, hover=hover)[line_no]
            for column_index, width in enumerate(widths)
        ]
        extend_key = ("extend", row_style, row_index, cursor, hover, self.show_cursor, self._show_hover_cursor)
        extend_style = self._styled.get(extend_key)
        if extend_style is None:
            extend_style, _ = self._get_styles_to_render_cell(
                False, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor, False, False
            )
            extend_style = row_style + extend_style
            extend_style += Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
            self._styled[extend_key] = extend_style
        scrollable_row.append([Segment(" " * remaining_space, extend_style)])
        row_pair: tuple[list[list[Segment]], list[list[Segment]]] = ([], scrollable_row)
        self._row_render_cache[cache_key] = row_pair
        return row_pair

    def render_lines(self, crop: Region) -> list[Strip]:
        # Looked up once for the lines drawn now, not once a line (~25 us) or a cell (reactives, ~1 us each).
        self._pseudo_class_state = self.get_pseudo_class_state()
        self._line_style = self.rich_style
        self._flags = self._current_flags()
        try:
            return super().render_lines(crop)
        finally:
            self._line_style = self._flags = None

    def render_line(self, y: int) -> Strip:
        """DataTable.render_line, with the widget's style looked up once per render_lines."""
        if self._line_style is None:
            return super().render_line(y)
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        fixed_rows_height = sum(self.get_row_height(self._row_locations.get_key(i)) for i in range(self.fixed_rows))
        if self.show_header:
            fixed_rows_height += self.get_row_height(self._header_row_key)
        if y >= fixed_rows_height:
            y += scroll_y
        return self._render_line(y, scroll_x, scroll_x + width, self._line_style)

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """DataTable's: a line of the table as one Strip. For a line that exactly fills an unscrolled table
        (every line here, unless the columns overflow) the crop and the length adjustment change nothing, so
        the one Strip is made directly (each Strip costs ~20 us: DataTable made three a line)."""
        width = self.size.width
        if x1 or self.fixed_columns:
            return super()._render_line(y, x1, x2, base_style)
        try:
            row_key, y_offset_in_row = self._get_offsets(y)
        except LookupError:
            return super()._render_line(y, x1, x2, base_style)
        cursor, hover = self.cursor_coordinate, self.hover_coordinate
        cache_key = (
            y,
            x1,
            x2,
            width,
            cursor,
            hover,
            base_style,
            self.cursor_type,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        found = self._line_cache.get(cache_key)
        if found is not None:
            return found  # type: ignore[no-any-return]
        fixed, scrollable = self._render_line_in_row(row_key, y_offset_in_row, base_style, cursor, hover)
        segments = [segment for cell in scrollable for segment in cell]
        if fixed or x2 != width or Segment.get_line_length(segments) != width:
            return super()._render_line(y, x1, x2, base_style)
        strip = Strip(Segment.simplify(segments), width)
        self._line_cache[cache_key] = strip
        return strip

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
        self._styles.clear()
        self._row_styles.clear()
        self._header.clear()
        self._styled.clear()
