"""The table viewer: a logged array as a heatmap or coloured by the highlight rules.

Only the window on screen is read: moving it reads the chunks it newly touches,
so a 10,000 x 10,000 matrix opens as fast as a small one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static

from extract.tui import fmt, heatmap
from extract.tui.context import host
from extract.tui.data import TableRef, TableWindow
from extract.tui.messages import Failed, TableLoaded


class TableScreen(Screen[None]):
    DEFAULT_CSS = """
    TableScreen {
        background: $background;
    }
    TableScreen > #table-head {
        height: 2;
        padding: 0 1;
    }
    TableScreen > #table-body {
        height: 1fr;
        border: round $x-border-focused;
        border-title-color: $accent;
        padding: 0 1;
    }
    TableScreen > #table-foot {
        height: 2;
        padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "back"),
        Binding("up", "move(-1, 0)", "up", show=False),
        Binding("down", "move(1, 0)", "down", show=False),
        Binding("left", "move(0, -1)", "left", show=False),
        Binding("right", "move(0, 1)", "right", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("pagedown", "page(1)", "page down", show=False),
        Binding("home", "edge(0)", "first rows", show=False),
        Binding("end", "edge(1)", "last rows", show=False),
        Binding("H", "mode", "heatmap / rules"),
        Binding("left_square_bracket", "table(-1)", "previous table"),
        Binding("right_square_bracket", "table(1)", "next table"),
        Binding("comma", "lead(-1)", "previous index"),
        Binding("full_stop", "lead(1)", "next index"),
    ]

    def __init__(self, refs: Sequence[TableRef], index: int = 0) -> None:
        super().__init__()
        self.refs = list(refs)
        self.index = index
        self.row0 = 0
        self.col0 = 0
        self.lead: tuple[int, ...] = ()
        self.mode = "heatmap"
        self.window: TableWindow | None = None
        self.chunks_read = 0

    @property
    def ref(self) -> TableRef:
        return self.refs[self.index % len(self.refs)]

    def compose(self) -> ComposeResult:
        yield Static(id="table-head")
        yield Static(id="table-body")
        yield Static(id="table-foot")

    def on_mount(self) -> None:
        self.load()

    def on_resize(self) -> None:
        self.load()

    def _fit(self) -> tuple[int, int]:
        body = self.query_one("#table-body", Static)
        rows = max(1, body.size.height - 1)
        cols = heatmap.fit_columns(max(heatmap.ROW_LABEL + heatmap.CELL, body.size.width))
        return rows, cols

    def load(self) -> None:
        rows, cols = self._fit()
        self._load(self.ref, self.row0, self.col0, rows, cols, self.lead)

    @work(thread=True, exclusive=True, group="table")
    def _load(
        self, ref: TableRef, row0: int, col0: int, rows: int, cols: int, lead: tuple[int, ...]
    ) -> None:
        try:
            win = host(self).browser.table_window(ref, row0, col0, rows, cols, lead)
        except Exception as e:
            self.post_message(Failed(f"reading table {ref.name}: {e}"))
            return
        self.post_message(TableLoaded(win))

    @on(TableLoaded)
    def _loaded(self, msg: TableLoaded) -> None:
        msg.stop()
        w = msg.window
        self.window = w
        self.row0, self.col0, self.lead = w.row0, w.col0, w.lead
        self.chunks_read += w.chunks_read
        self.draw()

    @on(Failed)
    def _failed(self, msg: Failed) -> None:
        msg.stop()
        host(self).say(msg.text, "error")

    def draw(self) -> None:
        w = self.window
        if w is None:
            return
        cfg = host(self).browser.config
        theme = cfg.theme
        ref = w.ref
        head = Text(f"{ref.run_label} · ", style=Style(color=theme.accent_dim))
        head.append(ref.title, style="bold")
        head.append(
            f"   {fmt.TIMES.join(map(str, ref.shape)) or 'scalar'} {ref.dtype}   "
            f"table {self.index % len(self.refs) + 1}/{len(self.refs)}",
            style=Style(color=theme.accent_dim),
        )
        axes = ref.axes or {}
        nrows, ncols = w.data.shape if w.data.ndim == 2 else (1, w.data.size)
        head.append(
            f"\nrows {w.row0}-{w.row0 + nrows - 1} of {w.rows}"
            + (f" ({axes['rows']})" if "rows" in axes else "")
            + f" · cols {w.col0}-{w.col0 + ncols - 1} of {w.cols}"
            + (f" ({axes['cols']})" if "cols" in axes else "")
            + (f" · index {w.lead}" if w.lead else ""),
        )
        self.query_one("#table-head", Static).update(head)
        lines = heatmap.render(
            w.data,
            row0=w.row0,
            col0=w.col0,
            mode=self.mode,
            rules=cfg.tables,
            kind=w.kind,
            header_style=theme.accent_dim,
        )
        body = self.query_one("#table-body", Static)
        body.border_title = "heatmap" if self.mode == "heatmap" else "[[tables.highlight]] rules"
        text = Text("\n").join(lines)
        text.no_wrap = True
        body.update(text)
        if self.mode == "heatmap":
            lo, hi = heatmap.window_extent(w.data.reshape(-1).astype("float64").tolist())
            foot = Text("scale of this window: ") + heatmap.scale(lo, hi)
        else:
            foot = Text("rules, first match wins: ") + heatmap.rules_legend(cfg.tables)
        foot.append(
            f"\nchunks read for this window: {w.chunks_read} · arrows move · H mode · [ ] table · "
            ", . index · escape back",
            style="dim",
        )
        self.query_one("#table-foot", Static).update(foot)

    # moving --------------------------------------------------------------------
    def action_move(self, drow: int, dcol: int) -> None:
        self.row0 = max(0, self.row0 + drow)
        self.col0 = max(0, self.col0 + dcol)
        self.load()

    def action_page(self, direction: int) -> None:
        rows, _ = self._fit()
        self.row0 = max(0, self.row0 + direction * rows)
        self.load()

    def action_edge(self, end: int) -> None:
        rows, _ = self._fit()
        total = self.window.rows if self.window is not None else 0
        self.row0 = max(0, total - rows) if end else 0
        self.load()

    def action_mode(self) -> None:
        self.mode = "rules" if self.mode == "heatmap" else "heatmap"
        self.draw()

    def action_table(self, step: int) -> None:
        self.index = (self.index + step) % len(self.refs)
        self.row0 = self.col0 = 0
        self.lead = ()
        self.load()

    def action_lead(self, step: int) -> None:
        ndim = len(self.ref.shape)
        if ndim <= 2:
            host(self).say("this table has no leading axis to step through", "warning")
            return
        lead = list(self.lead or (0,) * (ndim - 2))
        lead[0] = max(0, min(self.ref.shape[0] - 1, lead[0] + step))
        self.lead = tuple(lead)
        self.load()

    def action_close(self) -> None:
        self.dismiss(None)
