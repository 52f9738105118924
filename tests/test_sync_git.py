"""The git transport: extract history under refs/extract/* of real git repositories.

The transport contract of ``test_sync_transport.py`` (list_refs, walk/has/get/put,
compare-and-swap, incremental fetch, refusal of bad bytes), run against bare git
repositories made by the real ``git`` binary, reached over ``file://`` (dulwich's
local client) and over ssh to the loopback sshd of ``tests/sshd.py`` (the real
``git-upload-pack``/``git-receive-pack`` on the far side). Then what only a git
remote has: the layout git sees, one git commit per push with only changed fan-out
trees rewritten, a tampered git blob, the size limit, the code repository's own
remote (``git clone`` + fetch + merge on a second machine), URLs, and a 200 MiB
model round trip (slow). The contract also runs over smart HTTP: the real
``git http-backend`` behind a small WSGI-to-CGI bridge on 127.0.0.1 (plain HTTP;
TLS is urllib3's business, not ours).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from dulwich.object_format import DEFAULT_OBJECT_FORMAT
from dulwich.pack import PackChunkGenerator

import extract.sync.transport.git._transport as gt
from extract.errors import (
    CorruptObject,
    ExtractError,
    GitObjectTooLarge,
    InvalidInput,
    ObjectNotFound,
    RefConflict,
    StoreNotFound,
    UnknownFormatVersion,
)
from extract.git.remotes import git_remote_url
from extract.objects import Blob, Commit, ObjectId, encode_object, hash_bytes, to_hex
from extract.sdk import Store
from extract.store.fsck import fsck
from extract.store.history import read_state
from extract.store.odb import decode_loose, encode_loose_bytes
from extract.store.repo import MAIN, Repository
from extract.store.walk import object_links
from extract.sync import ops
from extract.sync.remotes import resolve_git_remote
from extract.sync.transport import LocalTransport
from extract.sync.transport.git import GitTransport
from extract.sync.transport.git._pack import TYPE_BLOB, GitPackWriter, PackEntry, git_sha
from extract.sync.transport.url import git_location, is_git_url, redact
from tests.cli import extract
from tests.sshd import (
    SshServer,
    add_runs,
    commit,
    make_store,
    reachable,
    sshd,  # noqa: F401 - fixture
)

FAKE = ObjectId(bytes(range(32)))
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(*args: str, cwd: Path | None = None, check: bool = True) -> str:
    r = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        timeout=120,
    )
    if check:
        assert r.returncode == 0, f"git {' '.join(args)}: {r.stderr}"
    return r.stdout.strip()


def bare(path: Path) -> Path:
    git("init", "-q", "--bare", "-b", "main", str(path))
    git("--git-dir", str(path), "config", "http.receivepack", "true")  # for the http kind
    return path


def git_ref(repo: Path, ref: str = "refs/extract/main") -> str | None:
    out = git("--git-dir", str(repo), "rev-parse", "--verify", "-q", ref, check=False)
    return out or None


def git_objects(repo: Path) -> set[str]:
    out = git(
        "--git-dir", str(repo), "cat-file", "--batch-all-objects", "--batch-check=%(objectname)"
    )
    return set(out.split())


Url = Callable[[Path], str]


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # provenance capture reads the tmp dir, not this checkout


# smart HTTP: git http-backend behind a WSGI-to-CGI bridge ----------------------------------


def _read_chunked(f: Any) -> bytes:
    out = bytearray()
    while True:
        size = int(f.readline().split(b";")[0].strip(), 16)
        if size == 0:
            while f.readline() not in (b"\r\n", b"\n", b""):
                pass
            return bytes(out)
        out += f.read(size)
        f.readline()


def _http_backend(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """One request: the real ``git http-backend`` as CGI, every repository under /.
    Paths under /auth/ want HTTP basic auth as tester:s3cret."""
    if environ["PATH_INFO"].startswith("/auth/"):
        want = "Basic " + base64.b64encode(b"tester:s3cret").decode()
        if environ.get("HTTP_AUTHORIZATION") != want:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"')])
            return [b"who are you?\n"]
        environ["PATH_INFO"] = environ["PATH_INFO"][len("/auth") :]
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        body = _read_chunked(environ["wsgi.input"])
    else:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": "/",
        "GIT_HTTP_EXPORT_ALL": "1",
        "REMOTE_USER": "tester",
        "REMOTE_ADDR": "127.0.0.1",
        "REQUEST_METHOD": environ["REQUEST_METHOD"],
        "PATH_INFO": environ["PATH_INFO"],
        "QUERY_STRING": environ.get("QUERY_STRING", ""),
        "CONTENT_TYPE": environ.get("CONTENT_TYPE", ""),
        "CONTENT_LENGTH": str(len(body)),
    }
    for key in ("HTTP_CONTENT_ENCODING", "HTTP_GIT_PROTOCOL"):
        if key in environ:
            env[key] = environ[key]
    r = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
    head, _, out = r.stdout.partition(b"\r\n\r\n")
    status, headers = "200 OK", []
    for line in head.split(b"\r\n"):
        key, _, value = line.decode("latin-1").partition(":")
        if key.lower() == "status":
            status = value.strip()
        elif key:
            headers.append((key, value.strip()))
    start_response(status, headers)
    return [out]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def http_port() -> Iterator[int]:
    srv = make_server("127.0.0.1", 0, _http_backend, handler_class=_QuietHandler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_port
    srv.shutdown()
    srv.server_close()


@pytest.fixture(params=["file", "ssh", "http"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url_for(kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Url:
    """``url_for(bare_repo)``: the extract URL of a git repository, over this test's kind."""
    if kind == "file":
        return lambda p: f"git+file://{p}"
    if kind == "http":
        port: int = request.getfixturevalue("http_port")
        return lambda p: f"git+http://127.0.0.1:{port}{p}"
    server: SshServer = request.getfixturevalue("sshd")
    monkeypatch.setenv("GIT_SSH_COMMAND", server.env["EXTRACT_SSH"])
    return lambda p: f"git+ssh://{server.user}@127.0.0.1:{server.port}{p}"


@pytest.fixture
def opened() -> Iterator[list[GitTransport]]:
    ts: list[GitTransport] = []
    yield ts
    for t in ts:
        t.close()


@pytest.fixture
def connect(url_for: Url, opened: list[GitTransport]) -> Callable[..., GitTransport]:
    """``connect(bare_repo, store=None)``: a git transport, its cache in ``store``."""

    def _open(repo: Path, store: Path | None = None) -> GitTransport:
        t = GitTransport(url_for(repo), store=store)
        opened.append(t)
        return t

    return _open


def source(tmp_path: Path, runs: int = 3, name: str = "src") -> tuple[Repository, ObjectId]:
    repo = make_store(tmp_path / name / ".extract")
    add_runs(repo, runs, prefix=name)
    return repo, commit(repo, "first")


def objects_for(repo: Repository, head: ObjectId, since: ObjectId | None = None) -> list[ObjectId]:
    return LocalTransport(repo.root).walk([head], [since] if since else [])


def children_first(repo: Repository, order: list[ObjectId]) -> None:
    pos = {oid: i for i, oid in enumerate(order)}
    for oid in order:
        for child in object_links(repo.objects, oid):
            if child in pos:
                assert pos[child] < pos[oid], f"{to_hex(oid)} sent before its link {to_hex(child)}"


def head_runs(repo: Repository, head: ObjectId) -> set[str]:
    c = repo.objects.get(head)
    assert isinstance(c, Commit)
    return set(read_state(repo.objects, c.state).sections["runs"])


# the contract ----------------------------------------------------------------------------


def test_list_refs(tmp_path: Path, connect: Callable[..., GitTransport]) -> None:
    remote = bare(tmp_path / "remote.git")
    assert connect(remote).list_refs() == {}
    src, head = source(tmp_path)
    t = connect(remote, src.root)
    t.put((oid, src.objects.get_stored(oid)) for oid in objects_for(src, head))
    t.update_ref(MAIN, head, None)
    t.update_ref("refs/heads/exp", head, None)
    # a code branch in the same repository is not extract's
    code = tmp_path / "code"
    git("init", "-q", "-b", "main", str(code))
    (code / "f.py").write_text("x = 1\n")
    git("add", ".", cwd=code)
    git("commit", "-q", "-m", "code", cwd=code)
    git("push", "-q", str(remote), "main", cwd=code)
    fresh = connect(remote)  # no cache: everything comes from the remote
    assert fresh.list_refs() == {MAIN: head, "refs/heads/exp": head}
    assert git_ref(remote, "refs/extract/exp") is not None
    with pytest.raises(InvalidInput, match="only refs/heads"):
        t.update_ref("refs/remotes/x/main", head, None)


def test_walk_has_get_round_trip(tmp_path: Path, connect: Callable[..., GitTransport]) -> None:
    src, first = source(tmp_path)
    remote = bare(tmp_path / "remote.git")
    assert not ops.push(src, connect(remote, src.root), "origin").up_to_date
    add_runs(src, 1, prefix="new")
    second = commit(src, "second")
    ops.push(src, connect(remote, src.root), "origin")

    t = connect(remote)  # a fresh cache: walk/has/get from what was fetched
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
    for oid, stored in got:
        assert stored == src.objects.get_stored(oid)  # stored form, as the other transports
        assert hash_bytes(decode_loose(stored, to_hex(oid), None)) == oid
    with pytest.raises(ObjectNotFound, match=to_hex(FAKE)):
        list(t.get([ids[0], FAKE]))
    assert t.has(ids[:1]) == [True]  # still answers after an error


def test_put_then_update_ref(tmp_path: Path, connect: Callable[..., GitTransport]) -> None:
    src, head = source(tmp_path)
    remote = bare(tmp_path / "remote.git")
    t = connect(remote, src.root)
    ids = objects_for(src, head)
    assert t.put((oid, src.objects.get_stored(oid)) for oid in ids) == len(ids)
    assert t.has(ids) == [True] * len(ids)  # put: it goes with the next update_ref
    assert t.put((oid, src.objects.get_stored(oid)) for oid in ids[:5]) == 5  # again: no-op
    assert t.list_refs() == {}
    assert git_objects(remote) == set(), "put sends nothing until the ref moves"
    t.update_ref(MAIN, head, None)
    assert t.list_refs() == {MAIN: head}

    # What git sees: the layout of objects_spec/git-remote.md, every object byte for byte.
    git("--git-dir", str(remote), "fsck", "--strict", "--no-dangling")
    paths = git("--git-dir", str(remote), "ls-tree", "-r", "--name-only", "refs/extract/main")
    files = set(paths.splitlines())
    assert {"FORMAT", "README.md", "head"} <= files
    expected = {
        f"{'blobs' if isinstance(src.objects.get(o), Blob) else 'objects'}/{to_hex(o)[:2]}/{to_hex(o)[2:]}"
        for o in ids
    }
    assert files - {"FORMAT", "README.md", "head"} == expected
    for oid in ids[:20]:
        where = next(p for p in expected if p.endswith(to_hex(oid)[2:]))
        blob = subprocess.run(
            ["git", "--git-dir", str(remote), "cat-file", "blob", f"refs/extract/main:{where}"],
            capture_output=True,
            check=True,
        ).stdout
        assert blob == src.objects.get_raw(oid)
    assert git("--git-dir", str(remote), "show", "refs/extract/main:head") == to_hex(head)
    assert git("--git-dir", str(remote), "show", "refs/extract/main:FORMAT").startswith(
        "extract-git-remote 1"
    )


def test_update_ref_compare_and_swap(tmp_path: Path, connect: Callable[..., GitTransport]) -> None:
    src, first = source(tmp_path)
    add_runs(src, 1, prefix="more")
    second = commit(src, "second")
    remote = bare(tmp_path / "remote.git")
    t = connect(remote, src.root)
    t.put((oid, src.objects.get_stored(oid)) for oid in objects_for(src, second))
    t.update_ref(MAIN, first, None)
    at_first = git_ref(remote)

    with pytest.raises(RefConflict, match="fetch and merge"):
        t.update_ref(MAIN, second, None)  # expected absent, but it exists
    with pytest.raises(RefConflict):
        t.update_ref(MAIN, second, second)  # expected the wrong value
    assert git_ref(remote) == at_first
    t.update_ref(MAIN, second, first)
    at_second = git_ref(remote)
    assert at_second != at_first
    assert git("--git-dir", str(remote), "rev-parse", "refs/extract/main^") == at_first
    with pytest.raises(RefConflict):
        t.update_ref(MAIN, first, first)  # a stale expectation loses
    assert git_ref(remote) == at_second

    with pytest.raises(InvalidInput, match="invalid ref name"):
        t.update_ref("refs/heads/../../escape", second, None)
    with pytest.raises(InvalidInput, match="invalid ref name"):
        t.update_ref("refs/heads/-rf", second, None)

    # connectivity: a ref never moves to a commit whose objects are not all there
    other = bare(tmp_path / "other.git")
    t2 = connect(other)
    with pytest.raises(CorruptObject, match="did not arrive before it"):
        t2.put([(first, src.objects.get_stored(first))])  # the commit alone, not its state
    with pytest.raises(ObjectNotFound):
        t2.update_ref(MAIN, first, None)
    assert git_ref(other) is None and git_objects(other) == set()
    assert t.list_refs() == {MAIN: second}


def test_two_pushers_race_one_wins(tmp_path: Path, connect: Callable[..., GitTransport]) -> None:
    """Both saw an empty remote; the second to send loses by compare-and-swap."""
    a, head_a = source(tmp_path, name="a")
    b, head_b = source(tmp_path, name="b")
    remote = bare(tmp_path / "remote.git")
    ta, tb = connect(remote, a.root), connect(remote, b.root)
    assert ta.list_refs() == {} and tb.list_refs() == {}
    ta.put((o, a.objects.get_stored(o)) for o in objects_for(a, head_a))
    tb.put((o, b.objects.get_stored(o)) for o in objects_for(b, head_b))
    ta.update_ref(MAIN, head_a, None)
    won = git_ref(remote)
    with pytest.raises(RefConflict, match="fetch and merge"):
        tb.update_ref(MAIN, head_b, None)
    assert git_ref(remote) == won
    assert connect(remote).list_refs() == {MAIN: head_a}
    # and through ops: b is told to pull first, then gets in after a merge
    with pytest.raises(RefConflict, match="pull"):
        ops.push(b, connect(remote, b.root), "origin")
    ops.fetch(b, connect(remote, b.root), "origin")
    assert ops.merge(b, head_a).kind == "merge"
    ops.push(b, connect(remote, b.root), "origin")
    assert connect(remote).list_refs() == {MAIN: b.refs.read(MAIN)}


def test_receive_pack_refuses_a_stale_old_value(
    tmp_path: Path, connect: Callable[..., GitTransport], kind: str
) -> None:
    """The ref moves between git's advertisement and its update: git itself says no.

    A pre-receive hook plays the other pusher: it points refs/extract/main elsewhere
    after receive-pack advertised the old value. Only the real receive-pack runs
    hooks (ssh, http); dulwich's local client checks the old value under the ref lock.
    """
    if kind == "file":
        pytest.skip("dulwich's local client runs no server hooks; its set_if_equals is the CAS")
    src, first = source(tmp_path)
    add_runs(src, 1, prefix="more")
    second = commit(src, "second")
    remote = bare(tmp_path / "remote.git")
    t = connect(remote, src.root)
    t.put((o, src.objects.get_stored(o)) for o in objects_for(src, second))
    t.update_ref(MAIN, first, None)
    t.update_ref("refs/heads/other", second, None)
    racer = git_ref(remote, "refs/extract/other")
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\nprintf '%s\\n' {racer} > '{remote}/refs/extract/main'\n")
    hook.chmod(0o755)
    with pytest.raises(RefConflict):
        t.update_ref(MAIN, second, first)
    assert git_ref(remote) == racer  # the racer's value stands; ours was refused


def test_put_refuses_bytes_that_do_not_match_their_id(
    tmp_path: Path, connect: Callable[..., GitTransport]
) -> None:
    remote = bare(tmp_path / "remote.git")
    t = connect(remote)
    raw = encode_object(Blob(b"honest bytes"))
    lie = hash_bytes(b"something else")
    with pytest.raises(ExtractError, match="do not match the id"):
        t.put([(lie, encode_loose_bytes(raw))])
    junk = b"\xff\x00 not msgpack"  # hashes to its id, but is no object
    with pytest.raises(ExtractError):
        t.put([(hash_bytes(junk), encode_loose_bytes(junk))])
    with pytest.raises(CorruptObject, match="bad header"):
        t.put([(hash_bytes(raw), raw)])  # canonical bytes are not the stored form
    assert t.has([lie, hash_bytes(junk), hash_bytes(raw)]) == [False, False, False]
    assert git_objects(remote) == set() and git_ref(remote) is None


def test_fetch_everything_then_only_the_new_run(
    tmp_path: Path, connect: Callable[..., GitTransport]
) -> None:
    src, first = source(tmp_path, runs=4)
    model = tmp_path / "m.bin"
    model.write_bytes(os.urandom(3 * 2**20))  # so "only the new part" is visible in bytes
    with Store(src.root) as s, s.experiment({"sweep": "x", "trial": "m"}).run(name="m") as r:
        r.register_model("m", "1", model)
    first = commit(src, "model")
    remote = bare(tmp_path / "remote.git")
    ops.push(src, connect(remote, src.root), "origin")

    local = make_store(tmp_path / "local" / ".extract")
    r1 = ops.fetch(local, connect(remote, local.root), "origin")
    assert r1.head == first and r1.objects == len(reachable(src, first))
    assert local.refs.read("refs/remotes/origin/main") == first
    assert local.refs.read(MAIN) is None
    assert ops.merge(local, first).kind == "fast-forward"
    [cache] = (local.root / "cache" / "git").glob("*.git")
    before = git_objects(cache)
    packs_before = {p: p.stat().st_size for p in (cache / "objects" / "pack").glob("*.pack")}

    [new_run] = add_runs(src, 1, prefix="late")
    second = commit(src, "second")
    ops.push(src, connect(remote, src.root), "origin")
    new = reachable(src, second) - reachable(src, first)
    r2 = ops.fetch(local, connect(remote, local.root), "origin")
    assert r2.objects == len(new), "the incremental fetch brings exactly the new objects"
    assert r2.bytes == sum(len(src.objects.get_stored(o)) for o in new)
    assert new_run in head_runs(local, second)

    # and git moved only the new git objects: this push's commit, trees and blobs
    pushed = git(
        "--git-dir", str(remote), "rev-list", "--objects", "refs/extract/main^..refs/extract/main"
    )
    new_git = {line.split()[0] for line in pushed.splitlines()}
    assert git_objects(cache) - before == new_git
    added = sum(
        p.stat().st_size
        for p in (cache / "objects" / "pack").glob("*.pack")
        if p not in packs_before
    )
    assert added < 256 * 1024, f"the second fetch brought {added} bytes of pack"

    r3 = ops.fetch(local, connect(remote, local.root), "origin")
    assert r3.up_to_date and r3.objects == 0
    assert fsck(local).ok


def test_fetch_from_an_empty_git_repository(
    tmp_path: Path, connect: Callable[..., GitTransport]
) -> None:
    remote = bare(tmp_path / "remote.git")
    local = make_store(tmp_path / "local" / ".extract")
    r = ops.fetch(local, connect(remote, local.root), "origin")
    assert r.head is None and r.objects == 0
    assert local.refs.names() == []


def test_no_repository_there(tmp_path: Path, connect: Callable[..., GitTransport]) -> None:
    src, _ = source(tmp_path)
    missing = tmp_path / "nowhere.git"
    with pytest.raises(StoreNotFound, match="git init --bare"):
        ops.push(src, connect(missing, src.root), "origin")
    assert not missing.exists(), "a push never creates a repository"


def test_a_tampered_git_blob_is_refused(
    tmp_path: Path, connect: Callable[..., GitTransport]
) -> None:
    """Someone rewrites one object's bytes in the git tree: the fetch stops, nothing lands."""
    src, head = source(tmp_path)
    remote = bare(tmp_path / "remote.git")
    ops.push(src, connect(remote, src.root), "origin")
    gd = ["--git-dir", str(remote)]
    victim = next(o for o in objects_for(src, head) if not isinstance(src.objects.get(o), Blob))
    h = to_hex(victim)
    path = f"objects/{h[:2]}/{h[2:]}"
    honest = src.objects.get_raw(victim)
    forged = honest[:-1] + bytes([honest[-1] ^ 1])
    (tmp_path / "forged").write_bytes(forged)
    blob = git(*gd, "hash-object", "-w", str(tmp_path / "forged"))
    index = tmp_path / "index"
    env_index = {**os.environ, **GIT_ENV, "GIT_INDEX_FILE": str(index)}
    for args in (
        ["read-tree", "refs/extract/main"],
        ["update-index", "--cacheinfo", f"100644,{blob},{path}"],
    ):
        subprocess.run(["git", *gd, *args], env=env_index, check=True, capture_output=True)
    tree = subprocess.run(
        ["git", *gd, "write-tree"], env=env_index, check=True, capture_output=True, text=True
    ).stdout.strip()
    forged_commit = git(*gd, "commit-tree", tree, "-p", "refs/extract/main", "-m", "forged")
    git(*gd, "update-ref", "refs/extract/main", forged_commit)

    local = make_store(tmp_path / "local" / ".extract")
    with pytest.raises(CorruptObject, match="does not match its id"):
        ops.fetch(local, connect(remote, local.root), "origin")
    assert local.refs.read("refs/remotes/origin/main") is None
    assert not local.objects.has(victim)
    assert fsck(local).ok


def test_a_layout_from_a_newer_extract_is_not_guessed_at(
    tmp_path: Path, connect: Callable[..., GitTransport]
) -> None:
    src, _ = source(tmp_path)
    remote = bare(tmp_path / "remote.git")
    ops.push(src, connect(remote, src.root), "origin")
    gd = ["--git-dir", str(remote)]
    (tmp_path / "FORMAT").write_text("extract-git-remote 2\nhash blake3-256\n")
    blob = git(*gd, "hash-object", "-w", str(tmp_path / "FORMAT"))
    entries = git(*gd, "ls-tree", "refs/extract/main").splitlines()
    listing = "\n".join(
        f"100644 blob {blob}\tFORMAT" if e.endswith("\tFORMAT") else e for e in entries
    )
    tree = subprocess.run(
        ["git", *gd, "mktree"], input=listing + "\n", capture_output=True, text=True, check=True
    ).stdout.strip()
    git(*gd, "update-ref", "refs/extract/main", git(*gd, "commit-tree", tree, "-m", "v2"))
    local = make_store(tmp_path / "local" / ".extract")
    with pytest.raises(UnknownFormatVersion, match="extract-git-remote 2"):
        ops.fetch(local, connect(remote, local.root), "origin")
    assert local.refs.names() == []


def test_objects_over_the_limit_are_refused_before_anything_is_sent(
    tmp_path: Path, connect: Callable[..., GitTransport], monkeypatch: pytest.MonkeyPatch
) -> None:
    src, _ = source(tmp_path)
    model = tmp_path / "m.bin"
    model.write_bytes(os.urandom(300_000))
    with Store(src.root) as s, s.experiment({"sweep": "x", "trial": "m"}).run(name="m") as r:
        r.register_model("m", "1", model)
    commit(src, "model")
    monkeypatch.setattr(gt, "MAX_GIT_OBJECT", 200_000)
    remote = bare(tmp_path / "remote.git")
    with pytest.raises(GitObjectTooLarge, match="up to 0 MiB") as e:
        ops.push(src, connect(remote, src.root), "origin")
    assert e.value.exit_code == 2
    assert git_objects(remote) == set() and git_ref(remote) is None


def test_each_push_is_one_git_commit_rewriting_only_changed_fanout(
    tmp_path: Path, connect: Callable[..., GitTransport]
) -> None:
    src, first = source(tmp_path, runs=30)
    remote = bare(tmp_path / "remote.git")
    ops.push(src, connect(remote, src.root), "origin")
    add_runs(src, 1, prefix="one")
    second = commit(src, "second")
    ops.push(src, connect(remote, src.root), "origin")
    gd = ["--git-dir", str(remote)]
    assert git(*gd, "rev-list", "--count", "refs/extract/main") == "2"

    new = reachable(src, second) - reachable(src, first)
    changed = git(
        *gd, "diff-tree", "-r", "-t", "--name-only", "refs/extract/main^", "refs/extract/main"
    )
    changed_paths = set(changed.splitlines())
    blob_paths = {p for p in changed_paths if p.count("/") == 2 or p == "head"}
    tree_paths = changed_paths - blob_paths
    assert {p.rsplit("/", 1)[-1] for p in blob_paths - {"head"}} == {to_hex(o)[2:] for o in new}
    prefixes = {p.rsplit("/", 1)[0] for p in blob_paths - {"head"}}
    assert tree_paths == prefixes | {p.split("/")[0] for p in prefixes}, (
        "only the fan-out directories that gained an entry are rewritten"
    )
    total_dirs = git(*gd, "ls-tree", "-r", "-d", "--name-only", "refs/extract/main").splitlines()
    assert len(tree_paths) < len(total_dirs)


def test_the_pack_we_send_carries_our_entries_verbatim_and_is_valid(
    tmp_path: Path, connect: Callable[..., GitTransport]
) -> None:
    """Our pre-compressed entries go through dulwich verbatim (its PackChunkGenerator
    reuses a record's comp_chunks: ``reuse_compressed``, on by default), so nothing is
    compressed twice; and git accepts the pack, stored and deflated entries alike."""
    entry_dir = tmp_path / "entry"
    writer = GitPackWriter(entry_dir)
    content = b"extract passthrough check\n" * 100
    entry = writer.add(TYPE_BLOB, git_sha(TYPE_BLOB, content), content, guess=False)
    writer.finish()
    assert isinstance(entry, PackEntry)
    sent = b"".join(
        PackChunkGenerator(
            num_records=1,
            records=iter([entry.record(git_sha(TYPE_BLOB, content))]),
            object_format=DEFAULT_OBJECT_FORMAT,
        )
    )
    assert sent[12:-20] == entry.read(), "dulwich no longer sends our entries verbatim"
    src, head = source(tmp_path)
    blob = tmp_path / "w.bin"
    blob.write_bytes(os.urandom(200_000) + b"\0" * 300_000)  # one stored, one deflated chunk
    with Store(src.root) as s, s.experiment({"sweep": "x", "trial": "w"}).run(name="w") as r:
        r.register_model("w", "1", blob)
    head = commit(src, "w")
    remote = bare(tmp_path / "remote.git")
    ops.push(src, connect(remote, src.root), "origin")
    git("--git-dir", str(remote), "fsck", "--strict", "--no-dangling")
    local = make_store(tmp_path / "local" / ".extract")
    assert ops.fetch(local, connect(remote, local.root), "origin").head == head


def test_a_deleted_cache_costs_a_fetch_not_data(
    tmp_path: Path, connect: Callable[..., GitTransport]
) -> None:
    src, first = source(tmp_path)
    remote = bare(tmp_path / "remote.git")
    ops.push(src, connect(remote, src.root), "origin")
    shutil.rmtree(src.root / "cache")
    add_runs(src, 1, prefix="after")
    second = commit(src, "after")
    r = ops.push(src, connect(remote, src.root), "origin")
    assert r.objects == len(reachable(src, second) - reachable(src, first))
    assert connect(remote).list_refs() == {MAIN: second}
    assert git("--git-dir", str(remote), "rev-list", "--count", "refs/extract/main") == "2"


# the code repository's own remote -----------------------------------------------------------


def test_clone_the_code_then_fetch_origin_brings_the_experiments(
    tmp_path: Path, kind: str, url_for: Url, opened: list[GitTransport]
) -> None:
    """Machine 1 pushes code and experiments to origin; machine 2 clones the code and
    runs `extract fetch origin`: the experiments arrive; both sides then merge."""
    hub = bare(tmp_path / "hub.git")
    origin_url = url_for(hub)[len("git+") :]  # what a user gives `git remote add`
    one = tmp_path / "one" / "proj"
    git("init", "-q", "-b", "main", str(one))
    git("remote", "add", "origin", origin_url, cwd=one)
    (one / "train.py").write_text("print('train')\n")
    git("add", ".", cwd=one)
    git("commit", "-q", "-m", "code", cwd=one)
    git("push", "-q", "origin", "main", cwd=one)

    def transport(store: Repository, name: str) -> GitTransport:
        url = resolve_git_remote(store.root, name)
        assert url is not None and url == f"git::{origin_url}"
        t = GitTransport(url, store=store.root)
        opened.append(t)
        return t

    s1 = make_store(one / ".extract")
    add_runs(s1, 3, prefix="one")
    h1 = commit(s1, "machine one")
    ops.push(s1, transport(s1, "origin"), "origin")

    two = tmp_path / "two" / "proj"
    git("clone", "-q", origin_url, str(two))
    assert git("for-each-ref", "refs/extract", cwd=two) == "", "a plain clone stays code-only"
    s2 = make_store(two / ".extract")
    r = ops.fetch(s2, transport(s2, "origin"), "origin")
    assert r.head == h1
    assert ops.merge(s2, h1).kind == "fast-forward"
    assert head_runs(s2, h1) == head_runs(s1, h1)

    # both machines work on; the second to push is told to pull, then both converge
    add_runs(s2, 2, prefix="two")
    commit(s2, "machine two")
    add_runs(s1, 1, prefix="again")
    commit(s1, "machine one again")
    ops.push(s2, transport(s2, "origin"), "origin")
    with pytest.raises(RefConflict):
        ops.push(s1, transport(s1, "origin"), "origin")
    f = ops.fetch(s1, transport(s1, "origin"), "origin")
    assert f.head is not None
    assert ops.merge(s1, f.head).kind == "merge"
    ops.push(s1, transport(s1, "origin"), "origin")
    f2 = ops.fetch(s2, transport(s2, "origin"), "origin")
    assert f2.head is not None
    assert ops.merge(s2, f2.head).kind == "fast-forward"
    h = s1.refs.read(MAIN)
    assert h is not None and s2.refs.read(MAIN) == h
    assert len(head_runs(s1, h)) == 6
    assert fsck(s1).ok and fsck(s2).ok

    # the code side is untouched by all this, and keeps working
    (two / "train.py").write_text("print('train v2')\n")
    git("commit", "-q", "-am", "v2", cwd=two)
    git("push", "-q", "origin", "main", cwd=two)
    assert git_ref(hub, "refs/extract/main") is not None
    git("--git-dir", str(hub), "fsck", "--strict", "--no-dangling")


def test_open_transport_knows_git_urls(tmp_path: Path) -> None:
    from extract.sync.transport import open_transport, parse_url

    remote = bare(tmp_path / "remote.git")
    store = make_store(tmp_path / "s" / ".extract")
    assert parse_url("git::me@host:code.git").kind == "git"
    assert parse_url(f"git+file://{remote}").kind == "git"
    with open_transport(f"git+file://{remote}", store=store.root) as t:
        assert isinstance(t, GitTransport) and t.cache.parent == store.root / "cache" / "git"


def test_cli_push_and_fetch_origin_through_the_code_remote(tmp_path: Path) -> None:
    """`extract push origin` / `extract fetch origin` with no extract remote called origin."""
    hub = bare(tmp_path / "hub.git")
    one = tmp_path / "one"
    git("init", "-q", "-b", "main", str(one))
    git("remote", "add", "origin", str(hub), cwd=one)
    (one / "train.py").write_text("print(1)\n")
    git("add", "train.py", cwd=one)
    git("commit", "-q", "-m", "code", cwd=one)
    git("push", "-q", "origin", "main", cwd=one)
    s1 = make_store(one / ".extract")
    add_runs(s1, 2, prefix="one")
    head = commit(s1, "one")
    r = extract("push", "origin", "--json", cwd=one)
    assert r.returncode == 0, r.stderr
    assert git_ref(hub) is not None

    two = tmp_path / "two"
    git("clone", "-q", str(hub), str(two))
    assert extract("init", "--hierarchy", "sweep > trial", str(two), cwd=two).returncode == 0
    r = extract("fetch", "origin", "--json", cwd=two)
    assert r.returncode == 0, r.stderr
    assert extract("merge", "origin", cwd=two).returncode == 0
    assert Repository(two / ".extract").refs.read(MAIN) == head


def test_git_remote_url(tmp_path: Path) -> None:
    assert git_remote_url(tmp_path, "origin") is None  # not a repository
    proj = tmp_path / "proj"
    git("init", "-q", str(proj))
    assert git_remote_url(proj, "origin") is None  # no such remote
    assert git_remote_url(proj, "not a name") is None
    git("remote", "add", "origin", "gh:me/proj.git", cwd=proj)
    git("config", "url.ssh://git@github.com/.insteadOf", "gh:", cwd=proj)
    git("remote", "add", "up", "../up.git", cwd=proj)
    git("remote", "add", "scp", "me@host:code.git", cwd=proj)
    (proj / "sub").mkdir()
    assert git_remote_url(proj / "sub", "origin") == "ssh://git@github.com/me/proj.git"
    assert git_remote_url(proj, "up") == str(tmp_path / "up.git")  # as git resolves it
    assert git_remote_url(proj, "scp") == "me@host:code.git"
    store = make_store(proj / ".extract")
    assert resolve_git_remote(store.root, "scp") == "git::me@host:code.git"
    assert resolve_git_remote(store.root, "nope") is None


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("git::/srv/code.git", "/srv/code.git"),
        ("git::../code.git", "../code.git"),
        ("git::me@host:code.git", "me@host:code.git"),
        ("git::https://github.com/me/proj.git", "https://github.com/me/proj.git"),
        ("git+file:///srv/code.git", "file:///srv/code.git"),
        ("git+ssh://me@host:2222/srv/code.git", "ssh://me@host:2222/srv/code.git"),
        ("git+https://host/me/proj.git", "https://host/me/proj.git"),
        ("git+http://host/me/proj.git", "http://host/me/proj.git"),
        ("git://host/proj.git", "git://host/proj.git"),
    ],
)
def test_git_urls(url: str, location: str) -> None:
    assert is_git_url(url)
    assert git_location(url) == location


@pytest.mark.parametrize("url", ["/srv/store", "ssh://host/x", "host:x", "file:///x", "gitx::y"])
def test_other_urls_are_not_git(url: str) -> None:
    assert not is_git_url(url)
    with pytest.raises(InvalidInput, match="not a git remote URL"):
        git_location(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("git::", "names no repository"),
        ("git::-oProxyCommand=x", "starts with '-'"),
        ("git+ssh://-oProxyCommand=touch_pwned/x", "refusing ssh host"),
        ("git::-lroot@host:x", "starts with '-'"),
    ],
)
def test_git_urls_refused(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        GitTransport(url, store=tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_https_credentials_come_from_git_credential_helpers(
    tmp_path: Path, http_port: int, monkeypatch: pytest.MonkeyPatch, opened: list[GitTransport]
) -> None:
    """No credentials in the URL: on a 401, git's own helpers are asked, as `git push` would."""
    remote = bare(tmp_path / "remote.git")
    url = f"git+http://127.0.0.1:{http_port}/auth{remote}"
    src, head = source(tmp_path)
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))  # no helper at all
    (tmp_path / "gitconfig").write_text("")

    def connect(store: Path) -> GitTransport:
        t = GitTransport(url, store=store)
        opened.append(t)
        return t

    with pytest.raises(ExtractError, match="credential"):
        ops.push(src, connect(src.root), "origin")
    assert git_ref(remote) is None

    store_file = tmp_path / "creds"
    store_file.write_text(f"http://tester:s3cret@127.0.0.1%3a{http_port}\n")
    (tmp_path / "gitconfig").write_text(f"[credential]\n\thelper = store --file={store_file}\n")
    ops.push(src, connect(src.root), "origin")
    assert git_ref(remote) is not None
    local = make_store(tmp_path / "local" / ".extract")
    assert ops.fetch(local, connect(local.root), "origin").head == head


def test_messages_never_show_a_password(tmp_path: Path) -> None:
    assert redact("git+https://me:tok@github.com/a.git") == "git+https://***@github.com/a.git"
    assert redact("git::https://ghp_token@github.com/a.git") == "git::https://***@github.com/a.git"
    assert redact("git+ssh://me:pw@host/x") == "git+ssh://me:***@host/x"
    assert redact("git::me@host:code.git") == "git::me@host:code.git"
    t = GitTransport("git+http://me:s3cret@127.0.0.1:9/x.git", store=tmp_path / "s")
    try:
        with pytest.raises(ExtractError) as e:
            t.list_refs()
    finally:
        t.close()
    assert "s3cret" not in str(e.value) and "127.0.0.1:9" in str(e.value)
    assert e.value.exit_code == 6  # a connection problem, as for the ssh transport
    for p in (tmp_path / "s").rglob("*"):
        if p.is_file():
            assert b"s3cret" not in p.read_bytes(), p


# 200 MiB -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_200_mib_model_round_trips(
    tmp_path: Path, kind: str, connect: Callable[..., GitTransport]
) -> None:
    if kind == "http":
        pytest.skip("the test's CGI bridge buffers whole requests: a 200 MiB body measures it")
    src = make_store(tmp_path / "src" / ".extract")
    model = tmp_path / "model.bin"
    data = os.urandom(200 * 2**20)
    model.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    del data
    with Store(src.root) as s, s.experiment({"sweep": "x", "trial": "big"}).run(name="big") as r:
        r.curve(0, loss=1.0)
        r.register_model("net", "1", model)
    head = commit(src, "big")
    model.unlink()
    remote = bare(tmp_path / "remote.git")

    t0 = time.perf_counter()
    pushed = ops.push(src, connect(remote, src.root), "origin")
    push_s = time.perf_counter() - t0
    assert pushed.bytes > 200 * 2**20

    dst = make_store(tmp_path / "dst" / ".extract")
    t0 = time.perf_counter()
    fetched = ops.fetch(dst, connect(remote, dst.root), "origin")
    fetch_s = time.perf_counter() - t0
    assert fetched.head == head and fetched.objects == pushed.objects
    assert ops.merge(dst, head).kind == "fast-forward"
    with Store(dst.root) as s:
        out = s.checkout_model("net", "1", tmp_path / "out")
    got = out if out.is_file() else next(p for p in out.rglob("*") if p.is_file())
    assert hashlib.sha256(got.read_bytes()).hexdigest() == digest
    git("--git-dir", str(remote), "fsck", "--no-dangling")
    mib = pushed.bytes / 2**20
    print(
        f"\n[{kind}] 200 MiB model: push {push_s:.2f} s ({mib / push_s:.0f} MiB/s), "
        f"fetch {fetch_s:.2f} s ({mib / fetch_s:.0f} MiB/s), {pushed.objects} objects"
    )
    assert push_s < 120 and fetch_s < 120


def test_the_spec_example_ids() -> None:
    """objects_spec/git-remote.md's example, checked with the real git's hash-object."""
    spec = (Path(__file__).resolve().parent.parent / "objects_spec" / "git-remote.md").read_text()
    raw = encode_object(Blob(b"hello\n"))
    head_file = to_hex(hash_bytes(raw)).encode() + b"\n"
    cases = [
        (raw, "96f6a5d30e122b530d2d00dd6dd41e0ac7439ea3"),
        (gt.FORMAT_TEXT, "e282ede92fb3218d7d07d75dfe05fd8d2b4e77b8"),
        (head_file, "25b58253abf2ffc1c79e5191203e920e37f2b4f6"),
    ]
    for content, git_id in cases:
        real = (
            subprocess.run(
                ["git", "hash-object", "--stdin"], input=content, capture_output=True, check=True
            )
            .stdout.decode()
            .strip()
        )
        assert real == git_id == git_sha(3, content).hex()
        assert git_id in spec
    assert to_hex(hash_bytes(raw)) in spec
    assert raw.hex(" ") in spec
    assert len(gt.FORMAT_TEXT) == 37 and "exactly the 37 bytes" in spec
