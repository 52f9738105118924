"""The store's writer lock: every write transaction holds it shared, gc's sweep exclusive.

An object is safe from gc once a root names it: a ref, a reflog line, a staged entry or
a live journal record. Between writing an object and writing the root that names it, a
writer holds this lock *shared*; gc marks what is reachable without the lock, then takes
it *exclusive*, marks again from the roots as they are now, and only then deletes. While
gc holds it, no write transaction is half done, so everything unreachable is garbage,
whatever the grace period (objects_spec/store.md, "Collecting garbage").

Two ``flock`` files under the store root:

- ``gc.lock``: writers hold it ``LOCK_SH`` for a transaction; gc ``LOCK_EX`` to sweep.
- ``gc.turnstile``: writers pass through it (``LOCK_SH``, released at once) before they
  take ``gc.lock``; gc holds it ``LOCK_EX`` while it waits, so a stream of short writers
  cannot starve gc. gc holds the turnstile for at most ``TURNSTILE_SECONDS`` at a time,
  then lets writers through and tries again, so a long transfer holding ``gc.lock``
  never stalls training processes for long.

The lock is re-entrant per process and store: a transaction inside a transaction (a
seal that auto-commits) or on another thread of the same process does not touch the
files again. ``flock`` locks die with their process, so a killed writer never leaves
the store locked. A forked child does not inherit its parent's hold.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from extract.errors import LockHeld

LOCK_FILE = "gc.lock"
TURNSTILE_FILE = "gc.turnstile"
#: The longest gc blocks new writers while it waits for running ones to finish.
TURNSTILE_SECONDS = 2.0
#: Set (to anything but "" or "0") to make an object written outside a transaction an
#: error instead of a silent race with gc: the test suite runs with it.
STRICT_ENV = "EXTRACT_STRICT_WRITES"


@dataclass
class _Hold:
    """This process's hold on one store's lock."""

    fd: int = -1
    shared: int = 0  # nesting depth of shared holds, all threads together
    exclusive: bool = False
    mutex: threading.Lock = field(default_factory=threading.Lock)


_holds: dict[tuple[int, int], _Hold] = {}
_holds_mutex = threading.Lock()


def _forget_after_fork() -> None:
    # The child shares the parent's open file descriptions: unlocking them would unlock
    # the parent. It starts with no holds and opens its own descriptors when it writes.
    global _holds_mutex
    _holds.clear()
    _holds_mutex = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def strict() -> bool:
    return os.environ.get(STRICT_ENV, "") not in ("", "0")


class WriteLock:
    """The writer lock of the store at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / LOCK_FILE
        self.turnstile = root / TURNSTILE_FILE
        self._key: tuple[int, int] | None = None

    def _hold(self) -> _Hold:
        if self._key is None:
            st = os.stat(self.root)
            self._key = (st.st_dev, st.st_ino)
        with _holds_mutex:
            return _holds.setdefault(self._key, _Hold())

    def held(self) -> bool:
        """Whether this process is inside a write transaction (or gc's sweep) on this store."""
        h = self._hold()
        return h.shared > 0 or h.exclusive

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """One write transaction: objects written inside stay until a root names them."""
        h = self._hold()
        with h.mutex:
            if h.shared == 0 and not h.exclusive:
                fd = _open(self.path)
                try:
                    with _flocked(self.turnstile, fcntl.LOCK_SH):
                        fcntl.flock(fd, fcntl.LOCK_SH)
                except BaseException:
                    os.close(fd)
                    raise
                h.fd = fd
            h.shared += 1
        try:
            yield
        finally:
            with h.mutex:
                h.shared -= 1
                if h.shared == 0 and not h.exclusive:
                    _release(h)

    @contextlib.contextmanager
    def exclusive(self, wait: float) -> Iterator[None]:
        """No write transaction is running while this is held (gc's sweep). LockHeld when
        running transactions did not all finish within ``wait`` seconds."""
        h = self._hold()
        with h.mutex:
            if h.shared:
                raise LockHeld(
                    f"gc cannot run inside a write transaction on {self.root} (this process holds "
                    "the writer lock)"
                )
            fd = _open(self.path)
            try:
                _take_exclusive(fd, self.turnstile, wait, self.root)
            except BaseException:
                os.close(fd)
                raise
            h.fd, h.exclusive = fd, True
        try:
            yield
        finally:
            with h.mutex:
                h.exclusive = False
                _release(h)


def _open(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def _release(h: _Hold) -> None:
    fd, h.fd = h.fd, -1
    if fd >= 0:
        os.close(fd)  # closing the last descriptor of a description drops its flock


@contextlib.contextmanager
def _flocked(path: Path, how: int) -> Iterator[int]:
    fd = _open(path)
    try:
        fcntl.flock(fd, how)
        yield fd
    finally:
        os.close(fd)


def _take_exclusive(fd: int, turnstile: Path, wait: float, root: Path) -> None:
    deadline = time.monotonic() + wait
    while True:
        with _flocked(turnstile, fcntl.LOCK_EX):
            # New writers now wait at the turnstile; the running ones finish.
            until = min(deadline, time.monotonic() + TURNSTILE_SECONDS)
            delay = 0.001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    pass
                if time.monotonic() >= until:
                    break
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        if time.monotonic() >= deadline:
            raise LockHeld(
                f"gc waited {wait:.0f} s for write transactions on {root} to finish (a long "
                "fetch, push or import holds the store); nothing was deleted. Try again "
                "when it is done, or give a longer --wait"
            )
        time.sleep(0.05)  # let the writers that queued at the turnstile through
