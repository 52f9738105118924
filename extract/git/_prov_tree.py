"""Provenance of the working tree: the merged HEAD -> index -> working-tree diff, the
untracked paths, and the tree id ``git add -u && git write-tree`` would give, hashed here
without writing anything (see the docstring of :mod:`extract.git.provenance`)."""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING

import pygit2
from pygit2.enums import DeltaStatus, DiffFlag, DiffOption, FileMode, RepositoryOpenFlag

from ._prov_fallback import _externally_filtered, _git_diff, _rehash_filtered, _rename_candidates
from ._prov_format import _Abbrev, _decode, _git_header

if TYPE_CHECKING:  # the collector lives with capture(); annotations only, no cycle
    from .provenance import _State


#: The tree with no entries; ``git write-tree`` of an empty index.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_TREE_MODE = 0o040000


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
