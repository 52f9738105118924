"""A run's Summary in the detail panel: its record, metrics, tables (with previews),
curves and info."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.color import Color
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.style import Style
from rich.table import Table
from rich.text import Text

from extract.display.settings import TuiConfig
from extract.index.models import CurveStats
from extract.tui import fmt, heatmap
from extract.tui.data import NodeSummary, RunDetail, TableWindow

from .common import ARROW, Charts, _grid, _kv, heading, status, todo_text


def run_section(d: RunDetail, cfg: TuiConfig, marked: bool) -> RenderableType:
    """The "runs" section of a run: who, when, where from, which objects."""
    r, info = d.row, d.info
    title = Text(r.short, style=Style(bold=True))
    title.append("  ")
    title.append_text(status(r, cfg))
    if marked:
        title.append("  ◆ marked", style=Style(color=cfg.theme.accent))
    if r.live:
        title.append("  live (journal)", style=Style(color=cfg.theme.warning))
    t = _grid()
    _kv(t, "experiment", r.experiment_path, cfg)
    _kv(t, "run id", r.id, cfg)
    _kv(
        t,
        "time",
        f"{fmt.when(r.started_at)} → {fmt.when(r.ended_at) if r.ended_at else '…'}"
        f"   ({fmt.duration(d.duration)})",
        cfg,
    )
    _kv(t, "host", r.hostname or "—", cfg)
    total = r.total_steps
    steps = max((s.last_step for s in d.curve_stats.values()), default=None)
    progress = f"{d.points} points in {len(d.curve_stats)} curves"
    if total:
        done = 0 if steps is None else steps + 1
        progress += f"; step {done}/{total} ({100 * done / total:.0f}%)"
    _kv(t, "progress", progress, cfg)
    code = Text()
    prov = info.code
    if prov.git_sha:
        code.append(prov.git_sha[:12], style=Style(color=cfg.theme.accent))
        if prov.git_branch:
            code.append(f" ({prov.git_branch})")
        dirty = prov.git_dirty
        if dirty is not None:
            code.append(
                "  dirty" if dirty else "  clean",
                style=Style(color=cfg.theme.warning if dirty else cfg.theme.success),
            )
    else:
        code.append("no git commit recorded", style="dim")
    _kv(t, "code", code, cfg)
    _kv(t, "stamp", prov.git_stamp[:12] if prov.git_stamp else "not stamped", cfg)
    if prov.git_diff_id:
        _kv(t, "code diff", prov.git_diff_id, cfg)
    _kv(t, "record", r.object_id or "not sealed yet (live journal)", cfg)
    _kv(t, "commit", r.commit_id or "not committed", cfg)
    if r.tags:
        _kv(t, "tags", ", ".join(r.tags), cfg)
    if info.notes:
        _kv(t, "notes", info.notes, cfg)
    for m in info.models:
        _kv(t, "model", f"{m.key}  ({m.framework or '—'})", cfg)
    for e in info.lineage:
        away = "" if e.found else "  (not in this store)"
        _kv(t, "lineage", f"{e.relation} {e.parent_type} {e.label}{away}", cfg)
    for c in info.continuations:
        _kv(t, "resumed", f"{c.started_at} on {c.hostname or '—'}: {c.status or 'running'}", cfg)
    if info.group is not None:
        g, shown_ranks = info.group, 16
        size = f", world size {g.world_size}" if g.world_size is not None else ""
        _kv(t, "job", f"{g.name}  ({len(g.members)} runs{size})", cfg)
        for member in g.members[:shown_ranks]:
            rank = "-" if member.rank is None else str(member.rank)
            this = "  (this run)" if member.run_id == r.id else ""
            _kv(t, "", f"rank {rank:>3}  {member.run_id}  {member.status}{this}", cfg)
        if len(g.members) > shown_ranks:
            _kv(t, "", f"... and {len(g.members) - shown_ranks} more ranks", cfg)
    for a in d.texts:
        _kv(t, "text", f"{a.name}  {fmt.short_id(a.object_id, 16)}", cfg)
    for img in d.images:
        shape = "x".join(str(n) for n in img.shape)
        step = "" if img.step is None else f" @ step {img.step}"
        _kv(t, "image", f"{img.name}{step}  {shape}  {fmt.short_id(img.object_id, 16)}", cfg)
        if img.thumbnail is not None:
            _kv(t, "", image_cells(img.thumbnail), cfg)
    for todo in info.todos:
        _kv(t, "todo", todo_text(todo, cfg), cfg)
    return Group(title, t)


def metrics_section(d: RunDetail, cfg: TuiConfig) -> RenderableType:
    metrics = d.info.metrics
    params = d.info.params
    if not metrics and not params:
        return Text("no headline metrics or params logged", style="dim")
    t = Table(
        box=None, padding=(0, 2), show_edge=False, header_style=Style(color=cfg.theme.accent_dim)
    )
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column("better")
    for name, v in metrics.items():
        d_ = d.directions.get(name, "max")
        t.add_row(name, fmt.num(v), f"{ARROW[d_]} {'lower' if d_ == 'min' else 'higher'}")
    for name, text in params.items():
        t.add_row(Text(name, style="italic"), Text(text), Text("param", style="dim"))
    return t


def tables_section(
    tables: Sequence[Any], previews: dict[str, TableWindow], cfg: TuiConfig, width_hint: int = 0
) -> RenderableType:
    if not tables:
        return Text("no tables logged", style="dim")
    parts: list[RenderableType] = []
    for ref in tables:
        line = Text(ref.title, style=Style(bold=True))
        line.append(
            f"  {fmt.TIMES.join(map(str, ref.shape)) or 'scalar'} {ref.dtype}",
            style=Style(color=cfg.theme.accent_dim),
        )
        if ref.axes:
            line.append(
                "  " + ", ".join(f"{k}: {v}" for k, v in ref.axes.items()),
                style=Style(color=cfg.theme.accent_dim),
            )
        parts.append(line)
        win = previews.get(ref.object_id)
        if win is not None:
            parts.append(Preview(win, cfg))
    parts.append(Text("t: open in the table viewer", style="dim"))
    return Group(*parts)


class Preview:
    """The top-left corner of a table, as many columns as fit, coloured like the viewer."""

    def __init__(self, win: TableWindow, cfg: TuiConfig, mode: str | None = None) -> None:
        self.win = win
        self.cfg = cfg
        self.mode = mode or ("rules" if cfg.tables.highlight else "heatmap")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        cols = heatmap.fit_columns(options.max_width)
        data = self.win.data[:, :cols]
        yield from heatmap.render(
            data,
            row0=self.win.row0,
            col0=self.win.col0,
            mode=self.mode,
            rules=self.cfg.tables,
            kind=self.win.kind,
            header_style=self.cfg.theme.accent_dim,
        )


def curves_section(
    d: RunDetail | NodeSummary,
    cfg: TuiConfig,
    *,
    focus: int,
    smooth: bool,
    pct: int,
    height: int | None,
) -> RenderableType:
    notes: dict[str, list[str]] = {}
    if isinstance(d, RunDetail):
        total = d.row.total_steps
        for c in d.charts:
            st = d.curve_stats.get(c.metric)
            notes[c.metric] = [_stats_note(st, total)]
    return Charts(d.charts, cfg, pct=pct, height=height, smooth=smooth, focus=focus, notes=notes)


def _stats_note(st: CurveStats | None, total: int | None) -> str:
    """A run's curve under its chart title, from the read layer's ``CurveStats``."""
    if st is None or not st.points:
        return "no points"
    of = f"/{total}" if total else ""
    nan = f" · {st.nan} NaN" if st.nan else ""
    return f"last {fmt.num(st.last_value)} @ step {st.last_step} · {st.points}{of} pts{nan}"


def info_section(d: RunDetail, cfg: TuiConfig) -> RenderableType:
    t = Table(
        box=None, padding=(0, 2), show_edge=False, header_style=Style(color=cfg.theme.accent_dim)
    )
    t.add_column("config key", no_wrap=True)
    t.add_column("value", overflow="fold")
    for k, v in d.config.items():
        t.add_row(k, fmt.value(v))
    parts: list[RenderableType] = [heading("Config", cfg)]
    if d.config:
        parts.append(t)
    else:
        parts.append(
            Text("no config" if not d.config_hidden else "no key passes the filter", style="dim")
        )
    if cfg.info.fields:
        parts.append(
            Text(
                f"[info] fields = {list(cfg.info.fields)}: {len(d.config)} shown, {d.config_hidden} hidden",
                style="dim",
            )
        )
    params = d.info.params
    if params:
        parts.append(Text(""))
        parts.append(heading("Params", cfg))
        p = _grid()
        for k, v in params.items():
            _kv(p, k, str(v), cfg)
        parts.append(p)
    return Group(*parts)


def image_cells(rgb: Any) -> Text:
    """An RGB thumbnail as half-block cells: each "upper half" character shows one pixel
    row in its foreground colour and the next in its background."""
    out = Text()
    for y in range(0, rgb.shape[0] - 1, 2):
        if y:
            out.append("\n")
        for top, bottom in zip(rgb[y].tolist(), rgb[y + 1].tolist(), strict=True):
            out.append(
                "\u2580", style=Style(color=Color.from_rgb(*top), bgcolor=Color.from_rgb(*bottom))
            )
    return out
