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

Where the parts live: this module holds :func:`capture`, the record and reading HEAD
and remotes; ``_prov_tree`` the working-tree diff and tree id; ``_prov_format`` git's
way of writing patch headers and abbreviated ids; ``_prov_fallback`` the runs of the
real ``git`` binary.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2
from pygit2.enums import RepositoryOpenFlag

from ._prov_format import _git_bool
from ._prov_tree import EMPTY_TREE as EMPTY_TREE  # re-exported: the worktree_tree of no files
from ._prov_tree import _worktree

__all__ = ["Provenance", "capture"]

NOT_A_REPOSITORY = "not a git repository"
DETACHED_HEAD = "detached HEAD"
UNBORN_BRANCH = "unborn branch (no commits yet)"
BARE_REPOSITORY = "bare repository"


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
