"""Append-only record files: the journal of a live run, read back after a crash.

A record is framed as ``u32 length | u32 crc32 | payload`` (little-endian); the
payload is one msgpack value in which links use the object codec's ext type.
Journals are private to one store and never hashed, so their payloads need not
be canonical: they are written by the C packer at full speed. A reader stops at
the first frame that is short or fails its checksum: that is a torn tail (a
crash mid-write, or power loss), and everything before it is intact.

A live run's writer holds an exclusive ``flock`` on its journal for as long as
it runs. The kernel drops the lock when the process dies, however it dies, so
"can I take the lock?" tells a crashed run's journal from a live one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from extract.errors import DecodeError
from extract.objects import Link, ObjectId, Value
from extract.objects.codec import LINK_EXT
from extract.store.fsutil import write_all

_FRAME = struct.Struct("<II")
MAX_RECORD = 64 * 1024 * 1024


def _default(obj: Any) -> Any:
    if type(obj) is Link:
        return msgpack.ExtType(LINK_EXT, obj.id)
    raise TypeError(f"cannot journal {type(obj).__name__}")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == LINK_EXT and len(data) == 32:
        return Link(ObjectId(data))
    raise DecodeError(f"journal record holds unknown ext type {code}")


_packer = msgpack.Packer(use_bin_type=True, default=_default, datetime=False)


def frame(value: Value) -> bytes:
    payload: bytes = _packer.pack(value)
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def frames(values: Iterable[Value]) -> bytes:
    return b"".join(frame(v) for v in values)


def append(path: Path, values: Iterable[Value], durable: bool = True) -> None:
    """Append records to a journal this process does not hold open (tests, tools)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        write_all(fd, [frames(values)])
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


class JournalWriter:
    """The open, locked journal of one live run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def write(self, data: bytes, durable: bool = False) -> None:
        """Hand ``data`` to the kernel (it then survives SIGKILL); fsync when ``durable``."""
        write_all(self.fd, [data])
        if durable:
            os.fsync(self.fd)

    def sync(self) -> None:
        os.fsync(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = -1


def is_orphan(path: Path) -> bool:
    """True when no live process holds the journal's lock (its writer is gone)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


@contextlib.contextmanager
def claimed(path: Path) -> Any:
    """Hold a journal's lock while recovering it, so two recoverers never seal it twice."""
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


@dataclass
class JournalRead:
    records: list[Value]
    valid_bytes: int  # offset just past the last intact record
    torn: bool  # bytes after the intact prefix (a crash mid-append)


def read(path: Path, offset: int = 0) -> JournalRead:
    """Intact records from ``offset`` on. A frame still being written reads as a torn tail."""
    records: list[Value] = []
    end, torn = scan(path, offset, records.append)
    return JournalRead(records, end, torn)


_READ_BLOCK = 4 * 1024 * 1024


def scan(
    path: Path, offset: int, visit: Callable[[Value], None], limit: int | None = None
) -> tuple[int, bool]:
    """Call ``visit`` on each intact record from ``offset`` on, reading the file in blocks so
    a long run's journal is never held in memory whole. Returns (end offset, torn tail?).

    ``limit``: stop at the first record boundary at least that many bytes past ``offset``
    (a reader that takes a long journal in bounded pieces); the tail is then not torn."""
    consumed = 0  # bytes of the file after ``offset`` already visited
    block = _READ_BLOCK if limit is None else max(_FRAME.size, min(_READ_BLOCK, limit))
    with open(path, "rb") as f:
        f.seek(offset)
        buf = f.read(block)
        p = 0
        eof = len(buf) < block
        while limit is None or consumed < limit:
            if len(buf) - p >= _FRAME.size and _FRAME.unpack_from(buf, p)[0] > MAX_RECORD:
                break  # garbage length: a torn tail, not a reason to read the rest of the file
            if (
                len(buf) - p < _FRAME.size
                or len(buf) - p < _FRAME.size + _FRAME.unpack_from(buf, p)[0]
            ):
                if eof:
                    break
                have = len(buf) - p
                need = _FRAME.size + _FRAME.unpack_from(buf, p)[0] if have >= _FRAME.size else 0
                more = f.read(max(block, need - have))  # a whole frame, even one over a block
                eof = len(more) < max(block, need - have)
                buf = buf[p:] + more  # compact: copies at most one block plus the partial frame
                p = 0
                if not more:
                    eof = True
                continue
            n, crc = _FRAME.unpack_from(buf, p)
            if n > MAX_RECORD:
                break
            end = p + _FRAME.size + n
            payload = buf[p + _FRAME.size : end]
            if zlib.crc32(payload) != crc:
                break
            try:
                value = msgpack.unpackb(
                    payload, raw=False, ext_hook=_ext_hook, strict_map_key=False
                )
            except (ValueError, TypeError, msgpack.UnpackException):
                break
            visit(value)
            consumed += end - p
            p = end
        stopped = limit is not None and consumed >= limit
        torn = not stopped and (len(buf) > p or bool(f.read(1)))
    return offset + consumed, torn
