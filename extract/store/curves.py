"""Curve columns: the one writer and the one reader of a curve set's per-metric columns.

A curve set (objects_spec/kinds.md, ``curves``) holds, per metric, three columns of
``n`` values each: steps (``<i8``), values and wall times (``<f8``). A column of at most
``CurveSet.INLINE_MAX`` bytes is stored inline as its little-endian bytes; a longer one
is a link to a 1-d array object, so reading a few points of a long curve need not load
all of it. Sealing writes columns with ``write_column``; the index build, the SDK's
reader and the query layers read them with ``read_column`` and ``read_curves``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from extract.errors import SchemaError
from extract.objects import Curve, CurveSet, Link, ObjectId, to_hex
from extract.objects.kinds import cast
from extract.store.arrays import ArrayReader, write_array
from extract.store.odb import ObjectStore

STEP_DTYPE = "<i8"
VALUE_DTYPE = "<f8"

Column = np.ndarray[Any, Any]
#: Per metric name: (steps, values, wall times), sorted by step, one point a step.
Curves = dict[str, tuple[Column, Column, Column]]


def write_column(odb: ObjectStore, arr: Column, dtype: str) -> bytes | Link:
    """A column as the curve set stores it: inline bytes, or a link to an array object."""
    data = np.ascontiguousarray(arr, dtype=np.dtype(dtype))
    if data.dtype.kind == "f" and bool(np.isnan(data).any()):
        data = np.where(np.isnan(data), np.float64("nan"), data).astype(dtype)  # one NaN, one id
    if data.nbytes <= CurveSet.INLINE_MAX:
        return data.tobytes()
    return Link(write_array(odb, data))


def write_curves(odb: ObjectStore, curves: Curves) -> ObjectId | None:
    """Store ``curves`` as a curve set (None when there is no curve)."""
    if not curves:
        return None
    return odb.put(
        CurveSet(
            {
                name: Curve(
                    int(steps.size),
                    write_column(odb, steps, STEP_DTYPE),
                    write_column(odb, values, VALUE_DTYPE),
                    write_column(odb, walls, VALUE_DTYPE),
                )
                for name, (steps, values, walls) in sorted(curves.items())
            }
        )
    )


def read_column(
    odb: ObjectStore, col: bytes | Link, dtype: str, *, ends_only: bool = False
) -> Column:
    """A column as a read-only numpy array.

    ``ends_only``: only the first and last values are wanted (a curve's first and last
    step); a linked column then reads just its first and last chunk, and only ``[0]`` and
    ``[-1]`` of the result are meaningful."""
    want = np.dtype(dtype)
    if not isinstance(col, Link):
        if len(col) % want.itemsize:
            raise SchemaError(f"a curve column of {len(col)} bytes is not a whole {dtype} array")
        return np.frombuffer(col, dtype=want)
    reader = ArrayReader(odb, col.id)
    if reader.ndim != 1 or reader.dtype != want:
        raise SchemaError(
            f"curve column {to_hex(col.id)} is a {reader.meta.dtype} array of shape "
            f"{reader.shape}, expected a 1-d {dtype} array"
        )
    if ends_only and len(reader) > 2:
        return np.concatenate([reader[:1], reader[-1:]])
    return reader.read()


def read_curves(odb: ObjectStore, oid: ObjectId | None) -> Curves:
    """Every curve of a stored curve set, each column checked against the set's ``n``."""
    if oid is None:
        return {}
    out: Curves = {}
    for name, c in cast(odb.get(oid), CurveSet).metrics.items():
        steps = read_column(odb, c.steps, STEP_DTYPE)
        values = read_column(odb, c.values, VALUE_DTYPE)
        walls = read_column(odb, c.wall_time, VALUE_DTYPE)
        if not steps.size == values.size == walls.size == c.n:
            raise SchemaError(
                f"curve {name!r} of {to_hex(oid)} says n={c.n} but holds "
                f"{steps.size}/{values.size}/{walls.size} steps/values/wall times"
            )
        out[name] = (steps, values, walls)
    return out
