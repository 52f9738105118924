"""Lists of runs: the search popup, the run picker, the run browser and the selection window."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Static

from extract.tui import fmt
from extract.tui.context import host
from extract.tui.core import RunRow
from extract.tui.messages import Failed, HeadlineLoaded, MarksChanged, RowsLoaded, StoreChanged
from extract.tui.screens.common import goto_run
from extract.tui.screens.popups import POPUP_CSS, ConfirmDelete
from extract.tui.theme import status_color
from extract.tui.widgets.vtable import VirtualTable

NAME_W = 24
EXP_W = 30


def run_header(width: int, metrics: list[str] | None = None) -> Text:
    text = Text(f"   {'run':<{NAME_W}} {'experiment':<{EXP_W}} {'started':<16} {'took':>7}  ")
    for m in metrics or []:
        text.append(f"{fmt.clip(m, 10):>10} ")
    text.append("tags")
    return text


def run_line(
    owner: Any,
    row: RunRow,
    metrics: list[str] | None = None,
    values: dict[str, dict[str, float | None]] | None = None,
) -> Text:
    app = host(owner)
    theme = app.browser.config.theme
    text = Text("◆" if row.id in app.marks else " ", style=Style(color=theme.accent, bold=True))
    text.append(
        f"{fmt.STATUS_GLYPH.get(row.status, '?')} ",
        style=Style(color=status_color(theme, row.status)),
    )
    text.append(f"{fmt.clip(row.label, NAME_W):<{NAME_W}} ")
    text.append(
        f"{fmt.clip(row.experiment_path, EXP_W):<{EXP_W}} ", style=Style(color=theme.accent_dim)
    )
    text.append(f"{fmt.when(row.started_at, seconds=False):<16} ")
    text.append(f"{fmt.duration(app.browser.duration(row)):>7}  ")
    for m in metrics or []:
        if values is None or row.id not in values:
            text.append(f"{'…':>10} ", style="dim")
        else:
            text.append(f"{fmt.num(values[row.id].get(m), 10)} ")
    text.append(", ".join(row.tags), style=Style(color=theme.accent_dim))
    return text


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


class RunBrowser(Screen[None], _RunList):
    """Every run of the store (or of one experiment), one line each, drawn as scrolled."""

    DEFAULT_CSS = """
    RunBrowser VirtualTable {
        height: 1fr;
    }
    RunBrowser > #browser-help {
        height: 1;
        dock: bottom;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "back"),
        Binding("space,m", "mark", "mark"),
        Binding("o", "order", "order"),
        Binding("x,delete", "delete", "delete"),
    ]
    ORDERS = ("newest", "oldest", "name", "status")

    def __init__(self, path: str = "") -> None:
        super().__init__()
        self.path = path
        self.order = "newest"
        self.metrics: list[str] = []
        self.values: dict[str, dict[str, float | None]] = {}
        self._asked: set[str] = set()

    def compose(self) -> ComposeResult:
        table = VirtualTable(self._line, self._header, "no runs", id="browser-table")
        table.border_title = f"Runs of {self.path or 'all experiments'}"
        yield table
        yield Static(
            Text(
                "enter: open · space: mark · o: order · x: delete · c: compare marked · escape: back",
                style="dim",
            ),
            id="browser-help",
        )

    def _table(self) -> VirtualTable:
        return self.query_one(VirtualTable)

    def _header(self, width: int) -> Text:
        return run_header(width, self.metrics)

    def _line(self, row: RunRow, index: int, width: int) -> Text:
        return run_line(self, row, self.metrics, self.values)

    def on_mount(self) -> None:
        self._table().focus()
        self.load()

    @work(thread=True, exclusive=True, group="browser")
    def load(self) -> None:
        browser = host(self).browser
        try:
            rows = browser.runs(self.path, order=self.order)
            self.metrics = browser.metric_names(self.path)[:4]
        except Exception as e:
            self.post_message(Failed(str(e)))
            return
        self.post_message(RowsLoaded(self.order, rows))

    @on(RowsLoaded)
    def _loaded(self, msg: RowsLoaded) -> None:
        msg.stop()
        table = self._table()
        table.border_title = (
            f"Runs of {self.path or 'all experiments'} · {len(msg.rows)} · {self.order} first"
        )
        self.values.clear()
        self._asked.clear()
        table.set_rows(msg.rows, keep=lambda r: r.id)
        self._want_headline()

    @on(VirtualTable.Highlighted)
    def _moved(self) -> None:
        self._want_headline()

    def _want_headline(self) -> None:
        """Headline values for the rows on screen (and a page around), fetched once."""
        table = self._table()
        visible = table.visible_range()
        page = max(1, len(visible))
        lo, hi = max(0, visible.start - page), min(len(table.rows), visible.stop + page)
        ids = [r.id for r in table.rows[lo:hi] if r.id not in self._asked]
        if ids and self.metrics:
            self._asked.update(ids)
            self._fetch(ids)

    @work(thread=True, group="browser-headline")
    def _fetch(self, ids: list[str]) -> None:
        try:
            values = host(self).browser.headline(ids)
        except Exception as e:
            self.post_message(Failed(str(e)))
            return
        self.post_message(HeadlineLoaded(values))

    @on(HeadlineLoaded)
    def _headline(self, msg: HeadlineLoaded) -> None:
        msg.stop()
        self.values.update(msg.values)
        self._table().refresh()

    @on(VirtualTable.Activated)
    def _activated(self, msg: VirtualTable.Activated) -> None:
        row = msg.table.current
        if isinstance(row, RunRow):
            goto_run(self.app, row.id)

    def action_mark(self) -> None:
        self.mark_current()

    def action_order(self) -> None:
        self.order = self.ORDERS[(self.ORDERS.index(self.order) + 1) % len(self.ORDERS)]
        self.load()

    def action_delete(self) -> None:
        row = self._table().current
        if isinstance(row, RunRow):
            self.app.push_screen(ConfirmDelete(row))

    def action_close(self) -> None:
        self.dismiss(None)

    def on_store_changed(self, msg: StoreChanged) -> None:
        self.load()

    def on_marks_changed(self, msg: MarksChanged) -> None:
        self._table().refresh()


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
