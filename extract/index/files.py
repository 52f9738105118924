"""index.db as files: swapping in a rebuilt index and moving a damaged one aside.

An index in WAL mode is three files, and SQLite pairs ``index.db-wal`` with whatever
``index.db`` it finds: a log left behind by one database would be replayed into the
next. So the log and shared-memory files always go first, the database file last,
and all of it under one lock (an flock on ``index.db.lock``), so that of several
processes that find the same damage, one moves the file and the others see that it
was already replaced (its inode changed) and leave the new one alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from extract.store.fsutil import fsync_dir

SIDE_FILES = ("-wal", "-shm")
CORRUPT_INFIX = ".corrupt-"


def inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def _with_suffix(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


@contextlib.contextmanager
def index_lock(path: Path) -> Iterator[None]:
    """Exclusive among the processes that replace ``path`` (the kernel drops the lock of
    a process that dies holding it)."""
    fd = os.open(_with_suffix(path, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def install(path: Path, new: Path) -> None:
    """Put the finished database ``new`` (no -wal of its own) in place of ``path``; the old
    files go (the index is a cache: nothing in them is lost)."""
    with index_lock(path):
        for suffix in SIDE_FILES:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(_with_suffix(path, suffix))
        os.replace(new, path)
        fsync_dir(path.parent)


def move_aside(path: Path, seen_inode: int | None) -> Path | None:
    """Move a damaged ``path`` (and its -wal, -shm) to ``<name>.corrupt-<UTC time>``, kept
    for inspection. Only if it is still the file found damaged (``seen_inode``): another
    process may already have moved it and built a new one. Returns where it went."""
    with index_lock(path):
        now = inode(path)
        if now is None or (seen_inode is not None and now != seen_inode):
            return None
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = _with_suffix(path, f"{CORRUPT_INFIX}{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = _with_suffix(path, f"{CORRUPT_INFIX}{stamp}-{n}")
        for suffix in SIDE_FILES:
            with contextlib.suppress(FileNotFoundError):
                os.replace(_with_suffix(path, suffix), _with_suffix(aside, suffix))
        os.replace(path, aside)
        fsync_dir(path.parent)
        return aside


def remove(path: Path) -> None:
    """Delete a database that was never installed (a rebuild that failed halfway)."""
    for suffix in ("", *SIDE_FILES):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(_with_suffix(path, suffix))


def kept_aside(path: Path) -> list[Path]:
    """Damaged index files moved aside earlier, oldest first."""
    prefix = path.name + CORRUPT_INFIX
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    return sorted(
        path.parent / n for n in names if n.startswith(prefix) and not n.endswith(SIDE_FILES)
    )
