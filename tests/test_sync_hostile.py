"""Hostile remotes and bundles: refused with a clear error, nothing written outside the store.

DESIGN.md, "Sync": fetch verifies every object; import never writes outside the
store. Each case checks the error (one line, no traceback, naming what was wrong),
that no ref moved, that nothing was stored under a refused id, and that the rest of
the test's directory tree is byte for byte what it was.

Hostile ssh servers are played by a fake ``extract serve`` (FAKE_SERVER below): a
script speaking the protocol on stdin/stdout, started through ``$EXTRACT_SSH`` so it
ignores the host arguments ssh would get.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from extract.errors import (
    BundleError,
    CorruptObject,
    ExtractError,
    InvalidInput,
    InvalidRefName,
    ObjectFormatError,
    ProtocolError,
    StoreError,
    StreamLost,
)
from extract.objects import Blob, Link, ObjectId, encode, encode_object, hash_bytes, to_hex
from extract.store.fsck import fsck
from extract.store.odb import encode_loose_bytes
from extract.store.repo import MAIN, Repository
from extract.sync import ops
from extract.sync.bundle import MAGIC, export_bundle, import_bundle
from extract.sync.protocol import MAX_BATCH, MAX_FRAME, read_frame, write_frame, write_objects
from extract.sync.transport import LocalTransport, open_transport, serve
from tests.cli import extract
from tests.sshd import (
    SshServer,
    add_runs,
    add_tag_events,
    commit,
    make_store,
    object_ids_on_disk,
    run_cli,
    snapshot,
    sshd,
)

SSH_FIXTURES = (sshd,)  # imported for pytest (fixtures of tests/sshd.py)


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # git provenance capture reads the tmp dir, not this checkout


def refs_of(repo: Repository) -> dict[str, ObjectId | None]:
    return {n: repo.refs.read(n) for n in repo.refs.names()}


class Guard:
    """Records a store's refs and objects and the tree around it; ``check()`` compares."""

    def __init__(self, top: Path, repo: Repository) -> None:
        self.top, self.repo = top, repo
        self.refs = refs_of(repo)
        self.objects = object_ids_on_disk(repo.root)
        self.tree = snapshot(top, exclude=repo.root)

    def check(self, refused: ObjectId | None = None, objects_may_grow: bool = True) -> None:
        assert refs_of(self.repo) == self.refs, "a ref moved"
        assert snapshot(self.top, exclude=self.repo.root) == self.tree, "wrote outside the store"
        now = object_ids_on_disk(self.repo.root)
        assert self.objects <= now
        if not objects_may_grow:
            assert now == self.objects
        if refused is not None:
            assert to_hex(refused) not in now, "a refused object was stored"
        assert not list((self.repo.root / "objects" / "tmp").iterdir())


def one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@dataclass(frozen=True)
class Templates:
    src: Path  # a store with two committed runs
    head: ObjectId
    local: Path  # a store with one committed run of its own


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    """Built once per module; tests work on copies (``source``, ``local_store``)."""
    top = tmp_path_factory.mktemp("templates")
    old = Path.cwd()
    os.chdir(top)
    try:
        src = make_store(top / "src" / ".extract")
        add_runs(src, 2)
        head = commit(src, "source")
        local = make_store(top / "local" / ".extract")
        add_runs(local, 1, prefix="mine")
        commit(local, "mine")
    finally:
        os.chdir(old)
    return Templates(src.root, head, local.root)


@pytest.fixture
def source(tmp_path: Path, templates: Templates) -> tuple[Repository, ObjectId]:
    """A copy of the source store, which a test may damage."""
    root = shutil.copytree(templates.src, tmp_path / "src" / ".extract", symlinks=True)
    return Repository(Path(root)), templates.head


@pytest.fixture
def local(tmp_path: Path, templates: Templates) -> Repository:
    """A copy of the store that fetches and imports."""
    return Repository(Path(shutil.copytree(templates.local, tmp_path / "local" / ".extract")))


@pytest.fixture
def origin(templates: Templates) -> tuple[Repository, ObjectId]:
    """The source store itself, read only (fake servers serve its objects)."""
    return Repository(templates.src), templates.head


# a tampered path remote -------------------------------------------------------------------


def tamper(repo: Repository, victim: ObjectId, other: ObjectId) -> None:
    """Replace ``victim``'s file with ``other``'s: well formed, but not ``victim``'s bytes."""
    path = repo.objects.path_of(victim)
    data = repo.objects.path_of(other).read_bytes()
    path.chmod(0o644)
    path.write_bytes(data)


def a_run_object(repo: Repository) -> ObjectId:
    from extract.store.history import head_state

    return next(iter(head_state(repo)[1].sections["runs"].values()))


def test_fetch_refuses_a_tampered_object_from_a_path_remote(
    tmp_path: Path, source: tuple[Repository, ObjectId], local: Repository
) -> None:
    src, head = source
    victim = a_run_object(src)
    tamper(src, victim, head)
    guard = Guard(tmp_path, local)
    before = snapshot(src.root)
    with pytest.raises(CorruptObject) as e:
        ops.fetch(local, LocalTransport(src.root), "origin")
    # the sender's walk does not verify (the receiver does): refused on arrival, by name
    assert to_hex(victim) in str(e.value) and "do not match the id" in str(e.value)
    guard.check(refused=victim)
    assert snapshot(src.root) == before  # a fetch never writes to the remote

    r = extract("fetch", "--store", str(local.root), str(src.root), cwd=tmp_path)
    assert r.returncode == CorruptObject.exit_code
    assert to_hex(victim) in one_line(r.stderr)
    guard.check(refused=victim)


def test_fetch_refuses_a_tampered_object_over_ssh(
    tmp_path: Path, sshd: SshServer, source: tuple[Repository, ObjectId], local: Repository
) -> None:
    src, head = source
    victim = a_run_object(src)
    tamper(src, victim, head)
    guard = Guard(tmp_path, local)
    r = extract("fetch", "--store", str(local.root), sshd.url(src.root), cwd=tmp_path, env=sshd.env)
    assert r.returncode != 0
    line = one_line(r.stderr)
    assert to_hex(victim) in line and "do not match the id" in line
    guard.check(refused=victim)


def test_a_bad_ref_file_in_a_path_remote_is_refused(
    tmp_path: Path, source: tuple[Repository, ObjectId], local: Repository
) -> None:
    src, head = source
    bad = src.root / "refs" / "heads" / "-rf"
    bad.write_text(to_hex(head) + "\n")
    guard = Guard(tmp_path, local)
    with pytest.raises(InvalidRefName, match="refs/heads/-rf"):
        ops.fetch(local, LocalTransport(src.root), "origin")
    guard.check(objects_may_grow=False)


# a fake ssh server -------------------------------------------------------------------------


FAKE_SERVER = r"""
import json, struct, sys
import msgpack

data = json.load(open(sys.argv[1]))
inp, out = sys.stdin.buffer, sys.stdout.buffer
override = data.get("override", {})


def read_frame(f):
    (n,) = struct.unpack(">I", f.read(4))
    return msgpack.unpackb(f.read(n), raw=False)


def send(value):
    payload = msgpack.packb(value, use_bin_type=True)
    out.write(struct.pack(">I", len(payload)) + payload)
    out.flush()


def unhex(v):
    return bytes.fromhex(v)


while True:
    try:
        req = read_frame(inp)
    except Exception:
        break
    verb = req[0]
    if verb in override:
        action = override[verb]
        if action == "huge":
            out.write(struct.pack(">I", 0xFFFFFFF0)); out.flush()
        elif action == "garbage":
            out.write(struct.pack(">I", 3) + b"\xc1\xc1\xc1"); out.flush()
        elif action == "die":
            sys.stderr.write("fake serve: boom\n"); sys.exit(3)
        elif action == "short":  # a batch announcing more bytes than it carries, then EOF
            send(["objs", [[req[1][0], 1000]]]); out.write(b"x" * 10); out.flush(); sys.exit(0)
        elif action == "oversize":
            send(["objs", [[req[1][0], 2**40]]])
        else:
            for frame in action:
                send(frame)
        continue
    if verb == "hello":
        send(["ok", data.get("version", 3)])
    elif verb == "ls-refs":
        send(["ok", {k.encode().decode(): unhex(v) for k, v in data["refs"].items()}])
    elif verb == "walk":
        send(["ok", [unhex(i) for i in data["walk"]]])
    elif verb == "has":
        send(["ok", [False] * len(req[1])])
    elif verb == "get":  # one object batch: its table, then the bytes back to back
        table, payload = [], b""
        for oid in req[1]:
            sent_id = data.get("rename", {}).get(oid.hex(), oid.hex())
            stored = unhex(data["objects"][oid.hex()])
            table.append([unhex(sent_id), len(stored)])
            payload += stored
        send(["objs", table])
        out.write(payload)
        send(["end", len(table)])
    else:
        send(["err", "ProtocolError", "fake server: no " + verb])
"""


def fake_remote(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    refs: dict[str, ObjectId] | None = None,
    walk: list[ObjectId] | None = None,
    objects: dict[ObjectId, bytes] | None = None,
    **extra: Any,
) -> dict[str, str]:
    """Point ``$EXTRACT_SSH`` at the fake server; returns the environment for subprocesses."""
    script = tmp_path / "fake" / "fake_serve.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(FAKE_SERVER)
    data = {
        "refs": {k: to_hex(v) for k, v in (refs or {}).items()},
        "walk": [to_hex(i) for i in (walk or [])],
        "objects": {to_hex(k): v.hex() for k, v in (objects or {}).items()},
        **extra,
    }
    (script.parent / "data.json").write_text(json.dumps(data))
    ssh = " ".join(
        shlex.quote(a) for a in [sys.executable, str(script), str(script.parent / "data.json")]
    )
    env = {"EXTRACT_SSH": ssh, "EXTRACT_REMOTE_COMMAND": "extract"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


URL = "ssh://fake.invalid/srv/store"


def everything(repo: Repository, head: ObjectId) -> dict[ObjectId, bytes]:
    """Every object ``head`` reaches in stored form, children before the objects linking to
    them: what an honest server sends."""
    return {oid: repo.objects.get_stored(oid) for oid in LocalTransport(repo.root).walk([head], [])}


def as_stored(raw: bytes) -> bytes:
    return encode_loose_bytes(raw)


@pytest.mark.parametrize(
    "name",
    [
        "refs/heads/../../../etc/x",
        "../../x",
        "/abs/path",
        "refs/heads/-rf",
        "-rf",
        "refs/remotes/origin/main.lock",
        "refs/heads/a b",
        "refs/heads/.hidden",
        "refs//heads",
    ],
)
def test_fake_server_ref_names_are_checked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    origin: tuple[Repository, ObjectId],
    local: Repository,
) -> None:
    _src, head = origin
    fake_remote(tmp_path, monkeypatch, refs={MAIN: head, name: head})
    guard = Guard(tmp_path, local)  # after the fake server's files exist
    with open_transport(URL) as t, pytest.raises(InvalidInput, match="invalid ref name"):
        t.list_refs()
    with open_transport(URL) as t, pytest.raises(InvalidInput):
        ops.fetch(local, t, "fake")
    guard.check(objects_may_grow=False)


def test_fake_server_sending_bytes_that_do_not_match_their_id(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    origin: tuple[Repository, ObjectId],
    local: Repository,
) -> None:
    src, head = origin
    objs = everything(src, head)
    victim = a_run_object(src)
    objs[victim] = as_stored(encode_object(Blob(b"not the run record")))
    env = fake_remote(tmp_path, monkeypatch, refs={MAIN: head}, walk=list(objs), objects=objs)
    guard = Guard(tmp_path, local)
    with open_transport(URL) as t, pytest.raises(CorruptObject) as e:
        ops.fetch(local, t, "fake")
    assert to_hex(victim) in str(e.value) and "do not match the id" in str(e.value)
    guard.check(refused=victim)
    r = run_cli("fetch", "--store", str(local.root), URL, cwd=tmp_path, env=env)
    assert r.returncode == CorruptObject.exit_code, r.stdout
    assert to_hex(victim) in one_line(r.stderr)
    guard.check(refused=victim)
    assert fsck(local).ok


def test_objects_sent_parents_first_are_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    origin: tuple[Repository, ObjectId],
    local: Repository,
) -> None:
    """A commit never lands before its history, so a later fetch cannot take a commit that
    is present for complete (it skips the transfer when the remote head is already here)."""
    src, head = origin
    objs = everything(src, head)
    parents_first = dict(reversed(list(objs.items())))  # the commit first: no honest server
    env = fake_remote(
        tmp_path, monkeypatch, refs={MAIN: head}, walk=list(parents_first), objects=parents_first
    )
    guard = Guard(tmp_path, local)
    for _ in range(2):
        with (
            open_transport(URL) as t,
            pytest.raises(CorruptObject, match="did not arrive before it"),
        ):
            ops.fetch(local, t, "fake")
        assert not local.objects.has(head)
        guard.check(objects_may_grow=False)
    r = run_cli("fetch", "--store", str(local.root), URL, cwd=tmp_path, env=env)
    assert r.returncode == CorruptObject.exit_code
    one_line(r.stderr)
    guard.check(objects_may_grow=False)
    assert fsck(local).ok


def test_fake_server_omitting_objects_cannot_move_a_ref(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    origin: tuple[Repository, ObjectId],
    local: Repository,
) -> None:
    src, head = origin
    objs = everything(src, head)
    missing = a_run_object(src)
    del objs[missing]
    fake_remote(tmp_path, monkeypatch, refs={MAIN: head}, walk=list(objs), objects=objs)
    guard = Guard(tmp_path, local)
    with open_transport(URL) as t, pytest.raises(CorruptObject, match=to_hex(missing)):
        ops.fetch(local, t, "fake")
    guard.check()
    assert fsck(local).ok


def test_fake_server_sending_objects_it_was_not_asked_for(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    origin: tuple[Repository, ObjectId],
    local: Repository,
) -> None:
    """An object sent under another id than the one asked for is no substitute for it."""
    src, head = origin
    objs = everything(src, head)
    victim = a_run_object(src)
    stranger = encode_object(Blob(b"unrequested"))
    objs[victim] = as_stored(stranger)
    fake_remote(
        tmp_path,
        monkeypatch,
        refs={MAIN: head},
        walk=list(objs),
        objects=objs,
        rename={to_hex(victim): to_hex(hash_bytes(stranger))},
    )
    guard = Guard(tmp_path, local)
    with open_transport(URL) as t, pytest.raises(ExtractError):
        ops.fetch(local, t, "fake")
    guard.check(refused=victim)
    assert fsck(local).ok


@pytest.mark.parametrize("how", ["walk-lists-nothing", "head-swapped"])
def test_a_head_that_never_arrived_is_not_fetched(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    origin: tuple[Repository, ObjectId],
    local: Repository,
    how: str,
) -> None:
    src, head = origin
    objs = everything(src, head)
    extra: dict[str, Any] = {}
    if how == "walk-lists-nothing":
        walk: list[ObjectId] = []
    else:  # every object but the commit, and a valid blob in the commit's place
        stranger = encode_object(Blob(b"not a commit"))
        objs[head] = as_stored(stranger)
        walk = list(objs)
        extra["rename"] = {to_hex(head): to_hex(hash_bytes(stranger))}
    fake_remote(tmp_path, monkeypatch, refs={MAIN: head}, walk=walk, objects=objs, **extra)
    guard = Guard(tmp_path, local)
    try:
        with open_transport(URL) as t:
            ops.fetch(local, t, "fake")
    except ExtractError:
        pass
    assert fsck(local).ok, [str(p) for p in fsck(local).problems]
    guard.check()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"hello": [["ok", 99]]}, "speaks sync protocol 99"),
        pytest.param({"ls-refs": "huge"}, f"the limit is {MAX_FRAME}"),
        pytest.param({"ls-refs": "garbage"}, "malformed message"),
        ({"ls-refs": "die"}, "fake serve: boom"),
        ({"ls-refs": [["err", "RefConflict", "nope"]]}, "nope"),
        ({"ls-refs": [["ok", {"refs/heads/main": "not an id"}]]}, "32-byte ids"),
        ({"walk": [["ok", ["short"]]]}, "32-byte ids"),
        ({"walk": [["ok", "not a list"]]}, "32-byte ids"),
        ({"get": [["objs", [["ab", "cd"]]]]}, "32-byte id, size"),
        ({"get": "short"}, "the remote hung up"),
        ({"get": "oversize"}, f"the limit is {MAX_BATCH}"),
    ],
)
def test_fake_server_protocol_violations(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    override: dict[str, Any],
    message: str,
    origin: tuple[Repository, ObjectId],
    local: Repository,
) -> None:
    src, head = origin
    objs = everything(src, head)
    env = fake_remote(
        tmp_path, monkeypatch, refs={MAIN: head}, walk=list(objs), objects=objs, override=override
    )
    guard = Guard(tmp_path, local)
    with pytest.raises(ExtractError) as e, open_transport(URL) as t:
        ops.fetch(local, t, "fake")
    assert message in str(e.value) and "\n" not in str(e.value)
    guard.check(objects_may_grow=False)
    if "die" in override.values():  # and once through the CLI: one line, the server's words
        r = extract("fetch", "--store", str(local.root), URL, cwd=tmp_path, env=env)
        assert r.returncode == ProtocolError.exit_code
        assert message in one_line(r.stderr)
        guard.check(objects_may_grow=False)


MALFORMED = [
    {"ls-refs": [["ok", [1, 2]]]},
    {"ls-refs": [["ok"]]},
    {"ls-refs": [{"not": "a list"}]},
    {"ls-refs": [7]},
    {"get": [7]},
    {"get": [["objs", "x"]]},
    {"get": [["objs", [["only an id"]]]]},
    {"get": [["end"], ["ok", 1]]},
]


@pytest.mark.parametrize("override", MALFORMED, ids=[json.dumps(m) for m in MALFORMED])
def test_fake_server_malformed_replies(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    override: dict[str, Any],
    origin: tuple[Repository, ObjectId],
    local: Repository,
) -> None:
    src, head = origin
    objs = everything(src, head)
    fake_remote(
        tmp_path, monkeypatch, refs={MAIN: head}, walk=list(objs), objects=objs, override=override
    )
    guard = Guard(tmp_path, local)
    # one of our errors is what the CLI prints as one line; anything else becomes a traceback
    with pytest.raises((ProtocolError, StoreError)), open_transport(URL) as t:
        ops.fetch(local, t, "fake")
    guard.check(objects_may_grow=False)


# ssh hosts and paths -------------------------------------------------------------------------


def test_remote_add_refuses_an_ssh_host_starting_with_dash(
    tmp_path: Path, local: Repository
) -> None:
    config = (local.root / "config.toml").read_text()
    for url in ("-oProxyCommand=sh -c 'touch pwned':x", "ssh://-oProxyCommand=x/y"):
        r = run_cli("remote", "add", "--store", str(local.root), "--", "evil", url, cwd=tmp_path)
        assert r.returncode == 2
        assert "starts with '-'" in one_line(r.stderr)
    assert (local.root / "config.toml").read_text() == config
    assert not (tmp_path / "pwned").exists()


def test_a_remote_path_is_one_argument_on_the_far_side(
    tmp_path: Path, sshd: SshServer, local: Repository
) -> None:
    """Shell metacharacters in an ssh path reach `extract serve` as one quoted argument."""
    marker = tmp_path / "pwned"
    guard = Guard(tmp_path, local)
    path = f"/nonexistent; touch {marker}; $(touch {marker}) `touch {marker}` '\"; touch {marker}"
    r = extract("fetch", "--store", str(local.root), sshd.url(path), cwd=tmp_path, env=sshd.env)
    assert r.returncode != 0
    assert "no extract store" in one_line(r.stderr)
    assert not marker.exists()
    guard.check(objects_may_grow=False)


# bundles ------------------------------------------------------------------------------------


def write_bundle(path: Path, refs: Any, frames: list[Any], end: int | None = None) -> Path:
    buf = io.BytesIO()
    buf.write(MAGIC)
    write_frame(buf, ["refs", refs])
    for f in frames:
        write_frame(buf, f)
    write_frame(buf, ["end", len(frames) if end is None else end])
    path.write_bytes(buf.getvalue())
    return path


def obj_frames(objs: dict[ObjectId, bytes]) -> list[Any]:
    return [["obj", bytes(k), v] for k, v in objs.items()]


@pytest.fixture
def setup(
    tmp_path: Path, origin: tuple[Repository, ObjectId], local: Repository
) -> tuple[Repository, ObjectId, Repository, Path]:
    """(source store, its head, the importing store, a directory for bundles)."""
    src, head = origin
    d = tmp_path / "bundles"
    d.mkdir()
    return src, head, local, d


def ordered(repo: Repository, head: ObjectId) -> dict[ObjectId, bytes]:
    return {oid: repo.objects.get_raw(oid) for oid in LocalTransport(repo.root).walk([head], [])}


BadBundle = Callable[[Repository, ObjectId, Path], tuple[Path, str, type[ExtractError]]]


def _refs_trick(name: str) -> BadBundle:
    def make(src: Repository, head: ObjectId, d: Path) -> tuple[Path, str, type[ExtractError]]:
        return (
            write_bundle(d / "b", {name: bytes(head)}, obj_frames(ordered(src, head))),
            "invalid ref name",
            InvalidRefName,
        )

    return make


def _other_ref(src: Repository, head: ObjectId, d: Path) -> tuple[Path, str, type[ExtractError]]:
    return (
        write_bundle(
            d / "b", {"refs/remotes/bundle/main": bytes(head)}, obj_frames(ordered(src, head))
        ),
        "unexpected ref",
        BundleError,
    )


def _bad_ref_value(
    src: Repository, head: ObjectId, d: Path
) -> tuple[Path, str, type[ExtractError]]:
    return write_bundle(d / "b", {MAIN: b"short"}, []), "32-byte id", BundleError


def _refs_not_a_map(
    src: Repository, head: ObjectId, d: Path
) -> tuple[Path, str, type[ExtractError]]:
    return write_bundle(d / "b", [MAIN], []), "does not start with its refs", BundleError


def _lying_object(src: Repository, head: ObjectId, d: Path) -> tuple[Path, str, type[ExtractError]]:
    objs = ordered(src, head)
    victim = a_run_object(src)
    objs[victim] = encode_object(Blob(b"something else"))
    return (
        write_bundle(d / "b", {MAIN: bytes(head)}, obj_frames(objs)),
        to_hex(victim),
        CorruptObject,
    )


def _tree_entry(name: str) -> BadBundle:
    def make(src: Repository, head: ObjectId, d: Path) -> tuple[Path, str, type[ExtractError]]:
        blob = encode_object(Blob(b"payload"))
        raw = encode({"entries": {name: Link(hash_bytes(blob))}, "kind": "tree", "v": 1})
        tree = hash_bytes(raw)
        frames = [["obj", bytes(hash_bytes(blob)), blob], ["obj", bytes(tree), raw]]
        return (
            write_bundle(d / "b", {MAIN: bytes(head)}, frames),
            "tree entry name",
            ObjectFormatError,
        )

    return make


def _incomplete(src: Repository, head: ObjectId, d: Path) -> tuple[Path, str, type[ExtractError]]:
    objs = ordered(src, head)
    missing = a_run_object(src)
    del objs[missing]
    return (  # caught on arrival: the run's parent links to it and it never came first
        write_bundle(d / "b", {MAIN: bytes(head)}, obj_frames(objs)),
        f"it links to {to_hex(missing)}, which did not arrive before it",
        CorruptObject,
    )


def _miscounted(src: Repository, head: ObjectId, d: Path) -> tuple[Path, str, type[ExtractError]]:
    objs = ordered(src, head)
    return (
        write_bundle(d / "b", {MAIN: bytes(head)}, obj_frames(objs), end=len(objs) + 1),
        "objects, it held",
        BundleError,
    )


def _truncated(at: str) -> BadBundle:
    def make(src: Repository, head: ObjectId, d: Path) -> tuple[Path, str, type[ExtractError]]:
        whole = d / "whole"
        export_bundle(src, whole)
        data = whole.read_bytes()
        whole.unlink()
        cut = {
            "magic": len(MAGIC) - 3,
            "after-magic": len(MAGIC),
            "mid-refs": len(MAGIC) + 10,
            "middle": len(data) // 2,
            "no-end": len(data) - 3,
        }[at]
        (d / "b").write_bytes(data[:cut])
        message = "not an extract bundle" if at == "magic" else "truncated or damaged"
        return d / "b", message, BundleError

    return make


def _huge_frame(src: Repository, head: ObjectId, d: Path) -> tuple[Path, str, type[ExtractError]]:
    (d / "b").write_bytes(MAGIC + (0xFFFFFFF0).to_bytes(4, "big"))
    return d / "b", f"the limit is {MAX_FRAME}", BundleError


def _symlink(src: Repository, head: ObjectId, d: Path) -> tuple[Path, str, type[ExtractError]]:
    real = d / "real.bundle"
    export_bundle(src, real)
    (d / "b").symlink_to(real)
    return d / "b", "not a regular file", BundleError


def _directory(src: Repository, head: ObjectId, d: Path) -> tuple[Path, str, type[ExtractError]]:
    (d / "b").mkdir()
    return d / "b", "not a regular file", BundleError


def _tar_gz(src: Repository, head: ObjectId, d: Path) -> tuple[Path, str, type[ExtractError]]:
    payload = d / "x.txt"
    payload.write_text("hello")
    with tarfile.open(d / "b", "w:gz") as tar:
        tar.add(payload, arcname="../../escape.txt")
    payload.unlink()
    return d / "b", "not an extract bundle", BundleError


def _empty(src: Repository, head: ObjectId, d: Path) -> tuple[Path, str, type[ExtractError]]:
    (d / "b").write_bytes(b"")
    return d / "b", "not an extract bundle", BundleError


def _trailing(extra: bytes | None) -> BadBundle:
    """An honest bundle with bytes after its end record: garbage, or one more frame."""

    def make(src: Repository, head: ObjectId, d: Path) -> tuple[Path, str, type[ExtractError]]:
        export_bundle(src, d / "b")
        tail = io.BytesIO()
        if extra is None:
            write_frame(tail, ["obj", bytes(head), src.objects.get_raw(head)])
        with open(d / "b", "ab") as f:
            f.write(tail.getvalue() if extra is None else extra)
        return d / "b", "bytes after its end record", BundleError

    return make


def _head_not_sent(
    src: Repository, head: ObjectId, d: Path
) -> tuple[Path, str, type[ExtractError]]:
    objs = ordered(src, head)
    del objs[head]
    return (
        write_bundle(d / "b", {MAIN: bytes(head)}, obj_frames(objs)),
        "is not in the bundle",
        BundleError,
    )


BAD_BUNDLES: dict[str, BadBundle] = {
    "ref-dotdot": _refs_trick("../../etc/x"),
    "ref-absolute": _refs_trick("/abs"),
    "ref-dash": _refs_trick("refs/heads/-rf"),
    "ref-dotdot-inside": _refs_trick("refs/heads/../../../escape"),
    "ref-other": _other_ref,
    "ref-value": _bad_ref_value,
    "refs-not-a-map": _refs_not_a_map,
    "object-lies": _lying_object,
    "tree-dotdot": _tree_entry(".."),
    "tree-slash": _tree_entry("a/b"),
    "tree-dot": _tree_entry("."),
    "incomplete-history": _incomplete,
    "miscounted": _miscounted,
    "truncated-magic": _truncated("magic"),
    "truncated-after-magic": _truncated("after-magic"),
    "truncated-refs": _truncated("mid-refs"),
    "truncated-middle": _truncated("middle"),
    "truncated-no-end": _truncated("no-end"),
    "huge-frame": _huge_frame,
    "symlink": _symlink,
    "directory": _directory,
    "tar-gz": _tar_gz,
    "empty": _empty,
    "trailing-garbage": _trailing(b"garbage after the end"),
    "trailing-zero-byte": _trailing(b"\0"),
    "trailing-frame": _trailing(None),
    "head-not-sent": _head_not_sent,
}


@pytest.mark.parametrize("case", list(BAD_BUNDLES))
def test_bad_bundle_is_refused(
    tmp_path: Path, setup: tuple[Repository, ObjectId, Repository, Path], case: str
) -> None:
    src, head, local, d = setup
    path, message, error = BAD_BUNDLES[case](src, head, d)
    guard = Guard(tmp_path, local)
    with pytest.raises(error) as e:
        import_bundle(local, path)
    assert message in str(e.value)
    assert "\n" not in str(e.value)
    guard.check(objects_may_grow=False)  # nothing changed, files included
    assert local.refs.read("refs/remotes/bundle/main") is None
    for escape in (tmp_path / "etc", tmp_path / "escape", tmp_path / "escape.txt", Path("/abs")):
        assert not escape.exists()


@pytest.mark.parametrize(
    "case",
    [
        "ref-dotdot",
        "object-lies",
        "tree-dotdot",
        "truncated-middle",
        "symlink",
        "tar-gz",
        "trailing-garbage",
    ],
)
def test_bad_bundle_is_refused_by_the_cli(
    tmp_path: Path, setup: tuple[Repository, ObjectId, Repository, Path], case: str
) -> None:
    src, head, local, d = setup
    path, message, error = BAD_BUNDLES[case](src, head, d)
    guard = Guard(tmp_path, local)
    for cmd in (["import"], ["sync", "import"]):
        runner = extract if case == "ref-dotdot" else run_cli  # one as a real process
        r = runner(*cmd, str(path), "--store", str(local.root), cwd=tmp_path)
        assert r.returncode == error.exit_code, r.stderr
        assert message in one_line(r.stderr)
        guard.check(objects_may_grow=False)


def test_a_good_bundle_still_imports(
    tmp_path: Path, setup: tuple[Repository, ObjectId, Repository, Path]
) -> None:
    """The control: the same construction, honest, is accepted."""
    src, head, local, d = setup
    path = write_bundle(d / "ok", {MAIN: bytes(head)}, obj_frames(ordered(src, head)))
    info = import_bundle(local, path)
    assert info.refs == {MAIN: head}
    assert local.refs.read("refs/remotes/bundle/main") == head
    assert os.path.getsize(path) > 0


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ObjectId]:
    """A store whose main reaches about 330 objects: more than a transfer keeps loose, so
    a bundle of it lands in a pack."""
    top = tmp_path_factory.mktemp("many")
    old = Path.cwd()
    os.chdir(top)
    try:
        src = make_store(top / "src" / ".extract")
        [run] = add_runs(src, 1)
        commit(src, "one run")
        head = add_tag_events(src, 300, run, "many events")
    finally:
        os.chdir(old)
    return src.root, head


@pytest.mark.parametrize("store_format", [2, 1])
@pytest.mark.parametrize("flaw", ["late-bad-object", "trailing-garbage", "truncated"])
def test_a_refused_bundle_stores_nothing(
    tmp_path: Path,
    many: tuple[Path, ObjectId],
    local: Repository,
    store_format: int,
    flaw: str,
) -> None:
    """The objects before the flaw were checked and written, but in quarantine: temp files
    (a temp pack) put in place only once the whole bundle checked out. Refused, the store
    holds exactly the files it held, in a format-2 store (packs) and a format-1 one."""
    src = Repository(many[0])
    head = many[1]
    if store_format == 1:
        (local.root / "FORMAT").write_text("extract-store 1\nhash blake3-256\n")
        local = Repository(local.root)
    objs = ordered(src, head)
    assert len(objs) > 300
    if flaw == "late-bad-object":
        victim = list(objs)[-5]  # after more than PACK_AFTER objects: a pack was open
        objs[victim] = encode_object(Blob(b"not what its id says"))
    path = write_bundle(tmp_path / "b", {MAIN: bytes(head)}, obj_frames(objs))
    if flaw == "trailing-garbage":
        with open(path, "ab") as f:
            f.write(b"\n")
    elif flaw == "truncated":
        os.truncate(path, os.path.getsize(path) - 2)
    guard = Guard(tmp_path, local)
    before = snapshot(local.root / "objects")
    with pytest.raises(ExtractError):
        import_bundle(local, path)
    guard.check(objects_may_grow=False)
    assert snapshot(local.root / "objects") == before, "a refused bundle left files behind"
    # the same Repository object then takes the honest bundle (the quarantine left no state)
    good = write_bundle(tmp_path / "good", {MAIN: bytes(head)}, obj_frames(ordered(src, head)))
    info = import_bundle(local, good)
    assert info.objects == len(objs)
    assert local.refs.read("refs/remotes/bundle/main") == head
    assert bool(local.objects.packs()) == (store_format == 2)
    assert fsck(local).ok


# a hostile client of `extract serve` ---------------------------------------------------------


def frames(*values: Any) -> bytes:
    """Request frames; a ``Raw`` value goes on the wire as it is (an object batch's bytes)."""
    buf = io.BytesIO()
    for v in values:
        if isinstance(v, Raw):
            buf.write(v.data)
        else:
            write_frame(buf, v)
    return buf.getvalue()


@dataclass(frozen=True)
class Raw:
    data: bytes


def batch(*items: tuple[bytes, bytes]) -> list[Any]:
    """An honest object batch: the table frame, then the bytes."""
    buf = io.BytesIO()
    write_objects(buf, [(ObjectId(oid), data) for oid, data in items])
    table = read_frame(io.BytesIO(buf.getvalue()))
    return [table, Raw(b"".join(data for _, data in items))]


def replies(data: bytes) -> list[Any]:
    buf = io.BytesIO(data)
    out = []
    while buf.tell() < len(data):
        out.append(read_frame(buf))
    return out


ID = bytes(32)


@pytest.mark.parametrize(
    "requests",
    [
        [[5]],
        [{"verb": "hello"}],
        [["nonsense"]],
        [["walk", "x", []]],
        [["get", [ID]]],
        [["update-ref", 5, ID, None]],
        [["update-ref", "refs/heads/../../escape", ID, None]],
        [["update-ref", "refs/heads/main", ID, None]],
        [["put"], *batch((ID, as_stored(b"\x01"))), ["end"]],  # bytes that are not that id
        [["put"], *batch((ID, b"XO")), ["end"]],  # too short to be an object
        [["put"], ["end"]],
        [["put"]],  # and then the client hangs up
        pytest.param([["walk"]]),
        pytest.param([["update-ref", "refs/heads/main"]]),
    ],
)
def test_serve_answers_a_hostile_client(
    tmp_path: Path, local: Repository, requests: list[Any]
) -> None:
    guard = Guard(tmp_path, local)
    hangs_up = requests[-1] == ["put"]
    out = io.BytesIO()
    serve(local, io.BytesIO(frames(*requests, *([] if hangs_up else [["ls-refs"]]))), out)
    answers = replies(out.getvalue())
    assert answers and all(a[0] in ("ok", "err") for a in answers)
    if not hangs_up:  # still answering after the bad request
        assert answers[-1] == ["ok", {MAIN: bytes(local.refs.get(MAIN))}]
    guard.check(objects_may_grow=False)
    assert not (tmp_path / "escape").exists()


@pytest.mark.parametrize(
    "requests",
    [
        [["put"], ["objs", 5], ["end"]],
        [["put"], ["objs", [[ID, as_stored(b"\x01")]]], ["end"]],  # bytes where a size goes
        [["put"], ["objs", [[ID, -1]]], ["end"]],
        [["put"], ["objs", [[ID, True]]], ["end"]],
        [["put"], ["objs", [[ID[:5], 1]]], ["end"]],
        [["put"], ["objs", [[ID, MAX_BATCH + 1]]], ["end"]],
    ],
)
def test_serve_hangs_up_on_a_batch_it_cannot_follow(
    tmp_path: Path, local: Repository, requests: list[Any]
) -> None:
    """A batch table that cannot be trusted leaves no way to find the next frame: the server
    answers one error and stops, writing nothing."""
    guard = Guard(tmp_path, local)
    out = io.BytesIO()
    with pytest.raises(StreamLost, match="object batch"):
        serve(local, io.BytesIO(frames(*requests, ["ls-refs"])), out)
    answers = replies(out.getvalue())
    assert answers[-1][:2] == ["err", "ProtocolError"]
    assert "object batch" in answers[-1][2]
    guard.check(objects_may_grow=False)
