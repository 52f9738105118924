"""The lineage DAG as text: one column per generation, edges drawn with box characters.

Ancestors stand to the left of the root and descendants to the right. Within a
column nodes are ordered by the mean row of their parents (a single barycentre
pass, which removes most crossings in the small graphs lineage produces). Edges
between neighbouring columns are drawn; an edge that skips a column or stays
within one (a diamond reached at two distances) is listed under the drawing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text

from extract.index.models import LineageEdge, LineageNode
from extract.tui import fmt

Key = tuple[str, str]  # (type, id) of a node

GLYPH = {"run": "◆", "model": "▣", "experiment": "▤"}
GAP = 7
MAX_LABEL = 40
_U, _D, _L, _R = 1, 2, 4, 8
_BOX = {
    _L | _R: "─",
    _U | _D: "│",
    _D | _R: "┌",
    _D | _L: "┐",
    _U | _R: "└",
    _U | _L: "┘",
    _U | _D | _R: "├",
    _U | _D | _L: "┤",
    _L | _R | _D: "┬",
    _L | _R | _U: "┴",
    _U | _D | _L | _R: "┼",
    _L: "─",
    _R: "─",
    _U: "│",
    _D: "│",
}


@dataclass(frozen=True)
class Placed:
    key: Key
    label: str
    column: int
    row: int
    x: int
    width: int

    @property
    def text_width(self) -> int:
        return len(self.label) + 2


def key(node: LineageNode) -> Key:
    return node.type, node.id


def parent_key(edge: LineageEdge) -> Key:
    return edge.parent_type, edge.parent_id


def child_key(edge: LineageEdge) -> Key:
    return edge.child_type, edge.child_id


def layout(nodes: Sequence[LineageNode], edges: Sequence[LineageEdge]) -> list[Placed]:
    """Columns by signed level (``LineageNode.level``: ancestors negative); the first
    column in (type, id) order, each later one by the mean row of its parents."""
    levels = sorted({n.level for n in nodes})
    col_of = {lvl: i for i, lvl in enumerate(levels)}
    columns: dict[int, list[LineageNode]] = {i: [] for i in range(len(levels))}
    for n in sorted(nodes, key=lambda n: (n.level, n.type, n.id)):
        columns[col_of[n.level]].append(n)
    parents: dict[Key, list[Key]] = {}
    for e in edges:
        parents.setdefault(child_key(e), []).append(parent_key(e))
    row_of: dict[Key, int] = {}
    for c in range(len(levels)):
        col = columns[c]

        def centre(n: LineageNode) -> tuple[float, str]:
            ps = [row_of[p] for p in parents.get(key(n), []) if p in row_of]
            return (sum(ps) / len(ps) if ps else 0.0, n.label)

        if c:
            col.sort(key=centre)
        for i, n in enumerate(col):
            row_of[key(n)] = i
    widths = [
        max((len(fmt.clip(n.label, MAX_LABEL)) + 2 for n in columns[c]), default=4)
        for c in range(len(levels))
    ]
    xs = [sum(widths[:c]) + GAP * c for c in range(len(levels))]
    out = []
    for c in range(len(levels)):
        for i, n in enumerate(columns[c]):
            out.append(
                Placed(
                    key(n),
                    fmt.clip(n.label, MAX_LABEL),
                    c,
                    i,
                    xs[c],
                    widths[c],
                )
            )
    return out


def render(
    nodes: Sequence[LineageNode],
    edges: Sequence[LineageEdge],
    *,
    root: Key,
    selected: Key | None = None,
    colors: dict[str, str] | None = None,
) -> list[Text]:
    colors = colors or {}
    if not nodes:
        return [Text("no lineage recorded", style="dim")]
    placed = {p.key: p for p in layout(nodes, edges)}
    height = max(p.row for p in placed.values()) * 2 + 1
    width = max(p.x + p.width for p in placed.values()) + 1
    bits = [[0] * width for _ in range(height)]
    arrows: set[tuple[int, int]] = set()
    skipped = []
    for e in edges:
        a = placed.get(parent_key(e))
        b = placed.get(child_key(e))
        if a is None or b is None:
            continue
        if b.column != a.column + 1:
            skipped.append((a, b, e.relation))
            continue
        y0, y1 = a.row * 2, b.row * 2
        x_start = a.x + a.text_width + 1
        x_end = b.x - 2
        mid = a.x + a.width + (x_end - a.x - a.width) // 2  # one vertical per gap
        for x in range(x_start, mid):
            bits[y0][x] |= _L | _R
        bits[y0][mid] |= _L
        if y0 != y1:
            lo, hi = min(y0, y1), max(y0, y1)
            bits[y0][mid] |= _D if y1 > y0 else _U
            for y in range(lo + 1, hi):
                bits[y][mid] |= _U | _D
            bits[y1][mid] |= _U if y1 > y0 else _D
        bits[y1][mid] |= _R
        for x in range(mid + 1, x_end + 1):
            bits[y1][x] |= _L | _R
        arrows.add((y1, x_end + 1))
    grid = [[_BOX.get(b, " ") if b else " " for b in row] for row in bits]
    for y, x in arrows:
        grid[y][x] = "▶"
    lines = []
    labels = {(p.row * 2, p.x): p for p in placed.values()}
    edge_style = Style(color=colors.get("edge", "bright_black"))
    for y in range(height):
        text = Text()
        x = 0
        while x < width:
            p = labels.get((y, x))
            if p is not None:
                glyph = GLYPH.get(p.key[0], "·")
                style = Style(color=colors.get(p.key[0]))
                if p.key == root:
                    style += Style(bold=True, underline=True)
                if p.key == selected:
                    style += Style(reverse=True)
                text.append(f"{glyph} {p.label}", style=style)
                x += p.text_width
                continue
            ch = grid[y][x]
            text.append(ch, style=edge_style if ch != " " else None)
            x += 1
        lines.append(text)
    if skipped:
        lines.append(Text(""))
        lines.append(Text("edges across generations:", style="dim"))
        for a, b, rel in skipped:
            lines.append(Text(f"  {a.label} ─{rel}─▶ {b.label}", style="dim"))
    return lines


def order(nodes: Sequence[LineageNode], edges: Sequence[LineageEdge]) -> list[Key]:
    """Nodes in reading order (column by column, top to bottom): how the cursor moves."""
    return [p.key for p in sorted(layout(nodes, edges), key=lambda p: (p.column, p.row))]
