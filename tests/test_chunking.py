"""Large data: content-defined chunks survive edits elsewhere; reads verify."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import pytest

from extract.errors import SchemaError
from extract.objects import Blob, ChunkList, ObjectId
from extract.objects.kinds import cast
from extract.store import chunking
from extract.store.odb import DiskObjectStore, MemoryObjectStore, ObjectStore

# Unit tests of the store: objects are raw material here, not writes racing gc.
pytestmark = pytest.mark.usefixtures("lax_writes")


def content_size(odb: ObjectStore, root: ObjectId) -> int:
    obj = odb.get(root)
    if isinstance(obj, Blob):
        return len(obj.data)
    return cast(obj, ChunkList).size


def rand(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def stored_bytes(odb: MemoryObjectStore) -> int:
    return sum(len(odb.get_raw(o)) for o in odb.iter_ids())


@pytest.mark.parametrize(
    "size", [0, 1, chunking.CHUNK_MIN, chunking.CHUNK_MIN + 1, 3 << 20, 9 << 20]
)
def test_round_trip(size: int) -> None:
    odb = MemoryObjectStore()
    data = rand(size, size)
    root = chunking.write_bytes(odb, data)
    assert chunking.read_bytes(odb, root) == data
    assert content_size(odb, root) == size
    out = io.BytesIO()
    assert chunking.read_into(odb, root, out) == size
    assert out.getvalue() == data
    obj = odb.get(root)
    assert isinstance(obj, Blob if size <= chunking.CHUNK_MIN else Blob | ChunkList)


def test_insert_near_start_keeps_later_chunks() -> None:
    odb = MemoryObjectStore()
    data = rand(16 << 20, 1)
    chunking.write_bytes(odb, data)
    before = stored_bytes(odb)
    edited = data[:1000] + b"xyz" + data[1000:]
    root = chunking.write_bytes(odb, edited)
    added = stored_bytes(odb) - before
    assert chunking.read_bytes(odb, root) == edited
    assert added < 0.2 * len(data)  # ~1-2 chunks of 16, plus the list


def test_region_rewrite_stores_about_the_region() -> None:
    odb = MemoryObjectStore()
    data = bytearray(rand(32 << 20, 2))
    chunking.write_bytes(odb, bytes(data))
    before = stored_bytes(odb)
    lo = len(data) // 2
    data[lo : lo + len(data) // 10] = rand(len(data) // 10, 3)
    chunking.write_bytes(odb, bytes(data))
    added = stored_bytes(odb) - before
    assert added < 0.25 * len(data)


def test_identical_content_is_stored_once(tmp_path: Path) -> None:
    odb = DiskObjectStore(tmp_path / "objects")
    src = tmp_path / "model.bin"
    src.write_bytes(rand(5 << 20, 4))
    cache = tmp_path / "cache"
    a = chunking.write_file(odb, src, cache_dir=cache)
    n = len(list(odb.iter_ids()))
    copy = tmp_path / "copy.bin"
    copy.write_bytes(src.read_bytes())
    assert chunking.write_file(odb, copy, cache_dir=cache) == a
    assert chunking.write_file(odb, copy) == a  # the same id without the cache
    assert len(list(odb.iter_ids())) == n


def test_stale_cache_entry_is_ignored(tmp_path: Path) -> None:
    odb = DiskObjectStore(tmp_path / "objects")
    src = tmp_path / "f.bin"
    src.write_bytes(rand(3 << 20, 5))
    cache = tmp_path / "cache"
    root = chunking.write_file(odb, src, cache_dir=cache)
    chunks = odb.get(root)
    assert isinstance(chunks, ChunkList)
    odb.delete(chunks.parts[0][0])  # as if gc had removed it
    assert chunking.write_file(odb, src, cache_dir=cache) == root
    assert odb.has(chunks.parts[0][0])


def test_empty_file(tmp_path: Path) -> None:
    odb = DiskObjectStore(tmp_path / "objects")
    f = tmp_path / "empty"
    f.write_bytes(b"")
    assert chunking.read_bytes(odb, chunking.write_file(odb, f)) == b""


def test_chunk_length_mismatch_is_caught() -> None:
    odb = MemoryObjectStore()
    a = odb.put(Blob(os.urandom(10)))
    bad = odb.put(ChunkList(11, b"\x00" * 32, ((a, 11),)))
    with pytest.raises(SchemaError, match="holds 10 bytes"):
        chunking.read_bytes(odb, bad)
    lying = odb.put(ChunkList(10, b"\x00" * 32, ((a, 10),)))
    with pytest.raises(SchemaError, match="BLAKE3"):
        chunking.read_into(odb, lying, io.BytesIO())
