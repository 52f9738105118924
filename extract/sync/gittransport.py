"""Experiment history carried by any git repository, under ``refs/extract/*``.

A git remote is a repository reachable the way git reaches it (a path,
``file://``, ``ssh://``, scp-style ``host:path``, ``https://``). extract keeps
its history there as ordinary git objects, so any git host stores it, next to
the code, without knowing what extract is (as DVC keeps experiments under
``refs/exps``). The layout is fixed by ``objects_spec/git-remote.md``:

* ``refs/extract/<name>`` carries the extract ref ``refs/heads/<name>`` (so
  ``refs/extract/main`` carries ``main``). It points to a git commit whose tree is::

      FORMAT                    "extract-git-remote 1\\nhash blake3-256\\n"
      README.md                 what this ref is, for someone browsing the host
      head                      the extract commit id: 64 hex digits and LF
      objects/<2 hex>/<62 hex>  every other extract object: its canonical bytes
      blobs/<2 hex>/<62 hex>    every object of kind blob: its canonical bytes

  Each push makes one git commit whose parent is the previous one and whose
  tree is the previous tree plus the new objects: only the fan-out directories
  that gained an entry are rewritten.
* An extract object becomes exactly one git blob, so no git object is bigger
  than an extract object: large content is already cut into chunks of at most
  4 MiB. ``put`` refuses any object over :data:`MAX_GIT_OBJECT` (50 MiB, where
  hosts start to warn; GitHub refuses 100 MiB).

Which library does what: dulwich's client speaks the git protocol (pure
Python, the system ``ssh``, compare-and-swap of the ref in ``send_pack``);
pygit2 reads the local cache (C speed for tree lookups and blob reads); the
pack we send is written here, compressed once (not at all for data zlib cannot
shrink, such as model weights), because zlib at git's default level caps a
transfer at ~45 MiB/s on this class of machine.

The local cache ``<store>/cache/git/<16 hex>.git`` is a bare git repository
mirroring the remote's ``refs/extract/*``: ``list_refs`` fetches into it with
git's own negotiation (the cache's refs are the haves, so only new git objects
travel), and ``walk``/``has``/``get`` are answered from it. ``put`` writes the
new objects into a pack in the cache; ``update_ref`` adds the trees and the
commit, sends that pack, and moves ``refs/extract/<name>`` only if it still
has the value we built on. The cache is derived: deleting it costs one full
fetch, never data.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shlex
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.parse
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import pygit2
from dulwich.client import (
    GitClient,
    HTTPProxyUnauthorized,
    HTTPUnauthorized,
    SSHGitClient,
    get_transport_and_path,
)
from dulwich.config import StackedConfig
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository, SendPackError
from dulwich.object_format import DEFAULT_OBJECT_FORMAT
from dulwich.object_store import ObjectStoreGraphWalker
from dulwich.objects import ZERO_SHA, ObjectID
from dulwich.objects import Commit as GitCommit
from dulwich.objects import Tree as GitTree
from dulwich.pack import PackChunkGenerator, UnpackedObject, write_pack_index
from dulwich.refs import Ref
from dulwich.repo import Repo as DulwichRepo

from extract.errors import (
    CorruptObject,
    ExtractError,
    GitObjectTooLarge,
    InvalidInput,
    ObjectNotFound,
    ProtocolError,
    RefConflict,
    StoreError,
    StoreNotFound,
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
from extract.store.history import author
from extract.store.odb import Buffer, check_stored, encode_loose_bytes
from extract.sync.transport import Transport
from extract.sync.walk import objects_to_send

__all__ = [
    "GIT_REF_PREFIX",
    "MAX_GIT_OBJECT",
    "GitObjectTooLarge",
    "GitTransport",
    "git_credential",
    "git_location",
    "git_remote_url",
    "is_git_url",
    "open_git_transport",
    "redact",
    "resolve_git_remote",
]

_T = TypeVar("_T")

#: The git refs extract owns in a git repository.
GIT_REF_PREFIX = "refs/extract/"
#: The extract refs a git remote can hold (``refs/heads/<x>`` <-> ``refs/extract/<x>``).
HEADS = "refs/heads/"
#: No git object we write is bigger than this (GitHub warns at 50 MiB and refuses 100 MiB).
MAX_GIT_OBJECT = 50 * 2**20
#: What a user types to say "this is a git repository": ``git::<any git URL or path>``,
#: or one of the ``git+<scheme>://`` forms; ``git://`` (git daemon) is git already.
GIT_PREFIX = "git::"
_GIT_SCHEMES = ("git+file://", "git+ssh://", "git+http://", "git+https://")

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
OBJECTS_DIR = "objects"
BLOBS_DIR = "blobs"

_MODE_FILE = 0o100644
_MODE_DIR = 0o040000
_TYPE_COMMIT, _TYPE_TREE, _TYPE_BLOB = 1, 2, 3
_TYPE_NAMES = {_TYPE_COMMIT: b"commit", _TYPE_TREE: b"tree", _TYPE_BLOB: b"blob"}
#: Compress a blob only when its first bytes shrink by an eighth (as the store does).
_SAMPLE = 64 * 1024
_PREFIX_B = GIT_REF_PREFIX.encode("ascii")


#: What dulwich raises when the remote cannot be reached, refuses us or breaks off.
_NETWORK_ERRORS = (
    GitProtocolError,
    NotGitRepository,
    HTTPUnauthorized,
    HTTPProxyUnauthorized,
    OSError,
)


# URLs --------------------------------------------------------------------------------


def is_git_url(url: str) -> bool:
    """Whether ``url`` names a git repository (``git::X``, ``git+scheme://``, ``git://``)."""
    return isinstance(url, str) and (
        url.startswith(GIT_PREFIX) or url.startswith(_GIT_SCHEMES) or url.startswith("git://")
    )


def git_location(url: str) -> str:
    """The location git (and dulwich) understand, from an extract git-remote URL.

    ``git::/srv/code.git`` -> ``/srv/code.git``; ``git::me@host:code.git`` ->
    ``me@host:code.git``; ``git+ssh://host/p`` -> ``ssh://host/p``;
    ``git+https://host/p`` -> ``https://host/p``; ``git://host/p`` unchanged.
    """
    if url.startswith(GIT_PREFIX):
        loc = url[len(GIT_PREFIX) :]
    elif url.startswith(_GIT_SCHEMES):
        loc = url[len("git+") :]
    elif url.startswith("git://"):
        loc = url
    else:
        raise InvalidInput(
            f"{url!r} is not a git remote URL: write git::<git URL or path>, "
            "git+file:///path, git+ssh://[user@]host[:port]/path or git+https://host/path"
        )
    if not loc.strip():
        raise InvalidInput(f"git remote URL {url!r} names no repository")
    if loc.startswith("-"):
        raise InvalidInput(f"refusing git location {loc!r}: it starts with '-'")
    return loc


def _project_dirs(store_root: Path) -> list[Path]:
    root = Path(store_root).resolve()
    out = [root.parent, Path.cwd()]
    return list(dict.fromkeys(out))


def git_remote_url(project_dir: Path, name: str) -> str | None:
    """The URL of git remote ``name`` of the git repository at or above ``project_dir``.

    Read with pygit2 (``url.<base>.insteadOf`` applied, as ``git remote get-url``
    does). A relative local path is made absolute against the repository's top,
    where git itself resolves it. None when there is no repository or no such remote.
    """
    try:
        found = pygit2.discover_repository(str(project_dir))
        if found is None:
            return None
        repo = pygit2.Repository(found)
        try:
            url = repo.remotes[name].url
        except (KeyError, ValueError, pygit2.GitError):
            return None
        top = repo.workdir or repo.path
    except pygit2.GitError:
        return None
    if not url:
        return None
    if _is_relative_local(url):
        url = str((Path(top) / url).resolve())
    return str(url)


def _is_relative_local(url: str) -> bool:
    if "://" in url or url.startswith("/") or url.startswith("~"):
        return False
    head = url.split("/", 1)[0]
    return ":" not in head  # scp-style host:path is not a local path


def resolve_git_remote(store_root: Path, name: str) -> str | None:
    """``git::<url>`` for git remote ``name`` of the code repository that holds the store
    (the store's parent directory, else the current directory), or None."""
    for d in _project_dirs(store_root):
        url = git_remote_url(d, name)
        if url is not None:
            return GIT_PREFIX + url
    return None


def _ssh_command() -> str | None:
    """What git would run for ssh: ``$GIT_SSH_COMMAND``, else ``$GIT_SSH``, else None
    (then dulwich uses ``core.sshCommand`` from the git config, else ``ssh``)."""
    cmd = os.environ.get("GIT_SSH_COMMAND")
    if cmd:
        return cmd
    prog = os.environ.get("GIT_SSH")
    if prog:
        return shlex.quote(prog)
    return None


def _client_for(
    location: str, username: str | None = None, password: str | None = None
) -> tuple[GitClient, str]:
    try:
        config: StackedConfig | None = StackedConfig.default()
    except Exception:  # an unreadable ~/.gitconfig must not stop a fetch
        config = None
    try:
        client, path = get_transport_and_path(
            location,
            config=config,
            ssh_command=_ssh_command(),
            quiet=True,
            username=username,
            password=password,
        )
    except ValueError as e:
        raise InvalidInput(f"cannot use {redact(location)!r} as a git remote: {e}") from None
    if isinstance(client, SSHGitClient):
        for label, value in (("host", client.host), ("user", client.username or "")):
            if value.startswith("-"):
                raise InvalidInput(
                    f"refusing ssh {label} {value!r}: it starts with '-' and ssh would read it as an option"
                )
    return client, path


def git_credential(
    action: str, location: str, creds: dict[str, str] | None = None
) -> dict[str, str] | None:
    """Ask git's credential helpers (``git credential fill``), or tell them the outcome
    (``approve``/``reject``), for an http(s) location: what ``git push`` would use.
    None when git is missing or has nothing (prompts follow git's own rules)."""
    parts = urllib.parse.urlsplit(location)
    if parts.scheme not in ("http", "https") or shutil.which("git") is None:
        return None
    lines = [
        f"protocol={parts.scheme}",
        f"host={parts.hostname or ''}" + (f":{parts.port}" if parts.port else ""),
    ]
    if parts.path.strip("/"):
        lines.append(f"path={parts.path.lstrip('/')}")
    for key, value in (creds or {}).items():
        lines.append(f"{key}={value}")
    try:
        r = subprocess.run(
            ["git", "credential", action],
            input="\n".join(lines) + "\n\n",
            capture_output=True,
            text=True,
            timeout=None if action == "fill" else 30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if action != "fill" or r.returncode != 0:
        return None
    out = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    if not out.get("username"):
        return None
    return {"username": out["username"], "password": out.get("password", "")}


def redact(url: str) -> str:
    """``url`` with any password or token in it replaced by ``***``."""
    url = re.sub(r"(https?://)[^/@]*@", r"\1***@", url)  # an http user may be a token
    return re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", url)


def cache_key(location: str) -> str:
    """The cache directory name for a git location: 16 hex digits of its SHA-256."""
    return hashlib.sha256(location.encode("utf-8")).hexdigest()[:16]


def open_git_transport(url: str, store: Path | None = None, create: bool = False) -> GitTransport:
    """What ``open_transport`` calls for a git URL (see :func:`is_git_url`)."""
    return GitTransport(url, store=store, create=create)


# git object plumbing ---------------------------------------------------------------------


def _git_sha(type_num: int, content: bytes) -> bytes:
    h = hashlib.sha1(b"%s %d\0" % (_TYPE_NAMES[type_num], len(content)))
    h.update(content)
    return h.digest()


def _entry_header(type_num: int, size: int) -> bytes:
    """A pack entry's header: type and inflated size, little-endian base-128."""
    c = (type_num << 4) | (size & 15)
    size >>= 4
    out = bytearray()
    while size:
        out.append(c | 0x80)
        c = size & 0x7F
        size >>= 7
    out.append(c)
    return bytes(out)


def _deflate(content: bytes, guess: bool) -> bytes:
    """zlib at level 1, or stored (level 0) when a sample says it will not pay."""
    if guess and len(content) > _SAMPLE:
        sample = content[:_SAMPLE]
        if len(zlib.compress(sample, 1)) > len(sample) * 7 // 8:
            return zlib.compress(content, 0)
    return zlib.compress(content, 1)


@dataclass
class _PackFile:
    path: Path


@dataclass(frozen=True)
class _Entry:
    """Where one git object's compressed pack entry lives in a pack we wrote."""

    pack: _PackFile
    offset: int
    length: int
    header: int  # bytes of entry header before the zlib stream
    type_num: int
    size: int


class _PackWriter:
    """A pack file being written into the cache, one entry at a time."""

    def __init__(self, pack_dir: Path) -> None:
        pack_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=pack_dir, prefix="tmp_extract_", suffix=".pack")
        self.file: IO[bytes] = os.fdopen(fd, "w+b")
        self.pack = _PackFile(Path(name))
        self.dir = pack_dir
        self.file.write(b"PACK" + struct.pack(">II", 2, 0))
        self.pos = 12
        self.entries: list[tuple[bytes, int, int]] = []

    def add(self, type_num: int, sha: bytes, content: bytes, guess: bool) -> _Entry:
        header = _entry_header(type_num, len(content))
        body = _deflate(content, guess)
        crc = zlib.crc32(body, zlib.crc32(header))
        self.file.write(header)
        self.file.write(body)
        entry = _Entry(
            self.pack, self.pos, len(header) + len(body), len(header), type_num, len(content)
        )
        self.entries.append((sha, self.pos, crc))
        self.pos += entry.length
        return entry

    def finish(self) -> Path:
        """Count, checksum, fsync, index; then move into place (pack first, index last)."""
        f = self.file
        f.seek(8)
        f.write(struct.pack(">I", len(self.entries)))
        f.flush()
        f.seek(0)
        h = hashlib.sha1()
        while block := f.read(1 << 20):
            h.update(block)
        digest = h.digest()
        f.seek(0, os.SEEK_END)
        f.write(digest)
        f.flush()
        os.fsync(f.fileno())
        f.close()
        final = self.dir / f"pack-{digest.hex()}.pack"
        idx_tmp = self.pack.path.with_suffix(".idx")
        with open(idx_tmp, "wb") as idx:
            write_pack_index(idx, sorted(self.entries), digest, version=2)
            idx.flush()
            os.fsync(idx.fileno())
        os.replace(self.pack.path, final)
        os.replace(idx_tmp, final.with_suffix(".idx"))
        self.pack.path = final
        return final

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.pack.path)


#: A temporary pack older than this was left by a killed process (ours or dulwich's).
_STALE_TEMP = 3600.0


def _remove_stale_temp_packs(pack_dir: Path) -> None:
    now = time.time()
    with contextlib.suppress(OSError):
        for p in pack_dir.iterdir():
            if p.name.startswith("tmp_"):
                with contextlib.suppress(OSError):
                    if now - p.stat().st_mtime > _STALE_TEMP:
                        p.unlink()


def _read_entry(entry: _Entry) -> bytes:
    with open(entry.pack.path, "rb") as f:
        f.seek(entry.offset)
        data = f.read(entry.length)
    if len(data) != entry.length:
        raise StoreError(f"git cache pack {entry.pack.path} is truncated")
    return data


def _passthrough_ok() -> bool:
    """Whether dulwich writes a record's ``comp_chunks`` verbatim (our pre-built entries).

    It does in the versions we know; if a later one does not, we hand it the inflated
    object instead and it compresses again (slower, still correct).
    """
    global _PASSTHROUGH
    if _PASSTHROUGH is None:
        content = b"extract passthrough probe\n"
        entry = _entry_header(_TYPE_BLOB, len(content)) + zlib.compress(content, 0)
        rec = UnpackedObject(_TYPE_BLOB, sha=_git_sha(_TYPE_BLOB, content), decomp_len=len(content))
        rec.comp_chunks = [entry]
        try:
            out = b"".join(
                PackChunkGenerator(
                    num_records=1, records=iter([rec]), object_format=DEFAULT_OBJECT_FORMAT
                )
            )
            _PASSTHROUGH = out[12:-20] == entry
        except Exception:
            _PASSTHROUGH = False
    return _PASSTHROUGH


_PASSTHROUGH: bool | None = None


def _record(sha: bytes, entry: _Entry) -> UnpackedObject:
    data = _read_entry(entry)
    if _passthrough_ok():
        rec = UnpackedObject(entry.type_num, sha=sha, decomp_len=entry.size)
        rec.comp_chunks = [data]
        return rec
    content = zlib.decompress(data[entry.header :])
    return UnpackedObject(entry.type_num, sha=sha, decomp_chunks=[content])


# reading the remote's trees ---------------------------------------------------------------


def _fanout(oid: ObjectId) -> tuple[str, str]:
    h = to_hex(oid)
    return h[:2], h[2:]


@dataclass
class _RefState:
    git_ref: str
    commit: pygit2.Oid
    tree: pygit2.Tree
    head: ObjectId


class _View:
    """The union of the trees of the remote's ``refs/extract/*``, as last fetched."""

    def __init__(self, pg: pygit2.Repository, roots: Sequence[pygit2.Tree]) -> None:
        self.pg = pg
        self.roots = list(roots)
        self._dirs: dict[tuple[int, str], dict[str, pygit2.Oid]] = {}
        self._leaves: dict[pygit2.Oid, dict[str, pygit2.Oid]] = {}

    @staticmethod
    def entries(tree: pygit2.Tree) -> dict[str, pygit2.Oid]:
        return {str(e.name): e.id for e in tree}

    def _dir(self, i: int, name: str) -> dict[str, pygit2.Oid]:
        key = (i, name)
        got = self._dirs.get(key)
        if got is None:
            root = self.roots[i]
            got = {}
            if name in root:
                sub = root[name]
                if isinstance(sub, pygit2.Tree):
                    got = self.entries(sub)
            self._dirs[key] = got
        return got

    def _leaf(self, tree_id: pygit2.Oid) -> dict[str, pygit2.Oid]:
        got = self._leaves.get(tree_id)
        if got is None:
            obj = self.pg[tree_id]
            got = self.entries(obj) if isinstance(obj, pygit2.Tree) else {}
            self._leaves[tree_id] = got
        return got

    def locate(self, oid: ObjectId) -> tuple[pygit2.Oid, bool] | None:
        """(git blob id, whether it is under ``blobs/``) or None."""
        prefix, rest = _fanout(oid)
        for i in range(len(self.roots)):
            for name, is_blob in ((OBJECTS_DIR, False), (BLOBS_DIR, True)):
                sub = self._dir(i, name).get(prefix)
                if sub is not None:
                    gid = self._leaf(sub).get(rest)
                    if gid is not None:
                        return gid, is_blob
        return None

    def read(self, gid: pygit2.Oid) -> bytes:
        type_num, data = self.pg.odb.read(gid)  # one copy, no Blob object: 2x repo[gid].data
        if type_num != _TYPE_BLOB:
            raise CorruptObject(
                str(gid), None, None, "the git remote has a non-blob where an object belongs"
            )
        return bytes(data)


# the walk: objects_to_send over the git view --------------------------------------------


class _Reader:
    """has/get/links over the remote view and the objects put since (pending)."""

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
            prefix, rest = _fanout(oid)
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


# the transport ------------------------------------------------------------------------------


@dataclass
class _Pending:
    """An object put but not yet in a pushed tree."""

    git_sha: bytes
    is_blob: bool
    raw: bytes | None  # kept for structured objects (small), None for blobs


@dataclass
class _Build:
    commit_hex: ObjectID
    send: list[bytes] = field(default_factory=list)


class _Moved(Exception):
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
        self._client, self._path = _client_for(self.location)
        self._creds: dict[str, str] | None = None  # from git's credential helpers, once asked
        self._tmpdir: str | None = None
        if store is None:
            self._tmpdir = tempfile.mkdtemp(prefix="extract-git-cache-")
            cache = Path(self._tmpdir) / "cache.git"
        else:
            cache = Path(store) / "cache" / "git" / f"{cache_key(self.location)}.git"
        self.cache = cache
        self._dul = self._open_cache(cache)
        self._pg = pygit2.Repository(str(cache))
        self._refs: dict[str, _RefState] | None = None  # git ref -> state, as last fetched
        self._view = _View(self._pg, [])
        self._pending: dict[ObjectId, _Pending] = {}
        self._where: dict[bytes, _Entry] = {}  # git sha -> its entry in a pack we wrote
        self._writer: _PackWriter | None = None

    # the cache --------------------------------------------------------------------------

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
        _remove_stale_temp_packs(path / "objects" / "pack")
        repo = _CacheRepo(str(path))
        # A file:// fetch re-packs on our side: store, do not squeeze weights through zlib.
        repo.object_store.pack_compression_level = 0
        return repo

    def _reopen(self) -> None:
        self._pg = pygit2.Repository(str(self.cache))

    def _inflate(self, git_sha: bytes) -> bytes:
        entry = self._where.get(git_sha)
        if entry is not None:
            return zlib.decompress(_read_entry(entry)[entry.header :])
        obj = self._pg[pygit2.Oid(raw=git_sha)]
        assert isinstance(obj, pygit2.Blob)
        return bytes(obj.data)

    # talking to the remote ------------------------------------------------------------------

    def _fail(self, e: BaseException) -> Exception:
        text = str(e).strip()
        if isinstance(e, HangupException) and e.stderr_lines:
            text = b"\n".join(e.stderr_lines).decode("utf-8", "replace").strip()
        missing = (
            "does not appear to be a git repository",
            "not a git repository",
            "repository not found",
            "no such file or directory",
        )
        if isinstance(e, NotGitRepository) or (
            any(s in text.lower() for s in missing) and "command not found" not in text
        ):
            return StoreNotFound(
                f"no git repository at {redact(self.location)}: create one on the host, or locally "
                f"with `git init --bare PATH` (pushing never creates one)"
            )
        if isinstance(e, HTTPUnauthorized | HTTPProxyUnauthorized):
            text = (
                "the server asks for credentials and git's credential helpers gave none that "
                "work (see `git help credential`), or use an ssh URL"
            )
        last = redact(text.splitlines()[-1]) if text else type(e).__name__
        return ProtocolError(f"git remote {self.url}: {last}")

    def _call(self, fn: Callable[[], _T]) -> _T:
        """``fn()``; on HTTP 401, once: credentials from git's helpers, a new client, again."""
        try:
            return fn()
        except HTTPUnauthorized:
            if self._creds is not None:
                raise
            creds = git_credential("fill", self.location)
            if creds is None:
                raise
        self._creds = creds
        self._client, self._path = _client_for(self.location, creds["username"], creds["password"])
        try:
            out = fn()
        except HTTPUnauthorized:
            git_credential("reject", self.location, creds)
            raise
        git_credential("approve", self.location, creds)
        return out

    def _refresh(self) -> None:
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
            self._call(
                lambda: self._client.fetch(
                    self._path,
                    self._dul,
                    determine_wants=determine_wants,
                    ref_prefix=[_PREFIX_B],
                )
            )
        except _NETWORK_ERRORS as e:
            raise self._fail(e) from None
        for name in list(self._dul.refs.keys()):
            if name.startswith(_PREFIX_B) and name not in seen:
                self._dul.refs.remove_if_equals(name, None)
        for name, sha in seen.items():
            self._dul.refs[name] = sha
        self._reopen()
        states: dict[str, _RefState] = {}
        for name, sha in seen.items():
            git_ref = name.decode("utf-8", "replace")
            states[git_ref] = self._read_state(git_ref, pygit2.Oid(hex=sha.decode("ascii")))
        self._set_refs(states)

    def _set_refs(self, states: dict[str, _RefState]) -> None:
        self._refs = states
        self._view = _View(self._pg, [s.tree for s in states.values()])

    def _read_state(self, git_ref: str, commit_id: pygit2.Oid) -> _RefState:
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
        return _RefState(git_ref, commit_id, tree, oid)

    def _fresh(self) -> dict[str, _RefState]:
        if self._refs is None:
            self._refresh()
        assert self._refs is not None
        return self._refs

    # Transport --------------------------------------------------------------------------------

    def list_refs(self) -> dict[str, ObjectId]:
        self._refresh()
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
        self._fresh()
        return objects_to_send(_Reader(self), wants, haves)

    def has(self, ids: Sequence[ObjectId]) -> list[bool]:
        self._fresh()
        r = _Reader(self)
        return [r.has(i) for i in ids]

    def get(self, ids: Sequence[ObjectId]) -> Generator[tuple[ObjectId, Buffer], None, None]:
        """``ids`` in stored form (as a loose object file holds them), from the cache."""
        self._fresh()
        r = _Reader(self)
        for oid in ids:
            yield oid, encode_loose_bytes(r.raw(oid)[0])  # hash checked first

    def put(self, items: Iterable[tuple[ObjectId, Buffer]]) -> int:
        """Objects in stored form, children first, each checked as a store checks what it
        receives (it unpacks, hashes to its id, is a well-formed object of its kind, and
        everything it links to is on the remote or came before it), then written into a
        pack in the cache as one git blob of its canonical bytes. Nothing leaves until
        ``update_ref``."""
        self._fresh()
        n = 0
        for oid, stored in items:
            n += 1
            if self._present(oid):
                continue
            raw = bytes(check_stored(oid, stored, self._present))
            if len(raw) > MAX_GIT_OBJECT:
                raise GitObjectTooLarge(
                    f"object {to_hex(oid)} is {len(raw) / 2**20:.1f} MiB; a git remote takes "
                    f"objects up to {MAX_GIT_OBJECT // 2**20} MiB (git hosts refuse big files). "
                    "Push this store to a path or ssh remote instead"
                )
            is_blob = blobfmt.is_blob(raw)
            sha = _git_sha(_TYPE_BLOB, raw)
            self._write(_TYPE_BLOB, sha, raw, guess=is_blob)
            self._pending[oid] = _Pending(sha, is_blob, None if is_blob else raw)
        return n

    def _present(self, oid: ObjectId) -> bool:
        """On the remote, or sent before in this push."""
        return oid in self._pending or self._view.locate(oid) is not None

    def _write(self, type_num: int, sha: bytes, content: bytes, guess: bool = False) -> None:
        if sha in self._where:
            return
        if self._writer is None:
            self._writer = _PackWriter(self.cache / "objects" / "pack")
        self._where[sha] = self._writer.add(type_num, sha, content, guess)

    def update_ref(self, name: str, new: ObjectId, expected: ObjectId | None) -> None:
        check_ref_name(name)
        if not name.startswith(HEADS):
            raise InvalidInput(
                f"a git remote carries only refs/heads/* (as refs/extract/*), not {name!r}"
            )
        git_ref = GIT_REF_PREFIX + name[len(HEADS) :]
        state = self._fresh().get(git_ref)
        if (state.head if state else None) != expected:
            self._refresh()  # our view may be old: look again before calling it a conflict
            state = self._fresh().get(git_ref)
            current = state.head if state else None
            if current != expected:
                raise RefConflict(self._conflict(name, current, expected))
        # Connectivity: every object ``new`` reaches is on the remote or goes with this push.
        objects_to_send(_Reader(self), [new], [expected] if expected else [])
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
                raise _Moved(current)
            return {ref_b: build.commit_hex}

        def generate_pack_data(
            have: Any, want: Any, *, ofs_delta: bool = False, progress: Any = None
        ) -> tuple[int, Iterator[UnpackedObject]]:
            return len(build.send), (_record(s, self._where[s]) for s in build.send)

        try:
            result = self._call(
                lambda: self._client.send_pack(
                    self._path.encode("utf-8"), update_refs, generate_pack_data
                )
            )
        except _Moved:
            self._refs = None
            raise RefConflict(self._conflict(name, None, expected, moved=True)) from None
        except SendPackError as e:
            raise self._refused(name, git_ref, base_hex, str(e)) from None
        except _NETWORK_ERRORS as e:
            raise self._fail(e) from None
        status = (result.ref_status or {}).get(ref_b)
        if status is not None:
            raise self._refused(name, git_ref, base_hex, str(status))
        # The remote has it: mirror it in the cache and forget what went.
        self._dul.refs[ref_b] = build.commit_hex
        self._reopen()
        states = dict(self._fresh())
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
        if moved:
            what = "moved while we pushed"
        else:
            now = to_hex(current)[:12] if current else "absent"
            exp = to_hex(expected)[:12] if expected else "absent"
            what = f"is at {now}, not {exp} as expected"
        return (
            f"{name} on the git remote {self.url} (refs/extract/{name[len(HEADS) :]}) {what}: "
            "fetch and merge first (`extract pull`), then push again"
        )

    def _refused(self, name: str, git_ref: str, base: ObjectID | None, message: str) -> Exception:
        """A refused ref update is a conflict when the ref is no longer where we built on
        (git reports a lost compare-and-swap only as "failed to update ref"); otherwise
        the host said no (a hook, permissions, a protected ref) and we repeat its words."""
        with contextlib.suppress(ExtractError):
            self._refresh()
            state = self._fresh().get(git_ref)
            current = ObjectID(str(state.commit).encode("ascii")) if state else None
            if current != base:
                return RefConflict(
                    f"{name} on the git remote {self.url} moved while we pushed ({message}): "
                    "fetch and merge first (`extract pull`), then push again"
                )
        return StoreError(f"the git remote {self.url} refused {git_ref}: {message}")

    # building the next commit ----------------------------------------------------------------

    def _build(self, git_ref: str, state: _RefState | None, new: ObjectId) -> _Build:
        """The next git commit: the previous tree plus every pending object, head -> ``new``."""
        base = _View(self._pg, [state.tree] if state else [])
        added: dict[tuple[str, str], dict[str, bytes]] = {}
        send: list[bytes] = []
        for oid, p in self._pending.items():
            if base.locate(oid) is not None:
                continue
            prefix, rest = _fanout(oid)
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
            sha = _git_sha(_TYPE_BLOB, content)
            if root.get(fname, (0, b""))[1] != sha:
                self._write(_TYPE_BLOB, sha, content)
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
        commit_sha = _git_sha(_TYPE_COMMIT, raw)
        self._write(_TYPE_COMMIT, commit_sha, raw)
        send.append(commit_sha)
        if self._writer is not None:
            self._writer.finish()  # the cache holds everything before anything is sent
            self._writer = None
        return _Build(ObjectID(commit_sha.hex().encode("ascii")), list(dict.fromkeys(send)))

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
        sha = _git_sha(_TYPE_TREE, raw)
        self._write(_TYPE_TREE, sha, raw)
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
