"""The one way extract writes a file that must survive a crash."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

_O_BINARY = getattr(os, "O_BINARY", 0)


def fsync_path(path: Path | str, flags: int = 0) -> None:
    """fsync a file by name (one written earlier and already closed)."""
    fd = os.open(path, os.O_RDONLY | flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable."""
    fsync_path(path, getattr(os, "O_DIRECTORY", 0))


def makedirs_durable(path: Path) -> None:
    """mkdir -p, fsyncing each parent whose entry we add, so a power cut cannot drop them."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue
        fsync_dir(d.parent)


def write_all(fd: int, parts: Iterable[bytes | memoryview]) -> None:
    """Write every part; writev where a short write is rare, looping on the rest."""
    for part in parts:
        view = memoryview(part)
        while view.nbytes:
            n = os.write(fd, view)
            view = view[n:]


@contextlib.contextmanager
def temp_file(directory: Path, prefix: str = "tmp-") -> Iterator[tuple[int, Path]]:
    """An exclusive new file in ``directory``; removed unless the caller renamed it."""
    name = f"{prefix}{os.getpid()}-{os.urandom(6).hex()}"
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o444)
    try:
        yield fd, path
    finally:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def atomic_write(
    path: Path,
    parts: Iterable[bytes | memoryview],
    *,
    sync_dir: bool = True,
    mode: int = 0o644,
) -> None:
    """Write a file whole or not at all: temp file, fsync, rename, directory fsync.

    Replaces ``path`` if it exists: for config and state files, never for objects.
    """
    with temp_file(path.parent, prefix=f".{path.name}.tmp-") as (fd, tmp):
        write_all(fd, parts)
        os.fchmod(fd, mode)
        os.fsync(fd)
        os.replace(tmp, path)
    if sync_dir:
        fsync_dir(path.parent)
