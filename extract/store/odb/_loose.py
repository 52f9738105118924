"""Loose objects: the file codec, and the files under ``objects/<2 hex>/<62 hex>``.

A loose object file is a 4-byte header (``XO``, file format 1, codec) then the payload:
the object's canonical bytes, raw or zstd-compressed where that pays (zlib, codec 1, is
still read: objects_spec/changes.md). The id is always the hash of the uncompressed
canonical bytes, so compression never changes it. objects_spec/store.md is the authority.

Every object file is written once: to a temp file, made durable, then hard-linked into
place (a link never replaces an existing object, even one a racer just wrote). The
directory entries a write adds are durable only after the directory is fsynced too:
``LooseFiles`` records those directories, and ``DiskObjectStore.sync`` fsyncs them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeAlias, overload

import zstandard

from extract.errors import CorruptObject, InvalidId
from extract.objects import ObjectId, from_hex
from extract.objects import blob as blobfmt
from extract.store.fsutil import fsync_path, temp_file, write_all

#: Object bytes as they arrive: a transfer hands out views into one buffer per batch.
Buffer: TypeAlias = bytes | memoryview

MAGIC = b"XO"
LOOSE_FORMAT = 1
CODEC_RAW = 0
CODEC_ZLIB = 1  # read, never written since zstd (objects_spec/changes.md)
CODEC_ZSTD = 2
HEADER_SIZE = 4
#: Objects smaller than this are never compressed: the header would eat the gain.
COMPRESS_MIN = 512
ZSTD_LEVEL = 3
#: No object extract writes inflates past this; a frame that claims more is refused unread.
MAX_INFLATED = 1 << 32
#: Stored bytes that ``stored_blob_span`` needs to see.
BLOB_HEAD = HEADER_SIZE + blobfmt.HEAD_SIZE

# zstd contexts are not thread-safe and cost more to make than a small object to compress.
_zstd = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    c = getattr(_zstd, "c", None)
    if c is None:
        c = _zstd.c = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_content_size=True)
    return c


def _decompressor() -> zstandard.ZstdDecompressor:
    d = getattr(_zstd, "d", None)
    if d is None:
        d = _zstd.d = zstandard.ZstdDecompressor()
    return d


# the codec --------------------------------------------------------------------------------


def encode_loose_bytes(raw: bytes) -> bytes:
    """A loose object file's bytes for canonical bytes ``raw`` (blobs are stored raw)."""
    return b"".join(encode_loose([raw], compressible=not blobfmt.is_blob(raw)))


def encode_loose(parts: list[bytes | memoryview], compressible: bool) -> list[bytes | memoryview]:
    """The file parts of a loose object: header, then raw or compressed payload."""
    size = sum(memoryview(p).nbytes for p in parts)
    if compressible and size >= COMPRESS_MIN:
        raw = parts[0] if len(parts) == 1 else b"".join(parts)
        packed = _compressor().compress(raw)
        if len(packed) <= size * 7 // 8:
            return [MAGIC + bytes([LOOSE_FORMAT, CODEC_ZSTD]), packed]
    return [MAGIC + bytes([LOOSE_FORMAT, CODEC_RAW]), *parts]


@overload
def decode_loose(data: bytes, oid_hex: str, path: Path | None) -> bytes: ...
@overload
def decode_loose(data: Buffer, oid_hex: str, path: Path | None) -> Buffer: ...
def decode_loose(data: Buffer, oid_hex: str, path: Path | None) -> Buffer:
    """The canonical bytes inside a loose object file (not yet verified against the id)."""
    if len(data) < HEADER_SIZE or data[:2] != MAGIC:
        raise CorruptObject(oid_hex, None, path, "not an extract object file (bad header)")
    if data[2] != LOOSE_FORMAT:
        raise CorruptObject(oid_hex, None, path, f"unknown loose object format {data[2]}")
    codec = data[3]
    if codec == CODEC_RAW:
        return data[HEADER_SIZE:]
    if codec == CODEC_ZSTD:
        return _unzstd(data[HEADER_SIZE:], oid_hex, path)
    if codec == CODEC_ZLIB:
        return _unzlib(data[HEADER_SIZE:], oid_hex, path)
    raise CorruptObject(oid_hex, None, path, f"unknown compression codec {codec}")


def _unzlib(payload: Buffer, oid_hex: str, path: Path | None) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(payload)
    except zlib.error as e:
        raise CorruptObject(oid_hex, None, path, f"compressed payload is damaged ({e})") from None
    if not d.eof or d.unused_data:
        raise CorruptObject(oid_hex, None, path, "compressed payload is truncated or padded")
    return out


def _unzstd(payload: Buffer, oid_hex: str, path: Path | None) -> bytes:
    try:
        size = zstandard.frame_content_size(payload)
    except zstandard.ZstdError as e:
        raise CorruptObject(oid_hex, None, path, f"compressed payload is damaged ({e})") from None
    if size < 0 or size > MAX_INFLATED:
        raise CorruptObject(
            oid_hex, None, path, "compressed payload does not state a plausible size"
        )
    try:
        return _decompressor().decompress(payload, allow_extra_data=False)
    except zstandard.ZstdError as e:
        raise CorruptObject(oid_hex, None, path, f"compressed payload is damaged ({e})") from None


def stored_blob_span(head: bytes) -> blobfmt.DataSpan | None:
    """Where a blob's data lies in its stored bytes, if the first ``BLOB_HEAD`` of them are
    a raw-stored blob's (offsets count from the start of the file); else None."""
    if head[:2] != MAGIC or len(head) <= HEADER_SIZE:
        return None
    if head[2] != LOOSE_FORMAT or head[3] != CODEC_RAW:
        return None
    span = blobfmt.data_span(head[HEADER_SIZE:])
    return None if span is None else blobfmt.DataSpan(HEADER_SIZE + span.start, span.length)


# the files --------------------------------------------------------------------------------


class LooseFiles:
    """The loose object files under ``root``: their names, temp files in ``root/tmp``, putting
    a file in place, and the directories whose new entries are not yet durable."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root_str = str(root)
        self.tmp = root / "tmp"
        self._lock = threading.Lock()
        self._dirty_dirs: set[Path] = set()
        # Temp names: pid (read each time: a forked child shares this object), a random
        # part drawn once, a counter. os.urandom per file cost ~60 us in this VM, a tenth
        # of writing a small object. O_EXCL keeps the names unique regardless.
        self._temp_salt = os.urandom(4).hex()
        self._temp_count = itertools.count()

    def path(self, oid: ObjectId) -> str:
        h = oid.hex()  # plain strings: building Path objects was half the cost of a small read
        return f"{self._root_str}/{h[:2]}/{h[2:]}"

    # durability of directory entries

    def mark_dirty(self, directory: Path) -> None:
        """``directory`` gained an entry that must be made durable (by ``take_dirty``)."""
        with self._lock:
            self._dirty_dirs.add(directory)

    def take_dirty(self) -> set[Path]:
        with self._lock:
            dirs, self._dirty_dirs = self._dirty_dirs, set()
        return dirs

    # writing

    def temp_path(self) -> Path:
        return self.tmp / f"obj-{os.getpid()}-{self._temp_salt}-{next(self._temp_count)}"

    def write_temp(self, parts: list[bytes | memoryview]) -> Path:
        """A new temp file holding ``parts``, not yet durable."""
        tmp = self.temp_path()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            write_all(fd, parts)
        finally:
            os.close(fd)
        return tmp

    def make_fanout(self, final: Path) -> None:
        """Create the object's fan-out directory if it is missing; its own entry in ``root``
        must then be made durable too."""
        if not final.parent.is_dir():
            final.parent.mkdir(parents=True, exist_ok=True)
            self.mark_dirty(self.root)

    def link_into_place(self, tmp: Path, final: Path) -> None:
        """Give the durable file ``tmp`` its object name (the fan-out directory exists).
        Link, not rename: an existing object is never replaced, even by a racer's."""
        try:
            os.link(tmp, final)
        except FileExistsError:
            pass
        except OSError:  # filesystems without hard links
            if not final.exists():
                os.replace(tmp, final)
        self.mark_dirty(final.parent)

    def write_now(self, final: Path, parts: list[bytes | memoryview]) -> None:
        """Write one object file durably and put it in place (its directory entry is made
        durable later, by ``sync``)."""
        self.make_fanout(final)
        self.tmp.mkdir(parents=True, exist_ok=True)
        with temp_file(self.tmp, prefix="obj-") as (fd, tmp):
            write_all(fd, parts)
            os.fsync(fd)
            self.link_into_place(tmp, final)

    def link_durably(self, temps: list[tuple[Path, Path]]) -> None:
        """fsync temp files (in parallel: the disk serves many at once), then link each
        into place (final, temp), in order."""
        if not temps:
            return
        for final, _ in temps:  # all of them first: a failure here links none of the group
            self.make_fanout(final)
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(fsync_path, [tmp for _, tmp in temps]))
        for final, tmp in temps:
            self.link_into_place(tmp, final)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    # listing

    def iter_files(self) -> Iterator[tuple[str, str]]:
        """(fan-out dir, file name) of every file in the object directories, valid or not."""
        try:
            subs = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return
        for sub in subs:
            if len(sub) != 2 or not (self.root / sub).is_dir():
                continue
            for name in sorted(os.listdir(self.root / sub)):
                yield sub, name

    def iter_ids(self) -> Iterator[ObjectId]:
        for sub, name in self.iter_files():
            try:
                yield from_hex(sub + name)
            except InvalidId:
                continue

    def ids_with_prefix(self, prefix: str) -> list[ObjectId]:
        try:
            names = os.listdir(self.root / prefix[:2])
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            full = prefix[:2] + name
            if full.startswith(prefix):
                with contextlib.suppress(InvalidId):
                    out.append(from_hex(full))
        return out
