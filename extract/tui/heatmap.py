"""Tables (logged arrays) as coloured cells: a heatmap, or the [[tables.highlight]] rules.

Pure functions from a visible window of values to rich Text lines. The heatmap
scales colours to the window on screen (the whole array is never read just to
find its extremes); highlight rules are tried in order and the first match
colours the cell, as config.toml describes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from rich.style import Style
from rich.text import Text

from extract.display.settings import TablesConfig
from extract.tui import fmt

Array = np.ndarray[Any, Any]
CELL = 9
ROW_LABEL = 6

#: A perceptual ramp (dark blue -> green -> yellow), sampled at 9 stops.
_RAMP = (
    (0x44, 0x01, 0x54),
    (0x47, 0x2C, 0x7A),
    (0x3B, 0x51, 0x8B),
    (0x2C, 0x71, 0x8E),
    (0x21, 0x90, 0x8D),
    (0x27, 0xAD, 0x81),
    (0x5C, 0xC8, 0x63),
    (0xAA, 0xDC, 0x32),
    (0xFD, 0xE7, 0x25),
)
#: config color names -> terminal colors ("none" is the terminal default).
COLOR_NAMES = {
    "red": "red",
    "green": "green",
    "yellow": "yellow",
    "blue": "blue",
    "cyan": "cyan",
    "magenta": "magenta",
    "white": "white",
    "black": "black",
    "darkgray": "bright_black",
    "orange": "#ff8700",
}


def terminal_color(color: str | None) -> str | None:
    """A [[tables.highlight]] color (a name or ``#rrggbb``, None for "none") as a rich color."""
    if color is None:
        return None
    return COLOR_NAMES.get(color, color)


def ramp(t: float) -> str:
    """The heatmap color for ``t`` in [0, 1]."""
    t = min(1.0, max(0.0, t))
    pos = t * (len(_RAMP) - 1)
    i = min(int(pos), len(_RAMP) - 2)
    f = pos - i
    a, b = _RAMP[i], _RAMP[i + 1]
    r, g, bl = (round(a[k] + (b[k] - a[k]) * f) for k in range(3))
    return f"#{r:02x}{g:02x}{bl:02x}"


def _ink(hex_color: str) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "white"


def cell_text(value: Any, kind: str) -> str:
    if kind == "b":
        return "true" if value else "false"
    if kind in "iu":
        return fmt.num(int(value))
    return fmt.num(float(value))


def cell_style(
    value: Any, text: str, mode: str, lo: float, hi: float, rules: TablesConfig
) -> Style | None:
    """The style of one cell: ``mode`` is "heatmap" or "rules"."""
    if mode == "rules":
        plain: Any = bool(value) if isinstance(value, np.bool_) else value.item()
        rule = rules.rule_for(plain, text)
        if rule is None:
            return None
        color = terminal_color(rule.color)
        return Style(color=color, bold=True) if color else Style()
    v = float(value)
    if not math.isfinite(v):
        return Style(color="bright_black")
    t = 0.5 if hi <= lo else (v - lo) / (hi - lo)
    bg = ramp(t)
    return Style(bgcolor=bg, color=_ink(bg))


def render(
    data: Array,
    *,
    row0: int = 0,
    col0: int = 0,
    mode: str = "heatmap",
    rules: TablesConfig | None = None,
    kind: str = "f",
    cell: int = CELL,
    header_style: str = "",
) -> list[Text]:
    """A header line of column indices, then one line per row of ``data`` (2-D)."""
    rules = rules or TablesConfig()
    data = np.atleast_2d(data)
    finite = data[np.isfinite(data)] if data.dtype.kind == "f" else data.reshape(-1)
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 0.0
    head = Text(" " * ROW_LABEL, style=header_style)
    for c in range(data.shape[1]):
        head.append(str(col0 + c).rjust(cell - 1)[: cell - 1] + " ", style=header_style)
    out = [head]
    for r in range(data.shape[0]):
        line = Text(str(row0 + r).rjust(ROW_LABEL - 1)[: ROW_LABEL - 1] + " ", style=header_style)
        for c in range(data.shape[1]):
            v = data[r, c]
            text = cell_text(v, kind)
            shown = fmt.clip(text, cell - 1).rjust(cell - 1)
            line.append(shown, style=cell_style(v, text, mode, lo, hi, rules))
            line.append(" ")
        out.append(line)
    return out


def scale(lo: float, hi: float, width: int = 24) -> Text:
    """The heatmap legend: low value, the color ramp, high value."""
    text = Text(fmt.num(lo) + " ")
    for i in range(width):
        text.append(" ", style=Style(bgcolor=ramp(i / max(1, width - 1))))
    text.append(" " + fmt.num(hi))
    return text


def rules_legend(rules: TablesConfig) -> Text:
    text = Text()
    for i, rule in enumerate(rules.highlight):
        if i:
            text.append("  ")
        parts = []
        if rule.eq is not None:
            parts.append(f"={fmt.num(rule.eq)}")
        if rule.min is not None:
            parts.append(f">={fmt.num(rule.min)}")
        if rule.max is not None:
            parts.append(f"<{fmt.num(rule.max)}")
        if rule.pattern is not None:
            parts.append(f"~{rule.pattern!r}")
        color = terminal_color(rule.color)
        text.append(
            f"{i + 1}:{' '.join(parts) or 'any'}",
            style=Style(color=color, bold=True) if color else Style(),
        )
    if not rules.highlight:
        text.append("no [[tables.highlight]] rules in config.toml", style="dim")
    return text


def fit_columns(width: int, cell: int = CELL) -> int:
    return max(1, (width - ROW_LABEL) // cell)


def window_extent(values: Sequence[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
