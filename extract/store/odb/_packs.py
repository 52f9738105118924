"""The set of packs under ``objects/pack``, as this process last listed it.

Packs are added by transfers (ours or another process's) and rewritten only by gc, so
the set is re-listed when a lookup misses and the directory changed since we looked.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from extract.errors import CorruptPack, ObjectNotFound
from extract.objects import ObjectId, to_hex
from extract.store.pack import PACK_SUFFIX, Pack, PackWriter, pread_all, read_pack

#: A pack directory changed this recently is listed again on a miss: its mtime may not
#: have ticked for a pack another process added just after we looked.
PACK_RESCAN_NS = 2_000_000_000


class PackSet:
    """The packs of one store, by name; the dict is replaced whole, never changed in place,
    so a reader iterating it needs no lock."""

    def __init__(self, pack_dir: Path) -> None:
        self.dir = pack_dir
        self._packs: dict[str, Pack] = {}
        self._stamp = -1  # pack_dir's mtime_ns when last listed
        # Held while the set is replaced, so a listing racing an ingest's flusher cannot
        # drop the pack it just added.
        self._lock = threading.Lock()
        self._bad: set[str] = set()  # file names read_pack refused: not retried

    def listed(self) -> list[Pack]:
        """The packs on disk now (listed afresh)."""
        self._stamp = -1
        self.rescan()
        return sorted(self._packs.values(), key=lambda p: p.name)

    def find(self, oid: ObjectId, look_again: bool = True) -> tuple[Pack, int, int] | None:
        """(pack, offset, length) of ``oid``; ``look_again`` False: only the packs already
        loaded, not those another process may just have added (a miss costs no listing)."""
        for _ in range(2):
            for pack in self._packs.values():
                hit = pack.find(oid)
                if hit is not None:
                    return pack, hit[0], hit[1]
            if not look_again or not self.rescan():
                return None
        return None

    def ids(self) -> Iterator[ObjectId]:
        for pack in self.listed():
            for oid, _, _ in pack.entries():
                yield oid

    def rescan(self) -> bool:
        """Load packs added (by another process too) since we last looked and forget removed
        ones. Cheap when nothing changed: one stat. True if the set of packs changed."""
        with self._lock:
            return self._rescan_locked()

    def _rescan_locked(self) -> bool:
        try:
            stamp = os.stat(self.dir).st_mtime_ns
        except FileNotFoundError:
            changed = bool(self._packs)
            self._packs = {}
            return changed
        if stamp == self._stamp and time.time_ns() - stamp > PACK_RESCAN_NS:
            return False
        self._stamp = stamp
        names = {n for n in os.listdir(self.dir) if n.endswith(PACK_SUFFIX)}
        current = dict(self._packs)
        changed = False
        for name in list(current):
            if name + PACK_SUFFIX not in names:
                del current[name]
                changed = True
        for file in names:
            name = file[: -len(PACK_SUFFIX)]
            if name in current or file in self._bad:
                continue
            try:
                current[name] = read_pack(self.dir / file)
                changed = True
            except FileNotFoundError:
                continue
            except (CorruptPack, IsADirectoryError):  # fsck names it, reading the file itself
                self._bad.add(file)
        self._packs = current
        return changed

    def open(self, oid: ObjectId) -> tuple[int, Pack, int, int]:
        """(open descriptor, pack, offset, length) of a packed object; the caller closes the
        descriptor. ObjectNotFound if no pack holds it."""
        for _ in range(2):
            hit = self.find(oid)
            if hit is None:
                break
            pack, offset, length = hit
            try:
                return os.open(pack.path, os.O_RDONLY), pack, offset, length
            except FileNotFoundError:  # gc rewrote the pack since we loaded it: list again
                self._stamp = -1
                self.rescan()
        raise ObjectNotFound(f"no object {to_hex(oid)}")

    def read(self, oid: ObjectId, n: int | None = None) -> tuple[bytes, Path]:
        """A packed object's stored bytes (all, or the first ``n``) and its pack's path;
        ObjectNotFound if absent."""
        fd, pack, offset, length = self.open(oid)
        try:
            return pread_all(fd, length if n is None else min(n, length), offset), pack.path
        finally:
            os.close(fd)

    def install(self, writer: PackWriter, name: str) -> Pack:
        """Put a finished pack in place and start using it (its directory entry is made
        durable by the caller)."""
        pack = read_pack(writer.install(name, self.dir))
        with self._lock:
            self._packs = {**self._packs, pack.name: pack}
        return pack

    def forget(self, pack: Pack) -> None:
        with self._lock:
            self._packs = {k: v for k, v in self._packs.items() if k != pack.name}
