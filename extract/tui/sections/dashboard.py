"""The dashboard: the whole store at a glance (counts by status, what is running,
recent runs, experiments, latest models, open todos)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text

from extract.display.settings import TuiConfig
from extract.index.models import STATUSES
from extract.tui import fmt
from extract.tui.data import Dashboard
from extract.tui.theme import status_color

from .common import heading, status, todo_text


def dashboard_view(d: Dashboard, cfg: TuiConfig) -> RenderableType:
    o = d.overview
    head = Text("store ", style=Style(color=cfg.theme.accent_dim))
    head.append(d.store, style="bold")
    head.append("   main ", style=Style(color=cfg.theme.accent_dim))
    head.append(d.head[:12] if d.head else "no commit yet")
    head.append(f"   {o.commits} commits", style=Style(color=cfg.theme.accent_dim))
    counts = Text()
    counts.append(f"{o.runs} runs  ", style="bold")
    for s in STATUSES:
        counts.append(
            f"{fmt.STATUS_GLYPH[s]} {o.by_status.get(s, 0)} {s}   ",
            style=Style(color=status_color(cfg.theme, s)),
        )
    counts.append(
        f"{o.experiments} experiments   {o.models} models   "
        f"{o.todos_open} open TODOs   {o.uncommitted} not committed   {o.deleted} deleted",
        style=Style(color=cfg.theme.accent_dim),
    )
    parts: list[RenderableType] = [head, counts, Text("")]
    parts.append(heading("Running now", cfg))
    if not d.live:
        parts.append(Text("  nothing is running", style="dim"))
    for row, points in d.live:
        line = Text("  ")
        line.append_text(status(row, cfg))
        line.append(f"  {row.label}  ")
        line.append(f"{points} points", style=Style(color=cfg.theme.accent))
        if row.total_steps:
            line.append(f"  of {row.total_steps} steps declared", style="dim")
        parts.append(line)
    parts.append(Text(""))
    parts.append(heading("Recent runs", cfg))
    t = Table(box=None, padding=(0, 2), show_edge=False, show_header=False)
    for r in d.recent:
        t.add_row(status(r, cfg), r.label, fmt.when(r.started_at, seconds=False), ", ".join(r.tags))
    parts.append(t)
    parts.append(Text(""))
    parts.append(heading("Experiments", cfg))
    e = Table(box=None, padding=(0, 2), show_edge=False, show_header=False)
    for n in d.top:
        e.add_row(
            n.name,
            Text(n.node_type or "", style="dim"),
            f"{n.n_total} runs",
            Text(f"{n.n_live} running" if n.n_live else "", style=Style(color=cfg.theme.warning)),
        )
    parts.append(e)
    parts.append(Text(""))
    parts.append(heading("Latest models", cfg))
    if not d.models:
        parts.append(Text("  none registered", style="dim"))
    for m in d.models:
        parts.append(Text(f"  {m.key}  {m.framework or ''}  {fmt.size(m.size)}"))
    parts.append(Text(""))
    parts.append(heading("Open TODOs", cfg))
    if not d.todos:
        parts.append(Text("  none", style="dim"))
    for todo in d.todos:
        line = Text("  ") + todo_text(todo, cfg)
        if todo.scope_label:
            line.append(f"  ({todo.scope_label})", style="dim")
        parts.append(line)
    return Group(*parts)
