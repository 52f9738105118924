"""The transports' shared contract, run over a path and over a real ssh connection.

Every contract test is parametrized over ``path`` (LocalTransport on a directory of
this filesystem: fetch and push hard-link verified files), ``path-copy`` (the same
as if on another filesystem: objects are streamed and written) and ``ssh``
(``ssh://user@127.0.0.1:PORT/dir`` through the real sshd of ``tests/sshd.py``, with
``extract serve`` on the far side). Then URL parsing, a
transfer of 10,000 small objects, and interrupted transfers: ``extract fetch`` and
``extract push`` killed with SIGKILL halfway, and an ssh connection cut halfway
(DESIGN.md, "Sync": an interrupted fetch leaves a valid store and resumes without
starting over; push moves the remote ref only after every object arrived).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from extract.errors import (
    ExtractError,
    InvalidInput,
    ObjectNotFound,
    ProtocolError,
    RefConflict,
    StreamLost,
)
from extract.objects import (
    Blob,
    Commit,
    Event,
    ObjectId,
    encode_object,
    hash_bytes,
    new_ulid,
    to_hex,
)
from extract.sdk import Store
from extract.store.fsck import fsck
from extract.store.history import State, now_iso, read_state, write_state
from extract.store.odb import _ingest as odbmod  # the ingest tuning knobs
from extract.store.odb import decode_loose, encode_loose_bytes
from extract.store.repo import MAIN, Repository
from extract.store.walk import object_links
from extract.sync import ops
from extract.sync.protocol import (
    MAX_BATCH,
    Buffers,
    batch_table,
    read_frame,
    read_objects,
    write_frame,
    write_objects,
)
from extract.sync.remotes import _name_for_url
from extract.sync.transport import (
    BATCH,
    BATCH_OBJECTS,
    READ_AHEAD,
    SMALL_GET,
    LocalTransport,
    RemoteUrl,
    SshTransport,
    Transport,
    open_transport,
    parse_url,
    send_objects,
)
from extract.sync.transport import _local as local_transport
from tests.cli import REPO, extract
from tests.sshd import (
    SshServer,
    add_runs,
    add_tag_events,
    commit,
    make_store,
    object_ids_on_disk,
    reachable,
    ssh_env,
    sshd,
)

SSH_FIXTURES = (ssh_env, sshd)  # fixtures of tests/sshd.py, imported for pytest

Connect = Callable[..., Transport]


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # git provenance capture reads the tmp dir, not this checkout


@pytest.fixture(params=["path", "path-copy", "ssh"])
def kind(request: pytest.FixtureRequest) -> str:
    """``path``: a store on this filesystem (fetch and push hard-link verified files);
    ``path-copy``: the same as if it were on another filesystem (objects are streamed and
    written); ``ssh``: ``extract serve`` through the real sshd."""
    return str(request.param)


@pytest.fixture
def connect(
    kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Connect]:
    """``connect(store_dir, create=False)``: a transport of this test's kind to a store."""
    server: SshServer | None = request.getfixturevalue("ssh_env") if kind == "ssh" else None
    if kind == "path-copy":
        monkeypatch.setattr(local_transport, "_same_device", lambda a, b: False)
    opened: list[Transport] = []

    def _open(path: Path, create: bool = False) -> Transport:
        url = str(path) if server is None else server.url(path)
        t = open_transport(url, create=create)
        assert isinstance(t, LocalTransport if server is None else SshTransport)
        opened.append(t)
        return t

    yield _open
    for t in opened:
        t.close()


def remote_store(tmp_path: Path, name: str = "remote") -> Repository:
    return Repository.create(tmp_path / name)


def source(tmp_path: Path, runs: int = 3) -> tuple[Repository, ObjectId]:
    repo = make_store(tmp_path / "src" / ".extract")
    add_runs(repo, runs)
    return repo, commit(repo, "first")


def children_first(odb_repo: Repository, order: list[ObjectId]) -> None:
    """Every object comes after every object it links to (among those sent)."""
    pos = {oid: i for i, oid in enumerate(order)}
    for oid in order:
        for child in object_links(odb_repo.objects, oid):
            if child in pos:
                assert pos[child] < pos[oid], f"{to_hex(oid)} sent before its link {to_hex(child)}"


def objects_for(repo: Repository, head: ObjectId, since: ObjectId | None = None) -> list[ObjectId]:
    """What a sender sends for ``head``: ids, children first."""
    return LocalTransport(repo.root).walk([head], [since] if since else [])


def stored(repo: Repository, ids: list[ObjectId]) -> Iterator[tuple[ObjectId, bytes]]:
    """Objects in their stored form, as they travel."""
    return ((oid, repo.objects.get_stored(oid)) for oid in ids)


FAKE = ObjectId(bytes(range(32)))


# the contract ------------------------------------------------------------------------


def test_list_refs(tmp_path: Path, connect: Connect) -> None:
    empty = remote_store(tmp_path, "empty")
    assert connect(empty.root).list_refs() == {}
    src, head = source(tmp_path)
    src.refs.set("refs/remotes/other/main", head, expected=None)
    assert connect(src.root).list_refs() == {MAIN: head, "refs/remotes/other/main": head}


def test_walk_has_get_round_trip(tmp_path: Path, connect: Connect) -> None:
    src, first = source(tmp_path)
    add_runs(src, 1, prefix="new")
    second = commit(src, "second")
    t = connect(src.root)

    ids = t.walk([first], [])
    assert len(ids) == len(set(ids))
    assert set(ids) == reachable(src, first)
    children_first(src, ids)
    assert t.walk([first], [first]) == []
    delta = t.walk([second], [first])
    assert set(delta) == reachable(src, second) - reachable(src, first)  # only the new run's

    assert t.has([*ids, FAKE]) == [True] * len(ids) + [False]
    got = list(t.get(ids))
    assert [oid for oid, _ in got] == ids
    for oid, form in got:
        assert form == src.objects.read_file(oid)  # the stored form, as on disk
        raw = decode_loose(form, to_hex(oid), None)
        assert hash_bytes(raw) == oid and raw == src.objects.get_raw(oid)

    with pytest.raises(ObjectNotFound, match=to_hex(FAKE)):
        list(t.get([ids[0], FAKE]))
    assert t.has(ids[:1]) == [True]  # the connection still answers after an error


@pytest.mark.parametrize("read_ahead", [False, True], ids=["few", "read-ahead"])
def test_get_abandoned_halfway_leaves_a_clear_state(
    tmp_path: Path, connect: Connect, read_ahead: bool
) -> None:
    """A caller that stops reading halfway (its own error, say) cannot leave the stream out of
    step: an ssh connection is closed and says so; a path transport just goes on."""
    src, head = source(tmp_path, runs=2)
    t = connect(src.root)
    ids = t.walk([head], [])
    if read_ahead:  # more batches than the reader may hold: it cannot reach the end first
        ids *= math.ceil((READ_AHEAD + 3) * BATCH_OBJECTS / len(ids)) + 1
    assert (len(ids) > SMALL_GET) == read_ahead
    got = t.get(ids)
    next(got)
    got.close()
    if isinstance(t, SshTransport):
        with pytest.raises(ProtocolError, match="closed after an interrupted transfer"):
            list(t.get(ids[:1]))
    else:
        assert [oid for oid, _ in t.get(ids[:1])] == ids[:1]


def test_put_then_update_ref(tmp_path: Path, connect: Connect) -> None:
    src, head = source(tmp_path)
    dst = remote_store(tmp_path)
    t = connect(dst.root)
    ids = objects_for(src, head)
    assert t.put(stored(src, ids)) == len(ids)
    assert t.has(ids) == [True] * len(ids)
    assert t.put(stored(src, ids[:5])) == 5  # again: nothing new, no error
    assert t.list_refs() == {}
    t.update_ref(MAIN, head, None)
    assert t.list_refs() == {MAIN: head}
    assert object_ids_on_disk(dst.root) == {to_hex(i) for i in ids}
    assert fsck(Repository(dst.root)).ok


def test_update_ref_compare_and_swap(tmp_path: Path, connect: Connect) -> None:
    src, first = source(tmp_path)
    add_runs(src, 1, prefix="more")
    second = commit(src, "second")
    dst = remote_store(tmp_path)
    t = connect(dst.root)
    t.put(stored(src, objects_for(src, second)))
    t.update_ref(MAIN, first, None)

    with pytest.raises(RefConflict):
        t.update_ref(MAIN, second, None)  # expected absent, but it exists
    with pytest.raises(RefConflict):
        t.update_ref(MAIN, second, second)  # expected the wrong value
    assert dst.refs.read(MAIN) == first
    t.update_ref(MAIN, second, first)
    assert dst.refs.read(MAIN) == second
    with pytest.raises(RefConflict):
        t.update_ref(MAIN, first, first)  # a stale expectation loses
    assert dst.refs.read(MAIN) == second

    with pytest.raises(InvalidInput, match="invalid ref name"):
        t.update_ref("refs/heads/../../escape", second, None)
    with pytest.raises(InvalidInput, match="invalid ref name"):
        t.update_ref("refs/heads/-rf", second, None)
    assert not (tmp_path / "escape").exists()

    # a ref never moves to a commit that was not sent, nor to one sent without its history
    other = remote_store(tmp_path, "other")
    t2 = connect(other.root)
    with pytest.raises(ObjectNotFound):
        t2.update_ref(MAIN, first, None)
    with pytest.raises(ExtractError, match="did not arrive before it"):
        t2.put(stored(src, [first]))  # the commit alone: its state is not there
    assert not other.objects.has(first)
    with pytest.raises(ObjectNotFound):  # (a new connection: see the test after next)
        connect(other.root).update_ref(MAIN, first, None)
    assert other.refs.read(MAIN) is None
    assert t.list_refs() == {MAIN: second}  # the first connection is unaffected


def test_put_refuses_what_is_not_the_object_it_claims(tmp_path: Path, connect: Connect) -> None:
    dst = remote_store(tmp_path)
    t = connect(dst.root)
    honest = encode_object(Blob(b"honest bytes"))
    junk = b"\xff\x00 not msgpack"
    cases = [
        (hash_bytes(b"something else"), encode_loose_bytes(honest), "do not match the id"),
        (hash_bytes(honest), honest, "bad header"),  # not in stored form
        (hash_bytes(junk), encode_loose_bytes(junk), "trailing bytes"),  # hashes right, no object
    ]
    for oid, form, message in cases:
        with pytest.raises(ExtractError, match=message):
            connect(dst.root).put([(oid, form)])  # a fresh connection each time (see below)
        assert not dst.objects.has(oid)
    assert object_ids_on_disk(dst.root) == set()
    assert not list((dst.root / "objects" / "tmp").iterdir())
    assert dst.refs.names() == []
    assert t.list_refs() == {}


def test_connection_answers_after_a_refused_put(
    tmp_path: Path, connect: Connect, kind: str, request: pytest.FixtureRequest
) -> None:
    """A refused put leaves the transport usable, whatever followed the bad object."""
    dst = remote_store(tmp_path)
    t = connect(dst.root)
    good = encode_loose_bytes(encode_object(Blob(b"fine")))
    big = encode_loose_bytes(encode_object(Blob(os.urandom(1 << 21))))  # a second frame
    with pytest.raises(ExtractError):
        t.put([(hash_bytes(b"lie"), good), (FAKE, big), (FAKE, good)])
    assert t.list_refs() == {}
    assert t.has([FAKE]) == [False]


def test_push_creates_a_bare_store_at_a_new_path(tmp_path: Path, connect: Connect) -> None:
    src, head = source(tmp_path)
    target = tmp_path / "new" / "place" / ".extract"
    with pytest.raises(ExtractError, match="no extract store"):
        connect(target)
    assert not target.exists()
    r = ops.push(src, connect(target, create=True), "backup")
    assert r.objects == len(reachable(src, head)) and not r.up_to_date
    bare = Repository(target)
    assert bare.refs.read(MAIN) == head
    assert bare.config.hierarchy is None  # bare: no hierarchy of its own
    assert fsck(bare).ok
    assert src.refs.read("refs/remotes/backup/main") == head
    assert ops.push(src, connect(target), "backup").up_to_date


def test_fetch_everything_then_only_the_new_run(tmp_path: Path, connect: Connect) -> None:
    src, first = source(tmp_path, runs=4)
    local = make_store(tmp_path / "local" / ".extract")
    r = ops.fetch(local, connect(src.root), "origin")
    assert r.head == first and r.objects == len(reachable(src, first))
    assert local.refs.read("refs/remotes/origin/main") == first
    assert local.refs.read(MAIN) is None  # fetch never moves main
    assert ops.merge(local, first).kind == "fast-forward"

    [new_run] = add_runs(src, 1, prefix="late")
    second = commit(src, "second")
    new = reachable(src, second) - reachable(src, first)
    r2 = ops.fetch(local, connect(src.root), "origin")
    assert r2.objects == len(new), "the incremental fetch sends exactly the new objects"
    assert r2.bytes == sum(len(src.objects.read_file(o)) for o in new)
    assert local.refs.read("refs/remotes/origin/main") == second
    assert new_run in head_runs(src, second)

    r3 = ops.fetch(local, connect(src.root), "origin")
    assert r3.up_to_date and r3.objects == 0
    assert fsck(local).ok
    for oid in reachable(src, second):  # every object arrived intact
        assert local.objects.get_raw(oid) == src.objects.get_raw(oid)


def test_packs_travel_both_ways(
    tmp_path: Path, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remote whose objects are packed is fetched from (sendfile from pack ranges over
    ssh; streamed, not hard-linked, over a path), and what arrives is packed here too."""
    monkeypatch.setattr(odbmod, "PACK_AFTER", 0)  # this process packs from the first object
    src, head = source(tmp_path, runs=3)
    packed = remote_store(tmp_path, "packed")
    with packed.writing(), packed.objects.ingest() as sink:
        for oid, data in stored(src, objects_for(src, head)):
            sink.put_stored(oid, data)
    packed.objects.sync()
    packed.refs.set(MAIN, head, expected=None)
    assert packed.objects.packs() and not list(packed.objects.iter_loose_ids())

    local = make_store(tmp_path / "local" / ".extract")
    r = ops.fetch(local, connect(packed.root), "origin")
    assert r.objects == len(reachable(src, head))
    assert local.objects.packs(), "a fetch into this process packs what it receives"
    assert fsck(local).ok
    for oid in reachable(src, head):
        assert local.objects.get_raw(oid) == src.objects.get_raw(oid)

    # and a push from a packed store
    [_] = add_runs(local, 1, prefix="more")
    ops.merge(local, head)
    mine = commit(local, "mine")
    ops.push(local, connect(packed.root), "origin")
    again = Repository(packed.root)
    assert again.refs.read(MAIN) == mine
    assert fsck(again).ok


def head_runs(repo: Repository, head: ObjectId) -> dict[str, ObjectId]:
    """The runs section of ``head``'s state: run id -> run record."""
    c = repo.objects.get(head)
    assert isinstance(c, Commit)
    return dict(read_state(repo.objects, c.state).sections["runs"])


def test_fetch_from_an_empty_remote(tmp_path: Path, connect: Connect) -> None:
    empty = remote_store(tmp_path, "empty")
    local = make_store(tmp_path / "local" / ".extract")
    r = ops.fetch(local, connect(empty.root), "origin")
    assert r.head is None and r.objects == 0
    assert local.refs.names() == []


def test_a_present_commit_with_missing_history_is_fetched_again(tmp_path: Path) -> None:
    src, head = source(tmp_path)
    local = make_store(tmp_path / "local" / ".extract")
    ops.fetch(local, LocalTransport(src.root), "origin")
    local.refs.set("refs/remotes/origin/main", None)  # `extract remote remove origin`
    victim = next(iter(head_runs(local, head).values()))
    os.unlink(local.objects.path_of(victim))  # what a gc killed midway can leave
    assert local.objects.has(head) and not local.objects.has(victim)

    r = ops.fetch(local, LocalTransport(src.root), "origin")
    assert local.objects.has(victim) or local.refs.read("refs/remotes/origin/main") is None
    assert fsck(local).ok, [str(p) for p in fsck(local).problems]
    assert r.objects >= 1


# 10,000 small objects -----------------------------------------------------------------


N_SMALL = 10_000


@pytest.fixture(scope="module")
def many_objects(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ObjectId, int]:
    """A store whose main reaches 10,000 small event objects (and their state trees)."""
    repo = Repository.create(tmp_path_factory.mktemp("many") / "store")
    state = State()
    target = f"run:{new_ulid()}"
    with repo.writing(), repo.objects.batch():
        for i in range(N_SMALL):
            ev = Event(new_ulid(), now_iso(), "tag", target, {"tags": [f"t{i}"]})
            state.sections["events"][ev.id] = repo.objects.put(ev)
        root = write_state(repo.objects, state)
        head = repo.objects.put(Commit((), root, "me@here", "here", now_iso(), "many"))
    repo.objects.sync()
    repo.refs.set(MAIN, head, expected=None)
    return repo.root, head, len(reachable(repo, head))


@pytest.mark.slow
def test_ten_thousand_small_objects_in_few_round_trips(
    tmp_path: Path,
    connect: Connect,
    kind: str,
    many_objects: tuple[Path, ObjectId, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, head, total = many_objects
    assert total > N_SMALL
    t = connect(root)
    verbs: list[str] = []
    if isinstance(t, SshTransport):
        send = t._send

        def counting_send(req: Any) -> None:
            if isinstance(req, list) and req:
                verbs.append(str(req[0]))
            send(req)

        monkeypatch.setattr(t, "_send", counting_send)
    local = Repository.create(tmp_path / "local")
    t0 = time.perf_counter()
    r = ops.fetch(local, t, "origin")
    seconds = time.perf_counter() - t0
    assert r.objects == total
    assert local.refs.read("refs/remotes/origin/main") == head
    if kind == "ssh":
        # ls-refs, walk, then one get per BATCH ids: never one request per object
        assert verbs == ["ls-refs", "walk"] + ["get"] * math.ceil(total / BATCH), verbs
    # one fsync per object took ~18 s here; durable groups and hard links take 1-3 s
    assert seconds < 20, f"{total} objects took {seconds:.1f} s"
    assert fsck(local).ok


# the wire format of object batches ------------------------------------------------------


def batch_bytes(items: list[tuple[ObjectId, bytes]]) -> io.BytesIO:
    buf = io.BytesIO()
    write_objects(buf, items)
    buf.seek(0)
    return buf


def test_object_batch_round_trip() -> None:
    items = [(FAKE, b"first"), (ObjectId(bytes(32)), b""), (ObjectId(b"\x07" * 32), b"x" * 5000)]
    buf = batch_bytes(items)
    frame = read_frame(buf)
    assert frame[0] == "objs"
    got = read_objects(buf, batch_table(frame[1]))
    assert [(oid, bytes(v)) for oid, v in got] == items
    assert buf.read() == b""  # exactly the announced bytes were read


@pytest.mark.parametrize(
    "table",
    [
        [],
        "x",
        [[FAKE]],
        [[FAKE, -1]],
        [[FAKE, True]],
        [[FAKE, 1.0]],
        [[bytes(31), 1]],
        [[FAKE, MAX_BATCH], [FAKE, 1]],
    ],
)
def test_a_batch_table_that_cannot_be_followed_is_refused(table: Any) -> None:
    with pytest.raises(StreamLost, match="object batch"):
        batch_table(table)


def test_batch_buffers_are_reused_only_when_no_view_lives() -> None:
    pool = Buffers(keep=2)

    def one(data: bytes) -> memoryview:
        buf = batch_bytes([(FAKE, data)])
        return read_objects(buf, batch_table(read_frame(buf)[1]), pool)[0][1]

    first, second = one(b"a" * 100), one(b"b" * 100)
    assert bytes(first) == b"a" * 100  # not overwritten while a view of it lives
    assert len(pool.pool) == 2
    third = one(b"c" * 100)
    assert bytes(first) == b"a" * 100 and bytes(second) == b"b" * 100
    assert len(pool.pool) == 2  # all in use: a one-off buffer, not kept
    first_buffer = first.obj
    del first
    fourth = one(b"d" * 100)
    assert fourth.obj is first_buffer  # free again, so used again
    assert bytes(second) == b"b" * 100 and bytes(third) == b"c" * 100
    big = Buffers.KEEP_MAX + 1
    assert len(pool.take(big)) == big and len(pool.pool) == 2


def test_a_batch_cut_short_is_named() -> None:
    buf = batch_bytes([(FAKE, b"0123456789")])
    table = batch_table(read_frame(buf)[1])
    short = io.BytesIO(buf.read()[:4])
    with pytest.raises(ProtocolError, match="closed in the middle of a transfer"):
        read_objects(short, table)


def test_send_objects_from_files_and_from_memory_agree(tmp_path: Path) -> None:
    """The sendfile path (a real pipe) and the plain write path give the same bytes."""
    src, head = source(tmp_path, runs=2)
    ids = objects_for(src, head)
    plain = io.BytesIO()
    assert send_objects(src.objects, ids, plain) == len(ids)
    r, w = os.pipe()
    with os.fdopen(w, "wb") as pipe_out, os.fdopen(r, "rb") as pipe_in:
        chunks: list[bytes] = []
        reader = threading.Thread(target=lambda: chunks.append(pipe_in.read()))
        reader.start()
        send_objects(src.objects, ids, pipe_out)
        pipe_out.close()
        reader.join()
        out = chunks[0]
    assert out == plain.getvalue()
    buf = io.BytesIO(out)
    seen = []
    while buf.tell() < len(out):
        for oid, view in read_objects(buf, batch_table(read_frame(buf)[1])):
            assert bytes(view) == src.objects.read_file(oid)
            seen.append(oid)
    assert seen == ids
    with pytest.raises(ObjectNotFound, match=to_hex(FAKE)):
        send_objects(src.objects, [ids[0], FAKE], io.BytesIO())


# URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/abs/store/.extract", RemoteUrl("path", "/abs/store/.extract")),
        ("rel/store", RemoteUrl("path", "rel/store")),
        ("./a:b", RemoteUrl("path", "./a:b")),
        ("../up/.extract", RemoteUrl("path", "../up/.extract")),
        ("~/store", RemoteUrl("path", "~/store")),
        ("file:///mnt/disk/.extract", RemoteUrl("path", "/mnt/disk/.extract")),
        ("ssh://host/srv/x", RemoteUrl("ssh", "/srv/x", "host", None, None)),
        ("ssh://me@host/srv/x", RemoteUrl("ssh", "/srv/x", "host", None, "me")),
        ("ssh://me@host:2222/srv/x", RemoteUrl("ssh", "/srv/x", "host", 2222, "me")),
        ("ssh://host:22/~/x", RemoteUrl("ssh", "/~/x", "host", 22, None)),
        ("ssh://10.0.0.7:2200/a b", RemoteUrl("ssh", "/a b", "10.0.0.7", 2200, None)),
        (
            "me@login.hpc:scratch/.extract",
            RemoteUrl("ssh", "scratch/.extract", "login.hpc", None, "me"),
        ),
        ("login.hpc:/abs/.extract", RemoteUrl("ssh", "/abs/.extract", "login.hpc", None, None)),
    ],
)
def test_parse_url(url: str, expected: RemoteUrl) -> None:
    assert parse_url(url) == expected


def test_parse_url_prefers_an_existing_local_path(tmp_path: Path) -> None:
    (tmp_path / "host:dir").mkdir()
    assert parse_url("host:dir") == RemoteUrl("path", "host:dir")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ssh://-oProxyCommand=touch_pwned/x", "refusing ssh host '-oProxyCommand=touch_pwned'"),
        ("-oProxyCommand=touch_pwned:x", "refusing ssh host '-oProxyCommand=touch_pwned'"),
        ("ssh://-lroot@host/x", "refusing ssh user '-lroot'"),
        ("-lroot@host:x", "refusing ssh user '-lroot'"),
        ("host:-oops", "refusing ssh path '-oops'"),
        ("ssh://host", "malformed ssh URL"),
        ("ssh://host:2222", "malformed ssh URL"),
        ("ssh://host:port/x", "malformed ssh URL"),
        ("ssh:///x", "malformed ssh URL"),
        ("host:", "names no path"),
        ("", "a remote URL is"),
        ("   ", "a remote URL is"),
    ],
)
def test_parse_url_refuses(url: str, message: str) -> None:
    with pytest.raises(InvalidInput) as e:
        parse_url(url)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_a_refused_host_never_reaches_ssh(tmp_path: Path) -> None:
    """The refusal happens before any process starts: no ProxyCommand can run."""
    marker = tmp_path / "pwned"
    fake_ssh = tmp_path / "fake-ssh"
    fake_ssh.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    fake_ssh.chmod(0o755)
    env = {"EXTRACT_SSH": str(fake_ssh)}
    local = tmp_path / "local"
    assert extract("init", "--bare", str(local), cwd=tmp_path).returncode == 0
    for url in (f"ssh://-oProxyCommand=touch_{marker}/x", "-oProxyCommand=x:y"):
        r = extract("fetch", "--store", str(local), "--", url, cwd=tmp_path, env=env)
        assert r.returncode == 2, r.stderr
        assert "starts with '-'" in r.stderr and "Traceback" not in r.stderr
    assert not marker.exists()


# interrupted transfers -------------------------------------------------------------------


@dataclass(frozen=True)
class BigStore:
    root: Path
    small: ObjectId  # a first commit: a few runs
    head: ObjectId  # then a 64 MiB model, runs and 3,000 small objects
    total: int  # objects main reaches


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> BigStore:
    top = tmp_path_factory.mktemp("big")
    old = Path.cwd()
    os.chdir(top)
    try:
        repo = make_store(top / "a" / ".extract")
        add_runs(repo, 2, prefix="small")
        small = commit(repo, "small")
        (top / "model.bin").write_bytes(os.urandom(64 * 2**20))
        with Store(repo.root) as s:
            e = s.experiment({"sweep": "x", "trial": "big"})
            with e.run(name="big") as r:
                r.curve(0, loss=1.0)
                r.register_model("net", "1", top / "model.bin")
        [many] = add_runs(repo, 12, prefix="many")[:1]
        commit(repo, "big")
        head = add_tag_events(repo, 3000, many, "many small objects")
        (top / "model.bin").unlink()
    finally:
        os.chdir(old)
    return BigStore(repo.root, small, head, len(reachable(repo, head)))


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), **(extra or {})}
    env.pop("EXTRACT_STORE", None)
    return env


def start_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "extract", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def arrived_count(store: Path, with_temp: bool) -> int:
    n = len(object_ids_on_disk(store))
    if with_temp:  # objects written in a durable group that is not complete yet
        with contextlib.suppress(FileNotFoundError):
            n += len(os.listdir(store / "objects" / "tmp"))
    return n


def wait_for_objects(
    proc: subprocess.Popen[str],
    watch: Path,
    at_least: int,
    timeout: float = 60,
    with_temp: bool = False,
) -> int:
    """Poll ``watch``'s object directory until ``at_least`` new objects are there (with
    ``with_temp``, counting those written but not yet made durable and linked)."""
    start = arrived_count(watch, with_temp)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = arrived_count(watch, with_temp) - start
        if n >= at_least:
            return n
        if proc.poll() is not None:
            _out, err = proc.communicate()
            pytest.fail(f"the transfer ended (exit {proc.returncode}) before we cut it: {err}")
        time.sleep(0.002)
    proc.kill()
    pytest.fail("the transfer made no progress")


def kill_and_reap(proc: subprocess.Popen[str], pid: int | None = None) -> tuple[str, str]:
    os.kill(pid if pid is not None else proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    return out, err


def json_out(r: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert r.returncode == 0, r.stderr
    value = json.loads(r.stdout)
    assert isinstance(value, dict)
    return value


def present(root: Path, ids: set[ObjectId]) -> int:
    on_disk = object_ids_on_disk(root)
    return sum(1 for i in ids if to_hex(i) in on_disk)


@pytest.mark.slow
def test_fetch_killed_midway_resumes(tmp_path: Path, big: BigStore) -> None:
    local = tmp_path / "b"
    assert extract("init", "--bare", str(local), cwd=tmp_path).returncode == 0
    assert (
        extract(
            "remote", "add", "--store", str(local), "origin", str(big.root), cwd=tmp_path
        ).returncode
        == 0
    )
    proc = start_cli(["fetch", "--store", str(local), "origin", "--json"], tmp_path, cli_env())
    wait_for_objects(proc, local, at_least=50)
    kill_and_reap(proc)
    assert proc.returncode == -signal.SIGKILL

    repo = Repository(local)  # opens
    rep = fsck(repo)
    assert rep.ok, [str(p) for p in rep.problems]
    assert repo.refs.read("refs/remotes/origin/main") is None
    src = Repository(big.root)
    wanted = reachable(src, big.head)
    arrived = present(local, wanted)
    assert 0 < arrived < big.total, "the kill came too late to test anything"

    again = json_out(extract("fetch", "--store", str(local), "origin", "--json", cwd=tmp_path))
    assert again["objects"] == big.total - arrived, "what arrived before the kill is not resent"
    assert again["head"] == to_hex(big.head)
    assert repo.refs.read("refs/remotes/origin/main") == big.head
    assert fsck(repo).ok
    assert present(local, wanted) == big.total


def seed_remote(remote: Path, src: Repository, head: ObjectId) -> None:
    """A bare store at ``remote`` whose main is ``head``."""
    t = LocalTransport(remote, create=True)
    t.put(stored(src, objects_for(src, head)))
    t.update_ref(MAIN, head, None)


@pytest.mark.slow
def test_push_killed_midway_leaves_remote_main_alone(tmp_path: Path, big: BigStore) -> None:
    src = Repository(big.root)
    remote = tmp_path / "remote"
    seed_remote(remote, src, big.small)
    proc = start_cli(["push", "--store", str(big.root), str(remote), "--json"], tmp_path, cli_env())
    wait_for_objects(proc, remote, at_least=50)
    kill_and_reap(proc)
    assert proc.returncode == -signal.SIGKILL

    r = Repository(remote)
    rep = fsck(r)
    assert rep.ok, [str(p) for p in rep.problems]
    assert r.refs.read(MAIN) == big.small, "the remote's main moved before the push completed"
    wanted = reachable(src, big.head)
    arrived = present(remote, wanted)
    assert arrived < big.total, "the kill came too late to test anything"

    done = json_out(extract("push", "--store", str(big.root), str(remote), "--json", cwd=tmp_path))
    assert done["objects"] == big.total - arrived
    assert r.refs.read(MAIN) == big.head
    assert src.refs.read(f"refs/remotes/{_name_for_url(str(remote))}/main") == big.head
    assert fsck(r).ok


def serve_pid(store: Path) -> int | None:
    """The ``extract serve -- STORE`` process our sshd started for this test, if running."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and str(store).encode() in argv and b"-m" in argv:
            return int(entry)
    return None


def child_pids(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def one_line_error(err: str) -> None:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err


@pytest.mark.slow
def test_ssh_connection_cut_during_fetch(tmp_path: Path, big: BigStore, sshd: SshServer) -> None:
    """The far side's `extract serve` dies halfway."""
    local = tmp_path / "b"
    assert extract("init", "--bare", str(local), cwd=tmp_path).returncode == 0
    url = sshd.url(big.root)
    env = cli_env(sshd.env)
    proc = start_cli(["fetch", "--store", str(local), url, "--json"], tmp_path, env)
    # early, while most of the 64 MiB is still to come (ssh buffers hold a few MiB)
    wait_for_objects(proc, local, at_least=20, with_temp=True)
    pid = serve_pid(big.root)
    assert pid is not None, "found no `extract serve` to kill"
    _out, err = kill_and_reap(proc, pid)
    assert proc.returncode == ProtocolError.exit_code, err
    one_line_error(err)
    assert "lost the connection" in err or "closed" in err, err

    repo = Repository(local)
    rep = fsck(repo)
    assert rep.ok, [str(p) for p in rep.problems]
    name = _name_for_url(url)
    assert repo.refs.read(f"refs/remotes/{name}/main") is None
    arrived = present(local, reachable(Repository(big.root), big.head))
    assert 0 < arrived < big.total

    again = json_out(
        extract("fetch", "--store", str(local), url, "--json", cwd=tmp_path, env=sshd.env)
    )
    assert again["objects"] == big.total - arrived
    assert repo.refs.read(f"refs/remotes/{name}/main") == big.head
    assert fsck(repo).ok


def temp_pack(store: Path) -> bool:
    """Whether a pack is being written (a temp file starting with the pack magic)."""
    tmp = store / "objects" / "tmp"
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(tmp):
            with contextlib.suppress(FileNotFoundError), open(tmp / name, "rb") as f:
                if f.read(2) == b"XP":
                    return True
    return False


def packs_in_place(store: Path) -> int:
    with contextlib.suppress(FileNotFoundError):
        return sum(1 for n in os.listdir(store / "objects" / "pack") if n.endswith(".pack"))
    return 0


@pytest.mark.slow
def test_fetch_killed_while_writing_a_pack_resumes(
    tmp_path: Path, big: BigStore, sshd: SshServer
) -> None:
    """SIGKILL of a process fetching over ssh with packs in place and one half written:
    the store opens, fsck passes (the temp file is a warning), the packs in place are kept,
    and the next fetch sends exactly what is missing. The fetching process closes packs
    small (256 KiB) so several land before the kill; the transfer itself is the real one."""
    local = tmp_path / "b"
    assert extract("init", "--bare", str(local), cwd=tmp_path).returncode == 0
    url = sshd.url(big.root)
    script = (
        "import sys\n"
        "from extract.store.odb import _ingest as odb\n"
        "odb.PACK_AFTER, odb.PACK_BYTES = 16, 256 << 10\n"
        "from extract.store.repo import Repository\n"
        "from extract.sync import ops\n"
        "from extract.sync.transport import open_transport\n"
        "with open_transport(sys.argv[2]) as t:\n"
        "    ops.fetch(Repository(sys.argv[1]), t, 'origin')\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(local), url],
        cwd=tmp_path,
        env=cli_env(sshd.env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (packs_in_place(local) >= 2 and temp_pack(local)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no pack was being written"
        time.sleep(0.001)
    kill_and_reap(proc)
    assert proc.returncode == -signal.SIGKILL

    repo = Repository(local)
    rep = fsck(repo)
    assert rep.ok, [str(p) for p in rep.problems]
    assert rep.packs >= 2
    assert any("temporary file" in p.message for p in rep.problems)
    assert repo.refs.read("refs/remotes/origin/main") is None
    arrived = present(local, reachable(Repository(big.root), big.head))
    assert 0 < arrived < big.total

    again = json_out(
        extract("fetch", "--store", str(local), url, "--json", cwd=tmp_path, env=sshd.env)
    )
    assert again["objects"] == big.total - arrived, "what was in place is not resent"
    name = _name_for_url(url)
    assert repo.refs.read(f"refs/remotes/{name}/main") == big.head
    assert fsck(repo).ok
    assert present(local, reachable(Repository(big.root), big.head)) == big.total


@dataclass(frozen=True)
class HeavyRemote:
    root: Path  # a bare store holding main in packs, so a path remote streams it too
    head: ObjectId  # 300 small objects, then a 96 MiB model (about 100 chunks)
    ids: set[ObjectId]  # what main reaches
    bytes: int  # their stored bytes: what a complete fetch moves


@pytest.fixture(scope="module")
def heavy(tmp_path_factory: pytest.TempPathFactory) -> HeavyRemote:
    top = tmp_path_factory.mktemp("heavy")
    with contextlib.chdir(top):
        src = make_store(top / "src" / ".extract")
        [run] = add_runs(src, 1, prefix="small")
        add_tag_events(src, 300, run, "small objects, sent first")
        (top / "model.bin").write_bytes(os.urandom(96 << 20))
        with Store(src.root) as s, s.experiment({"sweep": "x", "trial": "h"}).run(name="h") as r:
            r.curve(0, loss=1.0)
            r.register_model("net", "1", top / "model.bin")
        head = commit(src, "a 96 MiB model")
    remote = top / "remote"
    seed_remote(remote, src, head)
    shutil.rmtree(top / "src")
    (top / "model.bin").unlink()
    repo = Repository(remote)
    assert repo.objects.has_packs()
    ids = reachable(repo, head)
    return HeavyRemote(remote, head, ids, sum(len(repo.objects.get_stored(i)) for i in ids))


SLOW_FETCH = [sys.executable, "-m", "tests.workers.slow_fetch"]


def pack_bytes_in_place(store: Path) -> int:
    with contextlib.suppress(FileNotFoundError):
        pack_dir = store / "objects" / "pack"
        return sum(
            (pack_dir / n).stat().st_size for n in os.listdir(pack_dir) if n.endswith(".pack")
        )
    return 0


def stored_bytes_present(store: Path, ids: set[ObjectId]) -> int:
    odb = Repository(store).objects
    return sum(len(odb.get_stored(i)) for i in ids if odb.has(i))


@pytest.mark.slow
@pytest.mark.parametrize("over", ["path", "ssh"])
def test_fetch_killed_after_64_mib_keeps_them_and_resumes(
    tmp_path: Path, heavy: HeavyRemote, over: str, request: pytest.FixtureRequest
) -> None:
    """A fetch SIGKILLed after more than 64 MiB arrived keeps them: packs close on their
    own size (64 MiB) and age (5 s), not only every few hundred objects, so the next fetch
    moves less than half of the bytes again (reliability review F4: a 127 MB fetch killed
    at 97 MB kept nothing). The fetching process is the real CLI, slowed to 32 MiB/s so
    the kill lands mid-transfer; over ssh, through a real sshd and `extract serve`."""
    local = tmp_path / "b"
    assert extract("init", "--bare", str(local), cwd=tmp_path).returncode == 0
    env = cli_env()
    url = str(heavy.root)
    if over == "ssh":
        server: SshServer = request.getfixturevalue("sshd")
        env, url = cli_env(server.env), server.url(heavy.root)
    r = extract("remote", "add", "--store", str(local), "origin", url, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    proc = subprocess.Popen(
        [*SLOW_FETCH, str(32 << 20), "fetch", "--store", str(local), "origin", "--json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while pack_bytes_in_place(local) < 64 << 20:  # the first pack closed on its size
        if proc.poll() is not None:
            pytest.fail(
                f"the fetch ended (exit {proc.returncode}) before a pack landed: {proc.communicate()}"
            )
        assert time.monotonic() < deadline, "no pack landed"
        time.sleep(0.005)
    kill_and_reap(proc)
    assert proc.returncode == -signal.SIGKILL

    repo = Repository(local)
    rep = fsck(repo)
    assert rep.ok, [str(p) for p in rep.problems]
    assert repo.refs.read("refs/remotes/origin/main") is None
    kept = stored_bytes_present(local, heavy.ids)
    assert 64 << 20 <= kept < heavy.bytes, "the kill came too late to test anything"

    again = json_out(
        extract("fetch", "--store", str(local), "origin", "--json", cwd=tmp_path, env=env)
    )
    assert again["bytes"] == heavy.bytes - kept, "what arrived before the kill is not resent"
    assert again["bytes"] < heavy.bytes / 2
    assert repo.refs.read("refs/remotes/origin/main") == heavy.head
    assert fsck(repo).ok
    assert stored_bytes_present(local, heavy.ids) == heavy.bytes


@pytest.mark.slow
def test_ssh_connection_cut_during_push(tmp_path: Path, big: BigStore, sshd: SshServer) -> None:
    """Our ssh client dies halfway (as when the network goes)."""
    src = Repository(big.root)
    remote = tmp_path / "remote"
    seed_remote(remote, src, big.small)
    url = sshd.url(remote)
    proc = start_cli(["push", "--store", str(big.root), url, "--json"], tmp_path, cli_env(sshd.env))
    wait_for_objects(proc, remote, at_least=20, with_temp=True)
    pid = next(iter(child_pids(proc.pid)), None)
    assert pid is not None, "found no ssh client to kill"
    _out, err = kill_and_reap(proc, pid)
    assert proc.returncode == ProtocolError.exit_code, err
    one_line_error(err)
    assert "lost the connection" in err, err

    r = Repository(remote)
    assert fsck(r).ok
    assert r.refs.read(MAIN) == big.small
    arrived = present(remote, reachable(src, big.head))
    assert arrived < big.total, "the kill came too late to test anything"
    done = json_out(
        extract("push", "--store", str(big.root), url, "--json", cwd=tmp_path, env=sshd.env)
    )
    assert done["objects"] == big.total - arrived
    assert r.refs.read(MAIN) == big.head
    assert fsck(r).ok


def test_serve_exits_quietly_when_the_client_hangs_up(tmp_path: Path) -> None:
    """A client gone halfway through a reply is not an error on the far side: no traceback."""
    src, head = source(tmp_path)
    ids = objects_for(src, head)
    proc = subprocess.Popen(
        [sys.executable, "-m", "extract", "serve", "--", str(src.root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdout.close()  # gone before the answer
    request = io.BytesIO()
    write_frame(request, ["get", [bytes(i) for i in ids]])
    proc.stdin.write(request.getvalue())
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    assert proc.stderr is not None and proc.stderr.read() == b""
