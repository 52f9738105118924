"""An experiment's Summary in the detail panel: its runs with as many headline metric
columns as fit, the rankings per metric, and its info."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.style import Style
from rich.table import Table
from rich.text import Text

from extract.display.settings import TuiConfig
from extract.tui import fmt
from extract.tui.data import NodeSummary
from extract.tui.theme import status_color

from .common import ARROW, _best_style, _grid, _kv, heading, todo_text


class NodeRuns:
    """An experiment's runs with as many headline metric columns as the width allows."""

    def __init__(self, s: NodeSummary, cfg: TuiConfig, marked: set[str]) -> None:
        self.s = s
        self.cfg = cfg
        self.marked = marked

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        s, cfg = self.s, self.cfg
        nested = s.node is None or s.node.n_total != s.node.n_runs
        used = 2 + 1 + 14 + 1 + 11 + 1 + (24 if nested else 0)
        metrics: list[str] = []
        for m in s.metrics:
            w = max(len(m) + 2, 9) + 1
            if used + w > options.max_width:
                break
            metrics.append(m)
            used += w
        t = Table(
            box=None,
            padding=(0, 1),
            show_edge=False,
            header_style=Style(color=cfg.theme.accent_dim),
        )
        t.add_column(" ", no_wrap=True, width=2)
        t.add_column("run", no_wrap=True, min_width=10, ratio=2)
        if nested:
            t.add_column("experiment", no_wrap=True, min_width=10, ratio=3)
        t.add_column("started", no_wrap=True, min_width=11)
        for m in metrics:
            t.add_column(f"{m} {ARROW[s.directions[m]]}", justify="right", no_wrap=True)
        best = _best_style(cfg)
        for r in s.runs:
            glyph = Text(
                fmt.STATUS_GLYPH.get(r.status, "?"),
                style=Style(color=status_color(cfg.theme, r.status)),
            )
            if r.id in self.marked:
                glyph.append("◆", style=Style(color=cfg.theme.accent))
            cells: list[RenderableType] = [glyph, r.short]
            if nested:
                rel = r.experiment_path[len(s.path) + 1 :] if s.path else r.experiment_path
                cells.append(Text(rel, style=Style(color=cfg.theme.accent_dim)))
            cells.append(fmt.when(r.started_at, seconds=False)[5:])
            for m in metrics:
                v = s.headline.get(r.id, {}).get(m)
                cells.append(Text(fmt.num(v), style=best if r.id in s.best.get(m, ()) else ""))
            t.add_row(*cells)
        yield t
        hidden = len(s.metrics) - len(metrics)
        if hidden > 0:
            yield Text(
                f"{hidden} more metrics: widen the terminal, or see Metrics below", style="dim"
            )


def node_runs_section(s: NodeSummary, cfg: TuiConfig, marks: Iterable[str]) -> RenderableType:
    title = Text(s.path or "all experiments", style=Style(bold=True))
    if s.node is not None and s.node.node_type:
        title.append(f"  [{s.node.node_type}]", style=Style(color=cfg.theme.accent_dim))
    title.append(f"  {s.total} runs", style=Style(color=cfg.theme.accent_dim))
    if s.live:
        title.append(f"  {s.live} running", style=Style(color=cfg.theme.warning))
    if not s.runs:
        return Group(title, Text("no runs yet", style="dim"))
    parts: list[RenderableType] = [title, NodeRuns(s, cfg, set(marks))]
    more = s.total - len(s.runs)
    if more > 0:
        parts.append(Text(f"… {more} more (b: run browser)", style="dim"))
    return Group(*parts)


def rankings_section(s: NodeSummary, cfg: TuiConfig) -> RenderableType:
    if not s.rankings:
        return Text("no headline metrics logged", style="dim")
    t = Table(
        box=None, padding=(0, 2), show_edge=False, header_style=Style(color=cfg.theme.accent_dim)
    )
    t.add_column("metric", no_wrap=True, min_width=max(len(r.metric) for r in s.rankings) + 2)
    t.add_column("best runs", overflow="ellipsis", no_wrap=True, ratio=1)
    t.add_column("branches (best run in each)", overflow="ellipsis", no_wrap=True, ratio=1)
    best = _best_style(cfg)
    for rk in s.rankings:
        runs = Text()
        for i, (label, v) in enumerate(rk.best):
            if i:
                runs.append("  ")
            runs.append(f"{i + 1}. {label} {fmt.num(v)}", style=best if i == 0 else "")
        branches = Text()
        for i, (label, v) in enumerate(rk.branches):
            if i:
                branches.append("  ")
            branches.append(f"{i + 1}. {label} {fmt.num(v)}", style=best if i == 0 else "")
        t.add_row(f"{rk.metric} {ARROW[rk.direction]}", runs, branches or Text("—", style="dim"))
    return t


def node_info_section(s: NodeSummary, cfg: TuiConfig) -> RenderableType:
    t = _grid()
    if s.node is None:
        _kv(t, "store", "all experiments", cfg)
    else:
        _kv(t, "path", s.node.path, cfg)
        _kv(t, "level", s.node.node_type or "—", cfg)
        _kv(t, "id", s.node.id, cfg)
        _kv(t, "runs here", str(s.node.n_runs), cfg)
        _kv(t, "runs below", str(s.node.n_total), cfg)
    _kv(t, "metrics", ", ".join(s.metrics) or "—", cfg)
    parts: list[RenderableType] = [heading("Experiment", cfg), t]
    if s.todos:
        parts.append(Text(""))
        parts.append(heading("TODOs", cfg))
        for todo in s.todos:
            parts.append(todo_text(todo, cfg))
    return Group(*parts)
