"""The disk object store: loose files, packs, batches of writes and received transfers."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from extract.errors import CorruptObject, ObjectNotFound
from extract.objects import ObjectId, hash_bytes, hash_parts, to_hex
from extract.store.fsutil import fsync_dir
from extract.store.odb._base import Ingest, ObjectStore, check_stored
from extract.store.odb._ingest import Ingestor
from extract.store.odb._loose import Buffer, LooseFiles, decode_loose, encode_loose
from extract.store.odb._packs import PackSet
from extract.store.pack import Pack, PackWriter, pread_all
from extract.store.writelock import strict as strict_writes


class DiskObjectStore(ObjectStore):
    """Loose objects under ``root`` (writes are temp file, fsync, link into place) and packs
    under ``root/pack``, which only transfers write (``ingest``) and only gc rewrites.

    ``packs`` False (a format-1 store) keeps every write loose; packs are still read."""

    def __init__(self, root: Path, packs: bool = True) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.pack_dir = root / "pack"
        self.can_pack = packs
        self._files = LooseFiles(root)
        self._packs = PackSet(self.pack_dir)
        self._lock = threading.Lock()  # guards the two below
        self._batch_depth = 0
        self._pending: dict[Path, Path | None] = {}  # written in a batch, not yet durable
        self._inflight: set[ObjectId] = set()  # checked by an ingest, not yet in place
        #: Set by the Repository: whether this process is inside a write transaction.
        self.guard: Callable[[], bool] | None = None

    def _check_guard(self) -> None:
        """An object written outside a write transaction could be collected by a concurrent
        gc before anything names it. Strict mode (the test suite) makes that an error."""
        if self.guard is not None and strict_writes() and not self.guard():
            raise RuntimeError(
                f"object written to {self.root} outside a write transaction "
                "(wrap it in Repository.writing())"
            )

    def path_of(self, oid: ObjectId) -> Path:
        return Path(self._files.path(oid))

    # reading ------------------------------------------------------------------------------

    def has(self, oid: ObjectId) -> bool:
        return self._has(oid, look_again=True)

    def _has(self, oid: ObjectId, look_again: bool) -> bool:
        """``look_again`` False: only the packs already loaded, not those another process
        may just have added (a miss then costs no directory listing)."""
        if oid in self._inflight:  # first: a parent's link check mostly asks about these
            return True
        path = self._files.path(oid)
        if os.path.exists(path):
            return True
        if self._pending:
            with self._lock:
                if Path(path) in self._pending:
                    return True
        return self._packs.find(oid, look_again) is not None

    def get_raw(self, oid: ObjectId) -> bytes:
        stored, path = self._read_stored(oid)
        hexid = to_hex(oid)
        raw = decode_loose(stored, hexid, path)
        actual = hash_bytes(raw)
        if actual != oid:
            raise CorruptObject(hexid, to_hex(actual), path, "content does not match its id")
        return raw

    def get_stored(self, oid: ObjectId) -> bytes:
        return self.read_file(oid)

    def read_file(self, oid: ObjectId) -> bytes:
        """The object's stored bytes (not verified)."""
        return self._read_stored(oid)[0]

    def _read_stored(self, oid: ObjectId) -> tuple[bytes, Path]:
        """Stored bytes and the file they came from (the loose file or the pack)."""
        path = self._files.path(oid)
        try:
            with open(path, "rb") as f:
                return f.read(), Path(path)
        except FileNotFoundError:
            return self._packs.read(oid)

    def read_head(self, oid: ObjectId, n: int) -> bytes:
        """The first ``n`` stored bytes of an object (fewer if it is shorter)."""
        try:
            with open(self._files.path(oid), "rb") as f:
                return f.read(n)
        except FileNotFoundError:
            return self._packs.read(oid, n)[0]

    def open_range(self, oid: ObjectId) -> tuple[int, int, int]:
        """(descriptor, offset, size) of the object's stored bytes: its loose file, or its
        range of a pack. The caller closes the descriptor."""
        try:
            fd = os.open(self._files.path(oid), os.O_RDONLY)
        except FileNotFoundError:
            pass
        else:
            return fd, 0, os.fstat(fd).st_size
        fd, _, offset, length = self._packs.open(oid)
        return fd, offset, length

    def mtime(self, oid: ObjectId) -> float:
        try:
            return self.path_of(oid).stat().st_mtime
        except FileNotFoundError:
            hit = self._packs.find(oid)
            if hit is None:
                raise ObjectNotFound(f"no object {to_hex(oid)}") from None
            return hit[0].mtime

    # listing ------------------------------------------------------------------------------

    def iter_ids(self) -> Iterator[ObjectId]:
        """Every object once, loose or packed."""
        packs = self.packs()
        seen: set[ObjectId] = set()
        for oid in self.iter_loose_ids():
            if packs:
                seen.add(oid)
            yield oid
        for pack in packs:
            for oid, _, _ in pack.entries():
                if oid not in seen:
                    seen.add(oid)
                    yield oid

    def iter_loose_ids(self) -> Iterator[ObjectId]:
        return self._files.iter_ids()

    def iter_files(self) -> Iterator[tuple[str, str]]:
        """(fan-out dir, file name) of every file in the object directories, valid or not."""
        return self._files.iter_files()

    def _ids_with_prefix(self, prefix: str) -> list[ObjectId]:
        out = self._files.ids_with_prefix(prefix)
        for pack in self.packs():
            out.extend(oid for oid, _, _ in pack.entries() if to_hex(oid).startswith(prefix))
        return sorted(set(out))

    # writing ------------------------------------------------------------------------------

    def put_parts(self, parts: list[bytes | memoryview], compressible: bool = True) -> ObjectId:
        self._check_guard()
        oid = hash_parts(parts)
        final = self.path_of(oid)
        try:
            # Already there: refresh its mtime so a concurrent gc's grace period covers
            # the new reference we are about to make to it.
            os.utime(final)
            return oid
        except FileNotFoundError:
            pass
        self._put_file(final, encode_loose(parts, compressible))
        return oid

    def _write_stored(self, oid: ObjectId, stored: Buffer) -> None:
        self._check_guard()
        self._put_file(self.path_of(oid), [stored])

    def _put_file(self, final: Path, parts: list[bytes | memoryview]) -> None:
        """Write a loose object file's bytes: now (durable, in place), or inside a batch to
        a temp file that the batch's end makes durable and links."""
        self._files.make_fanout(final)
        self.tmp.mkdir(parents=True, exist_ok=True)
        if self._batch_depth:
            self._write_pending(parts, final)
        else:
            self._files.write_now(final, parts)

    def _write_pending(self, parts: list[bytes | memoryview], final: Path) -> None:
        with self._lock:
            if final in self._pending:
                return
            self._pending[final] = None  # reserve: a repeated chunk is written once
        tmp = self._files.write_temp(parts)
        with self._lock:
            self._pending[final] = tmp

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Inside, objects are written but neither fsynced nor linked into place; on exit
        all of them are fsynced at once (the disk works on many in parallel) and only then
        linked. A crash inside leaves temp files, never an object that is not durable."""
        with self._lock:
            self._batch_depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._batch_depth -= 1
                last = self._batch_depth == 0
            if last:
                with self._lock:
                    pending, self._pending = self._pending, {}
                self._files.link_durably(
                    [(f, tmp) for f, tmp in pending.items() if tmp is not None]
                )

    def sync(self) -> None:
        for d in self._files.take_dirty():
            fsync_dir(d)

    def link_from(self, other: DiskObjectStore, oid: ObjectId, check_links: bool = True) -> int:
        """Take an object from another store on the same filesystem by hard link, after
        verifying it as if it had been sent (objects are immutable, so sharing the file is
        safe, as git clone --local does). Returns the bytes it holds."""
        self._check_guard()
        if self.has(oid):
            return 0
        stored = other.read_file(oid)
        check_stored(oid, stored, self.has if check_links else None, self.tolerate_absent)
        final = self.path_of(oid)
        self._files.make_fanout(final)
        try:
            os.link(other.path_of(oid), final)
        except FileExistsError:
            pass
        except OSError:  # another filesystem after all, or packed there: write a copy
            self._write_stored(oid, stored)
        self._files.mark_dirty(final.parent)
        return len(stored)

    def delete(self, oid: ObjectId) -> None:
        """Remove a loose object (packed ones go when gc rewrites their pack)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path_of(oid))

    # received transfers -------------------------------------------------------------------

    @contextlib.contextmanager
    def ingest(self, quarantine: bool = False) -> Iterator[Ingest]:
        """Received objects, stored by several threads at once in durable groups, in order
        (see ``store/odb/_ingest.py``). On exit every object checked is in place, even when
        the body raised; the first error of a background thread is raised.

        ``quarantine`` (bundle import, as git's receive quarantine): nothing is put in place
        until the body returns without an error; if it raises, every temp file is removed
        and nothing in place has changed. The body does its last checks (an end record,
        nothing after it) before returning."""
        self._check_guard()
        ingestor = Ingestor(self, quarantine)
        succeeded = False
        try:
            yield Ingest(ingestor.put, ingestor.close_group)
            succeeded = True
        finally:
            ingestor.close(succeeded)
        ingestor.raise_failure()

    def _mark_inflight(self, ids: list[ObjectId]) -> None:
        with self._lock:
            self._inflight.update(ids)

    def _unmark_inflight(self, ids: list[ObjectId]) -> None:
        with self._lock:
            self._inflight.difference_update(ids)

    # packs --------------------------------------------------------------------------------

    def packs(self) -> list[Pack]:
        """The packs on disk now (listed afresh)."""
        return self._packs.listed()

    def has_packs(self) -> bool:
        return bool(self.packs())

    def write_pack(self, objects: Iterator[tuple[ObjectId, Buffer]]) -> Pack | None:
        """Write the given stored objects into one new pack, durably (gc's repacking); None
        if there were none. The caller has checked them."""
        self._check_guard()
        self.tmp.mkdir(parents=True, exist_ok=True)
        writer = PackWriter(self._files.temp_path())
        try:
            for oid, stored in objects:
                writer.add(oid, stored)
            if not writer.entries:
                writer.abort()
                return None
            pack = self._packs.install(writer, writer.finish())
        except BaseException:
            writer.abort()
            raise
        fsync_dir(self.pack_dir)
        return pack

    def repack(self, pack: Pack, keep: Callable[[ObjectId], bool]) -> Pack | None:
        """Replace ``pack`` by a new one holding only the objects ``keep`` accepts (gc): the
        new pack is durable before the old one goes, so a crash between keeps both."""
        fd = os.open(pack.path, os.O_RDONLY)
        try:
            kept = self.write_pack(
                (oid, pread_all(fd, length, offset))
                for oid, offset, length in pack.entries()
                if keep(oid)
            )
        finally:
            os.close(fd)
        if kept is None or kept.name != pack.name:
            self.remove_pack(pack)
        return kept

    def remove_pack(self, pack: Pack) -> None:
        """Delete a pack (gc, after writing what it keeps elsewhere)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(pack.path)
        fsync_dir(self.pack_dir)
        self._packs.forget(pack)
