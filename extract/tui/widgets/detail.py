"""The detail panel: a run's (or an experiment's) Summary and Info tabs.

Summary draws the sections of ``[summary] sections`` in that order; Info shows
the config flattened to dotted keys and filtered by ``[info] fields``. Loading
happens in a thread worker; the panel keeps the last data, so switching tabs,
cycling the curve focus or toggling smoothing redraws without a query.
"""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import ContentSwitcher, Static

from extract.tui import sections
from extract.tui.context import host
from extract.tui.data import NodeSummary, RunDetail, TableWindow
from extract.tui.messages import DetailLoaded, Failed

PREVIEW_ROWS = 6
PREVIEW_COLS = 16


class DetailBody(VerticalScroll, can_focus=True):
    """A scrolling tab body; ← → cycle the curve focus of the panel that owns it."""

    DEFAULT_CSS = """
    DetailBody {
        height: 1fr;
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    DetailBody > Static {
        margin: 0 0 1 0;
        width: 1fr;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "cycle(-1)", "previous curve", show=False),
        Binding("right", "cycle(1)", "next curve", show=False),
        Binding("j", "scroll_down", "down", show=False),
        Binding("k", "scroll_up", "up", show=False),
    ]

    def action_cycle(self, step: int) -> None:
        panel = next((a for a in self.ancestors if isinstance(a, DetailPanel)), None)
        if panel is not None:
            panel.cycle_focus(step)


class DetailPanel(Vertical):
    DEFAULT_CSS = """
    DetailPanel {
        height: 1fr;
        width: 1fr;
        border: round $x-border;
        border-title-color: $x-accent-dim;
        background: $background;
    }
    DetailPanel:focus-within {
        border: round $x-border-focused;
        border-title-color: $accent;
    }
    DetailPanel > #detail-tabs {
        height: 1;
        padding: 0 1;
    }
    DetailPanel ContentSwitcher {
        height: 1fr;
    }
    """

    def __init__(self) -> None:
        super().__init__(id="detail")
        self.border_title = "Detail"
        self.key: tuple[str, str] | None = None
        self.data: RunDetail | NodeSummary | None = None
        self.previews: dict[str, TableWindow] = {}
        self.tab = "summary"
        self.focus_index = -1

    def compose(self) -> ComposeResult:
        cfg = host(self).browser.config
        yield Static(id="detail-tabs")
        with ContentSwitcher(initial="summary"):
            with DetailBody(id="summary"):
                for name in cfg.summary.sections:
                    yield Static(id=f"sec-{name}", classes="section")
            with DetailBody(id="info"):
                yield Static(id="info-body")

    def on_mount(self) -> None:
        self._draw_tabs()

    # what to show ----------------------------------------------------------------
    def show(self, kind: str, key: str) -> None:
        if self.key != (kind, key):
            self.key = (kind, key)
            self.focus_index = -1
        self.load()

    def reload(self) -> None:
        if self.key is not None:
            self.load()

    @work(thread=True, exclusive=True, group="detail")
    def load(self) -> None:
        key = self.key
        if key is None:
            return
        browser = host(self).browser
        try:
            data: RunDetail | NodeSummary
            if key[0] == "run":
                data = browser.run_detail(key[1])
                previews = {}
                for ref in data.tables[:4]:
                    previews[ref.object_id] = browser.table_window(
                        ref, 0, 0, PREVIEW_ROWS, PREVIEW_COLS
                    )
                self.previews = previews
            else:
                data = browser.node_summary(key[1])
        except Exception as e:
            self.post_message(Failed(f"loading {key[1] or 'the store'}: {e}"))
            return
        self.post_message(DetailLoaded(f"{key[0]}:{key[1]}", data))

    @on(DetailLoaded)
    def _loaded(self, msg: DetailLoaded) -> None:
        msg.stop()
        if self.key is None or msg.key != f"{self.key[0]}:{self.key[1]}":
            return
        self.data = msg.data
        self.redraw()

    # tabs and focus -------------------------------------------------------------
    def switch(self, tab: str) -> None:
        """Show a tab. Both tabs are drawn when data arrives, so this only swaps them."""
        if tab == self.tab:
            return
        self.tab = tab
        self.query_one(ContentSwitcher).current = tab
        self._draw_tabs()

    def cycle_focus(self, step: int) -> None:
        charts = self.data.charts if self.data is not None else ()
        if not charts:
            return
        n = len(charts)
        # -1 (all) -> 0 -> ... -> n-1 -> -1
        self.focus_index = (self.focus_index + 1 + step) % (n + 1) - 1
        self.redraw()

    def _draw_tabs(self) -> None:
        theme = host(self).browser.config.theme
        text = Text()
        for key, label in (("summary", "S Summary"), ("info", "I Info")):
            on_ = key == self.tab
            text.append(
                f" {label} ",
                style=Style(color=theme.bg, bgcolor=theme.accent, bold=True)
                if on_
                else Style(color=theme.accent_dim),
            )
            text.append(" ")
        self.query_one("#detail-tabs", Static).update(text)

    # drawing ----------------------------------------------------------------------
    def redraw(self) -> None:
        data = self.data
        if data is None:
            return
        app = host(self)
        cfg = app.browser.config
        if isinstance(data, RunDetail):
            self.border_title = data.row.label
        else:
            self.border_title = data.path or "all experiments"
        body = (
            sections.info_section(data, cfg)
            if isinstance(data, RunDetail)
            else sections.node_info_section(data, cfg)
        )
        self.query_one("#info-body", Static).update(body)
        for name in cfg.summary.sections:
            widget = self.query_one(f"#sec-{name}", Static)
            widget.update(self._section(name, data))

    def _section(self, name: str, data: RunDetail | NodeSummary) -> RenderableType:
        app = host(self)
        cfg = app.browser.config
        title = sections.heading(
            {
                "runs": "Run" if isinstance(data, RunDetail) else "Runs",
                "metrics": "Metrics",
                "tables": "Tables",
                "curves": "Curves",
            }[name],
            cfg,
        )
        if name == "runs":
            body = (
                sections.run_section(data, cfg, data.row.id in app.marks)
                if isinstance(data, RunDetail)
                else sections.node_runs_section(data, cfg, app.marks)
            )
        elif name == "metrics":
            body = (
                sections.metrics_section(data, cfg)
                if isinstance(data, RunDetail)
                else sections.rankings_section(data, cfg)
            )
        elif name == "tables":
            if isinstance(data, RunDetail):
                body = sections.tables_section(data.tables, self.previews, cfg)
            else:
                body = Text("select a run to see its tables", style="dim")
        else:
            body = sections.curves_section(
                data,
                cfg,
                focus=self.focus_index,
                smooth=app.smooth,
                pct=cfg.summary.curve_width,
                height=cfg.summary.curve_height,
            )
        return Group(title, body)
