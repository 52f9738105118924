"""A stream of received objects stored by several threads at once (``DiskObjectStore.ingest``).

The caller checks each object (``check_stored``); the first ``PACK_AFTER`` are written to
loose temp files by writer threads, the rest appended to a pack by one packer thread; a
flusher thread makes each closed group durable and puts it in place, in order (a loose
group fsynced and linked, a pack finished, fsynced and renamed into ``pack/``). Creating
files and waiting for the disk thus overlap with receiving and checking, and a large
transfer creates a few files rather than one per object.

Groups close on their own bounds, whatever the caller sends: a loose group at
``GROUP_OBJECTS`` objects, a group or a pack once it holds ``PACK_BYTES`` or has been open
``PACK_SECONDS``. Sizes are checked as each object arrives; the age also by a ticker thread
every ``INGEST_TICK`` seconds, so a transfer that stalls (a slow link, one large object on
its way) still puts in place what already arrived. Any object boundary is a safe place to
close: objects arrive children first, and a group is put in place only after every group
before it (objects_spec/store.md#packs).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from extract.objects import ObjectId
from extract.store.odb._base import check_stored
from extract.store.odb._loose import Buffer
from extract.store.pack import PackWriter

if TYPE_CHECKING:
    from extract.store.odb._disk import DiskObjectStore

#: Threads that write received objects to temp files (creating files is slow on some
#: filesystems; several in flight hide it), and how many objects may wait for them.
INGEST_WRITERS = 2
INGEST_QUEUE = 64
#: A transfer stores its first objects loose (a small fetch stays as cheap to read and
#: collect as a local commit) and the rest in packs. A pack (or a loose group: every
#: object of a format-1 store) is closed and put in place once it holds PACK_BYTES or has
#: been open PACK_SECONDS, so a transfer killed outright loses at most that much of what
#: arrived (objects_spec/store.md#packs).
PACK_AFTER = 128
PACK_BYTES = 64 << 20
PACK_SECONDS = 5.0
#: A loose group also closes at this many objects: one parallel fsync per group.
GROUP_OBJECTS = 256
#: How often a transfer checks the age of its open group while no object arrives.
INGEST_TICK = 0.5


@dataclass(frozen=True)
class _LooseGroup:
    objects: list[tuple[ObjectId, Future[Path | None]]]  # id, its temp file once written

    def ids(self) -> list[ObjectId]:
        return [oid for oid, _ in self.objects]


@dataclass(frozen=True)
class _PackGroup:
    writer: PackWriter
    objects: list[ObjectId]
    name: Future[str]  # resolves once the packer has written the index

    def ids(self) -> list[ObjectId]:
        return self.objects


_Group: TypeAlias = _LooseGroup | _PackGroup


class Ingestor:
    """One ingest: ``put`` and ``close_group`` from the caller's thread, then ``close``.

    Objects checked but not yet in place count as present (the store's ``has``), so a
    parent's link check finds children that arrived before it. On ``close`` every object
    checked is in place, even when the caller failed (a transfer cut halfway keeps what
    arrived). An error in a writer, the packer or the flusher is raised by the next
    ``put`` or by ``raise_failure``, and from then on nothing more is put in place: a
    failed group may hold a child of every later object.

    ``quarantine`` (bundle import, as git's receive quarantine): groups are written to
    temp files as usual but nothing is put in place unless ``close`` is told the caller
    succeeded; otherwise every temp file is removed and nothing in place has changed."""

    def __init__(self, odb: DiskObjectStore, quarantine: bool) -> None:
        self.odb = odb
        self.quarantine = quarantine
        self._writers = ThreadPoolExecutor(INGEST_WRITERS, thread_name_prefix="extract-write")
        self._packer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract-pack")
        # Bounds the received bytes held in memory until a writer or the packer takes them.
        self._slots = threading.BoundedSemaphore(INGEST_QUEUE)
        self._closed: queue.Queue[_Group | None] = queue.Queue()  # for the flusher, in order
        self._held: list[_Group] = []  # quarantine: closed groups waiting for success
        self._failed: list[BaseException] = []
        # The open loose group and pack: the caller adds to them and closes them, and so
        # does the ticker when they grow old while nothing arrives. ``_state`` guards them.
        self._state = threading.Lock()
        self._group: list[tuple[ObjectId, Future[Path | None]]] = []
        self._group_bytes = 0
        self._group_opened = 0.0  # when the open loose group got its first object (monotonic)
        self._taken = 0  # objects checked so far
        self._pack: PackWriter | None = None
        self._packed: list[ObjectId] = []  # in the open pack
        self._packed_bytes = 0
        self._pack_opened = 0.0  # when the open pack was started (monotonic)
        self._stop = threading.Event()
        odb.tmp.mkdir(parents=True, exist_ok=True)
        self._flusher = threading.Thread(target=self._flush_loop, name="extract-flush", daemon=True)
        self._flusher.start()
        # In quarantine nothing is put in place before the end: no reason to close early.
        self._ticker: threading.Thread | None = None
        if not quarantine:
            self._ticker = threading.Thread(
                target=self._tick_loop, name="extract-tick", daemon=True
            )
            self._ticker.start()

    # the caller's side

    def put(self, oid: ObjectId, stored: Buffer) -> None:
        self.raise_failure()
        # Every object sent was missing when the transfer began: one that another process
        # stored since is at worst kept twice, so no pack directory listing (which our own
        # new packs would force on every object) is worth it here.
        if self.odb._has(oid, look_again=False):
            return
        check_stored(oid, stored, self.odb.has, self.odb.tolerate_absent)
        self.odb._mark_inflight([oid])
        self._slots.acquire()
        now = time.monotonic()
        with self._state:
            if self.odb.can_pack and self._taken >= PACK_AFTER:
                if self._pack is None:
                    self._pack = PackWriter(self.odb._files.temp_path())
                    self._pack_opened = now
                self._packer.submit(self._append, self._pack, oid, stored)
                self._packed.append(oid)
                self._packed_bytes += len(stored)
            else:
                if not self._group:
                    self._group_opened = now
                self._group.append((oid, self._writers.submit(self._write, stored)))
                self._group_bytes += len(stored)
            self._taken += 1
            self._close_due(now)

    def close_group(self) -> None:
        """Close the open loose group now (a caller's own durability point)."""
        self.raise_failure()
        with self._state:
            self._close_loose()
            self._close_due(time.monotonic())

    def raise_failure(self) -> None:
        if self._failed:
            raise self._failed[0]

    def close(self, succeeded: bool) -> None:
        """Close what is open and wait until every closed group is in place (or, in
        quarantine unless ``succeeded``, removed). Raises nothing: see ``raise_failure``."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._state:
            self._close_loose()
            self._close_pack()
        if succeeded and not self._failed:
            for item in self._held:
                self._closed.put(item)
            self._held.clear()
        self._closed.put(None)
        self._flusher.join()
        self._writers.shutdown()
        self._packer.shutdown()
        if self._held:
            self._discard(self._held)

    # closing groups (with ``_state`` held)

    def _submit(self, item: _Group) -> None:
        if self.quarantine:
            self._held.append(item)
        else:
            self._closed.put(item)

    def _close_loose(self) -> None:
        if self._group:
            self._submit(_LooseGroup(self._group.copy()))
            self._group.clear()
            self._group_bytes = 0

    def _close_pack(self) -> None:
        if self._pack is not None:
            name = self._packer.submit(self._finish, self._pack)
            self._submit(_PackGroup(self._pack, self._packed.copy(), name))
            self._pack, self._packed_bytes = None, 0
            self._packed.clear()

    def _close_due(self, now: float) -> None:
        if self._group and (
            len(self._group) >= GROUP_OBJECTS
            or self._group_bytes >= PACK_BYTES
            or now - self._group_opened >= PACK_SECONDS
        ):
            self._close_loose()
        if self._pack is not None and (
            self._packed_bytes >= PACK_BYTES or now - self._pack_opened >= PACK_SECONDS
        ):
            self._close_loose()  # (empty once packing began: its objects came first anyway)
            self._close_pack()

    # the threads

    def _write(self, stored: Buffer) -> Path | None:
        """A writer thread: the object's stored bytes in a new temp file. The caller checked
        the object was not here; one arriving meanwhile is kept (link never replaces). Its
        fan-out directory is made when it is linked: a quarantined transfer that is refused
        leaves not even an empty directory."""
        try:
            return None if self._failed else self.odb._files.write_temp([stored])
        finally:
            self._slots.release()

    def _append(self, writer: PackWriter, oid: ObjectId, stored: Buffer) -> None:
        try:
            if not self._failed:
                writer.add(oid, stored)
        except BaseException as e:  # the pack must not be installed without it
            self._failed.append(e)
        finally:
            self._slots.release()

    def _finish(self, writer: PackWriter) -> str:
        self.raise_failure()
        return writer.finish()

    def _flush_loop(self) -> None:
        broken = False  # a failed group may hold children of every later one
        while (item := self._closed.get()) is not None:
            try:
                if isinstance(item, _PackGroup):
                    name = item.name.result()
                    if broken or self._failed:
                        item.writer.abort()
                    else:
                        self.odb._packs.install(item.writer, name)
                        self.odb._files.mark_dirty(self.odb.pack_dir)
                else:
                    temps = [(self.odb.path_of(oid), f.result()) for oid, f in item.objects]
                    if not broken and not self._failed:
                        self.odb._files.link_durably(
                            [(fin, t) for fin, t in temps if t is not None]
                        )
            except BaseException as e:  # handed to the caller, raised there
                self._failed.append(e)
                broken = True
                if isinstance(item, _PackGroup):
                    item.writer.abort()
            finally:
                self.odb._unmark_inflight(item.ids())

    def _tick_loop(self) -> None:
        while not self._stop.wait(min(INGEST_TICK, max(PACK_SECONDS, 0.01))):
            with self._state:
                if not self._failed:
                    self._close_due(time.monotonic())

    def _discard(self, held: list[_Group]) -> None:
        """Remove the temp files of groups a quarantined ingest never put in place (every
        writer has finished: the pools are shut down)."""
        for item in held:
            if isinstance(item, _PackGroup):
                with contextlib.suppress(Exception):
                    item.name.result()
                item.writer.abort()
            else:
                for _, future in item.objects:
                    try:
                        tmp = future.result()
                    except Exception:  # never written: nothing to remove
                        continue
                    if tmp is not None:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(tmp)
            self.odb._unmark_inflight(item.ids())
