"""The S3 transport against a real S3 server (moto's server mode on 127.0.0.1, started by
``tests/s3server.py``): never a mocked client.

First the transport contract that ``test_sync_transport.py`` runs over path and ssh and
``test_sync_git.py`` over git (list_refs, walk/has/get/put, compare-and-swap, incremental
fetch, refusal of bad bytes); then what only a bucket has: the layout of
objects_spec/s3-remote.md, multipart packs, listing only new indexes, a service without
conditional writes (a tiny real HTTP server that ignores the headers, as rclone's does),
and bad inputs (a missing bucket, wrong credentials, a bucket holding other data, hostile
objects, no boto3). The CLI, races of 8 processes and kills are in ``test_sync_s3_cli.py``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from extract.errors import (
    CorruptObject,
    CorruptPack,
    ExtractError,
    InvalidInput,
    ObjectNotFound,
    RefConflict,
    RemoteError,
    StoreNotFound,
    UnknownFormatVersion,
)
from extract.objects import Blob, ObjectId, encode_object, hash_bytes, to_hex
from extract.sdk import Store
from extract.store.fsck import fsck
from extract.store.odb import decode_loose, encode_loose_bytes
from extract.store.repo import MAIN, Repository
from extract.sync import ops
from extract.sync.transport import LocalTransport, open_transport, parse_url
from extract.sync.transport.s3 import FORMAT_TEXT, S3Transport, remote_fsck, remote_gc
from extract.sync.transport.s3 import _transport as s3t
from extract.sync.transport.url import RemoteUrl
from tests.s3server import S3, AuthServer, auth_server, forgetful_proxy, moto_server, s3
from tests.sshd import add_runs, commit, make_store, reachable

S3_FIXTURES = (moto_server, s3, auth_server)  # imported for pytest
FAKE = ObjectId(bytes(range(32)))


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # provenance capture reads the tmp dir, not this checkout


@pytest.fixture
def connect(s3: S3) -> Iterator[Callable[..., S3Transport]]:
    """``connect(store=None, prefix="team", create=False)``: an S3 transport to the bucket."""
    opened: list[S3Transport] = []

    def _open(store: Path | None = None, prefix: str = "team", create: bool = False) -> S3Transport:
        t = open_transport(s3.url(prefix), create=create, store=store)
        assert isinstance(t, S3Transport)
        opened.append(t)
        return t

    yield _open
    for t in opened:
        t.close()


def source(tmp_path: Path, runs: int = 3, name: str = "src") -> tuple[Repository, ObjectId]:
    repo = make_store(tmp_path / name / ".extract")
    add_runs(repo, runs, prefix=name)
    return repo, commit(repo, "first")


def objects_for(repo: Repository, head: ObjectId, since: ObjectId | None = None) -> list[ObjectId]:
    return LocalTransport(repo.root).walk([head], [since] if since else [])


def stored(repo: Repository, ids: list[ObjectId]) -> Iterator[tuple[ObjectId, bytes]]:
    return ((oid, repo.objects.get_stored(oid)) for oid in ids)


def children_first(repo: Repository, order: list[ObjectId]) -> None:
    from extract.store.walk import object_links

    pos = {oid: i for i, oid in enumerate(order)}
    for oid in order:
        for child in object_links(repo.objects, oid):
            if child in pos:
                assert pos[child] < pos[oid], f"{to_hex(oid)} sent before its link {to_hex(child)}"


# the contract ----------------------------------------------------------------------------


def test_list_refs(tmp_path: Path, s3: S3, connect: Callable[..., S3Transport]) -> None:
    assert connect(create=True).list_refs() == {}
    src, head = source(tmp_path)
    t = connect(src.root, create=True)
    t.put(stored(src, objects_for(src, head)))
    t.update_ref(MAIN, head, None)
    t.update_ref("refs/remotes/other/main", head, None)
    assert connect().list_refs() == {MAIN: head, "refs/remotes/other/main": head}
    assert s3.read("team/refs/heads/main") == to_hex(head).encode() + b"\n"
    assert s3.read("team/FORMAT") == FORMAT_TEXT


def test_walk_has_get_round_trip(tmp_path: Path, connect: Callable[..., S3Transport]) -> None:
    src, first = source(tmp_path)
    assert not ops.push(src, connect(src.root, create=True), "team").up_to_date
    add_runs(src, 1, prefix="new")
    second = commit(src, "second")
    ops.push(src, connect(src.root), "team")

    t = connect()  # no cache: everything from the bucket
    assert t.list_refs() == {MAIN: second}
    ids = t.walk([first], [])
    assert len(ids) == len(set(ids))
    assert set(ids) == reachable(src, first)
    children_first(src, ids)
    assert t.walk([first], [first]) == []
    assert set(t.walk([second], [first])) == reachable(src, second) - reachable(src, first)

    assert t.has([*ids, FAKE]) == [True] * len(ids) + [False]
    got = list(t.get(ids))
    assert [oid for oid, _ in got] == ids
    for oid, form in got:
        assert bytes(form) == src.objects.get_stored(oid)
        assert hash_bytes(decode_loose(bytes(form), to_hex(oid), None)) == oid
    with pytest.raises(ObjectNotFound, match=to_hex(FAKE)):
        list(t.get([ids[0], FAKE]))
    assert t.has(ids[:1]) == [True]  # still answers after an error


def test_put_then_update_ref(tmp_path: Path, s3: S3, connect: Callable[..., S3Transport]) -> None:
    src, head = source(tmp_path)
    t = connect(src.root, create=True)
    ids = objects_for(src, head)
    assert t.put(stored(src, ids)) == len(ids)
    assert t.has(ids) == [True] * len(ids)  # put: it goes with the next update_ref
    assert t.put(stored(src, ids[:5])) == 5  # again: nothing new
    assert t.list_refs() == {}
    t.update_ref(MAIN, head, None)
    assert t.list_refs() == {MAIN: head}
    # The layout of objects_spec/s3-remote.md: FORMAT, one ref, packs with their indexes.
    keys = s3.listing()
    packs = [k for k in keys if k.startswith("team/packs/")]
    indexes = [k for k in keys if k.startswith("team/index/")]
    assert set(keys) == {"team/FORMAT", "team/refs/heads/main", *packs, *indexes}
    assert len(packs) == len(indexes) == 1  # small objects only: one meta pack
    assert indexes[0].split("-")[1] == "meta"
    for k in indexes:
        name = k.rsplit("-", 1)[1]
        assert f"team/packs/{name}.pack" in packs
        assert s3.read(f"team/packs/{name}.pack").endswith(s3.read(k))


def test_update_ref_compare_and_swap(
    tmp_path: Path, s3: S3, connect: Callable[..., S3Transport]
) -> None:
    src, first = source(tmp_path)
    add_runs(src, 1, prefix="more")
    second = commit(src, "second")
    t = connect(src.root, create=True)
    t.put(stored(src, objects_for(src, second)))
    t.update_ref(MAIN, first, None)

    with pytest.raises(RefConflict, match="fetch and merge"):
        t.update_ref(MAIN, second, None)  # expected absent, but it exists
    with pytest.raises(RefConflict):
        t.update_ref(MAIN, second, second)  # expected the wrong value
    assert connect().list_refs() == {MAIN: first}
    t.update_ref(MAIN, second, first)
    with pytest.raises(RefConflict):
        t.update_ref(MAIN, first, first)  # a stale expectation loses
    assert connect().list_refs() == {MAIN: second}

    with pytest.raises(InvalidInput, match="invalid ref name"):
        t.update_ref("refs/heads/../../escape", second, None)
    with pytest.raises(InvalidInput, match="invalid ref name"):
        t.update_ref("refs/heads/-rf", second, None)

    # connectivity: a ref never moves to a commit whose objects are not all there
    t2 = connect(prefix="other", create=True)
    with pytest.raises(CorruptObject, match="did not arrive before it"):
        t2.put([(first, src.objects.get_stored(first))])  # the commit alone, not its state
    with pytest.raises(ObjectNotFound):
        t2.update_ref(MAIN, first, None)
    assert [k for k in s3.listing("other/") if "/refs/" in k] == []


def test_two_pushers_race_one_wins(tmp_path: Path, connect: Callable[..., S3Transport]) -> None:
    """Both saw an empty remote; the second to move the ref loses by If-None-Match."""
    a, head_a = source(tmp_path, name="a")
    b, head_b = source(tmp_path, name="b")
    ta, tb = connect(a.root, create=True), connect(b.root, create=True)
    assert ta.list_refs() == {} and tb.list_refs() == {}
    ta.put(stored(a, objects_for(a, head_a)))
    tb.put(stored(b, objects_for(b, head_b)))
    ta.update_ref(MAIN, head_a, None)
    with pytest.raises(RefConflict, match="fetch and merge"):
        tb.update_ref(MAIN, head_b, None)
    assert connect().list_refs() == {MAIN: head_a}
    # and through ops: b is told to pull first, then gets in after a merge
    with pytest.raises(RefConflict, match="pull"):
        ops.push(b, connect(b.root), "team")
    ops.fetch(b, connect(b.root), "team")
    assert ops.merge(b, head_a).kind == "merge"
    ops.push(b, connect(b.root), "team")
    assert connect().list_refs() == {MAIN: b.refs.read(MAIN)}


def test_a_ref_moved_between_read_and_write_loses(
    tmp_path: Path, s3: S3, connect: Callable[..., S3Transport]
) -> None:
    """The ETag we read is stale by the time we write: the service says 412, we say
    RefConflict, and the other writer's value stands."""
    src, first = source(tmp_path)
    add_runs(src, 1, prefix="more")
    second = commit(src, "second")
    t = connect(src.root, create=True)
    t.put(stored(src, objects_for(src, second)))
    t.update_ref(MAIN, first, None)
    assert t.list_refs() == {MAIN: first}  # t now holds first's ETag
    racer = connect(src.root)
    racer.update_ref(MAIN, second, first)
    t._refs = {MAIN: (first, t._refs[MAIN][1])} if t._refs else None  # (still the old ETag)
    with pytest.raises(RefConflict):
        t.update_ref(MAIN, second, first)
    assert s3.read("team/refs/heads/main").startswith(to_hex(second).encode())


def test_put_refuses_bytes_that_do_not_match_their_id(
    s3: S3, connect: Callable[..., S3Transport]
) -> None:
    t = connect(create=True)
    raw = encode_object(Blob(b"honest bytes"))
    lie = hash_bytes(b"something else")
    with pytest.raises(ExtractError, match="do not match the id"):
        t.put([(lie, encode_loose_bytes(raw))])
    junk = b"\xff\x00 not msgpack"
    with pytest.raises(ExtractError):
        t.put([(hash_bytes(junk), encode_loose_bytes(junk))])
    with pytest.raises(CorruptObject, match="bad header"):
        t.put([(hash_bytes(raw), raw)])  # canonical bytes are not the stored form
    assert t.has([lie, hash_bytes(junk), hash_bytes(raw)]) == [False, False, False]
    assert not [k for k in s3.listing() if "/packs/" in k or "/refs/" in k]


def test_push_to_a_new_prefix_and_fetch_everything_then_only_the_new_run(
    tmp_path: Path, s3: S3, connect: Callable[..., S3Transport]
) -> None:
    src, _ = source(tmp_path, runs=4)
    model = tmp_path / "m.bin"
    model.write_bytes(os.urandom(3 * 2**20))
    with Store(src.root) as st, st.experiment({"sweep": "x", "trial": "m"}).run(name="m") as r:
        r.register_model("m", "1", model)
    first = commit(src, "model")
    with pytest.raises(StoreNotFound, match="extract push"):
        ops.fetch(src, connect(src.root), "team")  # nothing there, and not pushing
    ops.push(src, connect(src.root, create=True), "team")

    local = make_store(tmp_path / "local" / ".extract")
    r1 = ops.fetch(local, connect(local.root), "team")
    assert r1.head == first and r1.objects == len(reachable(src, first))
    assert local.refs.read("refs/remotes/team/main") == first
    assert ops.merge(local, first).kind == "fast-forward"
    assert fsck(local).ok

    add_runs(src, 1, prefix="late")
    second = commit(src, "second")
    pushed = ops.push(src, connect(src.root), "team")
    new = reachable(src, second) - reachable(src, first)
    assert pushed.objects == len(new), "a push sends only what the remote lacks"
    r2 = ops.fetch(local, connect(local.root), "team")
    assert r2.objects == len(new), "the incremental fetch brings exactly the new objects"
    assert r2.bytes == sum(len(src.objects.get_stored(o)) for o in new)
    r3 = ops.fetch(local, connect(local.root), "team")
    assert r3.up_to_date and r3.objects == 0
    assert fsck(local).ok


def test_fetch_from_an_empty_prefix_when_pushing_is_allowed(
    tmp_path: Path, connect: Callable[..., S3Transport]
) -> None:
    local = make_store(tmp_path / "local" / ".extract")
    r = ops.fetch(local, connect(local.root, create=True), "team")
    assert r.head is None and r.objects == 0


# what only a bucket has ------------------------------------------------------------------


def test_s3_urls() -> None:
    assert parse_url("s3://bucket/some/prefix/") == RemoteUrl("s3", "some/prefix", "bucket")
    assert parse_url("s3://my.bucket-1") == RemoteUrl("s3", "", "my.bucket-1")
    for bad in ("s3://", "s3://B/x", "s3://ab", "s3://bucket/a//b", "s3://bucket/../x"):
        with pytest.raises(InvalidInput):
            parse_url(bad)


def test_big_blobs_go_up_in_multipart_data_packs(
    tmp_path: Path, s3: S3, connect: Callable[..., S3Transport], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small pack sizes, so a 6 MiB model (chunks of up to 4 MiB) makes several data packs,
    each sent as a multipart upload, and comes back byte for byte."""
    monkeypatch.setattr(s3t, "PACK_TARGET", 2 * 2**20)
    monkeypatch.setattr(s3t, "MULTIPART_AT", 1 * 2**20)
    monkeypatch.setattr(s3t, "PART_SIZE", 5 * 2**20)  # S3's smallest part: one part each
    monkeypatch.setattr(s3t, "WHOLE_BELOW", 0)
    src, _ = source(tmp_path)
    model = tmp_path / "m.bin"
    model.write_bytes(os.urandom(6 * 2**20))
    with Store(src.root) as st, st.experiment({"sweep": "x", "trial": "m"}).run(name="m") as r:
        r.register_model("m", "1", model)
    head = commit(src, "model")
    ops.push(src, connect(src.root, create=True), "team")
    indexes = [k for k in s3.listing() if k.startswith("team/index/")]
    assert sum("-data-" in k for k in indexes) >= 2
    assert sum("-meta-" in k for k in indexes) == 1
    assert s3.client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", []) == []

    local = make_store(tmp_path / "local" / ".extract")
    r1 = ops.fetch(local, connect(local.root), "team")
    assert r1.head == head and fsck(local).ok
    assert ops.merge(local, head).kind == "fast-forward"
    t = connect()
    ids = t.walk([head], [])
    assert [bytes(form) for _, form in t.get(ids)] == [src.objects.get_stored(o) for o in ids]


def test_an_incremental_fetch_lists_only_new_indexes(
    tmp_path: Path, s3: S3, connect: Callable[..., S3Transport]
) -> None:
    src, _ = source(tmp_path)
    ops.push(src, connect(src.root, create=True), "team")
    local = make_store(tmp_path / "local" / ".extract")
    ops.fetch(local, connect(local.root), "team")
    # An index stamped long ago that the cache never saw: an incremental listing starts
    # after the newest index seen (less a margin), so it is not even listed ...
    s3.write("team/index/00000000000001-meta-" + "0" * 64, b"never read")
    add_runs(src, 1, prefix="late")
    second = commit(src, "second")
    ops.push(src, connect(src.root), "team")
    t = connect(local.root)
    r = ops.fetch(local, t, "team")
    assert r.head == second and not t._listed_full
    # ... while a fresh cache lists everything (and refuses the bogus index, which is no
    # index at all) before a single object is fetched.
    other = make_store(tmp_path / "other" / ".extract")
    with pytest.raises(CorruptPack, match="too short for a pack index"):
        ops.fetch(other, connect(other.root), "team")
    assert other.refs.read("refs/remotes/team/main") is None
    s3.client.delete_object(Bucket=s3.bucket, Key="team/index/00000000000001-meta-" + "0" * 64)
    assert ops.fetch(other, connect(other.root), "team").head == second
    assert fsck(other).ok


def test_a_missing_bucket(tmp_path: Path, s3: S3) -> None:
    src, _ = source(tmp_path)
    with pytest.raises(StoreNotFound, match="does not exist"):
        open_transport(f"s3://no-such-{s3.bucket}/x", create=True).list_refs()
    assert src.refs.read("refs/remotes/x/main") is None


def test_a_bucket_holding_something_else_is_refused(
    tmp_path: Path, s3: S3, connect: Callable[..., S3Transport]
) -> None:
    s3.write("team/data.csv", b"a,b\n1,2\n")
    src, _ = source(tmp_path)
    with pytest.raises(StoreNotFound, match="not an extract remote"):
        ops.push(src, connect(src.root, create=True), "team")
    assert s3.listing() == ["team/data.csv"], "nothing was written"
    s3.write("newer/FORMAT", b"extract-s3-remote 2\nhash blake3-256\n")
    with pytest.raises(UnknownFormatVersion, match="Upgrade extract"):
        ops.push(src, connect(src.root, prefix="newer", create=True), "team")
    assert s3.listing("newer/") == ["newer/FORMAT"]


def test_hostile_objects_are_refused_and_nothing_is_named(
    tmp_path: Path, s3: S3, connect: Callable[..., S3Transport]
) -> None:
    """A bucket whose pack bytes do not match the ids its index claims: the fetch stops at
    the first such object, the tracking ref does not move, the store stays sound."""
    src, _ = source(tmp_path)
    model = tmp_path / "m.bin"
    model.write_bytes(os.urandom(2**20))
    with Store(src.root) as st, st.experiment({"sweep": "x", "trial": "m"}).run(name="m") as r:
        r.register_model("m", "1", model)
    commit(src, "model")
    ops.push(src, connect(src.root, create=True), "team")
    [data] = [k for k in s3.listing() if "-data-" in k]
    pack = f"team/packs/{data.rsplit('-', 1)[1]}.pack"
    body = bytearray(s3.read(pack))
    body[len(body) // 3] ^= 0xFF  # inside the model's bytes
    s3.write(pack, bytes(body))

    local = make_store(tmp_path / "local" / ".extract")
    with pytest.raises(CorruptObject, match="do not match the id"):
        ops.fetch(local, connect(local.root), "team")
    assert local.refs.read("refs/remotes/team/main") is None
    assert fsck(local).ok

    # an index that does not match the pack it names is refused before any object is read
    [meta] = [k for k in s3.listing() if "-meta-" in k]
    idx = bytearray(s3.read(meta))
    idx[0] ^= 0x01
    s3.write(meta, bytes(idx))
    other = make_store(tmp_path / "other" / ".extract")
    with pytest.raises(CorruptPack, match="does not match the pack name"):
        ops.fetch(other, connect(other.root), "team")
    assert other.refs.read("refs/remotes/team/main") is None


def test_a_ref_that_is_not_a_ref(
    tmp_path: Path, s3: S3, connect: Callable[..., S3Transport]
) -> None:
    src, _ = source(tmp_path)
    ops.push(src, connect(src.root, create=True), "team")
    s3.write("team/refs/heads/main", b"rm -rf /\n")
    with pytest.raises(UnknownFormatVersion, match="is not a ref"):
        connect().list_refs()


def test_a_service_without_conditional_writes_is_refused(
    tmp_path: Path, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through a real HTTP server that drops If-Match / If-None-Match on the way: the probe
    finds out on a key of its own, and nothing else is written."""
    src, _ = source(tmp_path)
    with forgetful_proxy(s3.server) as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        t = open_transport(s3.url(), create=True, store=src.root)
        try:
            with pytest.raises(RemoteError, match="does not support conditional writes"):
                ops.push(src, t, "team")
        finally:
            t.close()
    assert s3.listing() == ["team/FORMAT"], "no pack, no ref, no probe key left behind"
    assert src.refs.read("refs/remotes/team/main") is None


def _auth(server: AuthServer, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**server.server.env(), **keys}.items():
        monkeypatch.setenv(key, value)


def test_wrong_credentials_and_no_permission(
    tmp_path: Path, auth_server: AuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, _ = source(tmp_path)
    url = f"s3://{auth_server.bucket}/team"
    _auth(auth_server, {"AWS_ACCESS_KEY_ID": "AKIANOBODYKNOWS00000"}, monkeypatch)
    with pytest.raises(RemoteError, match=r"rejected the credentials \(InvalidAccessKeyId"):
        open_transport(url, create=True).list_refs()
    _auth(auth_server, {**auth_server.reader, "AWS_SECRET_ACCESS_KEY": "wrong"}, monkeypatch)
    with pytest.raises(RemoteError, match=r"rejected the credentials \(SignatureDoesNotMatch"):
        open_transport(url, create=True).list_refs()
    _auth(auth_server, auth_server.reader, monkeypatch)  # may read and list, not write
    with pytest.raises(StoreNotFound, match="extract push"):
        open_transport(url).list_refs()
    with (
        open_transport(url, create=True, store=src.root) as t,
        pytest.raises(RemoteError, match="permission denied to write"),
    ):
        ops.push(src, t, "team")
    assert src.refs.read("refs/remotes/team/main") is None


# gc and fsck of a bucket -------------------------------------------------------------------


def _with_model(src: Repository, tmp_path: Path, name: str, size: int = 2**20) -> ObjectId:
    model = tmp_path / f"{name}.bin"
    model.write_bytes(os.urandom(size))
    with Store(src.root) as st, st.experiment({"sweep": "x", "trial": name}).run(name=name) as r:
        r.register_model(name, "1", model)
    return commit(src, name)


def test_gc_condemns_unreached_packs_then_deletes_them_and_pushers_do_not_count_on_them(
    tmp_path: Path, s3: S3, connect: Callable[..., S3Transport]
) -> None:
    src, first = source(tmp_path)
    ops.push(src, connect(src.root, create=True), "team")
    kept = {k for k in s3.listing() if "/packs/" in k}
    # a second line of history pushed to another ref, which then goes away: unreached
    second = _with_model(src, tmp_path, "m")
    t = connect(src.root)
    t.put(stored(src, objects_for(src, second, first)))
    t.update_ref("refs/heads/exp", second, None)
    s3.client.delete_object(Bucket=s3.bucket, Key="team/refs/heads/exp")
    unreached = {k for k in s3.listing() if "/packs/" in k} - kept
    assert unreached
    # a machine that knows every index as it is now (its cache will outlive the packs)
    stale = make_store(tmp_path / "stale" / ".extract")
    assert ops.fetch(stale, connect(stale.root), "team").head == first
    s3.write("team/packs/" + "ab" * 32 + ".pack", b"left by a push that died")
    s3.write("team/probe/" + "0" * 32, b"probe")

    young = remote_gc(connect(), grace_seconds=3600)
    assert young.condemned == [] and young.deleted == [] and young.orphans == []
    # (moto says every upload started in 2010: this one is old at once)
    s3.client.create_multipart_upload(Bucket=s3.bucket, Key="team/packs/unfinished.pack")
    time.sleep(1.1)  # the packs are now older than a 1 s grace period
    first_gc = remote_gc(connect(), grace_seconds=1)
    assert len(first_gc.condemned) == len(unreached) and first_gc.deleted == []
    assert first_gc.orphans == ["packs/" + "ab" * 32 + ".pack"]
    assert first_gc.probes_removed == 1 and first_gc.uploads_aborted == 1
    assert b"\n" in s3.read("team/gc/condemned")

    # A push of that history now sends it again rather than count on condemned packs ...
    pushed = ops.push(src, connect(src.root), "team")
    assert pushed.objects == len(objects_for(src, second, first))
    time.sleep(1.1)
    second_gc = remote_gc(connect(), grace_seconds=1)
    assert {f"team/packs/{n}.pack" for n, _ in second_gc.deleted} == unreached
    # ... so once they are gone, the history is whole.
    after = set(s3.listing())
    assert kept <= after and not unreached & after
    local = make_store(tmp_path / "local" / ".extract")
    assert ops.fetch(local, connect(local.root), "team").head == second
    assert fsck(local).ok
    # the stale cache names deleted packs: the fetch finds that out and lists again
    assert ops.fetch(stale, connect(stale.root), "team").head == second
    assert fsck(stale).ok
    check = remote_fsck(connect(), read_data=True)
    assert check.ok, check.problems
    assert check.unreachable_packs == 0 and check.reachable == len(reachable(src, second))


def test_fsck_of_a_bucket_finds_missing_and_damaged_packs(
    tmp_path: Path, s3: S3, connect: Callable[..., S3Transport]
) -> None:
    src, _ = source(tmp_path)
    _with_model(src, tmp_path, "m")
    ops.push(src, connect(src.root, create=True), "team")
    rep = remote_fsck(connect(), read_data=True)
    assert rep.ok and rep.verified == rep.reachable
    [data] = [k for k in s3.listing() if "-data-" in k]
    pack = f"team/packs/{data.rsplit('-', 1)[1]}.pack"
    body = bytearray(s3.read(pack))
    body[len(body) // 3] ^= 0xFF
    s3.write(pack, bytes(body))
    assert remote_fsck(connect()).ok, "without --read-data blob bytes are not read"
    damaged = remote_fsck(connect(), read_data=True)
    assert (not damaged.ok and "do not match" in " ".join(damaged.problems)) or any(
        "corrupt object" in p for p in damaged.problems
    )
    s3.client.delete_object(Bucket=s3.bucket, Key=pack)
    missing = remote_fsck(connect())
    assert any("is missing" in p for p in missing.problems)
