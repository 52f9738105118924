"""The git remote transport: history in a git repository under ``refs/extract/*``, through
dulwich's client and a local cache (see the package docstring)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2
from dulwich.errors import SendPackError
from dulwich.object_store import ObjectStoreGraphWalker
from dulwich.objects import ZERO_SHA, ObjectID
from dulwich.objects import Commit as GitCommit
from dulwich.objects import Tree as GitTree
from dulwich.pack import UnpackedObject
from dulwich.refs import Ref
from dulwich.repo import Repo as DulwichRepo

from extract.errors import (
    CorruptObject,
    ExtractError,
    GitObjectTooLarge,
    InvalidInput,
    ObjectNotFound,
    RefConflict,
    StoreError,
    UnknownFormatVersion,
)
from extract.objects import (
    ObjectId,
    ObjectKind,
    check_ref_name,
    decode,
    decode_object,
    from_hex,
    hash_bytes,
    iter_links,
    to_hex,
)
from extract.objects import blob as blobfmt
from extract.store.odb import Buffer, check_stored, encode_loose_bytes
from extract.store.refs import author
from extract.sync.transport._base import Transport, ref_conflict
from extract.sync.transport.git._client import NETWORK_ERRORS, GitRemote
from extract.sync.transport.git._pack import (
    TYPE_BLOB,
    TYPE_COMMIT,
    TYPE_TREE,
    GitPackWriter,
    PackEntry,
    git_sha,
    remove_stale_temp_packs,
)
from extract.sync.transport.git._trees import (
    BLOBS_DIR,
    OBJECTS_DIR,
    RefState,
    RemoteTrees,
    fanout,
)
from extract.sync.transport.url import cache_key, git_location, redact
from extract.sync.walk import check_connected, check_dangling, objects_to_send

#: The git refs extract owns in a git repository.
GIT_REF_PREFIX = "refs/extract/"
#: The extract refs a git remote can hold (``refs/heads/<x>`` <-> ``refs/extract/<x>``).
HEADS = "refs/heads/"
#: No git object we write is bigger than this (GitHub warns at 50 MiB and refuses 100 MiB).
MAX_GIT_OBJECT = 50 * 2**20

FORMAT_TEXT = b"extract-git-remote 1\nhash blake3-256\n"
README_TEXT = b"""\
# Experiment history (extract)

This tree is not code. It is the experiment history of an extract store
(runs, metrics, models), kept in this repository under refs/extract/* so it
travels with the code. Every file under objects/ and blobs/ is one extract
object, named by its BLAKE3-256 id; `head` names the current extract commit.

Get it with `extract fetch <remote>` after cloning the code; see docs/git.md
and objects_spec/git-remote.md in extract.
"""

_MODE_FILE = 0o100644
_MODE_DIR = 0o040000
_PREFIX_B = GIT_REF_PREFIX.encode("ascii")


class RemoteObjects:
    """has/get/links over the remote's trees and the objects put since (pending): what
    ``objects_to_send`` walks."""

    def __init__(self, transport: GitTransport) -> None:
        self.t = transport

    def has(self, oid: ObjectId) -> bool:
        return self.t._present(oid)

    def raw(self, oid: ObjectId) -> tuple[bytes, bool]:
        """Verified canonical bytes, and whether the object is a blob (by where it lives)."""
        p = self.t._pending.get(oid)
        if p is not None:
            raw = p.raw if p.raw is not None else self.t._inflate(p.git_sha)
            return raw, p.is_blob
        loc = self.t._view.locate(oid)
        if loc is None:
            raise ObjectNotFound(f"no object {to_hex(oid)} in the git remote {self.t.url}")
        raw = self.t._view.read(loc[0])
        actual = hash_bytes(raw)
        if actual != oid:
            d = BLOBS_DIR if loc[1] else OBJECTS_DIR
            prefix, rest = fanout(oid)
            raise CorruptObject(
                to_hex(oid),
                to_hex(actual),
                None,
                f"the git remote's {d}/{prefix}/{rest} does not match its id",
            )
        return raw, loc[1]

    def get(self, oid: ObjectId) -> ObjectKind:
        return decode_object(self.raw(oid)[0])

    def links(self, oid: ObjectId) -> list[ObjectId]:
        p = self.t._pending.get(oid)
        if p is not None and p.is_blob:
            return []
        if p is None:
            loc = self.t._view.locate(oid)
            if loc is None:
                raise ObjectNotFound(f"no object {to_hex(oid)} in the git remote {self.t.url}")
            if loc[1]:
                return []  # a blob: never read just to learn it links nowhere
        return [ObjectId(bytes(x)) for x in iter_links(decode(self.raw(oid)[0]))]


@dataclass
class _Pending:
    """An object put but not yet in a pushed tree."""

    git_sha: bytes
    is_blob: bool
    raw: bytes | None  # kept for structured objects (small), None for blobs


@dataclass
class _NextCommit:
    """The git commit a push makes, and every git object it must send."""

    commit_hex: ObjectID
    send: list[bytes] = field(default_factory=list)


class _RefMoved(Exception):
    """Raised from dulwich's ``update_refs`` callback to stop a push whose ref moved on the
    remote since we built on it (caught at once and turned into a RefConflict)."""

    def __init__(self, current: bytes | None) -> None:
        self.current = current


class _CacheRepo(DulwichRepo):
    """The cache as dulwich sees it: its haves are the mirrored ``refs/extract/*``
    (dulwich's default offers only ``refs/heads/*``, and the remote would resend all)."""

    def get_graph_walker(self, heads: list[ObjectID] | None = None) -> ObjectStoreGraphWalker:
        if heads is None:
            heads = [
                sha
                for sha in self.refs.as_dict(Ref(_PREFIX_B.rstrip(b"/"))).values()
                if sha in self.object_store
            ]
        return super().get_graph_walker(heads)


class GitTransport(Transport):
    """extract history in a git repository, through dulwich's client and a local cache."""

    def __init__(self, url: str, store: Path | None = None, create: bool = False) -> None:
        # ``create`` is accepted for symmetry with the other transports and ignored:
        # git hosts create repositories, pushes do not (a typo must not make one).
        self.location = git_location(url)
        self.url = redact(url)  # what messages show: never a password or token
        self._remote = GitRemote(self.location, self.url)
        self._tmpdir: str | None = None
        if store is None:
            self._tmpdir = tempfile.mkdtemp(prefix="extract-git-cache-")
            cache = Path(self._tmpdir) / "cache.git"
        else:
            cache = Path(store) / "cache" / "git" / f"{cache_key(self.location)}.git"
        self.cache = cache
        self._dul = self._open_cache(cache)
        self._pg = pygit2.Repository(str(cache))
        self._refs: dict[str, RefState] | None = None  # git ref -> state, as last fetched
        self._view = RemoteTrees(self._pg, [])
        self._pending: dict[ObjectId, _Pending] = {}
        # Links of pushed trees and runs to objects never sent: a purge must explain them.
        self._dangling: set[ObjectId] = set()
        self._where: dict[bytes, PackEntry] = {}  # git sha -> its entry in a pack we wrote
        self._writer: GitPackWriter | None = None

    def _open_cache(self, path: Path) -> _CacheRepo:
        if not (path / "objects").is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".new-", dir=path.parent))
            DulwichRepo.init_bare(str(tmp))
            (tmp / "extract-remote").write_text(redact(self.location) + "\n", "utf-8")
            try:
                os.rename(tmp, path)  # another process may have made it first: use theirs
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
        remove_stale_temp_packs(path / "objects" / "pack")
        repo = _CacheRepo(str(path))
        # A file:// fetch re-packs on our side: store, do not squeeze weights through zlib.
        repo.object_store.pack_compression_level = 0
        return repo

    def _reopen_cache(self) -> None:
        """A new pygit2 handle on the cache, after dulwich wrote to it (packs, refs)."""
        self._pg = pygit2.Repository(str(self.cache))

    def _inflate(self, git_sha: bytes) -> bytes:
        entry = self._where.get(git_sha)
        if entry is not None:
            return entry.inflate()
        obj = self._pg[pygit2.Oid(raw=git_sha)]
        assert isinstance(obj, pygit2.Blob)
        return bytes(obj.data)

    def _fetch_refs(self) -> None:
        """Fetch the remote's refs/extract/* into the cache (only new git objects travel)."""
        seen: dict[Ref, ObjectID] = {}
        store = self._dul.object_store

        def determine_wants(
            refs: Mapping[Ref, ObjectID], depth: int | None = None
        ) -> list[ObjectID]:
            for name, sha in refs.items():
                if name.startswith(_PREFIX_B) and not name.endswith(b"^{}") and sha != ZERO_SHA:
                    seen[name] = sha
            return [
                sha
                for sha in dict.fromkeys(seen.values())
                if not store.contains_packed(sha) and not store.contains_loose(sha)
            ]

        try:
            self._remote.call(
                lambda: self._remote.client.fetch(
                    self._remote.path,
                    self._dul,
                    determine_wants=determine_wants,
                    ref_prefix=[_PREFIX_B],
                )
            )
        except NETWORK_ERRORS as e:
            raise self._remote.failure(e) from None
        for name in list(self._dul.refs.keys()):
            if name.startswith(_PREFIX_B) and name not in seen:
                self._dul.refs.remove_if_equals(name, None)
        for name, sha in seen.items():
            self._dul.refs[name] = sha
        self._reopen_cache()
        states: dict[str, RefState] = {}
        for name, sha in seen.items():
            git_ref = name.decode("utf-8", "replace")
            states[git_ref] = self._read_state(git_ref, pygit2.Oid(hex=sha.decode("ascii")))
        self._set_refs(states)

    def _set_refs(self, states: dict[str, RefState]) -> None:
        self._refs = states
        self._view = RemoteTrees(self._pg, [s.tree for s in states.values()])

    def _read_state(self, git_ref: str, commit_id: pygit2.Oid) -> RefState:
        commit = self._pg[commit_id]
        if not isinstance(commit, pygit2.Commit):
            raise UnknownFormatVersion(f"{git_ref} of {self.url} is not a commit")
        tree = commit.tree
        fmt = tree["FORMAT"] if "FORMAT" in tree else None  # noqa: SIM401 - pygit2 Tree has no get
        if not isinstance(fmt, pygit2.Blob):
            raise UnknownFormatVersion(
                f"{git_ref} of {self.url} was not written by extract (no FORMAT file)"
            )
        lines = bytes(fmt.data).decode("utf-8", "replace").splitlines()
        fields = dict(line.split(" ", 1) for line in lines[1:] if " " in line)
        if not lines or lines[0] != "extract-git-remote 1" or fields.get("hash") != "blake3-256":
            found = " / ".join(lines[:2]) or "empty"
            raise UnknownFormatVersion(
                f"{git_ref} of {self.url} has layout {found!r}; this extract reads "
                "'extract-git-remote 1' with hash blake3-256. Upgrade extract to read it"
            )
        head = tree["head"] if "head" in tree else None  # noqa: SIM401
        text = bytes(head.data) if isinstance(head, pygit2.Blob) else b""
        try:
            if len(text) != 65 or not text.endswith(b"\n"):
                raise ValueError
            oid = from_hex(text[:64].decode("ascii"))
        except (ValueError, InvalidInput):
            raise CorruptObject(
                str(commit_id), None, None, f"{git_ref} of {self.url}: `head` is not 64 hex digits"
            ) from None
        return RefState(git_ref, commit_id, tree, oid)

    def _known_refs(self) -> dict[str, RefState]:
        """The remote's refs as last fetched (fetched now if never): what put, walk and a
        ref update build on, checked again only where a stale view would matter."""
        if self._refs is None:
            self._fetch_refs()
        assert self._refs is not None
        return self._refs

    def list_refs(self) -> dict[str, ObjectId]:
        self._fetch_refs()
        assert self._refs is not None
        out: dict[str, ObjectId] = {}
        for git_ref, state in self._refs.items():
            name = HEADS + git_ref[len(GIT_REF_PREFIX) :]
            try:
                check_ref_name(name)
            except InvalidInput:
                continue  # not a name extract would write: not ours to read
            out[name] = state.head
        return out

    def walk(self, wants: Sequence[ObjectId], haves: Sequence[ObjectId]) -> list[ObjectId]:
        self._known_refs()
        return objects_to_send(RemoteObjects(self), wants, haves)

    def has(self, ids: Sequence[ObjectId]) -> list[bool]:
        self._known_refs()
        r = RemoteObjects(self)
        return [r.has(i) for i in ids]

    def get(self, ids: Sequence[ObjectId]) -> Generator[tuple[ObjectId, Buffer], None, None]:
        """``ids`` in stored form (as a loose object file holds them), from the cache."""
        self._known_refs()
        r = RemoteObjects(self)
        for oid in ids:
            yield oid, encode_loose_bytes(r.raw(oid)[0])  # hash checked first

    def put(self, items: Iterable[tuple[ObjectId, Buffer]]) -> int:
        """Objects in stored form, children first, each checked as a store checks what it
        receives (it unpacks, hashes to its id, is a well-formed object of its kind, and
        everything it links to is on the remote or came before it), then written into a
        pack in the cache as one git blob of its canonical bytes. Nothing leaves until
        ``update_ref``."""
        self._known_refs()
        n = 0
        for oid, stored in items:
            n += 1
            if self._present(oid):
                continue
            raw = bytes(check_stored(oid, stored, self._present, self._tolerate))
            if len(raw) > MAX_GIT_OBJECT:
                raise GitObjectTooLarge(
                    f"object {to_hex(oid)} is {len(raw) / 2**20:.1f} MiB; a git remote takes "
                    f"objects up to {MAX_GIT_OBJECT // 2**20} MiB (git hosts refuse big files). "
                    "Push this store to a path or ssh remote instead"
                )
            is_blob = blobfmt.is_blob(raw)
            sha = git_sha(TYPE_BLOB, raw)
            self._write(TYPE_BLOB, sha, raw, guess=is_blob)
            self._pending[oid] = _Pending(sha, is_blob, None if is_blob else raw)
        return n

    def _present(self, oid: ObjectId) -> bool:
        """On the remote, or sent before in this push."""
        return oid in self._pending or self._view.locate(oid) is not None

    def _tolerate(self, oid: ObjectId) -> bool:
        self._dangling.add(oid)
        return True

    def _write(self, type_num: int, sha: bytes, content: bytes, guess: bool = False) -> None:
        if sha in self._where:
            return
        if self._writer is None:
            self._writer = GitPackWriter(self.cache / "objects" / "pack")
        self._where[sha] = self._writer.add(type_num, sha, content, guess)

    def update_ref(self, name: str, new: ObjectId, expected: ObjectId | None) -> None:
        check_ref_name(name)
        if not name.startswith(HEADS):
            raise InvalidInput(
                f"a git remote carries only refs/heads/* (as refs/extract/*), not {name!r}"
            )
        git_ref = GIT_REF_PREFIX + name[len(HEADS) :]
        state = self._known_refs().get(git_ref)
        if (state.head if state else None) != expected:
            self._fetch_refs()  # our view may be old: look again before calling it a conflict
            state = self._known_refs().get(git_ref)
            current = state.head if state else None
            if current != expected:
                raise RefConflict(self._conflict(name, current, expected))
        # Connectivity: every object ``new`` reaches is on the remote or goes with this push.
        check_connected(RemoteObjects(self), [new], [expected] if expected else [])
        dangling, self._dangling = self._dangling, set()
        check_dangling(RemoteObjects(self), [new], dangling)
        if state is not None and state.head == new and not self._unsent():
            return
        build = self._build(git_ref, state, new)
        base_hex = ObjectID(str(state.commit).encode("ascii")) if state else None
        ref_b = Ref(git_ref.encode("utf-8"))

        def update_refs(refs: dict[Ref, ObjectID]) -> dict[Ref, ObjectID]:
            current = refs.get(ref_b)
            if current == ZERO_SHA:
                current = None
            if current != base_hex:
                raise _RefMoved(current)
            return {ref_b: build.commit_hex}

        def generate_pack_data(
            have: Any, want: Any, *, ofs_delta: bool = False, progress: Any = None
        ) -> tuple[int, Iterator[UnpackedObject]]:
            return len(build.send), (self._where[s].record(s) for s in build.send)

        try:
            result = self._remote.call(
                lambda: self._remote.client.send_pack(
                    self._remote.path.encode("utf-8"), update_refs, generate_pack_data
                )
            )
        except _RefMoved:
            self._refs = None
            raise RefConflict(self._conflict(name, None, expected, moved=True)) from None
        except SendPackError as e:
            raise self._refused(name, git_ref, base_hex, str(e)) from None
        except NETWORK_ERRORS as e:
            raise self._remote.failure(e) from None
        status = (result.ref_status or {}).get(ref_b)
        if status is not None:
            raise self._refused(name, git_ref, base_hex, str(status))
        # The remote has it: mirror it in the cache and forget what went.
        self._dul.refs[ref_b] = build.commit_hex
        self._reopen_cache()
        states = dict(self._known_refs())
        states[git_ref] = self._read_state(
            git_ref, pygit2.Oid(hex=build.commit_hex.decode("ascii"))
        )
        self._set_refs(states)
        self._pending = {k: v for k, v in self._pending.items() if self._view.locate(k) is None}

    def _unsent(self) -> bool:
        return any(self._view.locate(k) is None for k in self._pending)

    def _conflict(
        self, name: str, current: ObjectId | None, expected: ObjectId | None, moved: bool = False
    ) -> str:
        where = f"the git remote {self.url} (refs/extract/{name[len(HEADS) :]})"
        return ref_conflict(name, where, current, expected, moved)

    def _refused(self, name: str, git_ref: str, base: ObjectID | None, message: str) -> Exception:
        """A refused ref update is a conflict when the ref is no longer where we built on
        (git reports a lost compare-and-swap only as "failed to update ref"); otherwise
        the host said no (a hook, permissions, a protected ref) and we repeat its words."""
        with contextlib.suppress(ExtractError):
            self._fetch_refs()
            state = self._known_refs().get(git_ref)
            current = ObjectID(str(state.commit).encode("ascii")) if state else None
            if current != base:
                return RefConflict(
                    f"{name} on the git remote {self.url} moved while we pushed ({message}): "
                    "fetch and merge first (`extract pull`), then push again"
                )
        return StoreError(f"the git remote {self.url} refused {git_ref}: {message}")

    def _build(self, git_ref: str, state: RefState | None, new: ObjectId) -> _NextCommit:
        """The next git commit: the previous tree plus every pending object, head -> ``new``."""
        base = RemoteTrees(self._pg, [state.tree] if state else [])
        added: dict[tuple[str, str], dict[str, bytes]] = {}
        send: list[bytes] = []
        for oid, p in self._pending.items():
            if base.locate(oid) is not None:
                continue
            prefix, rest = fanout(oid)
            d = BLOBS_DIR if p.is_blob else OBJECTS_DIR
            added.setdefault((d, prefix), {})[rest] = p.git_sha
            send.append(p.git_sha)
        root: dict[str, tuple[int, bytes]] = {}
        if state is not None:
            root = {str(e.name): (int(e.filemode), e.id.raw) for e in state.tree}
        for d in (OBJECTS_DIR, BLOBS_DIR):
            subs = {prefix for (dd, prefix) in added if dd == d}
            if not subs:
                continue
            top: dict[str, tuple[int, bytes]] = {}
            if d in root:
                top = {
                    str(e.name): (int(e.filemode), e.id.raw)
                    for e in self._tree(pygit2.Oid(raw=root[d][1]))
                }
            for prefix in sorted(subs):
                leaf: dict[str, tuple[int, bytes]] = {}
                if prefix in top:
                    leaf = {
                        str(e.name): (int(e.filemode), e.id.raw)
                        for e in self._tree(pygit2.Oid(raw=top[prefix][1]))
                    }
                for rest, sha in added[(d, prefix)].items():
                    leaf[rest] = (_MODE_FILE, sha)
                top[prefix] = (_MODE_DIR, self._put_tree(leaf, send))
            root[d] = (_MODE_DIR, self._put_tree(top, send))
        for fname, content in (
            ("FORMAT", FORMAT_TEXT),
            ("README.md", README_TEXT),
            ("head", to_hex(new).encode("ascii") + b"\n"),
        ):
            sha = git_sha(TYPE_BLOB, content)
            if root.get(fname, (0, b""))[1] != sha:
                self._write(TYPE_BLOB, sha, content)
                send.append(sha)
                root[fname] = (_MODE_FILE, sha)
        tree_sha = self._put_tree(root, send)
        c = GitCommit()
        c.tree = tree_sha.hex().encode("ascii")
        c.parents = [str(state.commit).encode("ascii")] if state else []  # type: ignore[list-item]
        who = f"extract <{author()}>".encode()
        c.author = c.committer = who
        c.author_time = c.commit_time = int(time.time())
        c.author_timezone = c.commit_timezone = 0
        n_obj = sum(len(v) for v in added.values())
        c.message = (
            f"extract: {git_ref[len(GIT_REF_PREFIX) :]} -> {to_hex(new)[:12]}\n\n"
            f"{n_obj} new object(s) from {socket.gethostname()}\n"
        ).encode()
        raw = c.as_raw_string()
        commit_sha = git_sha(TYPE_COMMIT, raw)
        self._write(TYPE_COMMIT, commit_sha, raw)
        send.append(commit_sha)
        if self._writer is not None:
            self._writer.finish()  # the cache holds everything before anything is sent
            self._writer = None
        return _NextCommit(ObjectID(commit_sha.hex().encode("ascii")), list(dict.fromkeys(send)))

    def _tree(self, tid: pygit2.Oid) -> pygit2.Tree:
        obj = self._pg[tid]
        if not isinstance(obj, pygit2.Tree):
            raise CorruptObject(str(tid), None, None, f"{self.url}: expected a git tree")
        return obj

    def _put_tree(self, entries: dict[str, tuple[int, bytes]], send: list[bytes]) -> bytes:
        t = GitTree()
        for name, (mode, sha) in entries.items():
            t.add(name.encode("utf-8"), mode, sha.hex().encode("ascii"))  # type: ignore[arg-type]
        raw = t.as_raw_string()
        sha = git_sha(TYPE_TREE, raw)
        self._write(TYPE_TREE, sha, raw)
        send.append(sha)
        return sha

    def close(self) -> None:
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
        with contextlib.suppress(Exception):
            self._dul.close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
