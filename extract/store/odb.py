"""Object databases: one interface, a memory and a disk implementation.

The disk layout is ``objects/<2 hex>/<62 hex>``. A loose object file is a
4-byte header (``XO``, file format 1, codec) then the payload: the object's
canonical bytes, zlib-compressed where that pays. The id is always the hash of
the uncompressed canonical bytes, so compression never changes it.
"""

from __future__ import annotations

import abc
import contextlib
import itertools
import os
import queue
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias, overload

import zstandard

from extract.errors import AmbiguousId, CorruptObject, CorruptPack, InvalidId, ObjectNotFound
from extract.objects import (
    Blob,
    ObjectId,
    ObjectKind,
    blob_parts,
    check_prefix,
    decode,
    decode_object,
    encode_object,
    from_hex,
    hash_bytes,
    hash_parts,
    iter_links,
    object_from_value,
    to_hex,
)
from extract.objects.ids import HEX_SIZE
from extract.store.fsutil import fsync_dir, fsync_path, temp_file, write_all
from extract.store.pack import PACK_SUFFIX, Pack, PackWriter, pread_all, read_pack
from extract.store.writelock import strict as strict_writes

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
#: A pack directory changed this recently is listed again on a miss: its mtime may not
#: have ticked for a pack another process added just after we looked.
PACK_RESCAN_NS = 2_000_000_000
#: No object extract writes inflates past this; a frame that claims more is refused unread.
MAX_INFLATED = 1 << 32

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


@dataclass(frozen=True)
class Ingest:
    """What ``ObjectStore.ingest`` hands out: ``put_stored(oid, stored)`` checks an object
    and stores it; ``cut()`` closes a durable group (see DiskObjectStore.ingest)."""

    put_stored: Callable[[ObjectId, Buffer], None]
    cut: Callable[[], None]


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


class ObjectStore(abc.ABC):
    """What every object database does. ``put_*`` never overwrite; ``get_raw`` verifies."""

    @abc.abstractmethod
    def has(self, oid: ObjectId) -> bool: ...

    @abc.abstractmethod
    def get_raw(self, oid: ObjectId) -> bytes:
        """The canonical bytes of ``oid``, checked against the id. ObjectNotFound if absent."""

    @abc.abstractmethod
    def put_parts(self, parts: list[bytes | memoryview], compressible: bool = True) -> ObjectId:
        """Store the concatenation of ``parts`` (canonical object bytes) and return its id."""

    @abc.abstractmethod
    def iter_ids(self) -> Iterator[ObjectId]: ...

    @abc.abstractmethod
    def delete(self, oid: ObjectId) -> None:
        """Remove an object; only gc calls this."""

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Group many writes so their durability is paid for once (see DiskObjectStore)."""
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def ingest(self, quarantine: bool = False) -> Iterator[Ingest]:
        """Take in a stream of received objects (see DiskObjectStore.ingest); with
        ``quarantine``, store nothing unless the body returns without an error."""
        if not quarantine:
            with self.batch():
                yield Ingest(self.put_stored, lambda: None)
            return
        held: dict[ObjectId, Buffer] = {}

        def put(oid: ObjectId, stored: Buffer) -> None:
            if oid in held or self.has(oid):
                return
            check_stored(oid, stored, lambda child: child in held or self.has(child))
            held[oid] = bytes(stored)

        yield Ingest(put, lambda: None)
        with self.batch():
            for oid, stored in held.items():
                self._write_stored(oid, stored)

    def sync(self) -> None:  # noqa: B027 - a no-op where nothing is buffered (memory)
        """Make every object written so far durable, before anything points at them."""

    def put_raw(self, raw: bytes) -> ObjectId:
        return self.put_parts([raw])

    def get_stored(self, oid: ObjectId) -> bytes:
        """The object as stored (a loose file: header, then raw or compressed bytes), so a
        transfer moves compressed objects without recompressing them. Not verified here:
        the receiver verifies."""
        return bytes(encode_loose_bytes(self.get_raw(oid)))

    def put_stored(self, oid: ObjectId, stored: Buffer, check_links: bool = True) -> None:
        """Store an object received in its stored form, after checking it (see ``check_stored``)."""
        if self.has(oid):
            return
        check_stored(oid, stored, self.has if check_links else None)
        self._write_stored(oid, stored)

    def _write_stored(self, oid: ObjectId, stored: Buffer) -> None:
        self.put_raw(bytes(decode_loose(stored, to_hex(oid), None)))

    def put(self, obj: ObjectKind) -> ObjectId:
        if isinstance(obj, Blob):  # blobs are stored raw so fsck and gc can recognise them cheaply
            return self.put_blob(obj.data)
        return self.put_raw(encode_object(obj))

    def put_blob(self, data: bytes | memoryview) -> ObjectId:
        prefix, suffix = blob_parts(data)
        return self.put_parts([prefix, data, suffix], compressible=False)

    def get(self, oid: ObjectId) -> ObjectKind:
        return decode_object(self.get_raw(oid))

    def resolve_prefix(self, text: str) -> ObjectId:
        """A full id from a unique prefix of at least 8 hex digits."""
        prefix = check_prefix(text)
        if len(prefix) == HEX_SIZE:
            oid = from_hex(prefix)
            if not self.has(oid):
                raise ObjectNotFound(f"no object {prefix}")
            return oid
        matches = self._ids_with_prefix(prefix)
        if not matches:
            raise ObjectNotFound(f"no object starts with {prefix}")
        if len(matches) > 1:
            shown = ", ".join(sorted(to_hex(m)[: len(prefix) + 4] for m in matches)[:5])
            raise AmbiguousId(f"{prefix} is ambiguous: {len(matches)} objects match ({shown} ...)")
        return matches[0]

    def _ids_with_prefix(self, prefix: str) -> list[ObjectId]:
        return [oid for oid in self.iter_ids() if to_hex(oid).startswith(prefix)]


class MemoryObjectStore(ObjectStore):
    def __init__(self) -> None:
        self._objects: dict[ObjectId, bytes] = {}

    def has(self, oid: ObjectId) -> bool:
        return oid in self._objects

    def get_raw(self, oid: ObjectId) -> bytes:
        try:
            raw = self._objects[oid]
        except KeyError:
            raise ObjectNotFound(f"no object {to_hex(oid)}") from None
        return raw

    def put_parts(self, parts: list[bytes | memoryview], compressible: bool = True) -> ObjectId:
        raw = b"".join(parts)
        oid = hash_bytes(raw)
        self._objects.setdefault(oid, raw)
        return oid

    def iter_ids(self) -> Iterator[ObjectId]:
        return iter(list(self._objects))

    def delete(self, oid: ObjectId) -> None:
        self._objects.pop(oid, None)


def check_stored(
    oid: ObjectId, stored: Buffer, present: Callable[[ObjectId], bool] | None
) -> Buffer:
    """Verify an object that arrived in stored form: it unpacks, hashes to ``oid``, is a
    well-formed object of its kind, and everything it links to is ``present`` (not checked
    when None). Objects travel children first, so a complete transfer always passes.
    Returns the canonical bytes. Every receiver (stores, the git transport) checks here."""
    hexid = to_hex(oid)
    raw = decode_loose(stored, hexid, None)
    actual = hash_bytes(raw)
    if actual != oid:
        raise CorruptObject(
            hexid, to_hex(actual), None, "received bytes do not match the id they were sent as"
        )
    if is_plain_blob(raw):
        return raw  # the prefix and suffix are exact; a blob links to nothing
    value = decode(raw)
    object_from_value(value)  # canonical form and the kind's field table (e.g. tree entry names)
    if present is not None:
        for child in iter_links(value):
            if not present(child):
                raise CorruptObject(
                    hexid,
                    None,
                    None,
                    f"it links to {to_hex(child)}, which did not arrive before it",
                )
    return raw


_BLOB_PREFIX = b"\x83\xa4data"
_BLOB_SUFFIX = b"\xa4kind\xa4blob\xa1v\x01"


def is_plain_blob(raw: Buffer) -> bool:
    """Whether canonical bytes are a blob's (checked exactly, without decoding the data)."""
    if raw[: len(_BLOB_PREFIX)] != _BLOB_PREFIX or raw[-len(_BLOB_SUFFIX) :] != _BLOB_SUFFIX:
        return False
    marker = raw[len(_BLOB_PREFIX)] if len(raw) > len(_BLOB_PREFIX) else -1
    width = {0xC4: 1, 0xC5: 2, 0xC6: 4}.get(marker)
    if width is None:
        return False
    start = len(_BLOB_PREFIX) + 1
    n = int.from_bytes(raw[start : start + width], "big")
    body = start + width
    if body + n + len(_BLOB_SUFFIX) != len(raw):
        return False
    return blob_parts(memoryview(raw)[body : body + n]) == (raw[:body], _BLOB_SUFFIX)


def encode_loose_bytes(raw: bytes) -> bytes:
    return b"".join(encode_loose([raw], compressible=not is_plain_blob(raw)))


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
        d = zlib.decompressobj()
        try:
            out = d.decompress(data[HEADER_SIZE:])
        except zlib.error as e:
            raise CorruptObject(
                oid_hex, None, path, f"compressed payload is damaged ({e})"
            ) from None
        if not d.eof or d.unused_data:
            raise CorruptObject(oid_hex, None, path, "compressed payload is truncated or padded")
        return out
    raise CorruptObject(oid_hex, None, path, f"unknown compression codec {codec}")


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


class DiskObjectStore(ObjectStore):
    """Loose objects under ``root`` (writes are temp file, fsync, link into place) and packs
    under ``root/pack``, which only transfers write (``ingest``) and only gc rewrites.

    ``packs`` False (a format-1 store) keeps every write loose; packs are still read."""

    def __init__(self, root: Path, packs: bool = True) -> None:
        self.root = root
        self._root_str = str(root)
        self.tmp = root / "tmp"
        self.pack_dir = root / "pack"
        self.can_pack = packs
        self._packs: dict[str, Pack] = {}  # by name; replaced whole, never changed in place
        self._pack_stamp = -1  # pack_dir's mtime_ns when last listed
        # Held while the set of packs is replaced, so a listing racing an ingest's flusher
        # cannot drop the pack it just added.
        self._pack_lock = threading.Lock()
        self._bad_packs: set[str] = set()  # file names read_pack refused: not retried
        self._dirty_dirs: set[Path] = set()
        self._lock = threading.Lock()
        self._batch_depth = 0
        self._pending: dict[Path, Path | None] = {}  # written in a batch, not yet durable
        self._inflight: set[ObjectId] = set()  # checked by ingest, not yet in place
        self._fanout: set[str] = set()  # fan-out directories known to exist
        # Temp names: pid (read each time: a forked child shares this object), a random
        # part drawn once, a counter. os.urandom per file cost ~60 us in this VM, a tenth
        # of writing a small object. O_EXCL keeps the names unique regardless.
        self._temp_salt = os.urandom(4).hex()
        self._temp_count = itertools.count()
        #: Set by the Repository: whether this process is inside a write transaction.
        self.guard: Callable[[], bool] | None = None

    def _check_guard(self) -> None:
        """An object written outside a write transaction could be collected by a concurrent
        gc before anything names it. Strict mode (the test suite) makes that an error."""
        if self.guard is not None and strict_writes() and not self.guard():
            raise RuntimeError(
                f"object written to {self.root} outside a write transaction "
                "(wrap it in Repository.writing())"
            )

    def path_of(self, oid: ObjectId) -> Path:
        return Path(self._path(oid))

    def _path(self, oid: ObjectId) -> str:
        h = oid.hex()  # plain strings: building Path objects was half the cost of a small read
        return f"{self._root_str}/{h[:2]}/{h[2:]}"

    def has(self, oid: ObjectId) -> bool:
        return self._has(oid, look_again=True)

    def _has(self, oid: ObjectId, look_again: bool) -> bool:
        """``look_again`` False: only the packs already loaded, not those another process
        may just have added (a miss then costs no directory listing)."""
        if oid in self._inflight:  # first: a parent's link check mostly asks about these
            return True
        if os.path.exists(self._path(oid)):
            return True
        if self._pending:
            path = Path(self._path(oid))
            with self._lock:
                if path in self._pending:
                    return True
        return self._find_packed(oid, look_again) is not None

    # packs ------------------------------------------------------------------
    def packs(self) -> list[Pack]:
        """The packs on disk now (listed afresh)."""
        self._pack_stamp = -1
        self._rescan_packs()
        return sorted(self._packs.values(), key=lambda p: p.name)

    def has_packs(self) -> bool:
        return bool(self.packs())

    def _find_packed(self, oid: ObjectId, look_again: bool = True) -> tuple[Pack, int, int] | None:
        for _ in range(2):
            for pack in self._packs.values():
                hit = pack.find(oid)
                if hit is not None:
                    return pack, hit[0], hit[1]
            if not look_again or not self._rescan_packs():
                return None
        return None

    def _rescan_packs(self) -> bool:
        """Load packs added (by another process too) since we last looked and forget removed
        ones. Cheap when nothing changed: one stat. True if the set of packs changed."""
        with self._pack_lock:
            return self._rescan_packs_locked()

    def _rescan_packs_locked(self) -> bool:
        try:
            stamp = os.stat(self.pack_dir).st_mtime_ns
        except FileNotFoundError:
            changed = bool(self._packs)
            self._packs = {}
            return changed
        if stamp == self._pack_stamp and time.time_ns() - stamp > PACK_RESCAN_NS:
            return False
        self._pack_stamp = stamp
        names = {n for n in os.listdir(self.pack_dir) if n.endswith(PACK_SUFFIX)}
        current = dict(self._packs)
        changed = False
        for name in list(current):
            if name + PACK_SUFFIX not in names:
                del current[name]
                changed = True
        for file in names:
            name = file[: -len(PACK_SUFFIX)]
            if name in current or file in self._bad_packs:
                continue
            try:
                current[name] = read_pack(self.pack_dir / file)
                changed = True
            except FileNotFoundError:
                continue
            except (CorruptPack, IsADirectoryError):  # fsck names it, reading the file itself
                self._bad_packs.add(file)
        self._packs = current
        return changed

    def _read_packed(self, oid: ObjectId, n: int | None = None) -> tuple[bytes, Path]:
        """A packed object's stored bytes (all, or the first ``n``) and its pack's path;
        ObjectNotFound if absent."""
        for _ in range(2):
            hit = self._find_packed(oid)
            if hit is None:
                break
            pack, offset, length = hit
            try:
                fd = os.open(pack.path, os.O_RDONLY)
            except FileNotFoundError:  # gc rewrote the pack since we loaded it
                self._pack_stamp = -1
                self._rescan_packs()
                continue
            try:
                return pread_all(fd, length if n is None else min(n, length), offset), pack.path
            finally:
                os.close(fd)
        raise ObjectNotFound(f"no object {to_hex(oid)}")

    def read_head(self, oid: ObjectId, n: int) -> bytes:
        """The first ``n`` stored bytes of an object (fewer if it is shorter)."""
        try:
            with open(self._path(oid), "rb") as f:
                return f.read(n)
        except FileNotFoundError:
            return self._read_packed(oid, n)[0]

    def write_pack(self, objects: Iterator[tuple[ObjectId, Buffer]]) -> Pack | None:
        """Write the given stored objects into one new pack, durably (gc's repacking); None
        if there were none. The caller has checked them."""
        self._check_guard()
        self.tmp.mkdir(parents=True, exist_ok=True)
        writer = PackWriter(self._temp_path())
        try:
            for oid, stored in objects:
                writer.add(oid, stored)
            if not writer.entries:
                writer.abort()
                return None
            pack = self._install_pack(writer, writer.finish())
        except BaseException:
            writer.abort()
            raise
        fsync_dir(self.pack_dir)
        return pack

    def _install_pack(self, writer: PackWriter, name: str) -> Pack:
        """Put a finished pack in place and start using it (its directory entry is made
        durable by the caller: ``sync()`` or an fsync of ``pack_dir``)."""
        pack = read_pack(writer.install(name, self.pack_dir))
        with self._pack_lock:
            self._packs = {**self._packs, pack.name: pack}
        return pack

    def repack(self, pack: Pack, keep: Callable[[ObjectId], bool]) -> Pack | None:
        """Replace ``pack`` by a new one holding only the objects ``keep`` accepts (gc): the
        new pack is durable before the old one goes, so a crash between keeps both."""
        fd = os.open(pack.path, os.O_RDONLY)
        try:
            kept = self.write_pack(
                (oid, pread_all(fd, length, offset))
                for oid, offset, length in pack.entries()
                if keep(oid)
            )
        finally:
            os.close(fd)
        if kept is None or kept.name != pack.name:
            self.remove_pack(pack)
        return kept

    def remove_pack(self, pack: Pack) -> None:
        """Delete a pack (gc, after writing what it keeps elsewhere)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(pack.path)
        fsync_dir(self.pack_dir)
        with self._pack_lock:
            self._packs = {k: v for k, v in self._packs.items() if k != pack.name}

    def get_stored(self, oid: ObjectId) -> bytes:
        return self.read_file(oid)

    def _write_stored(self, oid: ObjectId, stored: Buffer) -> None:
        self._check_guard()
        final = self.path_of(oid)
        if not final.parent.is_dir():
            final.parent.mkdir(parents=True, exist_ok=True)
            with self._lock:
                self._dirty_dirs.add(self.root)
        self.tmp.mkdir(parents=True, exist_ok=True)
        if self._batch_depth:
            self._write_pending([stored], False, final, framed=True)
            return
        with temp_file(self.tmp, prefix="obj-") as (fd, tmp):
            write_all(fd, [stored])
            os.fsync(fd)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, final)
        with self._lock:
            self._dirty_dirs.add(final.parent)

    def link_from(self, other: DiskObjectStore, oid: ObjectId, check_links: bool = True) -> int:
        """Take an object from another store on the same filesystem by hard link, after
        verifying it as if it had been sent (objects are immutable, so sharing the file is
        safe, as git clone --local does). Returns the bytes it holds."""
        self._check_guard()
        if self.has(oid):
            return 0
        src = other.path_of(oid)
        stored = other.read_file(oid)
        check_stored(oid, stored, self.has if check_links else None)
        final = self.path_of(oid)
        if not final.parent.is_dir():
            final.parent.mkdir(parents=True, exist_ok=True)
            with self._lock:
                self._dirty_dirs.add(self.root)
        try:
            os.link(src, final)
        except FileExistsError:
            pass
        except OSError:  # another filesystem after all, or packed there: write a copy
            self._write_stored(oid, stored)
        with self._lock:
            self._dirty_dirs.add(final.parent)
        return len(stored)

    def open_range(self, oid: ObjectId) -> tuple[int, int, int]:
        """(descriptor, offset, size) of the object's stored bytes: its loose file, or its
        range of a pack. The caller closes the descriptor."""
        try:
            fd = os.open(self._path(oid), os.O_RDONLY)
        except FileNotFoundError:
            pass
        else:
            return fd, 0, os.fstat(fd).st_size
        for _ in range(2):
            hit = self._find_packed(oid)
            if hit is None:
                break
            try:
                return os.open(hit[0].path, os.O_RDONLY), hit[1], hit[2]
            except FileNotFoundError:  # gc rewrote the pack since we loaded it
                self._pack_stamp = -1
        raise ObjectNotFound(f"no object {to_hex(oid)}")

    def read_file(self, oid: ObjectId) -> bytes:
        """The object's stored bytes (not verified)."""
        return self._read_stored(oid)[0]

    def _read_stored(self, oid: ObjectId) -> tuple[bytes, Path]:
        """Stored bytes and the file they came from (the loose file or the pack)."""
        path = self._path(oid)
        try:
            with open(path, "rb") as f:
                return f.read(), Path(path)
        except FileNotFoundError:
            return self._read_packed(oid)

    def get_raw(self, oid: ObjectId) -> bytes:
        stored, path = self._read_stored(oid)
        hexid = to_hex(oid)
        raw = decode_loose(stored, hexid, path)
        actual = hash_bytes(raw)
        if actual != oid:
            raise CorruptObject(hexid, to_hex(actual), path, "content does not match its id")
        return raw

    def put_parts(self, parts: list[bytes | memoryview], compressible: bool = True) -> ObjectId:
        self._check_guard()
        oid = hash_parts(parts)
        final = self.path_of(oid)
        try:
            # Already there: refresh its mtime so a concurrent gc's grace period covers
            # the new reference we are about to make to it.
            os.utime(final)
            return oid
        except FileNotFoundError:
            pass
        if not final.parent.is_dir():
            final.parent.mkdir(parents=True, exist_ok=True)
            with self._lock:  # the new fan-out directory's own entry must be durable too
                self._dirty_dirs.add(self.root)
        self.tmp.mkdir(parents=True, exist_ok=True)
        if self._batch_depth:
            self._write_pending(parts, compressible, final)
            return oid
        with temp_file(self.tmp, prefix="obj-") as (fd, tmp):
            write_all(fd, encode_loose(parts, compressible))
            os.fsync(fd)
            try:
                # link, not rename: an existing object is never replaced, even by a racer.
                os.link(tmp, final)
            except FileExistsError:
                pass
            except OSError:  # filesystems without hard links
                if not final.exists():
                    os.replace(tmp, final)
        with self._lock:
            self._dirty_dirs.add(final.parent)
        return oid

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Inside, objects are written but neither fsynced nor linked into place; on exit
        all of them are fsynced at once (the disk works on many in parallel) and only then
        linked. A crash inside leaves temp files, never an object that is not durable."""
        with self._lock:
            self._batch_depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._batch_depth -= 1
                last = self._batch_depth == 0
            if last:
                self._flush_pending()

    @contextlib.contextmanager
    def ingest(self, quarantine: bool = False) -> Iterator[Ingest]:
        """Received objects, stored by several threads at once: the caller checks each one
        (``check_stored``); the first ``PACK_AFTER`` are written to loose temp files by
        writer threads, the rest appended to a pack by one packer thread; a flusher thread
        makes each group durable and puts it in place, in order (a loose group fsynced and
        linked, a pack finished, fsynced and renamed into ``pack/``). Creating files and
        waiting for the disk thus overlap with receiving and checking, and a large transfer
        creates a few files rather than one per object.

        Groups close on their own bounds, whatever the caller sends: a loose group at
        ``GROUP_OBJECTS`` objects, a group or a pack once it holds ``PACK_BYTES`` or has been
        open ``PACK_SECONDS``. Sizes are checked as each object arrives; the age also by a
        ticker thread every ``INGEST_TICK`` seconds, so a transfer that stalls (a slow link,
        one large object on its way) still puts in place what already arrived. Any object
        boundary is a safe place to close: objects arrive children first, and a group is
        put in place only after every group before it. ``cut()`` closes the loose group now.

        Objects checked but not yet in place count as present (``has``), so a parent's
        link check finds children that arrived before it. On exit every object checked is
        in place, even when the body raised (a transfer cut halfway keeps what arrived).
        An error in a writer, the packer or the flusher is raised, and from then on nothing
        more is put in place: a failed group may hold a child of every later object.

        ``quarantine`` (bundle import, as git's receive quarantine): groups are written to
        temp files as usual but nothing is put in place until the body returns without an
        error; if it raises, every temp file is removed and nothing in place has changed.
        The body does its last checks (an end record, nothing after it) before returning."""
        self._check_guard()
        pool = ThreadPoolExecutor(max_workers=INGEST_WRITERS, thread_name_prefix="extract-write")
        packer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract-pack")
        room = threading.BoundedSemaphore(INGEST_QUEUE)  # bounds the bytes held for writing
        groups: queue.Queue[_Group | None] = queue.Queue()
        held: list[_Group] = []  # quarantine: closed groups waiting for the body to succeed
        failed: list[BaseException] = []
        # The open group and pack: the caller adds to them and closes them, and so does the
        # ticker when they grow old while nothing arrives.
        state = threading.Lock()
        group: list[tuple[ObjectId, Future[Path | None]]] = []
        group_bytes = 0
        group_opened = 0.0  # when the open loose group got its first object (monotonic)
        taken = 0  # objects checked so far
        writer: PackWriter | None = None
        packed: list[ObjectId] = []  # in the open pack
        packed_bytes = 0
        opened = 0.0  # when the open pack was started (monotonic)
        stop = threading.Event()

        def write(oid: ObjectId, stored: Buffer) -> Path | None:
            try:
                return None if failed else self._write_temp(oid, stored)
            finally:
                room.release()

        def append(w: PackWriter, oid: ObjectId, stored: Buffer) -> None:
            try:
                if not failed:
                    w.add(oid, stored)
            except BaseException as e:  # the pack must not be installed without it
                failed.append(e)
            finally:
                room.release()

        def finish(w: PackWriter) -> str:
            if failed:
                raise failed[0]
            return w.finish()

        def flusher() -> None:
            broken = False  # a failed group may hold children of every later one
            while (item := groups.get()) is not None:
                try:
                    if isinstance(item, _PackGroup):
                        name = item.name.result()
                        if broken or failed:
                            item.writer.abort()
                        else:
                            self._install_pack(item.writer, name)
                            with self._lock:
                                self._dirty_dirs.add(self.pack_dir)
                    else:
                        temps = [(self.path_of(oid), f.result()) for oid, f in item.objects]
                        if not broken and not failed:
                            self._link_durably([(fin, t) for fin, t in temps if t is not None])
                except BaseException as e:  # handed to the caller, raised there
                    failed.append(e)
                    broken = True
                    if isinstance(item, _PackGroup):
                        item.writer.abort()
                finally:
                    with self._lock:
                        for oid in item.ids():
                            self._inflight.discard(oid)

        def submit(item: _Group) -> None:
            if quarantine:
                held.append(item)
            else:
                groups.put(item)

        def close_group() -> None:  # with ``state`` held
            nonlocal group_bytes
            if group:
                submit(_LooseGroup(group.copy()))
                group.clear()
                group_bytes = 0

        def close_pack() -> None:  # with ``state`` held
            nonlocal writer, packed_bytes
            if writer is not None:
                submit(_PackGroup(writer, packed.copy(), packer.submit(finish, writer)))
                writer, packed_bytes = None, 0
                packed.clear()

        def close_due(now: float) -> None:  # with ``state`` held
            if group and (
                len(group) >= GROUP_OBJECTS
                or group_bytes >= PACK_BYTES
                or now - group_opened >= PACK_SECONDS
            ):
                close_group()
            if writer is not None and (packed_bytes >= PACK_BYTES or now - opened >= PACK_SECONDS):
                close_group()  # (empty once packing began: its objects came first anyway)
                close_pack()

        def put(oid: ObjectId, stored: Buffer) -> None:
            nonlocal taken, writer, packed_bytes, opened, group_bytes, group_opened
            if failed:
                raise failed[0]
            # Every object sent was missing when the transfer began: one that another
            # process stored since is at worst kept twice, so no pack directory listing
            # (which our own new packs would force on every object) is worth it here.
            if self._has(oid, look_again=False):
                return
            check_stored(oid, stored, self.has)
            with self._lock:
                self._inflight.add(oid)
            room.acquire()
            now = time.monotonic()
            with state:
                if self.can_pack and taken >= PACK_AFTER:
                    if writer is None:
                        writer = PackWriter(self._temp_path())
                        opened = now
                    packer.submit(append, writer, oid, stored)
                    packed.append(oid)
                    packed_bytes += len(stored)
                else:
                    if not group:
                        group_opened = now
                    group.append((oid, pool.submit(write, oid, stored)))
                    group_bytes += len(stored)
                taken += 1
                close_due(now)

        def cut() -> None:
            if failed:
                raise failed[0]
            with state:
                close_group()
                close_due(time.monotonic())

        def ticker() -> None:
            while not stop.wait(min(INGEST_TICK, max(PACK_SECONDS, 0.01))):
                with state:
                    if not failed:
                        close_due(time.monotonic())

        self.tmp.mkdir(parents=True, exist_ok=True)
        thread = threading.Thread(target=flusher, name="extract-flush", daemon=True)
        thread.start()
        # In quarantine nothing is put in place before the end: no reason to close early.
        tick = None
        if not quarantine:
            tick = threading.Thread(target=ticker, name="extract-tick", daemon=True)
            tick.start()
        succeeded = False
        try:
            yield Ingest(put, cut)
            succeeded = True
        finally:
            stop.set()
            if tick is not None:
                tick.join()
            with state:
                close_group()
                close_pack()
            if succeeded and not failed:
                for item in held:
                    groups.put(item)
                held.clear()
            groups.put(None)
            thread.join()
            pool.shutdown()
            packer.shutdown()
            if held:
                self._discard(held)
        if failed:
            raise failed[0]

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
            with self._lock:
                for oid in item.ids():
                    self._inflight.discard(oid)

    def _write_temp(self, oid: ObjectId, stored: Buffer) -> Path:
        """A received object's stored bytes in a new temp file (not yet durable). The caller
        checked the object was not here; one arriving meanwhile is kept (link never replaces).
        Its fan-out directory is made when it is linked: a quarantined transfer that is
        refused leaves not even an empty directory."""
        tmp = self._temp_path()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            write_all(fd, [stored])
        finally:
            os.close(fd)
        return tmp

    def _temp_path(self) -> Path:
        return self.tmp / f"obj-{os.getpid()}-{self._temp_salt}-{next(self._temp_count)}"

    def _make_fanout(self, final: str) -> None:
        """Create the object's fan-out directory unless it is known to exist."""
        parent = final[: final.rindex("/")]
        if parent in self._fanout:
            return
        if not os.path.isdir(parent):
            os.makedirs(parent, exist_ok=True)
            with self._lock:
                self._dirty_dirs.add(self.root)
        self._fanout.add(parent)

    def _link_durably(self, temps: list[tuple[Path, Path]]) -> None:
        """fsync temp files (in parallel: the disk serves many at once), then link each
        into place (final, temp), in order."""
        if not temps:
            return
        for final, _ in temps:  # all of them first: a failure here links none of the group
            self._make_fanout(str(final))
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(fsync_path, [tmp for _, tmp in temps]))
        for final, tmp in temps:
            try:
                os.link(tmp, final)  # link, not rename: never replace an existing object
            except FileExistsError:
                pass
            except OSError:  # filesystems without hard links
                if not final.exists():
                    os.replace(tmp, final)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            with self._lock:
                self._dirty_dirs.add(final.parent)

    def _write_pending(
        self, parts: list[bytes | memoryview], compressible: bool, final: Path, framed: bool = False
    ) -> None:
        with self._lock:
            if final in self._pending:
                return
            self._pending[final] = None  # reserve: a repeated chunk is written once
        tmp = self._temp_path()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            write_all(fd, parts if framed else encode_loose(parts, compressible))
        finally:
            os.close(fd)
        with self._lock:
            self._pending[final] = tmp

    def _flush_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        self._link_durably([(final, tmp) for final, tmp in pending.items() if tmp is not None])

    def sync(self) -> None:
        with self._lock:
            dirs, self._dirty_dirs = self._dirty_dirs, set()
        for d in dirs:
            fsync_dir(d)

    def iter_ids(self) -> Iterator[ObjectId]:
        """Every object once, loose or packed."""
        packs = self.packs()
        seen: set[ObjectId] = set()
        for oid in self.iter_loose_ids():
            if packs:
                seen.add(oid)
            yield oid
        for pack in packs:
            for oid, _, _ in pack.entries():
                if oid not in seen:
                    seen.add(oid)
                    yield oid

    def iter_loose_ids(self) -> Iterator[ObjectId]:
        for sub, name in self.iter_files():
            try:
                yield from_hex(sub + name)
            except InvalidId:
                continue

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

    def _ids_with_prefix(self, prefix: str) -> list[ObjectId]:
        d = self.root / prefix[:2]
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            full = prefix[:2] + name
            if full.startswith(prefix):
                with contextlib.suppress(InvalidId):
                    out.append(from_hex(full))
        for pack in self.packs():
            out.extend(oid for oid, _, _ in pack.entries() if to_hex(oid).startswith(prefix))
        return sorted(set(out))

    def delete(self, oid: ObjectId) -> None:
        """Remove a loose object (packed ones go when gc rewrites their pack)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path_of(oid))

    def mtime(self, oid: ObjectId) -> float:
        try:
            return self.path_of(oid).stat().st_mtime
        except FileNotFoundError:
            hit = self._find_packed(oid)
            if hit is None:
                raise ObjectNotFound(f"no object {to_hex(oid)}") from None
            return hit[0].mtime
