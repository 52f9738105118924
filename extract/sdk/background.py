"""The SDK's background threads: one flushes buffers, one indexes the journals it writes.

``Flusher`` (one per process) hands a run's buffered points to its journal at most 2 s
after they were logged while the training loop is busy elsewhere; it never touches
SQLite, so no wait on another process's index transaction can stretch that bound.

``LiveIndexer`` (one per open ``Store``, started with its first run) reads the store's
own live journals into index.db while the runs log, in small transactions of its own
connection, so a run's curve points reach SQLite once, during the run, and
``finish()`` only catches up on the tail and marks the run sealed. It never holds a
lock the training loop takes; it shares only the GIL with it, which SQLite releases
while it inserts a batch of rows. Whatever it does not get to, ``finish()`` (or the
next reader's refresh) reads from the journal: the journal is the truth, and the
index remembers how far into it it has read. A failure here only leaves the index
behind; it never reaches the training loop.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from extract.index.build import Indexer
from extract.store.repo import Repository
from extract.tracking.fold import RunState
from extract.tracking.records import Record, Resume, Start
from extract.tracking.writer import Listener

#: Records as a writer wrote them: (records, offset they start at, offset they end at).
Batch = tuple[Sequence[Record], int, int]

#: How often the flusher looks at buffers (a fraction of the 2 s bound).
FLUSH_POLL = 0.25
#: How often the live indexer looks for journal records it has not indexed.
INGEST_POLL = 0.1
#: Journal bytes per background ingest transaction: about 12,000 steps of 3 metrics,
#: some tens of ms of SQLite work, so a finish() or another writer never waits long.
INGEST_PIECE = 512 * 1024
#: Journal bytes whose fold is kept for sealing (about 370k steps of 3 metrics, some
#: 15 MiB of arrays): a longer run drops it, so the training process's memory does not
#: grow with the run, and its finish() folds the whole journal instead.
FOLD_MAX_BYTES = 16 << 20
#: Records held for the background indexer, in writes (about 10 steps each): past
#: this it reads them back from the journal instead (memory stays bounded).
MAX_HELD = 4096


class Flushable(Protocol):
    def _flush_if_stale(self) -> None: ...


class Flusher:
    """One daemon thread per process that flushes runs whose buffers are older than 2 s."""

    def __init__(self) -> None:
        self.runs: weakref.WeakSet[Flushable] = weakref.WeakSet()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def after_fork(self) -> None:
        """In a forked child: the thread did not come along, and the lock may have been
        held by it at the fork; the child's own runs start a thread afresh."""
        self.lock = threading.Lock()
        self.thread = None

    def add(self, run: Flushable) -> None:
        with self.lock:
            self.runs.add(run)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._loop, name="extract-flusher", daemon=True
                )
                self.thread.start()

    def _loop(self) -> None:
        while True:
            time.sleep(FLUSH_POLL)
            for run in list(self.runs):
                try:
                    run._flush_if_stale()
                except Exception:  # one run's trouble must not stop the others' flushes
                    continue


class _Live:
    """One live journal this process writes: records written and not indexed yet, and
    the fold of those indexed (while they came only from the writer, in order), which
    sealing then need not read back from the journal."""

    def __init__(self, path: Path, start: Start, offset: int, resume: Resume | None) -> None:
        self.path = path
        self.run_id = path.name.split(".")[0]
        self.written: deque[Batch] = deque()
        self.overflow = False  # some records were not kept: read them from the journal
        self.folded: RunState | None = RunState(start=start, resume=resume)
        self.folded_end = offset  # the journal offset ``folded`` reaches

    def tell(self, recs: Sequence[Record], start: int, end: int) -> None:
        """The writer's listener (called in the training loop: keep it cheap)."""
        if len(self.written) < MAX_HELD:
            self.written.append((recs, start, end))
        else:
            self.overflow = True


class LiveIndexer:
    """Indexes one store's live journals written by this process, in the background."""

    def __init__(self, repo: Repository, index_path: Path) -> None:
        self._repo = repo
        self._index_path = index_path
        self._cond = threading.Condition()
        self._journals: dict[Path, _Live] = {}
        self._busy: Path | None = None  # the journal being indexed right now
        self._thread: threading.Thread | None = None
        self._closed = False
        _instances.add(self)

    def after_fork(self) -> None:
        """In a forked child: the thread did not come along (and may have held the
        condition's lock at the fork), and SQLite connections must not cross a fork. The
        child indexes nothing in the background; its runs' finish() and readers' refreshes
        read their journals instead."""
        self._cond = threading.Condition()
        self._journals = {}
        self._busy = None
        self._thread = None
        self._closed = True

    def add(
        self, journal: Path, start: Start, offset: int, resume: Resume | None = None
    ) -> Listener | None:
        """Index ``journal`` (whose ``start`` record, and ``resume`` record for a
        continuation, end at ``offset``) while its run goes on; returns what its writer
        tells of the records it writes."""
        with self._cond:
            if self._closed:
                return None
            live = self._journals[journal] = _Live(journal, start, offset, resume)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="extract-live-index", daemon=True
                )
                self._thread.start()
            return live.tell

    def forget(self, journal: Path) -> tuple[RunState, int] | None:
        """Stop indexing ``journal`` (its run is finishing: sealing indexes the rest),
        once no transaction of ours is reading it. Returns the fold of the records the
        index got from us, from the start record on, and the offset it reaches (None
        if some came otherwise): sealing folds only the journal after it."""
        with self._cond:
            live = self._journals.pop(journal, None)
            while self._busy == journal:
                self._cond.wait(1.0)
        if live is None or live.folded is None:
            return None
        return live.folded, live.folded_end

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._journals.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        indexer: Indexer | None = None
        try:
            while True:
                with self._cond:
                    if not self._closed:
                        self._cond.wait(INGEST_POLL)
                    if self._closed:
                        return
                    pending = list(self._journals.values())
                if not pending:
                    continue
                if indexer is None:
                    indexer = self._open()
                    if indexer is None:
                        return
                more = True
                while more:  # one piece of each journal in turn
                    more = any([self._index_one(indexer, live) for live in pending])
        finally:
            if indexer is not None:
                indexer.close()
            with self._cond:
                self._thread = None
                self._cond.notify_all()

    def _open(self) -> Indexer | None:
        try:
            return Indexer(self._repo, self._index_path)
        except Exception:  # no index to write (a full disk, say): readers catch up later
            with self._cond:
                self._journals.clear()
            return None

    def _index_one(self, indexer: Indexer, live: _Live) -> bool:
        """Index one piece of ``live``'s records; whether there is more."""
        with self._cond:
            if self._closed or self._journals.get(live.path) is not live:
                return False
            self._busy = live.path
        try:
            return self._piece(indexer, live)
        except Exception:
            # The journal is the truth and the index says how far it has read: a failure
            # leaves the index behind, and finish() or a reader's refresh catches up.
            with self._cond:
                self._journals.pop(live.path, None)
            return False
        finally:
            with self._cond:
                self._busy = None
                self._cond.notify_all()

    @staticmethod
    def _piece(indexer: Indexer, live: _Live) -> bool:
        batches: list[Batch] = []
        size = 0
        while live.written and size < INGEST_PIECE:
            batch = live.written.popleft()
            if batches and batch[1] != batches[-1][2]:
                live.overflow = True  # a gap: the records between were not kept
                break
            batches.append(batch)
            size += batch[2] - batch[1]
        if batches and not live.overflow:
            state = RunState()
            for recs, _, _ in batches:
                state.apply_all(recs)
            start, end = batches[0][1], batches[-1][2]
            if indexer.ingest_folded(live.run_id, state, start, end):
                if live.folded is not None and start == live.folded_end and end <= FOLD_MAX_BYTES:
                    live.folded.extend(state)
                    live.folded_end = end
                else:
                    live.folded = None
                return bool(live.written)
        # the records given do not follow on from what the index holds (too many were
        # held, or a reader indexed some): read the journal itself from where it stopped
        live.written.clear()
        live.overflow = False
        if batches:
            live.folded = None
        return indexer.ingest_journal(live.path, INGEST_PIECE)


_instances: weakref.WeakSet[LiveIndexer] = weakref.WeakSet()


def _after_fork() -> None:
    for live in list(_instances):
        live.after_fork()


os.register_at_fork(after_in_child=_after_fork)
