"""A list that renders only the rows on screen: the run browser, search, models, TODOs.

Textual's DataTable renders every row on first paint (0.7 s for 10k rows); this
widget keeps the rows as plain objects and turns a row into text only when it is
drawn, so 10,000 runs paint as fast as 10.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

RowRenderer = Callable[[Any, int, int], Text]


class VirtualTable(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    VirtualTable {
        height: 1fr;
        border: round $x-border;
        background: $background;
    }
    VirtualTable:focus {
        border: round $x-border-focused;
    }
    VirtualTable > .vtable--header {
        color: $x-accent-dim;
        text-style: bold;
    }
    VirtualTable > .vtable--cursor {
        background: $x-accent-dim;
        text-style: bold;
    }
    VirtualTable:focus > .vtable--cursor {
        background: $accent 40%;
    }
    VirtualTable > .vtable--empty {
        color: $x-accent-dim;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "vtable--header",
        "vtable--cursor",
        "vtable--empty",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "up", show=False),
        Binding("down,j", "move(1)", "down", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("pagedown", "page(1)", "page down", show=False),
        Binding("home", "jump(0)", "first", show=False),
        Binding("end", "jump(-1)", "last", show=False),
        Binding("enter", "activate", "open", show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=True)

    @dataclass
    class Highlighted(Message):
        table: VirtualTable
        index: int

        @property
        def control(self) -> VirtualTable:
            return self.table

    @dataclass
    class Activated(Message):
        table: VirtualTable
        index: int

        @property
        def control(self) -> VirtualTable:
            return self.table

    def __init__(
        self,
        render_row: RowRenderer,
        header: Callable[[int], Text] | None = None,
        empty: str = "nothing here",
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: list[Any] = []
        self._render_row = render_row
        self._header = header
        self.empty = empty

    # data ------------------------------------------------------------------
    @property
    def header_lines(self) -> int:
        return 1 if self._header is not None else 0

    def set_rows(self, rows: Sequence[Any], keep: Callable[[Any], object] | None = None) -> None:
        """Replace the rows; with ``keep`` (a key function) the cursor stays on the same row."""
        old = self.current
        self.rows = list(rows)
        index = 0
        if keep is not None and old is not None:
            key = keep(old)
            index = next((i for i, r in enumerate(self.rows) if keep(r) == key), self.cursor)
        self.virtual_size = Size(self.size.width, len(self.rows) + self.header_lines)
        self.cursor = max(0, min(index, len(self.rows) - 1))
        self.refresh()

    def fill(self, offset: int, rows: Sequence[Any]) -> None:
        """Put rows loaded later (a page of a long list) in place of the placeholders at
        ``offset``; the list keeps its length and the cursor its place."""
        end = min(len(self.rows), offset + len(rows))
        if offset < end:
            self.rows[offset:end] = rows[: end - offset]
            self.refresh()

    @property
    def current(self) -> Any:
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor]
        return None

    def visible_range(self) -> range:
        top = int(self.scroll_y)
        return range(top, min(len(self.rows), top + max(1, self.size.height - self.header_lines)))

    # keys ------------------------------------------------------------------
    def action_move(self, delta: int) -> None:
        if self.rows:
            self.cursor = max(0, min(len(self.rows) - 1, self.cursor + delta))

    def action_page(self, direction: int) -> None:
        self.action_move(direction * max(1, self.size.height - self.header_lines - 1))

    def action_jump(self, where: int) -> None:
        if self.rows:
            self.cursor = len(self.rows) - 1 if where < 0 else 0

    def action_activate(self) -> None:
        if self.rows:
            self.post_message(self.Activated(self, self.cursor))

    def watch_cursor(self, index: int) -> None:
        self._scroll_to_cursor()
        self.refresh()
        if self.rows:
            self.post_message(self.Highlighted(self, index))

    def _scroll_to_cursor(self) -> None:
        view = max(1, self.size.height - self.header_lines)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + view:
            self.scroll_to(y=self.cursor - view + 1, animate=False, immediate=True)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows) + self.header_lines)
        self._scroll_to_cursor()

    def on_click(self, event: Any) -> None:
        y = int(getattr(event, "y", 0)) - self.header_lines
        if y >= 0:
            index = int(self.scroll_y) + y
            if 0 <= index < len(self.rows):
                self.cursor = index

    # drawing -----------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if self._header is not None and y == 0:
            style = self.get_component_rich_style("vtable--header")
            return self._strip(self._header(width), width, base + style)
        index = int(self.scroll_y) + y - self.header_lines
        if not self.rows:
            if y == self.header_lines:
                style = self.get_component_rich_style("vtable--empty")
                return self._strip(Text(" " + self.empty), width, base + style)
            return Strip.blank(width, base)
        if index >= len(self.rows):
            return Strip.blank(width, base)
        text = self._render_row(self.rows[index], index, width)
        strip = self._strip(text, width, base)
        if index == self.cursor:
            strip = strip.apply_style(self.get_component_rich_style("vtable--cursor"))
        return strip

    def _strip(self, text: Text, width: int, style: Style) -> Strip:
        text = text.copy()
        text.no_wrap = True
        text.overflow = "ellipsis"
        text.truncate(width, overflow="ellipsis", pad=True)
        segments = [
            Segment(s.text, style + s.style if s.style else style)
            for s in text.render(self.app.console)
            if s.text != "\n"
        ]
        return Strip(segments).crop_extend(0, width, style)
