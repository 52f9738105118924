"""How values read on screen: numbers, times, durations, ids, statuses. Pure functions."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from extract.tui.data import parse_time

TIMES = "\u00d7"  # between the sides of a shape: 8x8
STATUS_GLYPH = {"running": "●", "completed": "✓", "failed": "✗"}
PRIORITY = {0: "low", 1: "mid", 2: "high"}


def num(value: Any, width: int | None = None) -> str:
    """A number in at most about 9 characters: 4 significant digits, scientific when huge or tiny."""
    if value is None:
        text = "—"
    elif isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, int):
        text = str(value) if abs(value) < 10**9 else f"{value:.3e}"
    elif isinstance(value, float):
        if math.isnan(value):
            text = "nan"
        elif math.isinf(value):
            text = "inf" if value > 0 else "-inf"
        elif value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            text = f"{value:.3e}"
        else:
            text = f"{value:.4g}"
    else:
        text = str(value)
    return text if width is None else text.rjust(width)


def when(text: str | None, seconds: bool = True) -> str:
    """An ISO time as UTC ``YYYY-MM-DD HH:MM[:SS]``; the same on every machine."""
    t = parse_time(text)
    if t is None:
        return "—"
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def short_id(value: str | None, n: int = 12) -> str:
    return "—" if not value else value[:n]


def value(v: Any) -> str:
    """A config or param value as one line."""
    if isinstance(v, float | int) and not isinstance(v, bool):
        return num(v)
    if isinstance(v, str):
        return v
    if v is None:
        return "null"
    import json

    try:
        return json.dumps(v, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(v)


def size(n: int | None) -> str:
    if n is None:
        return "—"
    f = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(f) < 1024 or unit == "TiB":
            return f"{f:.0f} {unit}" if unit == "B" else f"{f:.1f} {unit}"
        f /= 1024
    return f"{n} B"


def clip(text: str, width: int) -> str:
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
