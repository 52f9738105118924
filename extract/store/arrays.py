"""N-d arrays on a chunk grid: a slice reads only the chunks it touches."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np

from extract.errors import InvalidInput, SchemaError
from extract.objects import Array, Blob, ObjectId
from extract.objects.kinds import cast, grid_shape
from extract.store.odb import ObjectStore

#: Chunks aim at this many bytes: large enough that a store of big arrays is not
#: millions of files, small enough that a 10-row slice reads a sliver.
TARGET_CHUNK_BYTES = 1024 * 1024


def array_dtype(dtype: np.dtype[Any]) -> str:
    """The spec's dtype string (little-endian) of a numpy dtype, or a clear refusal."""
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise InvalidInput(
            f"cannot store arrays of dtype {dtype}: allowed are bool, int8-64, uint8-64 and "
            "float16/32/64"
        )
    return dtype.newbyteorder("<").str if dtype.byteorder != "|" else dtype.str


def choose_chunk_shape(
    shape: tuple[int, ...], itemsize: int, target: int = TARGET_CHUNK_BYTES
) -> tuple[int, ...]:
    """Halve the longest side until a chunk fits ``target``: square-ish chunks serve any slice."""
    chunk = [max(1, s) for s in shape]
    while True:
        n = itemsize
        for c in chunk:
            n *= c
        if n <= target:
            return tuple(chunk)
        i = max(range(len(chunk)), key=lambda k: chunk[k])
        if chunk[i] == 1:
            return tuple(chunk)
        chunk[i] = -(-chunk[i] // 2)


def _cells(grid: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    return itertools.product(*(range(g) for g in grid))


def write_array(
    odb: ObjectStore, arr: np.ndarray[Any, Any], chunk_shape: tuple[int, ...] | None = None
) -> ObjectId:
    """Store ``arr`` as chunk blobs plus an array object; returns the array's id."""
    if not isinstance(arr, np.ndarray):
        raise InvalidInput(f"expected a numpy array, got {type(arr).__name__}")
    dtype = array_dtype(arr.dtype)
    little = arr.astype(np.dtype(dtype), copy=False)
    shape = tuple(int(s) for s in arr.shape)
    if chunk_shape is None:
        chunk_shape = choose_chunk_shape(shape, little.dtype.itemsize)
    if len(chunk_shape) != len(shape) or any(c < 1 for c in chunk_shape):
        raise InvalidInput(f"chunk_shape {chunk_shape} does not fit an array of shape {shape}")
    grid = grid_shape(shape, chunk_shape)
    ids = []
    with odb.batch():  # tiles become durable together, before the array object points at them
        for cell in _cells(grid):
            region = tuple(
                slice(i * c, min((i + 1) * c, s))
                for i, c, s in zip(cell, chunk_shape, shape, strict=True)
            )
            tile = np.ascontiguousarray(little[region])
            ids.append(odb.put_blob(tile.data.cast("B") if tile.size else b""))
    return odb.put(Array(dtype, shape, tuple(chunk_shape), tuple(ids)))


class ArrayReader:
    """A stored array read lazily: indexing loads only the chunks under the selection."""

    def __init__(self, odb: ObjectStore, oid: ObjectId) -> None:
        self.odb = odb
        self.meta = cast(odb.get(oid), Array)
        self.dtype = np.dtype(self.meta.dtype)
        self.shape = self.meta.shape
        self.ndim = len(self.shape)
        self.grid = grid_shape(self.shape, self.meta.chunk_shape)
        self.chunks_read = 0

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def _chunk(self, cell: tuple[int, ...]) -> np.ndarray[Any, Any]:
        flat = 0
        for i, g in zip(cell, self.grid, strict=True):
            flat = flat * g + i
        data = cast(self.odb.get(self.meta.chunks[flat]), Blob).data
        cshape = tuple(
            min(c, s - i * c)
            for i, c, s in zip(cell, self.meta.chunk_shape, self.shape, strict=True)
        )
        expected = int(np.prod(cshape, dtype=np.int64)) * self.dtype.itemsize
        if len(data) != expected:
            raise SchemaError(f"array chunk {cell} holds {len(data)} bytes, expected {expected}")
        self.chunks_read += 1
        return np.frombuffer(data, dtype=self.dtype).reshape(cshape)

    def read(self) -> np.ndarray[Any, Any]:
        return self[...]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray[Any, Any]:
        out = self.read()
        return out if dtype is None else out.astype(dtype)

    def __getitem__(self, key: Any) -> np.ndarray[Any, Any]:
        sel = _normalize(key, self.shape)
        lo = [min(r) if r else 0 for r, _ in sel]
        hi = [max(r) + 1 if r else 0 for r, _ in sel]
        box = np.zeros(tuple(h - low for low, h in zip(lo, hi, strict=True)), dtype=self.dtype)
        if box.size:
            cs = self.meta.chunk_shape
            ranges = [
                range(low // c, (h - 1) // c + 1) for low, h, c in zip(lo, hi, cs, strict=True)
            ]
            for cell in itertools.product(*ranges):
                chunk = self._chunk(cell)
                src, dst = [], []
                for d, i in enumerate(cell):
                    c0 = i * cs[d]
                    a, b = max(lo[d], c0), min(hi[d], c0 + chunk.shape[d])
                    src.append(slice(a - c0, b - c0))
                    dst.append(slice(a - lo[d], b - lo[d]))
                box[tuple(dst)] = chunk[tuple(src)]
        picks = tuple(
            np.asarray(r, dtype=np.intp) - low for (r, _), low in zip(sel, lo, strict=True)
        )
        out = box[np.ix_(*picks)] if picks else box
        drop = tuple(d for d, (_, is_int) in enumerate(sel) if is_int)
        return out.reshape([n for d, n in enumerate(out.shape) if d not in drop])


def _normalize(key: Any, shape: tuple[int, ...]) -> list[tuple[range, bool]]:
    """Per dimension: the selected indices, and whether an int index drops the axis."""
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        i = next(j for j, k in enumerate(key) if k is Ellipsis)
        fill = len(shape) - (len(key) - 1)
        key = key[:i] + (slice(None),) * fill + key[i + 1 :]
    if len(key) > len(shape):
        raise IndexError(f"too many indices: array is {len(shape)}-dimensional")
    key = key + (slice(None),) * (len(shape) - len(key))
    out = []
    for d, (k, n) in enumerate(zip(key, shape, strict=True)):
        if isinstance(k, slice):
            out.append((range(*k.indices(n)), False))
        elif isinstance(k, int | np.integer) and not isinstance(k, bool):
            i = int(k) + n if k < 0 else int(k)
            if not 0 <= i < n:
                raise IndexError(f"index {int(k)} is out of bounds for axis {d} with size {n}")
            out.append((range(i, i + 1), True))
        else:
            raise IndexError(f"only integers, slices and ... index a stored array, got {k!r}")
    return out
