"""Append-only record files: the journal of a live run, read back after a crash.

A record is framed as ``u32 length | u32 crc32 | payload`` (little-endian), the
payload one canonical msgpack value. A reader stops at the first frame that is
short or fails its checksum: that is a torn tail from a crash, and everything
before it is intact.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from extract.errors import DecodeError
from extract.objects import Value, decode, encode
from extract.store.fsutil import write_all

_FRAME = struct.Struct("<II")
MAX_RECORD = 64 * 1024 * 1024


def frame(value: Value) -> bytes:
    payload = encode(value)
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def append(path: Path, values: Iterable[Value], durable: bool = True) -> None:
    """Append records in one write; fsync unless the caller batches durability itself."""
    data = b"".join(frame(v) for v in values)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        write_all(fd, [data])
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class JournalRead:
    records: list[Value]
    valid_bytes: int  # length of the intact prefix
    torn: bool  # bytes after the intact prefix (a crash mid-append)


def read(path: Path) -> JournalRead:
    data = path.read_bytes()
    records: list[Value] = []
    pos = 0
    while pos + _FRAME.size <= len(data):
        n, crc = _FRAME.unpack_from(data, pos)
        end = pos + _FRAME.size + n
        if n > MAX_RECORD or end > len(data):
            break
        payload = data[pos + _FRAME.size : end]
        if zlib.crc32(payload) != crc:
            break
        try:
            records.append(decode(payload))
        except DecodeError:
            break
        pos = end
    return JournalRead(records, pos, pos != len(data))
