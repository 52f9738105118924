"""The run browser: every run as a table paged from SQLite as it scrolls, with columns
(metrics, config keys, params) chosen in the column picker, sorted and filtered."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Static

from extract.index.models import Column, RunRow, RunTable
from extract.tui.context import host
from extract.tui.data import column
from extract.tui.messages import Failed, MarksChanged, RowsLoaded, StoreChanged, TablePageLoaded
from extract.tui.screens.annotate import AnnotateRun, Kind
from extract.tui.screens.common import goto_run, main_screen
from extract.tui.screens.lists import _RunList, column_title, placeholder_line, run_header, run_line
from extract.tui.screens.popups import POPUP_CSS, ConfirmDelete, TodoAdd
from extract.tui.widgets.vtable import VirtualTable

#: Rows of the run browser read per request: its table is paged from SQLite as it scrolls.
PAGE = 200
#: Run fields every line shows already (name, experiment, start, the status mark).
LINE_FIELDS = ("name", "experiment", "started", "status")
#: Headline metrics the run browser shows before any column is chosen; columns at most.
DEFAULT_METRICS = 4
MAX_COLUMNS = 6
#: What ``o`` cycles through in the run browser: (name, sort column, descending).
PRESETS: tuple[tuple[str, str | None, bool | None], ...] = (
    ("newest", None, None),
    ("oldest", "started", False),
    ("name", "name", False),
    ("status", "status", False),
)


class RunBrowser(Screen[None], _RunList):
    """Every run of the store (or of one experiment), one line each, sorted by any run
    field, headline metric, config key or param (``read.runs_table``, in SQL). Rows are
    read a page at a time as they come on screen, so 10,000 runs open as fast as 200."""

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
        Binding("s", "sort", "sort by"),
        Binding("r", "reverse", "reverse"),
        Binding("o", "order", "order"),
        Binding("c", "compare", "compare marked"),
        Binding("x,delete", "delete", "delete"),
        Binding("T", "annotate('tag')", "tag"),
        Binding("U", "annotate('untag')", "untag"),
        Binding("N", "annotate('note')", "note"),
        Binding("a", "add_todo", "add TODO"),
    ]

    def __init__(self, path: str = "") -> None:
        super().__init__()
        self.path = path
        self.sort: str | None = None  # a column; None: newest first
        self.descending: bool | None = None  # None: a metric best first, others ascending
        self.picked: list[str] = []  # columns chosen to sort by, most recent first
        self.table: RunTable | None = None  # the first page: columns, total, best runs
        self.cells: dict[str, tuple[Any, ...]] = {}  # run id -> its column values
        self._token = 0
        self._asked: set[int] = set()  # page offsets read or being read for this token

    @property
    def order(self) -> str:
        """The preset the sort matches (``o`` cycles them), or "custom"."""
        for name, sort, descending in PRESETS:
            if (self.sort, self.descending) == (sort, descending):
                return name
        return "custom"

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.table.columns if self.table is not None else ()

    def compose(self) -> ComposeResult:
        table = VirtualTable(self._line, self._header, "no runs", id="browser-table")
        table.border_title = f"Runs of {self.path or 'all experiments'}"
        yield table
        yield Static(
            Text(
                "enter open · space mark · s sort · r reverse · o order · c compare · "
                "x delete · T/U/N tag/untag/note · a TODO · esc back",
                style="dim",
            ),
            id="browser-help",
        )

    def _table(self) -> VirtualTable:
        return self.query_one(VirtualTable)

    def _header(self, width: int) -> Text:
        t = self.table
        return run_header(width, self.columns, t.sort if t else None, bool(t and t.descending))

    def _line(self, row: RunRow | None, index: int, width: int) -> Text:
        if row is None:
            return placeholder_line(self)
        best = self.table.best if self.table is not None else None
        return run_line(self, row, self.columns, self.cells.get(row.id), best)

    def on_mount(self) -> None:
        self._table().focus()
        self.load()

    # reading -------------------------------------------------------------------------
    def load(self) -> None:
        """Read the first page again (a new sort, or the store changed)."""
        self._token += 1
        self._asked = {0}
        self._first(self._token, self.sort, self.descending, list(self.picked))

    @work(thread=True, exclusive=True, group="browser")
    def _first(
        self, token: int, sort: str | None, descending: bool | None, picked: list[str]
    ) -> None:
        browser = host(self).browser
        try:
            metrics = browser.metric_columns(self.path)[:DEFAULT_METRICS]
            columns = list(dict.fromkeys([*picked, *metrics]))[:MAX_COLUMNS]
            table = browser.run_table(
                self.path, columns, sort=sort, descending=descending, limit=PAGE
            )
        except Exception as e:
            self.post_message(Failed(str(e)))
            return
        self.post_message(TablePageLoaded(token, 0, table))

    @work(thread=True, group="browser-page")
    def _page(self, token: int, offset: int, like: RunTable) -> None:
        try:
            table = host(self).browser.run_table(
                self.path,
                [c.name for c in like.columns],
                sort=like.sort,
                descending=like.descending,
                limit=PAGE,
                offset=offset,
            )
        except Exception as e:
            self.post_message(Failed(str(e)))
            return
        self.post_message(TablePageLoaded(token, offset, table))

    @on(TablePageLoaded)
    def _loaded(self, msg: TablePageLoaded) -> None:
        msg.stop()
        if msg.token != self._token:
            return  # an answer to an older sort or an older store
        t = msg.table
        if not msg.offset:
            self.cells = {}  # the columns may have changed
        self.cells.update((r.id, v) for r, v in zip(t.rows, t.values, strict=True))
        table = self._table()
        if msg.offset:
            table.fill(msg.offset, t.rows)
        else:
            self.table = t
            rows: list[RunRow | None] = [*t.rows, *([None] * max(0, t.total - len(t.rows)))]
            table.border_title = (
                f"Runs of {self.path or 'all experiments'} · {t.total} · {self._described(t)}"
            )
            table.set_rows(rows, keep=lambda r: None if r is None else r.id)
        self._want_pages()

    def _described(self, t: RunTable) -> str:
        if t.sort is None:
            return "newest first"
        if self.order != "custom":
            return f"{self.order} first"
        col = next((c for c in t.columns if c.name == t.sort), column(t.sort))
        way = "▼" if t.descending else "▲"
        if col.kind == "metric":
            best = t.descending == (t.directions.get(col.name, "max") == "max")
            return f"by {t.sort} {way} ({'best' if best else 'worst'} first)"
        return f"by {t.sort} {way}"

    def _want_pages(self) -> None:
        """Read the pages under the rows on screen (and a screenful around them), once."""
        table, like = self._table(), self.table
        if like is None:
            return
        visible = table.visible_range()
        page = max(1, len(visible))
        lo, hi = max(0, visible.start - page), min(len(table.rows), visible.stop + page)
        for offset in range(lo - lo % PAGE, hi, PAGE):
            if offset in self._asked:
                continue
            if any(r is None for r in table.rows[offset : min(offset + PAGE, hi)]):
                self._asked.add(offset)
                self._page(self._token, offset, like)

    @on(VirtualTable.Highlighted)
    def _moved(self) -> None:
        self._want_pages()

    @on(Failed)
    def _failed(self, msg: Failed) -> None:
        msg.stop()
        host(self).say(msg.text, "error")

    # keys ----------------------------------------------------------------------------
    @on(VirtualTable.Activated)
    def _activated(self, msg: VirtualTable.Activated) -> None:
        row = msg.table.current
        if isinstance(row, RunRow):
            goto_run(self.app, row.id)

    def action_mark(self) -> None:
        self.mark_current()

    def action_sort(self) -> None:
        def chosen(name: str | None) -> None:
            if name:
                self.sort_by(name)

        self.app.push_screen(ColumnPicker(self.path, self.sort), chosen)

    def sort_by(self, name: str, descending: bool | None = None) -> None:
        """Sort by a column (as ``read.runs_table`` names them) and show it."""
        self.sort, self.descending = name, descending
        if column(name).name not in LINE_FIELDS:
            self.picked = [name, *(p for p in self.picked if p != name)]
        self.load()

    def action_reverse(self) -> None:
        if self.sort is None:  # newest first, reversed
            self.sort, self.descending = "started", False
        else:
            current = self.table.descending if self.table is not None else bool(self.descending)
            self.descending = not current
        self.load()

    def action_order(self) -> None:
        names = [p[0] for p in PRESETS]
        i = names.index(self.order) if self.order in names else -1
        _, self.sort, self.descending = PRESETS[(i + 1) % len(PRESETS)]
        self.load()

    def action_compare(self) -> None:
        screen: Any = main_screen(self.app)
        screen.action_compare()

    def action_delete(self) -> None:
        row = self._table().current
        if isinstance(row, RunRow):
            self.app.push_screen(ConfirmDelete(row))

    def action_annotate(self, kind: Kind) -> None:
        row = self._table().current
        if not isinstance(row, RunRow):
            return
        if kind == "untag" and not row.tags:
            host(self).say(f"{row.label} has no tags to remove", "warning")
            return
        self.app.push_screen(AnnotateRun(kind, row))

    def action_add_todo(self) -> None:
        row = self._table().current
        if isinstance(row, RunRow):
            self.app.push_screen(TodoAdd(row))

    def action_close(self) -> None:
        self.dismiss(None)

    def on_store_changed(self, msg: StoreChanged) -> None:
        self.load()

    def on_marks_changed(self, msg: MarksChanged) -> None:
        self._table().refresh()


class ColumnPicker(ModalScreen[str | None]):
    """Pick the column the run browser sorts by: a run field, a headline metric, a config
    key or a param. Typing narrows the list; a name that is not listed is taken as typed."""

    DEFAULT_CSS = (
        POPUP_CSS.format(name="ColumnPicker", width="70%")
        + """
    ColumnPicker VirtualTable {
        height: 16;
    }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "close")]

    def __init__(self, path: str = "", current: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.sorted_by = current
        self.text = ""
        self.all: list[Column] | None = None  # None until read

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = "Sort runs by"
            yield Input(
                placeholder="column: val_acc, config.opt.lr, param.arch, steps, name ...",
                id="column-input",
            )
            yield VirtualTable(self._line, None, "reading the columns…", id="column-list")
            yield Static(
                Text(
                    "enter: sort by it (a metric best first; r reverses) · tab: the list · "
                    "escape: close",
                    style="dim",
                )
            )

    def _line(self, col: Column, index: int, width: int) -> Text:
        theme = host(self).browser.config.theme
        text = Text(f" {col.kind:<7} ", style=Style(color=theme.accent_dim))
        text.append(col.name, style="bold" if col.name == self.sorted_by else "")
        if col.kind == "metric":
            d = host(self).browser.direction(column_title(col))
            text.append(f"  {'↓ lower' if d == 'min' else '↑ higher'} is better", style="dim")
        return text

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self.read_columns()

    @work(thread=True, exclusive=True, group="columns")
    def read_columns(self) -> None:
        try:
            cols = list(host(self).browser.table_columns(self.path))
        except Exception as e:
            self.post_message(Failed(str(e)))
            return
        self.post_message(RowsLoaded("columns", cols))

    @on(RowsLoaded)
    def _loaded(self, msg: RowsLoaded) -> None:
        msg.stop()
        self.all = list(msg.rows)
        self._narrow()

    @on(Failed)
    def _failed(self, msg: Failed) -> None:
        msg.stop()
        table = self.query_one(VirtualTable)
        table.empty = msg.text
        table.set_rows([])

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self.text = event.value
        self._narrow()

    def _narrow(self) -> None:
        if self.all is None:
            return
        text = self.text.strip().casefold()
        table = self.query_one(VirtualTable)
        table.empty = f"no such column: enter sorts by {self.text.strip()!r} as typed"
        table.set_rows([c for c in self.all if text in c.name.casefold()])

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self._pick()

    @on(VirtualTable.Activated)
    def _activated(self) -> None:
        self._pick()

    def _pick(self) -> None:
        col = self.query_one(VirtualTable).current
        if isinstance(col, Column):
            self.dismiss(col.name)
        elif self.text.strip():
            self.dismiss(self.text.strip())

    def action_close(self) -> None:
        self.dismiss(None)
