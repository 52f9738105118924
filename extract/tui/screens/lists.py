"""Lists of runs: how a run is drawn as one line (shared with the run browser, in
``browser``), the search popup, the run picker and the selection window."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from extract.index.models import Column, RunRow
from extract.tui import fmt
from extract.tui.context import host
from extract.tui.messages import Failed, MarksChanged, RowsLoaded
from extract.tui.screens.common import goto_run
from extract.tui.screens.popups import POPUP_CSS
from extract.tui.theme import status_color
from extract.tui.widgets.vtable import VirtualTable

NAME_W = 24
EXP_W = 30
COL_W = 10


def column_title(col: Column) -> str:
    """A column's header: the name without its ``config.``/``param.``/``metric.`` prefix."""
    if col.kind != "field" and col.name.startswith(("config.", "param.", "metric.")):
        return col.name.split(".", 1)[1]
    return col.name


def run_header(
    width: int, columns: Sequence[Column] = (), sort: str | None = None, descending: bool = False
) -> Text:
    text = Text(f"   {'run':<{NAME_W}} {'experiment':<{EXP_W}} {'started':<16} {'took':>7}  ")
    for col in columns:
        if col.name == sort:
            mark = "▼" if descending else "▲"
            text.append(f"{fmt.clip(column_title(col), COL_W - 1) + mark:>{COL_W}} ", style="bold")
        else:
            text.append(f"{fmt.clip(column_title(col), COL_W):>{COL_W}} ")
    text.append("tags")
    return text


def cell_text(col: Column, value: Any) -> str:
    """One cell of the run browser, ``COL_W`` wide: numbers as everywhere in the UI."""
    if col.kind == "metric" or (isinstance(value, int | float) and not isinstance(value, bool)):
        return fmt.num(value, COL_W)
    return fmt.clip("—" if value is None else fmt.value(value), COL_W).rjust(COL_W)


def run_line(
    owner: Any,
    row: RunRow,
    columns: Sequence[Column] = (),
    cells: Sequence[Any] | None = None,
    best: Mapping[str, str] | None = None,
) -> Text:
    app = host(owner)
    theme = app.browser.config.theme
    text = Text("◆" if row.id in app.marks else " ", style=Style(color=theme.accent, bold=True))
    text.append(
        f"{fmt.STATUS_GLYPH.get(row.status, '?')} ",
        style=Style(color=status_color(theme, row.status)),
    )
    text.append(f"{fmt.clip(row.short, NAME_W):<{NAME_W}} ")
    text.append(
        f"{fmt.clip(row.experiment_path, EXP_W):<{EXP_W}} ", style=Style(color=theme.accent_dim)
    )
    text.append(f"{fmt.when(row.started_at, seconds=False):<16} ")
    text.append(f"{fmt.duration(app.browser.duration(row)):>7}  ")
    top = Style(color=theme.success, bold=True)
    for i, col in enumerate(columns):
        if cells is None:
            text.append(f"{'…':>{COL_W}} ", style="dim")
            continue
        is_best = best is not None and best.get(col.name) == row.id
        text.append(cell_text(col, cells[i]), style=top if is_best else "")
        text.append(" ")
    text.append(", ".join(row.tags), style=Style(color=theme.accent_dim))
    return text


def placeholder_line(owner: Any) -> Text:
    """A row of a paged list whose page is still being read."""
    return Text("  …", style=Style(color=host(owner).browser.config.theme.accent_dim))


class _RunList:
    """What the run lists share: marking and opening the row under the cursor."""

    def _table(self) -> VirtualTable:
        raise NotImplementedError

    def mark_current(self) -> None:
        table = self._table()
        row = table.current
        if isinstance(row, RunRow):
            host(table).toggle_mark(row)
            table.action_move(1)
            table.refresh()


class SearchScreen(ModalScreen[None], _RunList):
    """Search runs by name, tags, notes or id prefix, with status:, tag: and exp: filters."""

    DEFAULT_CSS = (
        POPUP_CSS.format(name="SearchScreen", width="90%")
        + """
    SearchScreen VirtualTable {
        height: 20;
    }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "close"),
        Binding("space,m", "mark", "mark", show=False),
    ]

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = "Search runs"
            yield Input(
                value=self.text,
                placeholder="text in name, tags, notes or id   filters: status:running tag:x exp:prefix",
                id="search-input",
            )
            yield VirtualTable(self._line, run_header, "no matching runs", id="search-results")
            yield Static(
                Text("enter: go to run · tab: results · space: mark · escape: close", style="dim")
            )

    def _table(self) -> VirtualTable:
        return self.query_one(VirtualTable)

    def _line(self, row: RunRow, index: int, width: int) -> Text:
        return run_line(self, row)

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self.search(self.text)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self.text = event.value
        self.search(event.value)

    @work(thread=True, exclusive=True, group="search")
    def search(self, text: str) -> None:
        try:
            rows = host(self).browser.search(text)
        except Exception as e:
            self.post_message(Failed(str(e)))
            return
        self.post_message(RowsLoaded(text, rows))

    @on(RowsLoaded)
    def _results(self, msg: RowsLoaded) -> None:
        msg.stop()
        if msg.token == self.text:
            self._table().set_rows(msg.rows)

    @on(Failed)
    def _failed(self, msg: Failed) -> None:
        msg.stop()
        self._table().empty = msg.text
        self._table().set_rows([])

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        row = self._table().current
        if isinstance(row, RunRow):
            goto_run(self.app, row.id)

    @on(VirtualTable.Activated)
    def _activated(self, msg: VirtualTable.Activated) -> None:
        row = msg.table.current
        if isinstance(row, RunRow):
            goto_run(self.app, row.id)

    def action_mark(self) -> None:
        if self.focused is self._table():
            self.mark_current()

    def action_close(self) -> None:
        self.dismiss(None)

    def on_marks_changed(self, msg: MarksChanged) -> None:
        self._table().refresh()


class RunPicker(ModalScreen[str | None]):
    """Pick one run by typing part of its name or id; returns its id."""

    DEFAULT_CSS = (
        POPUP_CSS.format(name="RunPicker", width="80%")
        + """
    RunPicker VirtualTable {
        height: 16;
    }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "close")]

    def __init__(self, title: str = "Go to run", exclude: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.exclude = exclude
        self.text = ""

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = self.title_text
            yield Input(placeholder="name or id", id="picker-input")
            yield VirtualTable(self._line, None, "no matching runs", id="picker-results")

    def _line(self, row: RunRow, index: int, width: int) -> Text:
        return run_line(self, row)

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self.search("")

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self.text = event.value
        self.search(event.value)

    @work(thread=True, exclusive=True, group="picker")
    def search(self, text: str) -> None:
        try:
            rows = [r for r in host(self).browser.search(text, limit=100) if r.id != self.exclude]
        except Exception as e:
            self.post_message(Failed(str(e)))
            return
        self.post_message(RowsLoaded(text, rows))

    @on(RowsLoaded)
    def _results(self, msg: RowsLoaded) -> None:
        msg.stop()
        if msg.token == self.text:
            self.query_one(VirtualTable).set_rows(msg.rows)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self._pick()

    @on(VirtualTable.Activated)
    def _activated(self) -> None:
        self._pick()

    def _pick(self) -> None:
        row = self.query_one(VirtualTable).current
        if isinstance(row, RunRow):
            self.dismiss(row.id)

    def action_close(self) -> None:
        self.dismiss(None)


class SelectionScreen(ModalScreen[None], _RunList):
    """The marked runs: unmark, clear, compare, diff or open them."""

    DEFAULT_CSS = (
        POPUP_CSS.format(name="SelectionScreen", width="80%")
        + """
    SelectionScreen VirtualTable {
        height: 14;
    }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,v", "close", "close"),
        Binding("space,m", "unmark", "unmark"),
        Binding("C", "clear", "clear"),
        Binding("c", "compare", "compare"),
        Binding("d", "diff", "diff"),
    ]

    def __init__(self, on_compare: Callable[[], None], on_diff: Callable[[], None]) -> None:
        super().__init__()
        self.on_compare = on_compare
        self.on_diff = on_diff

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = "Marked runs"
            yield VirtualTable(
                self._line, run_header, "no marked runs: space marks a run", id="selection-table"
            )
            yield Static(
                Text(
                    "enter: go to run · space: unmark · C: clear all · c: compare · d: diff · escape: close",
                    style="dim",
                )
            )

    def _table(self) -> VirtualTable:
        return self.query_one(VirtualTable)

    def _line(self, row: RunRow, index: int, width: int) -> Text:
        return run_line(self, row)

    def on_mount(self) -> None:
        self._fill()
        self._table().focus()

    def _fill(self) -> None:
        self._table().set_rows(list(host(self).marks.values()), keep=lambda r: r.id)

    def action_unmark(self) -> None:
        row = self._table().current
        if isinstance(row, RunRow):
            host(self).toggle_mark(row)

    def on_marks_changed(self, msg: MarksChanged) -> None:
        self._fill()

    def action_clear(self) -> None:
        host(self).clear_marks()

    def action_compare(self) -> None:
        self.dismiss(None)
        self.on_compare()

    def action_diff(self) -> None:
        self.dismiss(None)
        self.on_diff()

    @on(VirtualTable.Activated)
    def _activated(self, msg: VirtualTable.Activated) -> None:
        row = msg.table.current
        if isinstance(row, RunRow):
            goto_run(self.app, row.id)

    def action_close(self) -> None:
        self.dismiss(None)
