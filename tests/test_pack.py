"""Packs: the file format, reading through the object store, transfers writing them,
fsck checking them and gc rewriting them. Real files throughout."""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import pytest

from extract.errors import CorruptPack, ObjectNotFound
from extract.objects import Blob, Commit, ObjectId, Tree, encode_object, hash_bytes
from extract.store.fsck import fsck
from extract.store.gc import gc
from extract.store.odb import DiskObjectStore
from extract.store.odb import _ingest as odbmod  # the ingest tuning knobs
from extract.store.pack import (
    ENTRY,
    PACK_HEADER,
    TRAILER,
    PackWriter,
    read_pack,
)
from extract.store.repo import MAIN, Repository

# Unit tests of the store: objects are raw material here, not writes racing gc.
pytestmark = pytest.mark.usefixtures("lax_writes")


def blobs(n: int, size: int = 100) -> list[tuple[ObjectId, bytes]]:
    """``n`` distinct blobs in stored form (loose object bytes), as a transfer carries them."""
    out = []
    for i in range(n):
        raw = encode_object(Blob(i.to_bytes(4, "big") * (size // 4)))
        out.append((hash_bytes(raw), b"XO\x01\x00" + raw))
    return out


def write_pack(tmp_path: Path, items: list[tuple[ObjectId, bytes]]) -> Path:
    tmp_path.mkdir(exist_ok=True)
    w = PackWriter(tmp_path / "pack.tmp")
    for oid, stored in items:
        w.add(oid, stored)
    return w.install(w.finish(), tmp_path / "pack")


def test_round_trip(tmp_path: Path) -> None:
    items = blobs(300)
    path = write_pack(tmp_path, items)
    pack = read_pack(path)
    assert len(pack) == 300 and path.name == f"{pack.name}.pack"
    data = path.read_bytes()
    for oid, stored in items:
        hit = pack.find(oid)
        assert hit is not None
        assert data[hit[0] : hit[0] + hit[1]] == stored
    assert pack.find(ObjectId(bytes(32))) is None
    assert pack.find(ObjectId(b"\xff" * 32)) is None
    assert sorted(oid for oid, _, _ in pack.entries()) == sorted(oid for oid, _ in items)


def test_the_vector_pack_reads(tmp_path: Path) -> None:
    import json

    doc = json.loads(
        (Path(__file__).parent.parent / "objects_spec/vectors/vectors.json").read_text()
    )
    vec = doc["pack"]
    path = tmp_path / f"{vec['name']}.pack"
    path.write_bytes(bytes.fromhex(vec["hex"]))
    pack = read_pack(path)
    for o in vec["objects"]:
        assert pack.find(ObjectId(bytes.fromhex(o["id"]))) == (o["offset"], o["length"])
    # and extract's writer makes the same bytes from the same objects
    data = bytes.fromhex(vec["hex"])
    items = [
        (ObjectId(bytes.fromhex(o["id"])), data[o["offset"] : o["offset"] + o["length"]])
        for o in sorted(vec["objects"], key=lambda o: o["offset"])
    ]
    assert write_pack(tmp_path / "again", items).read_bytes() == data


def damage(path: Path, at: int, value: bytes) -> Path:
    data = bytearray(path.read_bytes())
    data[at : at + len(value)] = value
    os.chmod(path, 0o644)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("truncate", "truncated or padded"),
        ("magic", "bad magic"),
        ("format", "unknown pack format 9"),
        ("index", "does not match its checksum"),
        ("rename", "named for another index"),
        ("tiny", "too short for a pack"),
    ],
)
def test_a_damaged_pack_is_named(tmp_path: Path, how: str, message: str) -> None:
    path = write_pack(tmp_path, blobs(3))
    size = path.stat().st_size
    if how == "truncate":
        os.truncate(path, size - 1)
    elif how == "magic":
        damage(path, 0, b"ZZ")
    elif how == "format":
        damage(path, 2, b"\x09")
    elif how == "index":
        damage(path, size - TRAILER.size - ENTRY.size + 40, b"\x01")  # an offset
    elif how == "rename":
        path = path.rename(path.with_name("0" * 64 + ".pack"))
    elif how == "tiny":
        os.truncate(path, 10)
    with pytest.raises(CorruptPack, match=message) as e:
        read_pack(path)
    assert str(path) in str(e.value)


def test_an_entry_outside_the_body_is_refused(tmp_path: Path) -> None:
    """A forged index with a valid checksum still cannot point past the body."""
    oid = ObjectId(b"\x01" * 32)
    index = oid + struct.pack(">QQ", 4, 1000)
    import blake3

    digest = blake3.blake3(PACK_HEADER + index).digest()
    data = PACK_HEADER + b"body" + index + struct.pack(">QQ", 1, 8) + digest
    path = tmp_path / f"{digest.hex()}.pack"
    path.write_bytes(data)
    with pytest.raises(CorruptPack, match="points outside the pack body"):
        read_pack(path)


# through the object store --------------------------------------------------------------


@pytest.fixture
def pack_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """Transfers pack from their first object (not after PACK_AFTER loose ones)."""
    monkeypatch.setattr(odbmod, "PACK_AFTER", 0)


def ingest(odb: DiskObjectStore, items: list[tuple[ObjectId, bytes]], cut_every: int = 50) -> None:
    with odb.ingest() as sink:
        for i, (oid, stored) in enumerate(items, 1):
            sink.put_stored(oid, stored)
            if i % cut_every == 0:
                sink.close_group()
    odb.sync()


def test_a_transfer_stores_its_first_objects_loose_and_the_rest_packed(repo: Repository) -> None:
    items = blobs(odbmod.PACK_AFTER + 200)
    ingest(repo.objects, items)
    odb = repo.objects
    assert len(list(odb.iter_loose_ids())) == odbmod.PACK_AFTER
    [pack] = odb.packs()
    assert len(pack) == 200
    for oid, stored in items:
        assert odb.has(oid)
        assert odb.read_file(oid) == stored
        odb.get(oid)  # verified read
    assert sorted(odb.iter_ids()) == sorted(oid for oid, _ in items)
    # another instance (another process) sees the same
    other = DiskObjectStore(odb.root)
    assert all(other.has(oid) for oid, _ in items)
    assert other.resolve_prefix(items[-1][0].hex()[:12]) == items[-1][0]
    rep = fsck(repo)
    assert rep.ok and rep.packs == 1 and rep.packed == 200
    assert rep.objects == len(items)


@pytest.mark.usefixtures("pack_all")
def test_a_large_transfer_closes_a_pack_at_its_size_without_any_cut(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pack closes as soon as it holds PACK_BYTES, whatever the sender does (a transfer of
    large chunks reaches 64 MiB long before any count of objects would close it)."""
    monkeypatch.setattr(odbmod, "PACK_BYTES", 10_000)
    items = blobs(1000)
    size = len(items[0][1])
    ingest(repo.objects, items, cut_every=10**9)
    packs = repo.objects.packs()
    assert sum(len(p) for p in packs) == 1000
    per_pack = sorted(sum(p.lengths) for p in packs)
    assert len(packs) == -(-1000 * size // 10_000)  # every pack but the last closed full
    assert all(10_000 <= n < 10_000 + size for n in per_pack[1:])
    assert fsck(repo).ok


def test_a_format_1_store_closes_loose_groups_at_their_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without packs, received objects are put in place group by group as the bytes add
    up, not only at the end of a transfer."""
    monkeypatch.setattr(odbmod, "PACK_BYTES", 2_000)
    repo = Repository.init(tmp_path / ".extract", ("a",))
    (repo.root / "FORMAT").write_text("extract-store 1\nhash blake3-256\n")
    odb = Repository(repo.root).objects
    items = blobs(100)
    other = DiskObjectStore(odb.root)
    with odb.ingest() as sink:
        for oid, stored in items:
            sink.put_stored(oid, stored)
        deadline = time.monotonic() + 10
        while not other.has(items[80][0]):  # in place while the transfer is still open
            assert time.monotonic() < deadline, "no group was put in place before the end"
            time.sleep(0.01)
    assert all(other.has(oid) for oid, _ in items)
    assert odb.packs() == []


@pytest.mark.usefixtures("pack_all")
def test_a_pack_open_too_long_is_closed_as_objects_arrive(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow transfer still makes what arrived durable every PACK_SECONDS."""
    monkeypatch.setattr(odbmod, "PACK_SECONDS", 0.0)
    ingest(repo.objects, blobs(30), cut_every=10**9)
    assert [len(p) for p in repo.objects.packs()] == [1] * 30


@pytest.mark.parametrize("packs", [True, False], ids=["pack", "loose"])
def test_a_stalled_transfer_puts_what_arrived_in_place_after_pack_seconds(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, packs: bool
) -> None:
    """No object arrives for a while (a slow link, a large object on its way): the open
    pack (or loose group) is closed by age anyway, so a kill then loses nothing that
    arrived more than PACK_SECONDS (plus a tick) ago."""
    monkeypatch.setattr(odbmod, "PACK_AFTER", 0 if packs else 10**9)
    monkeypatch.setattr(odbmod, "PACK_SECONDS", 0.3)
    monkeypatch.setattr(odbmod, "INGEST_TICK", 0.05)
    items = blobs(20)
    other = DiskObjectStore(repo.objects.root)  # another process's view
    with repo.objects.ingest() as sink:
        t0 = time.monotonic()
        for oid, stored in items[:5]:
            sink.put_stored(oid, stored)
        while not all(other.has(oid) for oid, _ in items[:5]):
            assert time.monotonic() - t0 < 5, "nothing was put in place while the transfer stalled"
            time.sleep(0.01)
        assert time.monotonic() - t0 >= 0.25  # by age, not at once
        assert len(other.packs()) == (1 if packs else 0)
        for oid, stored in items[5:]:
            sink.put_stored(oid, stored)
    assert all(other.has(oid) for oid, _ in items)
    assert fsck(repo).ok


@pytest.mark.usefixtures("pack_all")
def test_a_pack_lands_only_after_everything_it_links_to(repo: Repository) -> None:
    """A tree arriving after its blobs passes the link check while they are in flight."""
    items = blobs(5)
    tree = encode_object(Tree({f"f{i}": oid for i, (oid, _) in enumerate(items)}))
    ingest(repo.objects, [*items, (hash_bytes(tree), b"XO\x01\x00" + tree)], cut_every=2)
    assert repo.objects.has(hash_bytes(tree))
    assert fsck(repo).ok


def test_a_transfer_cut_halfway_keeps_what_arrived(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(odbmod, "PACK_AFTER", 10)
    items = blobs(100)
    with pytest.raises(ConnectionError), repo.objects.ingest() as sink:
        for oid, stored in items[:60]:
            sink.put_stored(oid, stored)
        raise ConnectionError("the line dropped")
    odb = DiskObjectStore(repo.objects.root)
    assert [odb.has(oid) for oid, _ in items] == [True] * 60 + [False] * 40
    assert os.listdir(odb.tmp) == []
    assert fsck(repo).ok


def test_a_format_1_store_takes_a_transfer_loose(tmp_path: Path) -> None:
    repo = Repository.init(tmp_path / ".extract", ("a",))
    (repo.root / "FORMAT").write_text("extract-store 1\nhash blake3-256\n")
    old = Repository(repo.root)
    ingest(old.objects, blobs(odbmod.PACK_AFTER + 50))
    assert old.objects.packs() == []
    assert not old.objects.pack_dir.exists()
    assert len(list(old.objects.iter_loose_ids())) == odbmod.PACK_AFTER + 50


def test_a_damaged_pack_is_skipped_and_fsck_names_it(repo: Repository) -> None:
    items = blobs(odbmod.PACK_AFTER + 5)
    ingest(repo.objects, items)
    [pack] = repo.objects.packs()
    damage(pack.path, 0, b"ZZ")
    odb = DiskObjectStore(repo.objects.root)
    assert not odb.has(items[-1][0])
    with pytest.raises(ObjectNotFound):
        odb.read_file(items[-1][0])
    rep = fsck(repo)
    assert not rep.ok
    assert any(str(pack.path) in p.subject and "damaged pack" in p.message for p in rep.errors), (
        rep.problems
    )


def test_fsck_names_a_damaged_object_inside_a_pack(repo: Repository) -> None:
    items = blobs(odbmod.PACK_AFTER + 5, size=400)
    ingest(repo.objects, items)
    [pack] = repo.objects.packs()
    victim = items[-1][0]
    hit = pack.find(victim)
    assert hit is not None
    damage(pack.path, hit[0] + 30, b"\xee")  # inside the blob's data
    assert fsck(repo).ok  # without --read-data a blob is checked by framing only
    rep = fsck(repo, read_data=True)
    assert [p.subject for p in rep.errors] == [victim.hex()]
    assert str(pack.path) in rep.errors[0].message


def test_a_stray_file_in_the_pack_directory_is_reported(repo: Repository) -> None:
    ingest(repo.objects, blobs(odbmod.PACK_AFTER + 1))
    (repo.objects.pack_dir / "notes.txt").write_text("hi")
    assert any("stray file in the pack directory" in p.message for p in fsck(repo).errors)


def commit_tree(repo: Repository, tree: ObjectId) -> ObjectId:
    oid = repo.objects.put(Commit((), tree, "me", "host", "2026-01-01T00:00:00Z", "m"))
    repo.objects.sync()
    repo.refs.set(MAIN, oid, expected=None)
    return oid


@pytest.mark.usefixtures("pack_all")
def test_gc_rewrites_a_pack_without_its_garbage(repo: Repository) -> None:
    items = blobs(40)
    ingest(repo.objects, items)
    [old] = repo.objects.packs()
    keep = items[:10]
    tree = repo.objects.put(Tree({f"f{i}": oid for i, (oid, _) in enumerate(keep)}))
    commit_tree(repo, tree)

    young = gc(repo, grace_seconds=3600)
    assert young.kept_young == 30 and not young.removed
    assert repo.objects.packs() == [old]

    dry = gc(repo, grace_seconds=0, dry_run=True)
    assert len(dry.removed) == 30 and repo.objects.packs() == [old]

    done = gc(repo, grace_seconds=0)
    assert sorted(oid for oid, _ in done.removed) == sorted(oid for oid, _ in items[10:])
    [new] = repo.objects.packs()
    assert new.name != old.name and len(new) == 10 and not old.path.exists()
    fresh = DiskObjectStore(repo.objects.root)
    assert all(fresh.has(oid) for oid, _ in keep)
    assert not any(fresh.has(oid) for oid, _ in items[10:])
    assert fsck(repo).ok
    assert gc(repo, grace_seconds=0).removed == []  # nothing left to do


@pytest.mark.usefixtures("pack_all")
def test_gc_removes_a_pack_that_holds_only_garbage(repo: Repository) -> None:
    ingest(repo.objects, blobs(20))
    gc(repo, grace_seconds=0)
    assert repo.objects.packs() == []
    assert fsck(repo).ok


@pytest.mark.usefixtures("pack_all")
def test_a_reader_survives_gc_replacing_the_pack_it_loaded(repo: Repository) -> None:
    items = blobs(20)
    ingest(repo.objects, items)
    reader = DiskObjectStore(repo.objects.root)
    assert reader.has(items[0][0])  # loads the pack
    tree = repo.objects.put(Tree({"a": items[0][0]}))
    commit_tree(repo, tree)
    gc(repo, grace_seconds=0)
    assert reader.read_file(items[0][0]) == items[0][1]  # found again in the new pack
    fd, offset, size = reader.open_range(items[0][0])
    try:
        assert os.pread(fd, size, offset) == items[0][1]
    finally:
        os.close(fd)


@pytest.mark.usefixtures("pack_all")
def test_a_bundle_imports_into_packs(tmp_path: Path, repo: Repository) -> None:
    """Bundles go through the same checked receive as a fetch, packs included."""
    from extract.sync.bundle import export_bundle, import_bundle

    items = blobs(30)
    tree = repo.objects.put(Tree({f"f{i}": oid for i, (oid, _) in enumerate(items)}))
    for oid, stored in items:
        repo.objects.put_stored(oid, stored)
    repo.objects.sync()
    head = commit_tree(repo, tree)
    export_bundle(repo, tmp_path / "b.bundle")
    other = Repository.init(tmp_path / "other" / ".extract", ("a",))
    info = import_bundle(other, tmp_path / "b.bundle")
    assert info.objects == 32
    assert other.refs.read("refs/remotes/bundle/main") == head
    assert sum(len(p) for p in other.objects.packs()) == 32
    assert fsck(other).ok
