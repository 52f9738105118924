"""One contract for every object database: memory and disk pass the same tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from extract.errors import AmbiguousId, CorruptObject, InvalidId, ObjectNotFound
from extract.objects import Blob, Tree, encode_object, hash_bytes, to_hex
from extract.store.odb import DiskObjectStore, MemoryObjectStore, ObjectStore


@pytest.fixture(params=["memory", "disk"])
def odb(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "memory":
        yield MemoryObjectStore()
    else:
        yield DiskObjectStore(tmp_path / "objects")


def test_put_get_round_trip(odb: ObjectStore) -> None:
    oid = odb.put(Blob(b"hello"))
    assert oid == hash_bytes(encode_object(Blob(b"hello")))
    assert odb.has(oid)
    assert odb.get(oid) == Blob(b"hello")
    assert odb.get_raw(oid) == encode_object(Blob(b"hello"))


def test_put_blob_equals_put(odb: ObjectStore) -> None:
    data = os.urandom(300_000)
    assert odb.put_blob(data) == odb.put(Blob(data))


def test_idempotent_and_listed(odb: ObjectStore) -> None:
    a = odb.put(Blob(b"a"))
    assert odb.put(Blob(b"a")) == a
    b = odb.put(Tree({"x": a}))
    assert sorted(odb.iter_ids()) == sorted([a, b])


def test_missing_object(odb: ObjectStore) -> None:
    oid = hash_bytes(b"nothing")
    assert not odb.has(oid)
    with pytest.raises(ObjectNotFound, match=to_hex(oid)):
        odb.get_raw(oid)


def test_prefix_resolution(odb: ObjectStore) -> None:
    ids = [odb.put(Blob(i.to_bytes(2, "big"))) for i in range(300)]
    target = ids[7]
    assert odb.resolve_prefix(to_hex(target)[:12]) == target
    assert odb.resolve_prefix(to_hex(target).upper()) == target
    with pytest.raises(InvalidId, match="8 to 64"):
        odb.resolve_prefix("abc")
    with pytest.raises(InvalidId):
        odb.resolve_prefix("zzzzzzzzzz")
    with pytest.raises(ObjectNotFound):
        odb.resolve_prefix(
            "0" * 8 if not any(to_hex(i).startswith("0" * 8) for i in ids) else "f" * 8
        )


def test_ambiguous_prefix_names_the_candidates(tmp_path: Path) -> None:
    odb = DiskObjectStore(tmp_path / "objects")
    # Two real ids sharing 8 digits are a 1-in-4-billion event; plant two names by hand.
    d = tmp_path / "objects" / "ab"
    d.mkdir(parents=True)
    (d / ("cdef01" + "1" * 56)).write_bytes(b"")
    (d / ("cdef01" + "2" * 56)).write_bytes(b"")
    with pytest.raises(AmbiguousId, match="abcdef01 is ambiguous: 2 objects"):
        odb.resolve_prefix("abcdef01")


def test_delete(odb: ObjectStore) -> None:
    a = odb.put(Blob(b"a"))
    odb.delete(a)
    assert not odb.has(a)
    odb.delete(a)  # deleting twice is not an error


def test_disk_compression_never_changes_the_id(tmp_path: Path) -> None:
    odb = DiskObjectStore(tmp_path / "objects")
    compressible = Tree({f"file-{i:05d}": hash_bytes(b"same") for i in range(200)})
    oid = odb.put(compressible)
    raw = encode_object(compressible)
    assert oid == hash_bytes(raw)
    on_disk = odb.path_of(oid).read_bytes()
    assert on_disk[3] == 1 and len(on_disk) < len(raw)  # zlib codec, smaller
    blob = odb.put_blob(b"\x00" * 100_000)
    assert odb.path_of(blob).read_bytes()[3] == 0  # blobs are stored raw
    assert odb.get(oid) == compressible


def test_disk_read_verifies_content(tmp_path: Path) -> None:
    odb = DiskObjectStore(tmp_path / "objects")
    a = odb.put(Blob(b"aaaa"))
    b = odb.put(Blob(b"bbbb"))
    path = odb.path_of(a)
    path.chmod(0o644)
    path.write_bytes(odb.path_of(b).read_bytes())
    with pytest.raises(CorruptObject) as info:
        odb.get_raw(a)
    assert info.value.expected == to_hex(a)
    assert info.value.actual == to_hex(b)
    assert str(path) in str(info.value)


def test_disk_never_overwrites(tmp_path: Path) -> None:
    odb = DiskObjectStore(tmp_path / "objects")
    a = odb.put(Blob(b"keep"))
    inode = odb.path_of(a).stat().st_ino
    odb.put(Blob(b"keep"))
    assert odb.path_of(a).stat().st_ino == inode
    assert not list((tmp_path / "objects" / "tmp").iterdir())
    assert oct(odb.path_of(a).stat().st_mode & 0o777) == "0o444"
