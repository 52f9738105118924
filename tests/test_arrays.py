"""Chunked arrays: any slice equals numpy's, and reads only the chunks it touches."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from extract.errors import InvalidInput
from extract.store.arrays import ArrayReader, choose_chunk_shape, write_array
from extract.store.odb import MemoryObjectStore

# Unit tests of the store: objects are raw material here, not writes racing gc.
pytestmark = pytest.mark.usefixtures("lax_writes")

dtypes = st.sampled_from(["<f4", "<f8", "<i8", "|u1", "|b1", ">f4", ">i2", "<f2", "<u4"])


@st.composite
def array_and_key(draw: st.DrawFn) -> tuple[np.ndarray[Any, Any], tuple[int, ...], Any]:
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=12))
    arr = draw(hnp.arrays(draw(dtypes), shape))
    chunk = tuple(draw(st.integers(1, s + 1)) for s in shape)
    key = draw(hnp.basic_indices(shape, allow_newaxis=False, allow_ellipsis=True))
    return arr, chunk, key


@given(array_and_key())
def test_slices_match_numpy(case: tuple[np.ndarray[Any, Any], tuple[int, ...], Any]) -> None:
    arr, chunk, key = case
    odb = MemoryObjectStore()
    reader = ArrayReader(odb, write_array(odb, arr, chunk_shape=chunk))
    expected = arr[key]
    got = reader[key]
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == arr.dtype.newbyteorder("=")


def test_slice_reads_only_touched_chunks() -> None:
    odb = MemoryObjectStore()
    arr = np.arange(1000 * 64, dtype=np.float32).reshape(1000, 64)
    reader = ArrayReader(odb, write_array(odb, arr, chunk_shape=(100, 64)))
    np.testing.assert_array_equal(reader[250:260], arr[250:260])
    assert reader.chunks_read == 1
    np.testing.assert_array_equal(reader[95:105, 3], arr[95:105, 3])
    assert reader.chunks_read == 3


def test_chunk_shape_targets_the_budget() -> None:
    shape = choose_chunk_shape((262144, 1024), 4)
    assert np.prod(shape) * 4 <= 1 << 20
    assert shape == (512, 512)
    assert choose_chunk_shape((10,), 8) == (10,)
    assert choose_chunk_shape((0, 3), 8) == (1, 3)


@pytest.mark.parametrize(
    "bad", [np.array(["a", "b"]), np.array([1 + 2j]), np.array([object()]), [1, 2, 3]]
)
def test_unsupported_inputs_are_refused(bad: Any) -> None:
    with pytest.raises(InvalidInput, match=r"allowed are|numpy array"):
        write_array(MemoryObjectStore(), bad)


def test_bad_indices() -> None:
    odb = MemoryObjectStore()
    reader = ArrayReader(odb, write_array(odb, np.zeros((3, 3))))
    with pytest.raises(IndexError, match="out of bounds"):
        reader[5]
    with pytest.raises(IndexError, match="too many"):
        reader[1, 1, 1]
    with pytest.raises(IndexError, match="only integers"):
        reader[[0, 1]]
