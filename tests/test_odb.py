"""One contract for every object database: memory and disk pass the same tests."""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from extract.errors import AmbiguousId, CorruptObject, InvalidId, ObjectNotFound
from extract.objects import Blob, ObjectId, Tree, encode_object, hash_bytes, to_hex
from extract.store.odb import (
    DiskObjectStore,
    MemoryObjectStore,
    ObjectStore,
    encode_loose_bytes,
)

# Unit tests of the store: objects are raw material here, not writes racing gc.
pytestmark = pytest.mark.usefixtures("lax_writes")


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
    assert on_disk[3] == 2 and len(on_disk) < len(raw)  # zstd codec, smaller
    blob = odb.put_blob(b"\x00" * 100_000)
    assert odb.path_of(blob).read_bytes()[3] == 0  # blobs are stored raw
    assert odb.get(oid) == compressible


def test_disk_reads_zlib_objects_older_versions_wrote(tmp_path: Path) -> None:
    """Codec 1 (zlib) is no longer written, and still read: stores made before zstd open."""
    odb = DiskObjectStore(tmp_path / "objects")
    tree = Tree({f"file-{i:05d}": hash_bytes(b"same") for i in range(200)})
    raw = encode_object(tree)
    oid = hash_bytes(raw)
    path = odb.path_of(oid)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"XO\x01\x01" + zlib.compress(raw, 1))
    assert odb.get(oid) == tree
    assert odb.get_raw(oid) == raw


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (lambda z: z[:-3], "damaged"),
        (lambda z: z + b"junk", "damaged"),
        (lambda z: z[:4] + b"\x00" * 8, "plausible size"),  # a frame with no content size
        (lambda z: b"", "damaged"),
    ],
    ids=["truncated", "padded", "no-size", "empty"],
)
def test_disk_names_a_damaged_zstd_payload(
    tmp_path: Path, payload: Callable[[bytes], bytes], why: str
) -> None:
    odb = DiskObjectStore(tmp_path / "objects")
    oid = odb.put(Tree({f"file-{i:05d}": hash_bytes(b"same") for i in range(200)}))
    path = odb.path_of(oid)
    data = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(data[:4] + payload(data[4:]))
    with pytest.raises(CorruptObject, match=why) as info:
        odb.get_raw(oid)
    assert info.value.expected == to_hex(oid)


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


def _stored_blobs(n: int) -> list[tuple[ObjectId, bytes]]:
    scratch = MemoryObjectStore()
    out = []
    for i in range(n):
        oid = scratch.put(Blob(f"blob {i}".encode() * 100))
        out.append((oid, encode_loose_bytes(scratch.get_raw(oid))))
    return out


def test_ingest_keeps_everything_checked_when_the_body_fails(tmp_path: Path) -> None:
    """A transfer cut halfway keeps the objects that arrived: every group is in place on exit."""
    odb = DiskObjectStore(tmp_path / "objects")
    items = _stored_blobs(10)
    with pytest.raises(RuntimeError, match="connection cut"), odb.ingest() as sink:
        for i, (oid, stored) in enumerate(items):
            sink.put_stored(oid, stored)
            if i == 4:
                sink.close_group()
            assert odb.has(oid)  # checked and on its way: present for its parents' checks
        raise RuntimeError("connection cut")
    for oid, _ in items:
        assert odb.path_of(oid).exists()
    assert not list((tmp_path / "objects" / "tmp").iterdir())


def test_ingest_refuses_a_parent_before_its_child(tmp_path: Path) -> None:
    odb = DiskObjectStore(tmp_path / "objects")
    (child, _), (other, other_stored) = _stored_blobs(2)
    tree = Tree({"a": child})
    raw = encode_object(tree)
    with pytest.raises(CorruptObject, match="did not arrive before it"), odb.ingest() as sink:
        sink.put_stored(other, other_stored)
        sink.put_stored(hash_bytes(raw), encode_loose_bytes(raw))
    assert odb.has(other) and not odb.has(child) and not odb.has(hash_bytes(raw))


def test_ingest_raises_a_failed_write_and_links_nothing_after_it(tmp_path: Path) -> None:
    odb = DiskObjectStore(tmp_path / "objects")
    items = _stored_blobs(3)
    (tmp_path / "objects").mkdir()
    blocked = items[1][0].hex()[:2]  # a file where the second object's fan-out directory goes
    (tmp_path / "objects" / blocked).write_text("in the way")
    with pytest.raises(FileExistsError), odb.ingest() as sink:
        for oid, stored in items:
            sink.put_stored(oid, stored)
    for oid, _ in items:  # the failed object's parents may follow it: none is linked
        assert not odb.has(oid)
        assert not odb.path_of(oid).exists()
