"""What the other sections share: headings, status and key/value cells, and the stacked
line charts (``Charts``) of the run, compare and diff views."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.style import Style
from rich.table import Table
from rich.text import Text

from extract.display.settings import TuiConfig, auto_curve_height
from extract.index.models import RunRow, Todo
from extract.tui import chart, fmt
from extract.tui.data import Chart, Series
from extract.tui.theme import palette, priority_color, status_color

ARROW = {"min": "↓", "max": "↑"}


def heading(text: str, cfg: TuiConfig) -> Text:
    return Text(text, style=Style(color=cfg.theme.accent, bold=True))


def status(row: RunRow, cfg: TuiConfig) -> Text:
    return Text(
        f"{fmt.STATUS_GLYPH.get(row.status, '?')} {row.status}",
        style=Style(color=status_color(cfg.theme, row.status)),
    )


def _kv(table: Table, key: str, value: RenderableType | str, cfg: TuiConfig) -> None:
    table.add_row(Text(key, style=Style(color=cfg.theme.accent_dim)), value)


def _grid() -> Table:
    t = Table.grid(padding=(0, 2))
    t.add_column(no_wrap=True)
    t.add_column(overflow="fold")
    return t


class Charts:
    """Stacked line charts, ``pct`` percent of the width they are given."""

    def __init__(
        self,
        charts: Sequence[Chart],
        cfg: TuiConfig,
        *,
        pct: int,
        height: int | None,
        smooth: bool,
        focus: int = -1,
        notes: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.charts = list(charts)
        self.cfg = cfg
        self.pct = pct
        self.height = height
        self.smooth = smooth
        self.focus = focus
        self.notes = notes or {}

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.charts:
            yield Text("no curves logged", style="dim")
            return
        shown = self.charts if self.focus < 0 else [self.charts[self.focus % len(self.charts)]]
        width = max(24, options.max_width * self.pct // 100)
        height = self.height if self.height is not None else auto_curve_height(len(shown))
        colors = palette(self.cfg.theme)
        axis = self.cfg.theme.accent_dim
        if self.focus >= 0:
            pos = self.focus % len(self.charts)
            yield Text(
                f"curve focus {pos + 1}/{len(self.charts)} (← → to cycle)",
                style=Style(color=axis),
            )
        for c in shown:
            lines = [
                chart.Line(s.label, s.steps, s.values, colors[s.slot % len(colors)])
                for s in c.series
            ]
            title = Text(c.metric, style=Style(bold=True))
            title.append(
                f"  {ARROW[c.direction]} {'lower' if c.direction == 'min' else 'higher'} is better",
                style=Style(color=axis),
            )
            if c.x_max is not None:
                title.append(f"  x pinned to [0, {c.x_max}]", style=Style(color=axis))
            yield title
            notes = self.notes.get(c.metric) or [_series_note(s) for s in c.series]
            yield chart.legend(lines, list(notes))
            yield from chart.render(
                lines, width, height, x_max=c.x_max, smooth=self.smooth, axis_style=axis
            )
            yield Text("")


def _series_note(s: Series) -> str:
    if not len(s.steps):
        return "no points"
    return f"last {fmt.num(float(s.values[-1]))} @ {int(s.steps[-1])} · {s.points} pts"


def todo_text(todo: Todo, cfg: TuiConfig) -> Text:
    text = Text("[x] " if todo.done else "[ ] ")
    p = todo.priority
    text.append(f"{fmt.PRIORITY.get(p, p)} ", style=Style(color=priority_color(cfg.theme, p)))
    text.append(todo.content, style="strike dim" if todo.done else "")
    return text


def _best_style(cfg: TuiConfig) -> Style:
    return Style(color=cfg.theme.success, bold=True)
