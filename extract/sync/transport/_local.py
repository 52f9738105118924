"""A store reachable as a directory: worked on directly, objects shared by hard link
where both stores are on one filesystem (as ``git clone --local``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator, Iterable, Sequence
from pathlib import Path

from extract.errors import ObjectNotFound, StoreNotFound
from extract.objects import ObjectId, check_ref_name, to_hex
from extract.store.odb import Buffer, DiskObjectStore
from extract.store.repo import FORMAT_FILE, Repository
from extract.sync.transport._base import Tick, Transport, receive
from extract.sync.walk import check_connected, check_dangling, objects_to_send


class LocalTransport(Transport):
    """A store reachable as a directory."""

    def __init__(self, path: Path, create: bool = False, repo: Repository | None = None) -> None:
        """The store at ``path`` (made there with ``create``); ``repo``: that store, already
        open (see ``from_repo``)."""
        if repo is None:
            if not (path / FORMAT_FILE).exists():
                if not create:
                    raise StoreNotFound(
                        f"no extract store at {path}; `extract push` creates one, or `extract init --bare {path}`"
                    )
                Repository.create(path)
            repo = Repository(path)
        self.url = str(path)
        self.repo = repo
        # A push is objects first, the ref later (two requests over ssh): the objects are
        # unnamed here in between, so the store's writer lock is held across both.
        self._writing: contextlib.ExitStack | None = None
        # Links of pushed objects to objects never sent: checked against the purges of the
        # pushed head before the ref moves (``check_dangling``).
        self._dangling: set[ObjectId] = set()

    @classmethod
    def from_repo(cls, repo: Repository) -> LocalTransport:
        """A transport over a store already open (``extract serve``'s own store)."""
        return cls(repo.root, repo=repo)

    def list_refs(self) -> dict[str, ObjectId]:
        out = {}
        for name in self.repo.refs.names():
            oid = self.repo.refs.read(name)
            if oid is not None:
                out[name] = oid
        return out

    def walk(self, wants: Sequence[ObjectId], haves: Sequence[ObjectId]) -> list[ObjectId]:
        return objects_to_send(self.repo.objects, wants, haves)

    def has(self, ids: Sequence[ObjectId]) -> list[bool]:
        return [self.repo.objects.has(i) for i in ids]

    def get(self, ids: Sequence[ObjectId]) -> Generator[tuple[ObjectId, Buffer], None, None]:
        for oid in ids:
            yield oid, self.repo.objects.get_stored(oid)

    def hold(self) -> None:
        """Enter this store's writer lock until the next ref update or close."""
        if self._writing is None:
            self._writing = contextlib.ExitStack()
            self._writing.enter_context(self.repo.writing())

    def release(self) -> None:
        held, self._writing = self._writing, None
        if held is not None:
            held.close()

    def close(self) -> None:
        self.release()

    def put(self, items: Iterable[tuple[ObjectId, Buffer]]) -> int:
        self.hold()
        with self.repo.objects.accept_dangling() as dangling:
            try:
                return receive(self.repo.objects, items)
            finally:
                self._dangling |= dangling

    def copy_into(self, odb: DiskObjectStore, ids: Sequence[ObjectId], tick: Tick) -> None:
        here = self.repo.objects
        if not _can_link(here, odb):
            super().copy_into(odb, ids, tick)
            return
        for oid in ids:  # checked as if sent (hash, kind, children first), then linked
            tick(odb.link_from(here, oid))
        odb.sync()

    def copy_from(self, odb: DiskObjectStore, ids: Sequence[ObjectId], tick: Tick) -> None:
        here = self.repo.objects
        if not _can_link(odb, here):
            super().copy_from(odb, ids, tick)
            return
        self.hold()  # the objects stay unnamed here until update_ref
        with here.accept_dangling() as dangling:
            try:
                for oid in ids:
                    tick(here.link_from(odb, oid))
            finally:
                self._dangling |= dangling
        here.sync()

    def update_ref(self, name: str, new: ObjectId, expected: ObjectId | None) -> None:
        check_ref_name(name)
        # Received objects are stored only after everything they link to, so the walk
        # below finds the history present; it guards against a commit that lost its
        # history here (an interrupted gc), and raises before the ref moves.
        if not self.repo.objects.has(new):
            raise ObjectNotFound(
                f"cannot move {name} to {to_hex(new)[:12]}: that commit was never sent"
            )
        check_connected(self.repo.objects, [new], [expected] if expected else [])
        dangling, self._dangling = self._dangling, set()
        check_dangling(self.repo.objects, [new], dangling)
        try:
            self.repo.refs.set(name, new, expected=expected, message=f"push: {to_hex(new)[:12]}")
        finally:
            self.release()


def _can_link(src: DiskObjectStore, dst: DiskObjectStore) -> bool:
    """Whether objects can move by hard link: both stores on one filesystem, and every object
    of the source loose (a packed object is one range of a pack: it is streamed instead)."""
    return _same_device(src.root, dst.root) and not src.has_packs()


def _same_device(a: Path, b: Path) -> bool:
    try:
        return os.stat(a).st_dev == os.stat(b).st_dev
    except OSError:
        return False
