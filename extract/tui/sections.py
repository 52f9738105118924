"""What each part of the detail panel, compare and diff views draws: rich renderables.

Pure functions of the core's data (and the [theme] colours); the widgets only
place them. Renderables that depend on the space they get (charts, side-by-side
tables) measure it when drawn, so a resize needs no reload.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.color import Color
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.style import Style
from rich.table import Table
from rich.text import Text

from extract.store.config import Config, auto_curve_height
from extract.tui import chart, fmt, heatmap
from extract.tui.core import (
    Chart,
    CompareData,
    Dashboard,
    DiffData,
    NodeSummary,
    RunDetail,
    RunRow,
    TableWindow,
    missing,
)
from extract.tui.theme import palette, priority_color, status_color

ARROW = {"min": "↓", "max": "↑"}


def heading(text: str, cfg: Config) -> Text:
    return Text(text, style=Style(color=cfg.theme.accent, bold=True))


def status(row: RunRow, cfg: Config) -> Text:
    return Text(
        f"{fmt.STATUS_GLYPH.get(row.status, '?')} {row.status}",
        style=Style(color=status_color(cfg.theme, row.status)),
    )


def _kv(table: Table, key: str, value: RenderableType | str, cfg: Config) -> None:
    table.add_row(Text(key, style=Style(color=cfg.theme.accent_dim)), value)


def _grid() -> Table:
    t = Table.grid(padding=(0, 2))
    t.add_column(no_wrap=True)
    t.add_column(overflow="fold")
    return t


# ---------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------


class Charts:
    """Stacked line charts, ``pct`` percent of the width they are given."""

    def __init__(
        self,
        charts: Sequence[Chart],
        cfg: Config,
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
            notes = self.notes.get(c.metric) or [_series_note(s.steps, s.values) for s in c.series]
            yield chart.legend(lines, list(notes))
            yield from chart.render(
                lines, width, height, x_max=c.x_max, smooth=self.smooth, axis_style=axis
            )
            yield Text("")


def _series_note(steps: Any, values: Any) -> str:
    n = len(steps)
    if not n:
        return "no points"
    return f"last {fmt.num(float(values[-1]))} @ {int(steps[-1])} · {n} pts"


# ---------------------------------------------------------------------------
# A run's Summary
# ---------------------------------------------------------------------------


def run_section(d: RunDetail, cfg: Config, marked: bool) -> RenderableType:
    """The "runs" section of a run: who, when, where from, which objects."""
    r, info = d.row, d.info
    title = Text(r.label, style=Style(bold=True))
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
    _kv(t, "host", info.get("hostname") or "—", cfg)
    total = r.total_steps
    steps = max((s["last_step"] for s in d.curve_stats.values()), default=None)
    progress = f"{d.points} points in {len(d.curve_stats)} curves"
    if total:
        done = 0 if steps is None else steps + 1
        progress += f"; step {done}/{total} ({100 * done / total:.0f}%)"
    _kv(t, "progress", progress, cfg)
    code = Text()
    sha = info.get("git_sha")
    if sha:
        code.append(sha[:12], style=Style(color=cfg.theme.accent))
        if info.get("git_branch"):
            code.append(f" ({info['git_branch']})")
        dirty = info.get("git_dirty")
        if dirty is not None:
            code.append(
                "  dirty" if dirty else "  clean",
                style=Style(color=cfg.theme.warning if dirty else cfg.theme.success),
            )
    else:
        code.append("no git commit recorded", style="dim")
    _kv(t, "code", code, cfg)
    stamp = info.get("git_stamp")
    _kv(t, "stamp", stamp[:12] if stamp else "not stamped", cfg)
    if info.get("git_diff_id"):
        _kv(t, "code diff", info["git_diff_id"], cfg)
    _kv(t, "record", info.get("object_id") or "not sealed yet (live journal)", cfg)
    _kv(t, "commit", info.get("commit_id") or "not committed", cfg)
    if r.tags:
        _kv(t, "tags", ", ".join(r.tags), cfg)
    if info.get("notes"):
        _kv(t, "notes", str(info["notes"]), cfg)
    for m in info.get("models") or []:
        _kv(t, "model", f"{m['name']}@{m['version']}  ({m.get('framework') or '—'})", cfg)
    for e in info.get("lineage") or []:
        _kv(t, "lineage", f"{e['relation']} {e['parent_type']} {e['parent_id']}", cfg)
    for a in d.texts:
        _kv(t, "text", f"{a['name']}  {fmt.short_id(a.get('object_id'), 16)}", cfg)
    for img in d.images:
        shape = "x".join(str(n) for n in img.shape)
        step = "" if img.step is None else f" @ step {img.step}"
        _kv(t, "image", f"{img.name}{step}  {shape}  {fmt.short_id(img.object_id, 16)}", cfg)
        if img.thumbnail is not None:
            _kv(t, "", image_cells(img.thumbnail), cfg)
    for todo in info.get("todos") or []:
        _kv(t, "todo", todo_text(todo, cfg), cfg)
    return Group(title, t)


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


def todo_text(todo: dict[str, Any], cfg: Config) -> Text:
    text = Text("[x] " if todo["done"] else "[ ] ")
    p = int(todo.get("priority") or 0)
    text.append(f"{fmt.PRIORITY.get(p, p)} ", style=Style(color=priority_color(cfg.theme, p)))
    text.append(str(todo["content"]), style="strike dim" if todo["done"] else "")
    return text


def metrics_section(d: RunDetail, cfg: Config) -> RenderableType:
    metrics = d.info.get("metrics") or {}
    params = d.info.get("params") or {}
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
    for name, v in params.items():
        t.add_row(Text(name, style="italic"), Text(str(v)), Text("param", style="dim"))
    return t


def tables_section(
    tables: Sequence[Any], previews: dict[str, TableWindow], cfg: Config, width_hint: int = 0
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

    def __init__(self, win: TableWindow, cfg: Config, mode: str | None = None) -> None:
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
    cfg: Config,
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
            st = d.curve_stats.get(c.metric, {})
            s = c.series[0]
            last = f"last {fmt.num(float(s.values[-1]))}" if len(s.values) else "no points"
            of = f"/{total}" if total else ""
            notes[c.metric] = [
                f"{last} @ step {st.get('last_step', '—')} · {st.get('points', 0)}{of} pts"
            ]
    return Charts(d.charts, cfg, pct=pct, height=height, smooth=smooth, focus=focus, notes=notes)


def info_section(d: RunDetail, cfg: Config) -> RenderableType:
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
    params = d.info.get("params") or {}
    if params:
        parts.append(Text(""))
        parts.append(heading("Params", cfg))
        p = _grid()
        for k, v in params.items():
            _kv(p, k, str(v), cfg)
        parts.append(p)
    return Group(*parts)


# ---------------------------------------------------------------------------
# An experiment's Summary
# ---------------------------------------------------------------------------


def _best_style(cfg: Config) -> Style:
    return Style(color=cfg.theme.success, bold=True)


class NodeRuns:
    """An experiment's runs with as many headline metric columns as the width allows."""

    def __init__(self, s: NodeSummary, cfg: Config, marked: set[str]) -> None:
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
            cells: list[RenderableType] = [glyph, r.label]
            if nested:
                rel = r.experiment_path[len(s.path) + 1 :] if s.path else r.experiment_path
                cells.append(Text(rel, style=Style(color=cfg.theme.accent_dim)))
            cells.append(fmt.when(r.started_at, seconds=False)[5:])
            for m in metrics:
                v = s.headline.get(r.id, {}).get(m)
                cells.append(Text(fmt.num(v), style=best if s.best.get(m) == r.id else ""))
            t.add_row(*cells)
        yield t
        hidden = len(s.metrics) - len(metrics)
        if hidden > 0:
            yield Text(
                f"{hidden} more metrics: widen the terminal, or see Metrics below", style="dim"
            )


def node_runs_section(s: NodeSummary, cfg: Config, marks: Iterable[str]) -> RenderableType:
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


def rankings_section(s: NodeSummary, cfg: Config) -> RenderableType:
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


def node_info_section(s: NodeSummary, cfg: Config) -> RenderableType:
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


# ---------------------------------------------------------------------------
# Compare and diff
# ---------------------------------------------------------------------------


def _run_header(rows: Sequence[RunRow], cfg: Config) -> list[Text]:
    colors = palette(cfg.theme)
    return [
        Text(r.label, style=Style(color=colors[i % len(colors)], bold=True))
        for i, r in enumerate(rows)
    ]


def pivot_section(c: CompareData, cfg: Config) -> RenderableType:
    if not c.metrics:
        return Group(
            heading("Headline metrics", cfg), Text("no headline metrics logged", style="dim")
        )
    t = Table(
        box=None, padding=(0, 2), show_edge=False, header_style=Style(color=cfg.theme.accent_dim)
    )
    t.add_column("metric", no_wrap=True)
    for h in _run_header(c.runs, cfg):
        t.add_column(h, justify="right", no_wrap=True)
    best = _best_style(cfg)
    for m in c.metrics:
        cells: list[RenderableType] = [Text(f"{m} {ARROW[c.directions[m]]}")]
        for r in c.runs:
            v = c.values[r.id].get(m)
            is_best = r.id in c.best.get(m, ())
            cells.append(
                Text(("★ " if is_best else "") + fmt.num(v), style=best if is_best else "")
            )
        t.add_row(*cells)
    return Group(heading("Headline metrics  (★ best by direction)", cfg), t)


def config_section(c: CompareData, cfg: Config) -> RenderableType:
    title = heading("Config differences", cfg)
    if not c.config_keys:
        return Group(title, Text("configs agree on every shown key", style="dim"))
    t = Table(
        box=None, padding=(0, 2), show_edge=False, header_style=Style(color=cfg.theme.accent_dim)
    )
    t.add_column("key", no_wrap=True)
    for h in _run_header(c.runs, cfg):
        t.add_column(h, overflow="fold")
    for k in c.config_keys:
        t.add_row(k, *[_cfg_value(c.config[r.id].get(k, _Absent)) for r in c.runs])
    param_keys = sorted({k for p in c.params.values() for k in p})
    differ = [k for k in param_keys if len({c.params[r.id].get(k) for r in c.runs}) > 1]
    for k in differ:
        t.add_row(Text(k, style="italic"), *[Text(c.params[r.id].get(k, "—")) for r in c.runs])
    return Group(title, t)


class _AbsentType:
    pass


_Absent = _AbsentType()


def _cfg_value(v: Any) -> Text:
    if v is _Absent or missing(v):
        return Text("(absent)", style="dim")
    return Text(fmt.value(v))


class SideBySide:
    """Renderables in columns of equal width, as wide as they are given."""

    def __init__(self, titled: Sequence[tuple[Text, TableWindow]], cfg: Config) -> None:
        self.titled = list(titled)
        self.cfg = cfg

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        n = max(1, len(self.titled))
        col_w = max(heatmap.ROW_LABEL + heatmap.CELL, options.max_width // n - 1)
        columns: list[list[Text]] = []
        for title, win in self.titled:
            lines = [title.copy()]
            cols = heatmap.fit_columns(col_w)
            mode = "rules" if self.cfg.tables.highlight else "heatmap"
            lines += heatmap.render(
                win.data[:, :cols],
                row0=win.row0,
                col0=win.col0,
                mode=mode,
                rules=self.cfg.tables,
                kind=win.kind,
                header_style=self.cfg.theme.accent_dim,
            )
            columns.append(lines)
        height = max(len(c) for c in columns) if columns else 0
        for y in range(height):
            row = Text()
            for c in columns:
                cell = c[y].copy() if y < len(c) else Text("")
                cell.truncate(col_w, pad=True)
                row.append_text(cell)
                row.append(" ")
            yield row


def compare_tables_section(
    c: CompareData, previews: dict[str, TableWindow], cfg: Config
) -> RenderableType:
    title = heading("Tables", cfg)
    if not c.tables:
        return Group(title, Text("no tables logged", style="dim"))
    parts: list[RenderableType] = [title]
    colors = palette(cfg.theme)
    slot = {r.id: i for i, r in enumerate(c.runs)}
    for name, refs in c.tables:
        parts.append(Text(name, style=Style(bold=True)))
        titled = []
        for ref in refs:
            win = previews.get(ref.object_id)
            if win is None:
                continue
            label = Text(
                f"{ref.run_label}  {fmt.TIMES.join(map(str, ref.shape))}",
                style=Style(color=colors[slot.get(ref.run_id, 0) % len(colors)]),
            )
            titled.append((label, win))
        parts.append(SideBySide(titled, cfg))
    parts.append(Text("t: open in the table viewer", style="dim"))
    return Group(*parts)


def compare_curves_section(c: CompareData, cfg: Config, focus: int) -> RenderableType:
    return Group(
        heading("Curves", cfg),
        Charts(
            c.charts,
            cfg,
            pct=cfg.compare.curve_width,
            height=cfg.compare.curve_height,
            smooth=False,
            focus=focus,
        ),
    )


def diff_view(d: DiffData, cfg: Config) -> RenderableType:
    colors = palette(cfg.theme)
    a = Text("a  ", style="bold") + Text(d.a.full_label, style=Style(color=colors[0], bold=True))
    a.append(f"  {d.a.id}", style="dim")
    b = Text("b  ", style="bold") + Text(d.b.full_label, style=Style(color=colors[1], bold=True))
    b.append(f"  {d.b.id}", style="dim")
    parts: list[RenderableType] = [a, b, Text("")]

    def table(title: str, rows: Sequence[tuple[Any, ...]], extra: Sequence[str] = ()) -> None:
        parts.append(heading(title, cfg))
        if not rows:
            parts.append(
                Text("  identical" if title != "Metrics" else "  none logged", style="dim")
            )
            parts.append(Text(""))
            return
        t = Table(
            box=None,
            padding=(0, 2),
            show_edge=False,
            header_style=Style(color=cfg.theme.accent_dim),
        )
        t.add_column("key", no_wrap=True)
        t.add_column("a", overflow="fold")
        t.add_column("b", overflow="fold")
        for e in extra:
            t.add_column(e)
        for row in rows:
            t.add_row(*row)
        parts.append(t)
        parts.append(Text(""))

    table("Config", [(k, _cfg_value(va), _cfg_value(vb)) for k, va, vb in d.config])
    best = _best_style(cfg)
    metric_rows = []
    for m, va, vb, direction, better in d.metrics:
        delta = "—" if va is None or vb is None else fmt.num(vb - va)
        metric_rows.append(
            (
                f"{m} {ARROW[direction]}",
                Text(fmt.num(va), style=best if better == "a" else ""),
                Text(fmt.num(vb), style=best if better == "b" else ""),
                delta,
                {"a": "a better", "b": "b better", None: "—"}[better],
            )
        )
    table("Metrics", metric_rows, ("b - a", "better"))
    table(
        "Params",
        [
            (
                k,
                Text(str(va) if va is not None else "(absent)"),
                Text(str(vb) if vb is not None else "(absent)"),
            )
            for k, va, vb in d.params
        ],
    )
    table("Code", [(k, fmt.value(va), fmt.value(vb)) for k, va, vb in d.code])
    if d.tags[0] != d.tags[1]:
        table("Tags", [("tags", ", ".join(d.tags[0]) or "—", ", ".join(d.tags[1]) or "—")])
    return Group(*parts)


# ---------------------------------------------------------------------------
# Dashboard
# ---------------------------------------------------------------------------


def dashboard_view(d: Dashboard, cfg: Config) -> RenderableType:
    o = d.overview
    head = Text("store ", style=Style(color=cfg.theme.accent_dim))
    head.append(d.store, style="bold")
    head.append("   main ", style=Style(color=cfg.theme.accent_dim))
    head.append(d.head[:12] if d.head else "no commit yet")
    head.append(f"   {o['commits']} commits", style=Style(color=cfg.theme.accent_dim))
    counts = Text()
    counts.append(f"{o['runs']} runs  ", style="bold")
    for s in ("running", "completed", "failed"):
        counts.append(
            f"{fmt.STATUS_GLYPH[s]} {o['status'].get(s, 0)} {s}   ",
            style=Style(color=status_color(cfg.theme, s)),
        )
    counts.append(
        f"{o['experiments']} experiments   {o['models']} models   "
        f"{o['todos_open']} open TODOs   {o['uncommitted']} not committed   {o['deleted']} deleted",
        style=Style(color=cfg.theme.accent_dim),
    )
    parts: list[RenderableType] = [head, counts, Text("")]
    parts.append(heading("Running now", cfg))
    if not d.live:
        parts.append(Text("  nothing is running", style="dim"))
    for row, points in d.live:
        line = Text("  ")
        line.append_text(status(row, cfg))
        line.append(f"  {row.full_label}  ")
        line.append(f"{points} points", style=Style(color=cfg.theme.accent))
        if row.total_steps:
            line.append(f"  of {row.total_steps} steps declared", style="dim")
        parts.append(line)
    parts.append(Text(""))
    parts.append(heading("Recent runs", cfg))
    t = Table(box=None, padding=(0, 2), show_edge=False, show_header=False)
    for r in d.recent:
        t.add_row(
            status(r, cfg), r.full_label, fmt.when(r.started_at, seconds=False), ", ".join(r.tags)
        )
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
        parts.append(
            Text(
                f"  {m['name']}@{m['version']}  {m.get('framework') or ''}  {fmt.size(m.get('size'))}"
            )
        )
    parts.append(Text(""))
    parts.append(heading("Open TODOs", cfg))
    if not d.todos:
        parts.append(Text("  none", style="dim"))
    for todo in d.todos:
        line = Text("  ") + todo_text(todo, cfg)
        if todo.get("scope_label"):
            line.append(f"  ({todo['scope_label']})", style="dim")
        parts.append(line)
    return Group(*parts)
