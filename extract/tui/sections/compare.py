"""The compare view (pivot of metrics, config, tables and curves side by side) and the
diff view of two runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.style import Style
from rich.table import Table
from rich.text import Text

from extract.display.settings import TuiConfig
from extract.index.models import ABSENT, RunRow
from extract.tui import fmt, heatmap
from extract.tui.data import CompareData, DiffData, TableWindow
from extract.tui.theme import palette

from .common import ARROW, Charts, _best_style, heading


def _run_header(rows: Sequence[RunRow], cfg: TuiConfig) -> list[Text]:
    colors = palette(cfg.theme)
    return [
        Text(r.short, style=Style(color=colors[i % len(colors)], bold=True))
        for i, r in enumerate(rows)
    ]


def pivot_section(c: CompareData, cfg: TuiConfig) -> RenderableType:
    if not c.comparison.metrics:
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
    for m in c.comparison.metrics:
        cells: list[RenderableType] = [Text(f"{m.name} {ARROW[m.direction]}")]
        for r in c.runs:
            v = m.values.get(r.id)
            is_best = r.id in m.best
            cells.append(
                Text(("★ " if is_best else "") + fmt.num(v), style=best if is_best else "")
            )
        t.add_row(*cells)
    return Group(heading("Headline metrics  (★ best by direction)", cfg), t)


def _hidden_note(n: int) -> list[RenderableType]:
    if not n:
        return []
    keys = "key differs" if n == 1 else "keys differ"
    return [Text(f"{n} more config {keys}, hidden by [info] fields", style="dim")]


def config_section(c: CompareData, cfg: TuiConfig) -> RenderableType:
    title = heading("Config differences", cfg)
    cmp = c.comparison
    if not c.config_keys and not cmp.param_diffs:
        agree = Text("configs agree on every shown key", style="dim")
        return Group(title, agree, *_hidden_note(c.config_hidden))
    t = Table(
        box=None, padding=(0, 2), show_edge=False, header_style=Style(color=cfg.theme.accent_dim)
    )
    t.add_column("key", no_wrap=True)
    for h in _run_header(c.runs, cfg):
        t.add_column(h, overflow="fold")
    for k in c.config_keys:
        t.add_row(k, *[_cfg_value(cmp.config[r.id].get(k, ABSENT)) for r in c.runs])
    for k in cmp.param_diffs:
        t.add_row(Text(k, style="italic"), *[Text(cmp.params[r.id].get(k, "—")) for r in c.runs])
    return Group(title, t, *_hidden_note(c.config_hidden))


def _cfg_value(v: Any) -> Text:
    if v is ABSENT:
        return Text("(absent)", style="dim")
    return Text(fmt.value(v))


class SideBySide:
    """Renderables in columns of equal width, as wide as they are given."""

    def __init__(self, titled: Sequence[tuple[Text, TableWindow]], cfg: TuiConfig) -> None:
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
    c: CompareData, previews: dict[str, TableWindow], cfg: TuiConfig
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


def compare_curves_section(c: CompareData, cfg: TuiConfig, focus: int) -> RenderableType:
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


def diff_view(d: DiffData, cfg: TuiConfig) -> RenderableType:
    colors = palette(cfg.theme)
    a = Text("a  ", style="bold") + Text(d.a.label, style=Style(color=colors[0], bold=True))
    a.append(f"  {d.a.id}", style="dim")
    b = Text("b  ", style="bold") + Text(d.b.label, style=Style(color=colors[1], bold=True))
    b.append(f"  {d.b.id}", style="dim")
    parts: list[RenderableType] = [a, b, Text("")]

    def table(
        title: str,
        rows: Sequence[tuple[Any, ...]],
        extra: Sequence[str] = (),
        empty: str = "identical",
        note: Sequence[RenderableType] = (),
    ) -> None:
        parts.append(heading(title, cfg))
        if not rows:
            parts.extend((Text(f"  {empty}", style="dim"), *note, Text("")))
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
        parts.extend((t, *note, Text("")))

    table(
        "Config",
        [(c.key, _cfg_value(c.a), _cfg_value(c.b)) for c in d.config],
        empty="identical on every shown key" if d.config_hidden else "identical",
        note=_hidden_note(d.config_hidden),
    )
    best = _best_style(cfg)
    metric_rows = []
    for m in d.diff.metrics:
        delta = "—" if m.a is None or m.b is None else fmt.num(m.b - m.a)
        metric_rows.append(
            (
                f"{m.name} {ARROW[m.direction]}",
                Text(fmt.num(m.a), style=best if m.better == "a" else ""),
                Text(fmt.num(m.b), style=best if m.better == "b" else ""),
                delta,
                {"a": "a better", "b": "b better", None: "—"}[m.better],
            )
        )
    table("Metrics", metric_rows, ("b - a", "better"), empty="none logged")
    table("Params", [(c.key, _cfg_value(c.a), _cfg_value(c.b)) for c in d.diff.params])
    table("Code", [(c.key, fmt.value(c.a), fmt.value(c.b)) for c in d.diff.code])
    tags = d.diff.tags
    if tags[0] != tags[1]:
        table("Tags", [("tags", ", ".join(tags[0]) or "—", ", ".join(tags[1]) or "—")])
    return Group(*parts)
