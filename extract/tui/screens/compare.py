"""The compare view (marked runs side by side) and the diff view (two runs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.console import Group
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from extract.tui import sections
from extract.tui.context import host
from extract.tui.data import CompareData, TableWindow
from extract.tui.messages import CompareLoaded, DiffLoaded, Failed, StoreChanged

PREVIEW_ROWS = 6
PREVIEW_COLS = 12

SCREEN_CSS = """
{name} {{
    background: $background;
}}
{name} > VerticalScroll {{
    border: round $x-border-focused;
    border-title-color: $accent;
    padding: 0 1;
    height: 1fr;
}}
{name} > VerticalScroll > Static {{
    margin: 0 0 1 0;
}}
{name} > #help-line {{
    dock: bottom;
    height: 1;
    color: $x-accent-dim;
}}
"""


class CompareScreen(Screen[None]):
    """Sections in ``[compare] sections`` order: pivot, config, tables, curves."""

    DEFAULT_CSS = SCREEN_CSS.format(name="CompareScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "back"),
        Binding("left", "cycle(-1)", "previous curve"),
        Binding("right", "cycle(1)", "next curve"),
        Binding("t", "tables", "tables"),
        Binding("d", "diff", "diff"),
        Binding("j", "scroll(1)", "down", show=False),
        Binding("k", "scroll(-1)", "up", show=False),
    ]

    def __init__(self, run_ids: Sequence[str]) -> None:
        super().__init__()
        self.run_ids = list(run_ids)
        self.data: CompareData | None = None
        self.previews: dict[str, TableWindow] = {}
        self.focus_index = -1

    def compose(self) -> ComposeResult:
        cfg = host(self).browser.config
        with VerticalScroll(id="compare-body") as body:
            body.border_title = f"Compare {len(self.run_ids)} runs"
            for name in cfg.compare.sections:
                yield Static(id=f"cmp-{name}")
            if not cfg.compare.sections:
                yield Static("[compare] sections is empty", id="cmp-empty")
        yield Static(
            "← →: curve focus · t: tables · d: diff first two · escape: back", id="help-line"
        )

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
        self.load()

    @work(thread=True, exclusive=True, group="compare")
    def load(self) -> None:
        browser = host(self).browser
        try:
            data = browser.compare(self.run_ids)
            previews = {}
            for _, refs in data.tables:
                for ref in refs:
                    previews[ref.object_id] = browser.table_window(
                        ref, 0, 0, PREVIEW_ROWS, PREVIEW_COLS
                    )
            self.previews = previews
        except Exception as e:
            self.post_message(Failed(f"compare: {e}"))
            return
        self.post_message(CompareLoaded(data))

    @on(CompareLoaded)
    def _loaded(self, msg: CompareLoaded) -> None:
        msg.stop()
        self.data = msg.data
        self.redraw()

    @on(Failed)
    def _failed(self, msg: Failed) -> None:
        msg.stop()
        host(self).say(msg.text, "error")

    def redraw(self) -> None:
        d = self.data
        if d is None:
            return
        cfg = host(self).browser.config
        body = self.query_one(VerticalScroll)
        body.border_title = "Compare " + ", ".join(r.short for r in d.runs)
        for name in cfg.compare.sections:
            if name == "pivot":
                r = sections.pivot_section(d, cfg)
            elif name == "config":
                r = sections.config_section(d, cfg)
            elif name == "tables":
                r = sections.compare_tables_section(d, self.previews, cfg)
            else:
                r = sections.compare_curves_section(d, cfg, self.focus_index)
            self.query_one(f"#cmp-{name}", Static).update(r)

    def action_cycle(self, step: int) -> None:
        if self.data is None or not self.data.charts:
            return
        n = len(self.data.charts)
        self.focus_index = (self.focus_index + 1 + step) % (n + 1) - 1
        self.redraw()

    def action_scroll(self, step: int) -> None:
        self.query_one(VerticalScroll).scroll_relative(y=step * 3, animate=False)

    def action_tables(self) -> None:
        if self.data is None:
            return
        refs = [ref for _, rs in self.data.tables for ref in rs]
        if not refs:
            host(self).say("none of these runs logged a table", "warning")
            return
        from extract.tui.screens.tableview import TableScreen

        self.app.push_screen(TableScreen(refs))

    def action_diff(self) -> None:
        if len(self.run_ids) >= 2:
            self.app.push_screen(DiffScreen(self.run_ids[0], self.run_ids[1]))

    def action_close(self) -> None:
        self.dismiss(None)

    def on_store_changed(self, msg: StoreChanged) -> None:
        self.load()


class DiffScreen(Screen[None]):
    """Two runs: config keys that differ, metrics with the better side, params, code, tags."""

    DEFAULT_CSS = SCREEN_CSS.format(name="DiffScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "back"),
        Binding("w", "swap", "swap"),
        Binding("j", "scroll(1)", "down", show=False),
        Binding("k", "scroll(-1)", "up", show=False),
    ]

    def __init__(self, a: str, b: str) -> None:
        super().__init__()
        self.a, self.b = a, b

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="diff-body") as body:
            body.border_title = "Diff"
            yield Static("loading…", id="diff-content")
        yield Static("w: swap sides · escape: back", id="help-line")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
        self.load()

    @work(thread=True, exclusive=True, group="diff")
    def load(self) -> None:
        try:
            data = host(self).browser.diff(self.a, self.b)
        except Exception as e:
            self.post_message(Failed(f"diff: {e}"))
            return
        self.post_message(DiffLoaded(data))

    @on(DiffLoaded)
    def _loaded(self, msg: DiffLoaded) -> None:
        msg.stop()
        cfg = host(self).browser.config
        self.query_one(
            VerticalScroll
        ).border_title = f"Diff {msg.data.a.short} → {msg.data.b.short}"
        self.query_one("#diff-content", Static).update(Group(sections.diff_view(msg.data, cfg)))

    @on(Failed)
    def _failed(self, msg: Failed) -> None:
        msg.stop()
        host(self).say(msg.text, "error")

    def action_swap(self) -> None:
        self.a, self.b = self.b, self.a
        self.load()

    def action_scroll(self, step: int) -> None:
        self.query_one(VerticalScroll).scroll_relative(y=step * 3, animate=False)

    def action_close(self) -> None:
        self.dismiss(None)

    def on_store_changed(self, msg: StoreChanged) -> None:
        self.load()
