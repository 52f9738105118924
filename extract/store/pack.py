"""Pack files: many objects in one file, so a large fetch creates one file and pays one
fsync per pack instead of one of each per object (objects_spec/store.md#packs).

``objects/pack/<name>.pack``::

    header   58 50 01 00               "XP", pack format 1, reserved
    body     each object's stored bytes (exactly a loose object file's content)
    index    n entries sorted by id: id (32) | offset (u64 BE) | length (u64 BE)
    trailer  n (u64 BE) | index offset (u64 BE) | BLAKE3-256 of header + index (32)

``<name>`` is the hex of that hash. The body is not hashed as a whole: every object in
it is verified against its own id when it is read, as a loose object is.
"""

from __future__ import annotations

import contextlib
import os
import struct
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import blake3

from extract.errors import CorruptPack
from extract.objects import ObjectId
from extract.store.fsutil import fsync_dir, write_all

PACK_MAGIC = b"XP"
PACK_FORMAT = 1
PACK_HEADER = PACK_MAGIC + bytes([PACK_FORMAT, 0])
PACK_SUFFIX = ".pack"
ENTRY = struct.Struct(">32sQQ")
TRAILER = struct.Struct(">QQ32s")
ID_SIZE = 32


@dataclass(frozen=True)
class Pack:
    """A pack's index, loaded: where each of its objects lies in the file."""

    path: Path
    name: str
    ids: bytes  # n sorted ids, 32 bytes each
    offsets: array[int]
    lengths: array[int]
    fanout: tuple[int, ...]  # fanout[b]: index of the first id whose first byte is >= b
    mtime: float

    def __len__(self) -> int:
        return len(self.offsets)

    def find(self, oid: ObjectId) -> tuple[int, int] | None:
        """(offset, length) of ``oid`` in the file, or None."""
        lo, hi = self.fanout[oid[0]], self.fanout[oid[0] + 1]
        ids = self.ids
        while lo < hi:
            mid = (lo + hi) >> 1
            key = ids[mid * ID_SIZE : mid * ID_SIZE + ID_SIZE]
            if key < oid:
                lo = mid + 1
            elif key > oid:
                hi = mid
            else:
                return self.offsets[mid], self.lengths[mid]
        return None

    def entries(self) -> Iterator[tuple[ObjectId, int, int]]:
        for i in range(len(self.offsets)):
            oid = ObjectId(self.ids[i * ID_SIZE : (i + 1) * ID_SIZE])
            yield oid, self.offsets[i], self.lengths[i]


def read_pack(path: Path) -> Pack:
    """Load and check a pack's index (not its objects). CorruptPack names what is wrong."""
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        size = st.st_size
        if size < len(PACK_HEADER) + TRAILER.size:
            raise CorruptPack(path, f"{size} bytes is too short for a pack")
        header = f.read(len(PACK_HEADER))
        if header[:2] != PACK_MAGIC:
            raise CorruptPack(path, "not a pack file (bad magic)")
        if header[2] != PACK_FORMAT:
            raise CorruptPack(path, f"unknown pack format {header[2]}")
        f.seek(size - TRAILER.size)
        n, index_at, digest = TRAILER.unpack(f.read(TRAILER.size))
        if index_at < len(PACK_HEADER) or index_at + n * ENTRY.size + TRAILER.size != size:
            raise CorruptPack(path, "truncated or padded (the trailer does not fit the file)")
        f.seek(index_at)
        index = f.read(n * ENTRY.size)
    if blake3.blake3(header + index).digest() != digest:
        raise CorruptPack(path, "the index does not match its checksum")
    if path.name != digest.hex() + PACK_SUFFIX:
        raise CorruptPack(path, f"named for another index (its checksum is {digest.hex()})")
    ids = bytearray()
    offsets: array[int] = array("Q")
    lengths: array[int] = array("Q")
    previous = b""
    for oid, offset, length in ENTRY.iter_unpack(index):
        if oid <= previous:
            raise CorruptPack(path, "index entries are not sorted by id")
        if offset < len(PACK_HEADER) or offset + length > index_at:
            raise CorruptPack(path, f"entry {oid.hex()} points outside the pack body")
        ids += oid
        offsets.append(offset)
        lengths.append(length)
        previous = oid
    return Pack(path, digest.hex(), bytes(ids), offsets, lengths, _fanout(bytes(ids)), st.st_mtime)


def _fanout(ids: bytes) -> tuple[int, ...]:
    counts = [0] * 257
    for i in range(0, len(ids), ID_SIZE):
        counts[ids[i] + 1] += 1
    for b in range(256):
        counts[b + 1] += counts[b]
    return tuple(counts)


class PackWriter:
    """Appends stored objects to a new temp file; ``finish`` adds the index and trailer and
    ``install`` makes it durable under its real name. Nothing is visible before that."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        self.size = len(PACK_HEADER)
        self.entries: dict[ObjectId, tuple[int, int]] = {}
        try:
            write_all(self.fd, [PACK_HEADER])
        except BaseException:
            self.abort()
            raise

    def add(self, oid: ObjectId, stored: bytes | memoryview) -> None:
        if oid in self.entries:
            return
        n = memoryview(stored).nbytes
        write_all(self.fd, [stored])
        self.entries[oid] = (self.size, n)
        self.size += n

    def finish(self) -> str:
        """Write the index and trailer and close the file; returns the pack's name."""
        index = b"".join(ENTRY.pack(oid, *self.entries[oid]) for oid in sorted(self.entries))
        digest = blake3.blake3(PACK_HEADER + index).digest()
        write_all(self.fd, [index, TRAILER.pack(len(self.entries), self.size, digest)])
        os.close(self.fd)
        self.fd = -1
        return digest.hex()

    def install(self, name: str, pack_dir: Path) -> Path:
        """fsync the finished file and rename it into ``pack_dir`` (the caller fsyncs that
        directory before anything points at the objects)."""
        fd = os.open(self.tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if not pack_dir.is_dir():
            pack_dir.mkdir(parents=True, exist_ok=True)
            fsync_dir(pack_dir.parent)
        final = pack_dir / (name + PACK_SUFFIX)
        os.rename(self.tmp, final)  # same name means same index: the same objects
        return final

    def abort(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)


def pread_all(fd: int, n: int, offset: int) -> bytes:
    """``n`` bytes at ``offset``; short reads (large n) are continued, a short file is not."""
    data = os.pread(fd, n, offset)
    if len(data) == n:
        return data
    parts = [data]
    got = len(data)
    while got < n:
        more = os.pread(fd, n - got, offset + got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)
