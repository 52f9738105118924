"""Line charts drawn with braille dots: pure functions from curves to rich Text lines.

Each terminal cell holds a 2 x 4 grid of dots, so a 60 x 10 chart is a
120 x 40 canvas. Curves longer than the canvas is wide are reduced per pixel
column to their first, lowest, highest and last values (spikes survive);
shorter ones can be drawn through with Catmull-Rom splines. With a pinned
x range (a run that declared ``total_steps``) the axis is ``[0, total_steps - 1]``
from the first point on and the curve fills in left to right.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.style import Style
from rich.text import Text

from extract.tui import fmt

Array = np.ndarray[Any, Any]
BRAILLE = 0x2800
#: Bit of each dot, indexed [row][column] within a cell.
_DOT = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.uint8)
Y_LABEL = 9


@dataclass(frozen=True)
class Line:
    label: str
    steps: Array
    values: Array
    color: str


def x_range(lines: Sequence[Line], x_max: int | None) -> tuple[float, float]:
    """[0, x_max] when pinned (widened if a point lies beyond), else the steps' extent."""
    lo, hi = math.inf, -math.inf
    for line in lines:
        if len(line.steps):
            lo = min(lo, float(line.steps[0]))
            hi = max(hi, float(line.steps[-1]))
    if x_max is not None:
        lo = 0.0 if not math.isfinite(lo) else min(0.0, lo)
        hi = float(x_max) if not math.isfinite(hi) else max(float(x_max), hi)
    if not math.isfinite(lo):
        return 0.0, 1.0
    if hi <= lo:
        hi = lo + 1
    return lo, hi


def y_range(lines: Sequence[Line]) -> tuple[float, float] | None:
    lo, hi = math.inf, -math.inf
    for line in lines:
        v = line.values[np.isfinite(line.values)]
        if v.size:
            lo = min(lo, float(v.min()))
            hi = max(hi, float(v.max()))
    if not math.isfinite(lo):
        return None
    if hi == lo:
        pad = abs(lo) * 0.1 or 0.5
        return lo - pad, hi + pad
    return lo, hi


def reduce_columns(px: Array, py: Array) -> tuple[Array, Array]:
    """Per pixel column: first, min, max and last y, in that order (spikes stay visible)."""
    cols = px.astype(np.int64)
    starts = np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]])
    ends = np.r_[starts[1:], len(cols)] - 1
    lo = np.minimum.reduceat(py, starts)
    hi = np.maximum.reduceat(py, starts)
    x = np.repeat(cols[starts].astype(np.float64), 4)
    y = np.stack([py[starts], lo, hi, py[ends]], axis=1).reshape(-1)
    return x, y


def catmull_rom(px: Array, py: Array, per_pixel: float = 1.0) -> tuple[Array, Array]:
    """Points on the uniform Catmull-Rom spline through (px, py), about one per pixel."""
    n = len(px)
    if n < 3:
        return px, py
    p = np.stack([px, py], axis=1)
    padded = np.vstack([p[0], p, p[-1]])
    xs: list[Array] = []
    ys: list[Array] = []
    for i in range(n - 1):
        p0, p1, p2, p3 = padded[i], padded[i + 1], padded[i + 2], padded[i + 3]
        dist = float(np.hypot(*(p2 - p1)))
        k = max(2, math.ceil(dist * per_pixel) + 1)
        t = np.linspace(0.0, 1.0, k)[:, None]
        t2, t3 = t * t, t * t * t
        pts = 0.5 * (
            2 * p1
            + (-p0 + p2) * t
            + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
            + (-p0 + 3 * p1 - 3 * p2 + p3) * t3
        )
        xs.append(pts[:-1, 0])
        ys.append(pts[:-1, 1])
    xs.append(px[-1:])
    ys.append(py[-1:])
    return np.concatenate(xs), np.concatenate(ys)


def _segments(px: Array, py: Array) -> tuple[Array, Array]:
    """Every pixel on the straight segments joining consecutive points."""
    if len(px) == 1:
        return np.rint(px).astype(np.int64), np.rint(py).astype(np.int64)
    dx = np.abs(np.diff(px))
    dy = np.abs(np.diff(py))
    steps = np.maximum(np.ceil(np.maximum(dx, dy)), 1).astype(np.int64)
    idx = np.repeat(np.arange(len(steps)), steps)
    offs = np.arange(int(steps.sum())) - np.repeat(np.cumsum(steps) - steps, steps)
    t = offs / np.repeat(steps, steps)
    x = px[idx] + (px[idx + 1] - px[idx]) * t
    y = py[idx] + (py[idx + 1] - py[idx]) * t
    x = np.r_[x, px[-1]]
    y = np.r_[y, py[-1]]
    return np.rint(x).astype(np.int64), np.rint(y).astype(np.int64)


def _runs(values: Array) -> list[tuple[int, int]]:
    """[start, stop) index ranges of consecutive finite values."""
    ok = np.isfinite(values)
    out = []
    i, n = 0, len(values)
    while i < n:
        if not ok[i]:
            i += 1
            continue
        j = i
        while j < n and ok[j]:
            j += 1
        out.append((i, j))
        i = j
    return out


def canvas(
    lines: Sequence[Line],
    width: int,
    height: int,
    xr: tuple[float, float],
    yr: tuple[float, float],
    smooth: bool = False,
) -> tuple[Array, Array]:
    """(dot bits, owning line index + 1) per cell, ``height`` x ``width`` cells."""
    pw, ph = width * 2, height * 4
    bits = np.zeros((height, width), dtype=np.uint8)
    owner = np.zeros((height, width), dtype=np.int16)
    x0, x1 = xr
    y0, y1 = yr
    for li, line in enumerate(lines):
        steps = np.asarray(line.steps, dtype=np.float64)
        values = np.asarray(line.values, dtype=np.float64)
        for a, b in _runs(values):
            px = (steps[a:b] - x0) / (x1 - x0) * (pw - 1)
            py = (ph - 1) - (values[a:b] - y0) / (y1 - y0) * (ph - 1)
            keep = (px >= -0.5) & (px <= pw - 0.5)
            px, py = px[keep], np.clip(py[keep], 0, ph - 1)
            if not len(px):
                continue
            if len(px) > 2 * pw:
                px, py = reduce_columns(px, py)
            elif smooth and len(px) >= 3:
                px, py = catmull_rom(px, py)
                py = np.clip(py, 0, ph - 1)
            x, y = _segments(px, py)
            ok = (x >= 0) & (x < pw) & (y >= 0) & (y < ph)
            x, y = x[ok], y[ok]
            cy, cx = y // 4, x // 2
            np.bitwise_or.at(bits, (cy, cx), _DOT[y % 4, x % 2])
            owner[cy, cx] = li + 1
    return bits, owner


def render(
    lines: Sequence[Line],
    width: int,
    height: int,
    *,
    x_max: int | None = None,
    smooth: bool = False,
    axis_style: str = "",
) -> list[Text]:
    """A chart ``width`` cells wide (y labels included) and ``height`` plot lines tall,
    plus an x-axis line and a line of x labels."""
    plot_w = max(4, width - Y_LABEL - 1)
    height = max(2, height)
    xr = x_range(lines, x_max)
    yr = y_range(lines)
    axis = Style.parse(axis_style) if axis_style else Style()
    out: list[Text] = []
    if yr is None:
        blank = Text(" " * Y_LABEL + "│", style=axis)
        for _ in range(height):
            out.append(blank.copy())
        out[height // 2] = Text(" " * Y_LABEL + "│", style=axis) + Text(
            " no finite points yet".ljust(plot_w)[:plot_w], style="dim"
        )
    else:
        bits, owner = canvas(lines, plot_w, height, xr, yr, smooth)
        labels = {0: yr[1], height - 1: yr[0]}
        if height >= 5:
            labels[(height - 1) // 2] = yr[1] - (yr[1] - yr[0]) * ((height - 1) // 2) / (height - 1)
        styles = [Style(color=line.color) for line in lines]
        for r in range(height):
            lab = fmt.num(labels[r], Y_LABEL - 1) + " " if r in labels else " " * Y_LABEL
            text = Text(lab[-Y_LABEL:].rjust(Y_LABEL), style=axis)
            text.append("┤" if r in labels else "│", style=axis)
            chars = "".join(chr(BRAILLE + int(b)) if b else " " for b in bits[r])
            row = owner[r]
            start = 0
            for c in range(1, plot_w + 1):
                if c == plot_w or row[c] != row[start]:
                    seg = chars[start:c]
                    o = int(row[start])
                    text.append(seg, style=styles[o - 1] if o else None)
                    start = c
            out.append(text)
    out.append(Text(" " * Y_LABEL + "└" + "─" * plot_w, style=axis))
    left = fmt.num(_tick(xr[0]))
    right = fmt.num(_tick(xr[1]))
    mid = fmt.num(_tick((xr[0] + xr[1]) / 2))
    ticks = [" "] * (plot_w + 1)
    _put(ticks, 0, left)
    _put(ticks, plot_w - len(right), right)
    if plot_w > len(left) + len(right) + len(mid) + 4:
        _put(ticks, plot_w // 2 - len(mid) // 2, mid)
    out.append(Text(" " * Y_LABEL + "".join(ticks), style=axis))
    return out


def _tick(x: float) -> float | int:
    return round(x) if abs(x - round(x)) < 1e-9 or abs(x) >= 100 else x


def _put(buf: list[str], at: int, text: str) -> None:
    at = max(0, min(at, len(buf) - len(text)))
    for i, ch in enumerate(text):
        if 0 <= at + i < len(buf):
            buf[at + i] = ch


def legend(lines: Sequence[Line], stats: Sequence[str] = ()) -> Text:
    """One line: a coloured marker and label per line, with optional per-line notes."""
    text = Text()
    for i, line in enumerate(lines):
        if i:
            text.append("  ")
        text.append("━ ", style=Style(color=line.color))
        text.append(line.label)
        if i < len(stats) and stats[i]:
            text.append(f" {stats[i]}", style="dim")
    return text
