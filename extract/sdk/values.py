"""What the SDK accepts from a training script, checked once, when it is given.

Every value a run takes ends up in objects (the run record, a model version, an event)
and first in the run's journal. A value the codec cannot encode used to be found only
when the run was sealed at ``finish()``, where it could no longer be refused cleanly:
the run stayed live for ever. So each SDK call checks its arguments here, with the
codec's own rules (``check_value`` runs the encoder itself), before it writes anything:
a refused call changes nothing and, on a live run, the run goes on.

Errors name the call and the argument, where inside it the problem lies, and what is
allowed. A value of the wrong type is a ``TypeError``; a value of the right type that
the store cannot keep (an int beyond 64 bits, nesting deeper than 64 levels, a
reference cycle, a string that is not valid Unicode) is an ``InvalidInput``, which is
a ``ValueError``.
"""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import numpy as np

from extract.errors import InvalidInput
from extract.objects.codec import ALLOWED, MAX_DEPTH, check_value

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: The JSON-like values a config, model metadata or table axes may hold.
PLAIN = "JSON-like values (dict with str keys, list, tuple, str, int, float, bool, None)"


def plain(value: Any, what: str) -> Any:
    """A config, metadata or axes map as plain values (numpy scalars unwrapped, tuples as
    lists, paths as strings), refused unless the store can keep every part of it."""
    out = _unwrap(value, what, (), {})
    check_value(out, what)
    return out


def _unwrap(
    value: Any, what: str, path: tuple[str | int, ...], open_: dict[int, tuple[str | int, ...]]
) -> Any:
    """``open_``: the containers being copied, around this value (a copy would hide a
    cycle from the codec's own check, which sees only its depth)."""
    if len(path) > MAX_DEPTH:
        return value  # too deep: check_value says so, and where
    if isinstance(value, dict | list | tuple):
        if id(value) in open_:
            raise InvalidInput(
                f"{what}{_where(path)}: refers back to {what}{_where(open_[id(value)])} "
                f"(a reference cycle); allowed: {ALLOWED}"
            )
        open_[id(value)] = path
        try:
            if isinstance(value, dict):
                out = {}
                for k, v in value.items():
                    if not isinstance(k, str):
                        raise TypeError(
                            f"{what}{_where(path)}: key {_short(k)} is a {type(k).__name__}; "
                            "keys must be strings"
                        )
                    out[str(k)] = _unwrap(v, what, (*path, k), open_)
                return out
            return [_unwrap(v, what, (*path, i), open_) for i, v in enumerate(value)]
        finally:
            del open_[id(value)]
    if value is None or isinstance(value, bool):
        return value if value is None else bool(value)
    if isinstance(value, int):
        return int(value)  # an IntEnum, say: the codec takes plain ints only
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, np.generic) and isinstance(value, np.bool_ | np.number | np.str_):
        return _unwrap(value.item(), what, path, open_)
    if isinstance(value, os.PathLike):
        return os.fsdecode(value)
    raise TypeError(
        f"{what}{_where(path)}: cannot store {type(value).__name__} {_short(value)}: use {PLAIN}"
    )


def text(value: Any, what: str, empty: bool = True) -> str:
    """A string the store can keep: a str, valid Unicode (no lone surrogates, which
    Python allows in str and UTF-8 does not), and non-empty unless ``empty``."""
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise TypeError(
            f"{what} must be a {'' if empty else 'non-empty '}string, got {_short(value)}"
        )
    if not value.isascii():  # cheap for the usual ASCII name; only others are encoded
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise InvalidInput(
                f"{what} {_short(value)} is not valid Unicode (a lone surrogate at {e.start}, "
                "as from a file name that is not UTF-8): pass text that encodes as UTF-8"
            ) from None
    return str(value)


def int64(n: int, what: str) -> int:
    """An integer the index can hold (SQLite integers are 64-bit signed)."""
    if not INT64_MIN <= n <= INT64_MAX:
        raise InvalidInput(
            f"{what}={_short(n)} does not fit in 64 bits (-2**63 to 2**63-1): pass float(...) "
            "for an approximate number, or str(...) to keep it exactly as text"
        )
    return n


def to_float(value: int | float, what: str) -> float:
    """A curve value as float64 (curves are float64; an int beyond 2**53 rounds)."""
    try:
        return float(value)
    except OverflowError:
        raise InvalidInput(
            f"{what}={_short(value)} is too large for a float64 curve value (at most about 1.8e308)"
        ) from None


def number(owner: str, name: str, value: Any, allow_bool: bool) -> float | int:
    """A loggable number from Python, numpy or torch scalars: ints within 64 bits stay ints
    (``log``), everything else becomes a float. TypeError for anything else."""
    if isinstance(value, bool | np.bool_):
        if allow_bool:
            return int(value)
        raise TypeError(
            f"{owner}: {name}={value!r} is a bool; curves take numbers only (log it with "
            "run.log() as a string, or pass int(value) if you mean 0/1)"
        )
    if isinstance(value, numbers.Integral):
        return int64(int(value), f"{owner}: {name}")
    if isinstance(value, numbers.Real):
        return to_float(float(value), f"{owner}: {name}")
    item = getattr(value, "item", None)  # 0-d numpy arrays and torch tensors
    if callable(item) and getattr(value, "ndim", getattr(value, "dim", lambda: 1)) in (0, ()):
        return number(owner, name, item(), allow_bool)
    shape = getattr(value, "shape", None)
    if shape is not None and int(np.prod(shape)) == 1 and callable(item):
        return number(owner, name, item(), allow_bool)
    raise TypeError(
        f"{owner}: {name}={_short(value)} is a {type(value).__name__}; "
        + (
            "curves take int or float values"
            if not allow_bool
            else "log() takes int, float or str values"
        )
    )


def _where(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{k!r}]" for k in path)


def _short(value: Any) -> str:
    """A value as an error message shows it: 2**100 rather than 31 digits, and cut short."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value > 0 and value.bit_count() == 1:
            return f"2**{value.bit_length() - 1}"
        if abs(value) >= 10**30:  # (repr of a huge int may even refuse: Python's digit limit)
            return f"<an int of {value.bit_length()} bits>"
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    try:
        shown = repr(value)
    except Exception:  # a hostile __repr__ must not hide the real error
        shown = f"<{type(value).__name__}>"
    return shown if len(shown) <= 80 else shown[:77] + "..."
