"""Code provenance of a training run: which commit, which branch, and what was uncommitted.

:func:`capture` is called once at run start. It never raises (apart from
``KeyboardInterrupt``/``SystemExit``) and never touches the user's repository on
disk: no index write, no object written, no lock taken. Anything it could not
determine is ``None`` and explained in :attr:`Provenance.reasons`.

What "dirty" means
------------------
``dirty`` is True when the *tracked* code differs from HEAD: an unstaged edit, a
staged change, a staged new file, a deleted tracked file, a mode change. It is
exactly "``git diff HEAD`` is not empty". Untracked files do not make a run
dirty: researchers keep notebooks, outputs and scratch scripts next to their code,
and a flag that is always on says nothing. They are listed separately
(:attr:`Provenance.untracked`, as ``git status --porcelain`` lists them: an
untracked directory is one entry ending in ``/``). This also keeps ``dirty``
consistent with the two other records: ``worktree_tree`` and ``diff`` cover
tracked files only, so ``dirty`` is true exactly when they differ from HEAD.

How it is computed (pygit2, no subprocess on the common path)
-------------------------------------------------------------
* HEAD -> index (``git diff --cached``) and index -> working tree (``git diff``),
  merged: libgit2 then compares only stat data for unchanged files, which is what
  makes a 10,000-file repository take tens of milliseconds.
  (``Tree.diff_to_workdir``, i.e. ``repo.diff("HEAD")``, hashes every file.)
* ``diff`` is the concatenated patch text, with the ``index`` lines re-abbreviated
  the way git does (``core.abbrev``, or its length from the packed-object count,
  extended until unique): libgit2 always prints 7 hex digits.
* ``worktree_tree`` is the tree ``git add -u && git write-tree`` would write: the
  HEAD tree with every changed path applied. Only the directories on a changed
  path are re-serialised and hashed here (SHA-1 over git's tree format); the blob
  ids come from the diff, which computes them with the repository's filters.
  Nothing is written to the object database.

Two cases go through the real ``git`` binary instead, with the index copied to a
temporary file so git cannot refresh the user's one:

* deleted and added files whose sizes allow git's rename detection (``diff.renames``
  is on by default): libgit2's similarity metric differs from git's, so the patch
  text is taken from ``git diff HEAD``;
* paths with a ``filter`` attribute whose driver is configured (``git lfs`` ...):
  libgit2 cannot run external filters, so their blob ids come from
  ``git hash-object --stdin-paths`` (no ``-w``) and the patch from ``git diff HEAD``.

If ``git`` is missing there, the libgit2 results stand and a reason says so.

The diff is byte-identical to ``git diff HEAD`` under git's default diff settings
(rename detection on, indent heuristic on, no textconv or external diff); personal
``diff.*`` settings such as ``diff.noprefix`` or ``diff.context`` are not imitated,
so the stored patch stays one that ``git apply`` takes.

Special states: a detached HEAD has ``branch=None``; on an unborn branch ``sha`` and
``diff`` are None, ``worktree_tree`` is the tree of the tracked files and ``dirty``
says whether there are any; a bare repository has no working tree (``root=None``,
``worktree_tree`` = ``head_tree``). Each adds its reason.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2
from pygit2.enums import DeltaStatus, DiffFlag, DiffOption, FileMode, RepositoryOpenFlag

__all__ = ["Provenance", "capture"]

NOT_A_REPOSITORY = "not a git repository"
DETACHED_HEAD = "detached HEAD"
UNBORN_BRANCH = "unborn branch (no commits yet)"
BARE_REPOSITORY = "bare repository"

#: The tree with no entries; ``git write-tree`` of an empty index.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_TREE_MODE = 0o040000
_REGULAR_MODES = (0o100644, 0o100755)
#: git's rename detection scores out of MAX_SCORE and needs 50% by default.
_MAX_SCORE = 60000
_MIN_RENAME_SCORE = 30000
#: Seconds allowed to each fallback ``git`` process.
GIT_TIMEOUT = 60.0
#: diff options matching ``git diff`` defaults (``diff.indentHeuristic`` is on in git >= 2.14).
_DIFF_FLAGS = DiffOption.INDENT_HEURISTIC
_TRACKED_CHANGES = (
    DeltaStatus.ADDED,
    DeltaStatus.DELETED,
    DeltaStatus.MODIFIED,
    DeltaStatus.TYPECHANGE,
    DeltaStatus.CONFLICTED,
    DeltaStatus.RENAMED,
    DeltaStatus.COPIED,
)
#: Environment variables that choose a repository; cleared or set for fallback ``git``.
_REPO_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_EXTERNAL_DIFF",
    "GIT_DIFF_OPTS",
)


@dataclass(frozen=True)
class Provenance:
    """The state of the user's code at run start. See the module docstring."""

    #: HEAD commit id (hex), None when there is no repository or no commit yet.
    sha: str | None = None
    #: Short branch name; None on a detached HEAD or outside a repository.
    branch: str | None = None
    #: URL of the branch's upstream remote, else of ``origin``; credentials removed.
    remote_url: str | None = None
    #: Tracked files differ from HEAD (staged or not). Untracked files do not count.
    dirty: bool = False
    #: Tree id of the tracked working-tree state (``git add -u && git write-tree``).
    worktree_tree: str | None = None
    #: HEAD's tree id.
    head_tree: str | None = None
    #: ``git diff HEAD`` output when dirty, else None.
    diff: bytes | None = field(default=None, repr=False)
    #: The repository's working directory.
    root: Path | None = None
    #: Untracked, not ignored paths as ``git status --porcelain`` shows them.
    untracked: tuple[str, ...] = ()
    #: Why a field is missing or approximate; empty when everything was captured.
    reasons: tuple[str, ...] = ()

    def to_record(self) -> dict[str, Any]:
        """A msgpack-friendly summary for the run record; the diff is stored separately."""
        return {
            "sha": self.sha,
            "branch": self.branch,
            "remote": self.remote_url,
            "dirty": self.dirty,
            "tree": self.worktree_tree,
            "head_tree": self.head_tree,
            "untracked": len(self.untracked),
            "reasons": list(self.reasons),
        }


def capture(path: str | os.PathLike[str] | None = None, *, binary: bool = False) -> Provenance:
    """Capture the provenance of the code at ``path`` (default: the current directory).

    The enclosing repository is found the way git finds it (walking up, honouring
    ``GIT_CEILING_DIRECTORIES`` and ``GIT_DISCOVERY_ACROSS_FILESYSTEM``; with no
    ``path``, ``GIT_DIR`` is honoured too, as git run in the current directory would).
    ``binary=True`` gives ``git diff --binary HEAD`` instead of ``git diff HEAD``:
    binary changes become applicable patches (the zlib streams may differ from
    git's bytes; ``git apply`` accepts both).

    Never raises an ``Exception``: on any failure the fields not captured are
    ``None`` and ``reasons`` says why.
    """
    state = _State()
    try:
        _capture(state, path, binary)
    except Exception as exc:
        state.reason(_describe(exc))
    return state.result()


# --------------------------------------------------------------------------- internals


class _State:
    """Mutable collector, so that a failure part-way keeps what was already found."""

    def __init__(self) -> None:
        self.sha: str | None = None
        self.branch: str | None = None
        self.remote_url: str | None = None
        self.dirty = False
        self.worktree_tree: str | None = None
        self.head_tree: str | None = None
        self.diff: bytes | None = None
        self.root: Path | None = None
        self.untracked: tuple[str, ...] = ()
        self.reasons: list[str] = []

    def reason(self, text: str) -> None:
        if text not in self.reasons:
            self.reasons.append(text)

    def result(self) -> Provenance:
        return Provenance(
            sha=self.sha,
            branch=self.branch,
            remote_url=self.remote_url,
            dirty=self.dirty,
            worktree_tree=self.worktree_tree,
            head_tree=self.head_tree,
            diff=self.diff,
            root=self.root,
            untracked=self.untracked,
            reasons=tuple(self.reasons),
        )


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, pygit2.GitError | pygit2.InvalidSpecError):
        return f"pygit2 error: {text}"
    return f"error: {type(exc).__name__}: {text}"


def _capture(state: _State, path: str | os.PathLike[str] | None, binary: bool) -> None:
    repo = _open(state, path)
    if repo is None:
        return
    if not repo.is_bare and repo.workdir:
        state.root = Path(repo.workdir)
    head_commit = _read_head(state, repo)
    try:
        state.remote_url = _remote_url(repo, state.branch)
    except Exception as exc:
        state.reason(_describe(exc))
    if repo.is_bare or not repo.workdir:
        state.reason(BARE_REPOSITORY)
        state.worktree_tree = state.head_tree
        return
    if head_commit is None and UNBORN_BRANCH not in state.reasons:
        return  # HEAD unreadable: the reason is recorded; a diff against nothing means nothing
    _worktree(state, repo, head_commit.tree if head_commit is not None else None, binary)


def _open(state: _State, path: str | os.PathLike[str] | None) -> pygit2.Repository | None:
    env = os.environ
    if path is None and env.get("GIT_DIR"):
        # As git does: GIT_DIR names the repository (no search), GIT_WORK_TREE its work tree.
        # (libgit2's own FROM_ENV ignores GIT_DIR when given a start path.)
        gitdir = Path(env["GIT_DIR"]).absolute()
        try:
            repo = pygit2.Repository(str(gitdir), RepositoryOpenFlag.NO_SEARCH)
        except pygit2.GitError as exc:
            state.reason(f"{NOT_A_REPOSITORY}: GIT_DIR={gitdir} ({exc})")
            return None
        if env.get("GIT_WORK_TREE"):
            repo.workdir = str(Path(env["GIT_WORK_TREE"]).absolute())
        return repo
    start = Path(os.getcwd() if path is None else os.fspath(path))
    if not start.exists():
        state.reason(f"{NOT_A_REPOSITORY}: {start} does not exist")
        return None
    if not start.is_dir():
        start = start.parent
    across_fs = _git_bool(env.get("GIT_DISCOVERY_ACROSS_FILESYSTEM", "false"))
    ceilings = env.get("GIT_CEILING_DIRECTORIES")
    if ceilings:
        found = pygit2.discover_repository(str(start), bool(across_fs), ceilings)
    else:
        found = pygit2.discover_repository(str(start), bool(across_fs))
    if found is None:
        state.reason(NOT_A_REPOSITORY)
        return None
    return pygit2.Repository(found, RepositoryOpenFlag.NO_SEARCH)


def _read_head(state: _State, repo: pygit2.Repository) -> pygit2.Commit | None:
    """Fill sha, branch and head_tree; return the HEAD commit (None if unborn or unreadable)."""
    try:
        head = repo.lookup_reference("HEAD")
    except (pygit2.GitError, KeyError, ValueError) as exc:
        state.reason(f"pygit2 error: cannot read HEAD: {exc}")
        return None
    if head.type == pygit2.enums.ReferenceType.SYMBOLIC:
        name = str(head.target)
        state.branch = name.removeprefix("refs/heads/")
        try:
            direct = head.resolve()
        except KeyError:
            state.reason(UNBORN_BRANCH)
            return None
        except pygit2.GitError as exc:
            state.reason(f"pygit2 error: cannot resolve HEAD ({name}): {exc}")
            return None
        oid = direct.target
    else:
        state.reason(DETACHED_HEAD)
        oid = head.target
    if not isinstance(oid, pygit2.Oid):
        state.reason(f"pygit2 error: HEAD does not resolve to an object id: {oid!r}")
        return None
    try:
        commit = repo[oid].peel(pygit2.Commit)
    except (KeyError, pygit2.GitError, ValueError) as exc:
        state.reason(f"pygit2 error: HEAD {oid} is not a readable commit: {exc}")
        return None
    state.sha = str(commit.id)
    state.head_tree = str(commit.tree_id)
    return commit


def _remote_url(repo: pygit2.Repository, branch: str | None) -> str | None:
    config = repo.config
    names: list[str] = []
    if branch is not None:
        key = f"branch.{branch}.remote"
        if key in config:
            upstream = config[key]
            if upstream and upstream != ".":
                names.append(upstream)
    names.append("origin")
    for name in names:
        try:
            remote = repo.remotes[name]
        except (KeyError, ValueError, pygit2.GitError):
            continue
        url = remote.url
        if url:
            return _strip_credentials(url)
    return None


def _strip_credentials(url: str) -> str:
    """Drop secrets from a remote URL: the user info of http(s)/ftp URLs, any password."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or "@" not in parts.netloc:
        return url  # scp-like ``git@host:path`` or a local path: nothing secret
    userinfo, host = parts.netloc.rsplit("@", 1)
    if parts.scheme.lower() in ("http", "https", "ftp", "ftps"):
        netloc = host
    else:
        netloc = f"{userinfo.split(':', 1)[0]}@{host}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


# --------------------------------------------------------------------------- working tree


def _worktree(
    state: _State, repo: pygit2.Repository, head_tree: pygit2.Tree | None, binary: bool
) -> None:
    flags = _DIFF_FLAGS | (DiffOption.SHOW_BINARY if binary else DiffOption.NORMAL)
    index = repo.index
    to_workdir = index.diff_to_workdir(flags=flags | DiffOption.INCLUDE_UNTRACKED)
    state.untracked = tuple(
        _decode(d.new_file.raw_path) for d in to_workdir.deltas if d.status == DeltaStatus.UNTRACKED
    )
    if head_tree is not None:
        diff = index.diff_to_tree(head_tree, flags=flags)
        diff.merge(to_workdir)  # HEAD -> index -> working tree, as ``git diff HEAD``
    else:
        diff = to_workdir

    # Generating a patch loads both sides, which also gives the working-tree blob ids.
    patches = [
        patch
        for patch in diff
        if patch is not None and patch.delta.status in _TRACKED_CHANGES and patch.data
    ]
    deletes: set[bytes] = set()
    sets: dict[bytes, tuple[int, bytes]] = {}
    for patch in patches:
        delta = patch.delta
        if delta.status in (DeltaStatus.DELETED, DeltaStatus.RENAMED):
            deletes.add(delta.old_file.raw_path)
        if delta.status != DeltaStatus.DELETED:
            new = delta.new_file
            sets[new.raw_path] = (int(new.mode), _blob_id(repo, new).raw)
    if head_tree is None:  # unborn: the tree is the whole index after ``add -u``
        for entry in index:
            path = os.fsencode(entry.path)
            if path not in deletes:
                sets.setdefault(path, (int(entry.mode), entry.id.raw))

    filtered = _externally_filtered(repo, patches)
    if filtered:
        _rehash_filtered(state, repo, filtered, patches, sets)
        patches = [
            p
            for p in patches
            if p.delta.status == DeltaStatus.DELETED
            or p.delta.new_file.raw_path not in filtered
            or p.delta.new_file.raw_path in sets
        ]
    state.worktree_tree = _build_tree(repo, head_tree, sets, deletes)
    if head_tree is None:
        state.dirty = state.worktree_tree != EMPTY_TREE
        return
    if not patches:
        return
    abbrev = _Abbrev(repo)
    text: bytes | None = b"".join(_git_header(abbrev, p) for p in patches)
    if filtered or _rename_candidates(repo, patches):
        from_git = _git_diff(state, repo, binary)
        if from_git is not None:
            text = from_git
    state.diff = text or None
    state.dirty = state.diff is not None


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _blob_id(repo: pygit2.Repository, file: pygit2.DiffFile) -> pygit2.Oid:
    """The id of a diff's new side; hashed from the working tree (with filters) if unknown."""
    if file.flags & DiffFlag.VALID_ID and any(file.id.raw):
        return file.id
    where = os.path.join(repo.workdir, _decode(file.raw_path))
    if file.mode == FileMode.LINK:
        return pygit2.hash(os.fsencode(os.readlink(where)))
    if file.mode == FileMode.COMMIT:  # a submodule: ``git add -u`` records its HEAD
        target = pygit2.Repository(where, RepositoryOpenFlag.NO_SEARCH).head.target
        if not isinstance(target, pygit2.Oid):
            raise pygit2.GitError(f"submodule {where}: HEAD is not a commit")
        return target
    return repo.hashfile(_decode(file.raw_path))


def _build_tree(
    repo: pygit2.Repository,
    base: pygit2.Tree | None,
    sets: dict[bytes, tuple[int, bytes]],
    deletes: set[bytes],
) -> str:
    """Hash the tree of ``base`` with ``sets`` applied and ``deletes`` removed; writes nothing."""
    if not sets and not deletes and base is not None:
        return str(base.id)
    root = _Dir()
    for p in deletes:
        root.at(p).files[p.rsplit(b"/", 1)[-1]] = None
    for p, entry in sets.items():
        root.at(p).files[p.rsplit(b"/", 1)[-1]] = entry
    raw = _hash_dir(repo, root, base)
    return raw.hex() if raw is not None else EMPTY_TREE


class _Dir:
    __slots__ = ("dirs", "files")

    def __init__(self) -> None:
        self.files: dict[bytes, tuple[int, bytes] | None] = {}
        self.dirs: dict[bytes, _Dir] = {}

    def at(self, path: bytes) -> _Dir:
        """The node of the directory holding ``path``, created on the way."""
        node = self
        for part in path.split(b"/")[:-1]:
            node = node.dirs.setdefault(part, _Dir())
        return node


def _hash_dir(repo: pygit2.Repository, node: _Dir, base: pygit2.Tree | None) -> bytes | None:
    """Raw id of the tree for ``node`` over ``base``; None when it ends up empty (git drops it)."""
    original: dict[bytes, tuple[int, bytes]] = {}
    if base is not None:
        for obj in base:
            name = obj.raw_name
            if name is not None:
                original[name] = (int(obj.filemode), obj.id.raw)
    entries = dict(original)
    for name, value in node.files.items():
        if value is None:
            current = entries.get(name)
            if current is not None and current[0] != _TREE_MODE:
                del entries[name]
        else:
            entries[name] = value
    for name, child in node.dirs.items():
        before = original.get(name)
        sub: pygit2.Tree | None = None
        if before is not None and before[0] == _TREE_MODE:
            obj = repo[pygit2.Oid(raw=before[1])]
            sub = obj if isinstance(obj, pygit2.Tree) else None
        child_id = _hash_dir(repo, child, sub)
        if child_id is not None:
            entries[name] = (_TREE_MODE, child_id)
        elif name in entries and entries[name][0] == _TREE_MODE:
            del entries[name]
    if not entries:
        return None
    ordered = sorted(
        entries.items(), key=lambda kv: kv[0] + b"/" if kv[1][0] == _TREE_MODE else kv[0]
    )
    body = b"".join(b"%o %s\x00%s" % (mode, name, oid) for name, (mode, oid) in ordered)
    return hashlib.sha1(b"tree %d\x00%s" % (len(body), body)).digest()


# --------------------------------------------------------------------------- git's abbreviations


def _git_header(abbrev: _Abbrev, patch: pygit2.Patch) -> bytes:
    """The patch text with its header written as git writes it.

    Two differences from libgit2: the ``index`` line is abbreviated like git's
    (see :class:`_Abbrev`), and a ``---``/``+++`` name containing a space ends
    with a tab (git does this for GNU patch).
    """
    data = patch.data
    if not data.startswith(b"diff --git "):
        return data
    lines = data.split(b"\n", 12)
    changed = False
    for i, line in enumerate(lines[1:12], start=1):
        if line.startswith((b"@@", b"Binary files ", b"GIT binary patch")):
            break
        if line.startswith((b"--- ", b"+++ ")):
            if b" " in line[4:] and not line.endswith(b"\t"):
                lines[i] = line + b"\t"
                changed = True
        elif line.startswith(b"index "):
            fixed = _index_line(abbrev, patch.delta, line)
            if fixed is not None:
                lines[i] = fixed
                changed = True
    return b"\n".join(lines) if changed else data


def _index_line(abbrev: _Abbrev, delta: pygit2.DiffDelta, line: bytes) -> bytes | None:
    ids, _, rest = line[6:].partition(b" ")
    old, sep, new = ids.partition(b"..")
    old_hex, new_hex = str(delta.old_file.id), str(delta.new_file.id)
    if not sep or not old_hex.startswith(old.decode()) or not new_hex.startswith(new.decode()):
        return None
    if len(old) == len(old_hex) and len(new) == len(new_hex):
        return None  # full ids (binary patches): git prints them in full too
    fixed = b"index %s..%s" % (abbrev(old_hex).encode(), abbrev(new_hex).encode())
    return fixed + (b" " + rest if rest else b"")


class _Abbrev:
    """git's ``find_unique_abbrev``: ``core.abbrev`` or auto length, then longer until unique."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self.repo = repo
        self._length: int | None = None

    def __call__(self, hexid: str) -> str:
        if self._length is None:
            self._length = _abbrev_length(self.repo)
        length = self._length
        if length >= len(hexid):
            return hexid
        while length < len(hexid):
            prefix = hexid[:length]
            try:
                found = self.repo.expand_id(prefix)
            except KeyError:
                return prefix  # no object has this prefix
            except ValueError:
                length += 1  # ambiguous
                continue
            except pygit2.GitError:
                return prefix
            if str(found) == hexid:
                return prefix
            length += 1
        return hexid


def _abbrev_length(repo: pygit2.Repository) -> int:
    hexsz = 40
    config = repo.config
    if "core.abbrev" in config:
        value = (config["core.abbrev"] or "").strip().lower()
        if value != "auto":
            if value in ("false", "no", "off", ""):
                return hexsz
            try:
                n = int(value)
            except ValueError:
                n = -1
            if 4 <= n <= hexsz:
                return n  # (git refuses other values; auto is the closest behaviour)
    count = _packed_object_count(_objects_dir(repo))
    bits = count.bit_length() - 1 if count > 0 else 0  # git's msb()
    return max(7, (bits + 2) // 2)


def _objects_dir(repo: pygit2.Repository) -> Path:
    gitdir = Path(repo.path)
    commondir = gitdir / "commondir"
    if commondir.is_file():
        with contextlib.suppress(OSError):
            gitdir = (gitdir / commondir.read_text().strip()).resolve()
    return gitdir / "objects"


def _packed_object_count(objects: Path) -> int:
    """Objects in packs (git's ``approximate_object_count``: loose objects do not count)."""
    dirs = [objects]
    try:
        for line in (objects / "info" / "alternates").read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                dirs.append(objects / line)
    except OSError:
        pass
    total = 0
    for d in dirs:
        pack = d / "pack"
        try:
            names = os.listdir(pack)
        except OSError:
            continue
        for name in names:
            if not name.endswith(".idx") or not (pack / (name[:-4] + ".pack")).exists():
                continue
            try:
                with open(pack / name, "rb") as f:
                    head = f.read(8 + 1024)
            except OSError:
                continue
            fanout = head[8:] if head[:4] == b"\xfftOc" else head[:1024]
            if len(fanout) == 1024:
                total += int.from_bytes(fanout[1020:1024], "big")
    return total


def _git_bool(value: str) -> bool | None:
    v = value.strip().lower()
    if v in ("true", "yes", "on", "1"):
        return True
    if v in ("false", "no", "off", "0", ""):
        return False
    return None


# --------------------------------------------------------------------------- git fallbacks


def _rename_candidates(repo: pygit2.Repository, patches: list[pygit2.Patch]) -> bool:
    """Could ``git diff HEAD`` pair a deletion with an addition (rename or copy detection)?"""
    config = repo.config
    mode = (config["diff.renames"] or "true") if "diff.renames" in config else "true"
    mode = mode.strip().lower()
    copies = mode in ("copy", "copies")
    if not copies and _git_bool(mode) is False:
        return False
    sources = sorted(
        p.delta.old_file.size
        for p in patches
        if (
            p.delta.status == DeltaStatus.DELETED
            or (copies and p.delta.status == DeltaStatus.MODIFIED)
        )
        and int(p.delta.old_file.mode) in _REGULAR_MODES
    )
    for p in patches:
        dst = p.delta.new_file
        if p.delta.status != DeltaStatus.ADDED or int(dst.mode) not in _REGULAR_MODES:
            continue
        # git's estimate_similarity() gives up unless the smaller size is at least
        # MIN/MAX of the larger one (half, by default): look for a source in that range.
        low = -(-dst.size * _MIN_RENAME_SCORE // _MAX_SCORE)
        high = dst.size * _MAX_SCORE // _MIN_RENAME_SCORE
        i = bisect.bisect_left(sources, low)
        if i < len(sources) and sources[i] <= high:
            return True
    return False


def _externally_filtered(repo: pygit2.Repository, patches: list[pygit2.Patch]) -> set[bytes]:
    """Changed paths whose ``filter`` attribute names a configured external driver."""
    config = repo.config
    out: set[bytes] = set()
    for patch in patches:
        new = patch.delta.new_file
        if patch.delta.status == DeltaStatus.DELETED:
            continue
        driver = repo.get_attr(_decode(new.raw_path), "filter")
        if not isinstance(driver, str) or not driver:
            continue
        if f"filter.{driver}.clean" in config or f"filter.{driver}.process" in config:
            out.add(new.raw_path)
    return out


def _rehash_filtered(
    state: _State,
    repo: pygit2.Repository,
    filtered: set[bytes],
    patches: list[pygit2.Patch],
    sets: dict[bytes, tuple[int, bytes]],
) -> None:
    """Blob ids of externally filtered files from ``git hash-object`` (which writes nothing)."""
    paths = sorted(p for p in filtered if b"\n" not in p)
    out = _run_git(
        state, repo, ["hash-object", "--stdin-paths"], b"".join(p + b"\n" for p in paths)
    )
    if out is None:
        state.reason("filter drivers not applied: blob ids of filtered files are unfiltered")
        return
    ids = out.split()
    if len(ids) != len(paths):
        state.reason("git hash-object returned an unexpected answer; filtered files unfiltered")
        return
    old = {p.delta.new_file.raw_path: p.delta.old_file for p in patches}
    for path, hexid in zip(paths, ids, strict=True):
        mode, _ = sets[path]
        blob = bytes.fromhex(hexid.decode())
        before = old.get(path)
        if before is not None and before.id.raw == blob and int(before.mode) == mode:
            del sets[path]  # unchanged once filtered (e.g. a touched LFS file)
        else:
            sets[path] = (mode, blob)


def _git_diff(state: _State, repo: pygit2.Repository, binary: bool) -> bytes | None:
    args = ["diff", "--no-ext-diff", "--no-color", "--no-textconv"]
    if binary:
        args.append("--binary")
    out = _run_git(state, repo, [*args, "HEAD", "--"], None)
    if out is None:
        state.reason("diff from libgit2: renames and filter drivers may differ from git's")
    return out


def _run_git(
    state: _State, repo: pygit2.Repository, args: list[str], stdin: bytes | None
) -> bytes | None:
    """Run ``git`` on this repository against a copy of its index; None (and a reason) on failure."""
    git = shutil.which("git")
    if git is None:
        state.reason("git binary not found")
        return None
    env = {k: v for k, v in os.environ.items() if k not in _REPO_ENV}
    env["GIT_DIR"] = repo.path
    env["GIT_WORK_TREE"] = repo.workdir
    env["GIT_OPTIONAL_LOCKS"] = "0"
    index = Path(os.environ.get("GIT_INDEX_FILE") or Path(repo.path) / "index")
    try:
        with tempfile.TemporaryDirectory(prefix="extract-git-") as tmp:
            if index.exists():
                copy = Path(tmp) / "index"
                shutil.copyfile(index, copy)
                env["GIT_INDEX_FILE"] = str(copy)
            r = subprocess.run(
                [git, "--no-optional-locks", *args],
                cwd=repo.workdir,
                env=env,
                input=stdin,
                capture_output=True,
                timeout=GIT_TIMEOUT,
                check=False,
            )
    except (OSError, subprocess.SubprocessError) as exc:
        state.reason(f"git {args[0]} failed: {exc}")
        return None
    if r.returncode != 0:
        msg = r.stderr.decode("utf-8", "replace").strip().splitlines()
        state.reason(f"git {args[0]} failed: {msg[-1] if msg else r.returncode}")
        return None
    return r.stdout
