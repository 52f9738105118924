"""Run: what a training script logs into.

Points are buffered in memory and handed to the run's journal (one append-only
file per live run) when 10 curve steps or 100 headline values have gathered,
or 2 seconds after the oldest unflushed one, whichever comes first; a
background thread enforces the 2 seconds while the training loop is busy
elsewhere. Once handed to the kernel a record survives SIGKILL of the process;
the journal is fsynced at start, at every artifact or model, at finish, and at
most 2 seconds after any other write, which bounds what a power cut can take.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, SupportsFloat

from extract.index.access import open_index
from extract.objects import new_ulid
from extract.sdk import ending
from extract.sdk.attach import Attachments, check_step
from extract.sdk.background import Flusher
from extract.sdk.resume import check_resume_arg, open_continuation, resume_point
from extract.sdk.values import INT64_MAX, INT64_MIN, int64, number, plain, text, to_float
from extract.store.fsutil import fsync_dir
from extract.store.history import commit_staged, now_iso
from extract.store.journal import JournalWriter
from extract.store.writable import require_writable
from extract.tracking.records import (
    Config,
    End,
    Logged,
    Note,
    Record,
    Resume,
    Start,
    frame,
    points,
)
from extract.tracking.seal import seal_journal
from extract.tracking.writer import RecordWriter

if TYPE_CHECKING:
    from extract.sdk.store import Experiment, Store

CURVE_FLUSH_STEPS = 10
LOG_FLUSH_ENTRIES = 100
FLUSH_SECONDS = 2.0
STATUSES = ("completed", "failed")


_flusher = Flusher()
os.register_at_fork(after_in_child=_flusher.after_fork)


class Run(Attachments):
    """One execution of a training script; use as a context manager or call finish()."""

    def __init__(
        self,
        store: Store,
        experiment: Experiment,
        config: dict[str, Any] | None,
        name: str | None,
        total_steps: int | None,
        resume: str | None = None,
    ) -> None:
        # Everything the start record holds is checked before any file is made: a refused
        # run leaves nothing behind (no journal, no temp file, no index row).
        check_resume_arg(resume)
        if config is not None and not isinstance(config, dict):
            raise TypeError(f"config must be a dict or None, got {type(config).__name__}")
        if name is not None:
            if not isinstance(name, str):
                raise TypeError(f"name must be a string or None, got {type(name).__name__}")
            name = text(name, "run(): name")
        if total_steps is not None and (
            isinstance(total_steps, bool)
            or not isinstance(total_steps, numbers.Integral)
            or total_steps < 1
        ):
            raise ValueError(f"total_steps must be a positive integer or None, got {total_steps!r}")
        if total_steps is not None:
            total_steps = int64(int(total_steps), "run(): total_steps")
        plain_config = plain(config, "run(): config") if config is not None else None
        store._check_open()
        require_writable(store._repo.root, "starting a run")
        # a continuation (sdk/resume.py) goes on under the run's id, name, time origin
        # and step count; checked before anything is written
        point = None if resume is None else resume_point(store, experiment, resume, name)
        self._store = store
        self._repo = store._repo
        self.experiment = experiment
        self.id = new_ulid() if point is None else point.run_id
        self.name = name if point is None else point.name
        self._t0 = time.time() if point is None else point.t0
        self._lock = threading.Lock()
        self._curve_buf: list[tuple[int, float, dict[str, Any]]] = []
        self._log_buf: list[tuple[str, Any, float]] = []
        self._oldest = 0.0  # time.time() of the oldest unflushed point, 0 when empty
        self._last_sync = time.time()
        self._unsynced = False
        self._finished = False
        self._ended_by: str | None = None  # why the run was ended for the process, if it was
        self._ending_asked: str | None = None  # a signal asked it to end (sdk/ending.py)
        self._warned_ended = False
        # curve() without a step logs at the step after this one
        self._last_step = -1 if point is None else point.last_step
        self._next_system_step = 0 if point is None else point.next_system_step
        self._before_finish: list[Callable[[], None]] = []  # e.g. console capture (sdk/console.py)
        resumed: Resume | None = None
        with self._repo.writing():  # the code diff is unnamed until the start record is durable
            if point is None:
                start = self._start_journal(store, experiment, plain_config, name, total_steps)
            else:
                start, resumed = self._continue_journal(store, experiment, total_steps)
        if resumed is None:
            store._indexer.run_started(start, self._out.offset)
        else:
            store._indexer.run_resumed(start, self._out.offset)
        _flusher.add(self)
        ending.started(self)  # finished at exit or on SIGTERM if the script does not
        # with [store] index_while_logging, the background indexer is told of every record
        # written and indexes it while the run goes on: most of the run's points are in
        # the index before finish()
        if store._live is not None:
            self._out.listener = store._live.add(
                self.journal_path, start, self._out.offset, resumed
            )
        if resumed is not None and plain_config:
            self._record(Config(plain_config))  # config= of a continuation: keys it sets

    def _continue_journal(
        self, store: Store, experiment: Experiment, total_steps: int | None
    ) -> tuple[Start, Resume]:
        """The journal of a continuation of sealed run ``self.id`` (sdk/resume.py)."""
        start = Start(
            id=self.id,
            experiment=experiment.path,
            name=self.name,
            config=None,
            total_steps=int(total_steps) if total_steps is not None else None,
            started_at=now_iso(),
            host=socket.gethostname(),
            code=store._capture_code(),
        )
        self._journal, resumed, offset = open_continuation(self._repo.journal_dir, start)
        self.journal_path = self._journal.path
        self._out = RecordWriter(self._journal, offset)
        return start, resumed

    def _start_journal(
        self,
        store: Store,
        experiment: Experiment,
        plain_config: Any,
        name: str | None,
        total_steps: int | None,
    ) -> Start:
        """Create the journal with its start record (already checked values only)."""
        start = Start(
            id=self.id,
            experiment=experiment.path,
            name=name,
            config=plain_config,
            total_steps=int(total_steps) if total_steps is not None else None,
            started_at=now_iso(),
            host=socket.gethostname(),
            code=store._capture_code(),
        )
        # Written under a temporary name, locked, then renamed: a recoverer never sees
        # a journal without its start record or without its owner's lock.
        first = frame(start)  # encoded before the file exists
        tmp = self._repo.journal_dir / f".{self.id}.tmp"
        self._journal = JournalWriter(tmp)
        self.journal_path = self._repo.journal_dir / f"{self.id}.journal"
        try:
            self._journal.write(first, durable=True)
            os.rename(tmp, self.journal_path)
        except BaseException:  # a full disk, say: no half journal is left behind
            self._journal.close()
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(self._repo.journal_dir)  # the journal's name is durable before the index row
        self._journal.path = self.journal_path
        self._out = RecordWriter(self._journal, len(first))
        return start

    # lifecycle ---------------------------------------------------------------
    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish("failed" if exc_type is not None else "completed")

    def __repr__(self) -> str:
        state = "finished" if self._finished else "running"
        return f"<Run {self.id} {self.experiment.path}#{self.name or ''} {state}>"

    def _check_open(self, what: str) -> bool:
        """False while the run is open. After finish(), an error; after the run was ended
        for the process (SIGTERM, interpreter exit: sdk/ending.py), True: the call is
        dropped quietly, so a framework's own shutdown code goes on."""
        if not self._finished:
            return False
        if self._ended_by is None:
            raise RuntimeError(f"run {self.id} is finished: {what}() is not allowed after finish()")
        if not self._warned_ended:
            self._warned_ended = True
            warnings.warn(
                f"extract: run {self.id} was ended ({self._ended_by}); {what}() and later "
                "logging to it are dropped",
                RuntimeWarning,
                stacklevel=3,
            )
        return True

    def _end(self, status: str, reason: str, wait: bool) -> bool:
        """End the run for the process (sdk/ending.py); False, doing nothing, when ``wait``
        is False and the run's lock is held (this thread may be inside the run's own
        code, which must not be re-entered).

        At exit the run is finished as finish() does. For a signal, what is buffered, a
        note saying why and the end record go to the journal (durable), and sealing is
        left to the next writing command or Store(): milliseconds, where sealing a long
        run could outlast the scheduler's grace period. Nothing is lost either way."""
        if not self._lock.acquire(blocking=wait):
            return False
        if self._finished:
            self._lock.release()
            return True
        self._ended_by = reason or "the interpreter exited"
        if not reason:  # interpreter exit: seal as usual
            self._lock.release()
            self.finish(status)
            return True
        try:
            self._finished = True
            self._flush_locked()
            note = Note(f"extract: {reason}; the run was ended as {status}")
            self._out.write([note, End(status, now_iso())], durable=True)
            self._journal.close()  # the lock goes: readers see the run is no longer live
        finally:
            self._lock.release()
            ending.ended(self)
        return True

    def _end_if_asked(self) -> None:
        """A signal asked this run to end while its lock was held: end it now."""
        if self._ending_asked is not None and not self._finished:
            self._end("failed", self._ending_asked, True)
        ending.done(self)

    def finish(self, status: str = "completed") -> None:
        """Flush, seal the run into objects, index it. Safe to call more than once."""
        if self._finished:
            return
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        hooks, self._before_finish = self._before_finish, []
        for hook in hooks:  # while the run still takes records
            with contextlib.suppress(Exception):  # a helper's trouble must not keep it live
                hook()
        with self._lock:
            if self._finished:
                return  # finished by another thread meanwhile
            self._finished = True
            self._flush_locked()
            self._out.write([End(status, now_iso())], durable=True)
        closed, live = self._store._closed, self._store._live
        # sealing indexes whatever the index has not read (a background indexer or a
        # reader's refresh), and folds only the journal after what was folded already
        folded = None if closed or live is None else live.forget(self.journal_path)
        try:
            if closed:  # finishing after store.close(): seal with a connection of our own
                with open_index(self._repo, refresh=False) as index:
                    seal_journal(index.writer(), self.journal_path)
            else:
                seal_journal(self._store._indexer, self.journal_path, folded)
        finally:
            self._journal.close()
            ending.ended(self)
        if self._store._auto_commit():
            commit_staged(
                self._repo, f"run {self.id} ({self.name or self.experiment.path}) {status}"
            )

    # buffered values ---------------------------------------------------------------
    def log(self, **kwargs: float | int | str) -> None:
        """Headline values: numbers become metrics (latest wins), strings become params."""
        if self._check_open("log"):
            return
        if "step" in kwargs:
            raise TypeError(
                "log() takes no step: headline metrics hold one value per run. "
                "Use run.curve(step, name=value) for per-step values"
            )
        now = time.time()
        wall = now - self._t0
        entries = []
        for k, v in kwargs.items():
            if not k.isascii():
                text(k, "log(): a name")
            value = text(v, f"log(): {k}") if isinstance(v, str) else number("log()", k, v, True)
            entries.append((k, value, wall))
        with self._lock:
            if self._finished:  # ended for the process (a signal) while we waited
                return
            if not self._oldest:
                self._oldest = now
            self._log_buf.extend(entries)
            if len(self._log_buf) >= LOG_FLUSH_ENTRIES or now - self._oldest >= FLUSH_SECONDS:
                self._flush_locked()

    def curve(self, step: int | None = None, **metrics: SupportsFloat) -> None:
        """Per-step values for the live chart; numbers only (NaN and Inf are kept).

        Without a step, the values go to the step after the last one logged (0 first).
        Values may be numpy, torch or jax scalars (0-d tensors): no ``.item()`` needed."""
        if self._finished and self._check_open("curve"):
            return
        if step is None:
            step = self._last_step + 1
        elif type(step) is not int or not INT64_MIN <= step <= INT64_MAX:
            step = check_step(step)
        self._last_step = step
        for k, v in metrics.items():
            if not k.isascii():
                text(k, "curve(): a metric name")
            t = type(v)
            if t is not float:
                # ints become floats here: curves are float64, and a huge int must not
                # reach the journal encoder, where it would poison the whole buffer
                metrics[k] = to_float(
                    v if t is int else number("curve()", k, v, allow_bool=False),  # type: ignore[arg-type]  # (t is int)
                    f"curve(): {k}",
                )
        if not metrics:
            raise TypeError("curve() needs at least one metric, e.g. run.curve(step, loss=0.3)")
        now = time.time()
        with self._lock:
            if self._finished:  # ended for the process (a signal) while we waited
                return
            buf = self._curve_buf
            if not buf and not self._oldest:
                self._oldest = now
            buf.append((step, now - self._t0, metrics))
            if len(buf) >= CURVE_FLUSH_STEPS or now - self._oldest >= FLUSH_SECONDS:
                self._flush_locked()
        if self._ending_asked is not None:
            self._end_if_asked()

    def _sampled(self, step: int, metrics: dict[str, float]) -> bool:
        """Points from the system sampler (sdk/system.py), buffered as curve()'s are but
        leaving alone the step curve() counts from; False once the run is finished."""
        now = time.time()
        with self._lock:
            if self._finished:
                return False
            if not self._curve_buf and not self._oldest:
                self._oldest = now
            self._curve_buf.append((step, now - self._t0, metrics))
            if len(self._curve_buf) >= CURVE_FLUSH_STEPS or now - self._oldest >= FLUSH_SECONDS:
                self._flush_locked()
        return True

    def _flush_locked(self) -> None:
        recs: list[Record] = []
        if self._curve_buf:
            recs.append(points(self._curve_buf))
            self._curve_buf = []
        if self._log_buf:
            recs.append(Logged(tuple(self._log_buf)))
            self._log_buf = []
        self._oldest = 0.0
        if recs:
            now = time.time()
            durable = now - self._last_sync >= FLUSH_SECONDS
            self._out.write(recs, durable=durable)
            self._unsynced = not durable
            if durable:
                self._last_sync = now

    def _flush_if_stale(self) -> None:
        """Called by the flusher thread: flush old buffers, fsync writes left unsynced."""
        now = time.time()
        stale = bool(self._oldest) and now - self._oldest >= FLUSH_SECONDS
        unsynced = self._unsynced and now - self._last_sync >= FLUSH_SECONDS
        if self._finished or not (stale or unsynced):
            return
        with self._lock:
            if self._finished:
                return
            if stale:
                self._flush_locked()
            if self._unsynced:
                self._journal.sync()
                self._unsynced = False
                self._last_sync = time.time()

    def flush(self) -> None:
        """Hand every buffered point to the journal now."""
        with self._lock:
            if not self._finished:
                self._flush_locked()

    def _record(self, rec: Record) -> None:
        """An unbuffered, durable record (artifacts, models, tags...)."""
        with self._lock:
            if self._finished and self._check_open(type(rec).__name__.lower()):
                return  # ended for the process (a signal) while we waited: dropped
            self._flush_locked()
            self._out.write([rec], durable=True)
            self._last_sync = time.time()
