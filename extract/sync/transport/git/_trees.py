"""The remote's trees as the local cache holds them, read with pygit2 (C speed for tree
lookups and blob reads). Layout: objects_spec/git-remote.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pygit2

from extract.errors import CorruptObject
from extract.objects import ObjectId, to_hex
from extract.sync.transport.git._pack import TYPE_BLOB

OBJECTS_DIR = "objects"
BLOBS_DIR = "blobs"


def fanout(oid: ObjectId) -> tuple[str, str]:
    """The directory and file name an object has in a tree: 2 hex digits, then 62."""
    h = to_hex(oid)
    return h[:2], h[2:]


@dataclass
class RefState:
    """One ``refs/extract/*`` as last fetched: its git commit and tree, and the extract
    commit its ``head`` file names."""

    git_ref: str
    commit: pygit2.Oid
    tree: pygit2.Tree
    head: ObjectId


class RemoteTrees:
    """The union of the trees of the remote's ``refs/extract/*``, as last fetched: where
    each extract object is, with the directories read once and kept."""

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
        prefix, rest = fanout(oid)
        for i in range(len(self.roots)):
            for name, under_blobs in ((OBJECTS_DIR, False), (BLOBS_DIR, True)):
                sub = self._dir(i, name).get(prefix)
                if sub is not None:
                    gid = self._leaf(sub).get(rest)
                    if gid is not None:
                        return gid, under_blobs
        return None

    def read(self, gid: pygit2.Oid) -> bytes:
        type_num, data = self.pg.odb.read(gid)  # one copy, no Blob object: 2x repo[gid].data
        if type_num != TYPE_BLOB:
            raise CorruptObject(
                str(gid), None, None, "the git remote has a non-blob where an object belongs"
            )
        return bytes(data)
