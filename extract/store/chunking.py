"""Large data as content-defined chunks, so an edit in one region leaves the others alone.

Boundaries come from FastCDC (gear hash, normalized chunking level 1) with a
minimum of 256 KiB, an average of 1 MiB and a maximum of 4 MiB: an insertion
moves the cut points only near it, and every chunk after the next boundary is
the same object as before. Data that makes a single chunk is stored as one blob.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import blake3
from pyfastcdc import FastCDC

from extract.errors import SchemaError
from extract.objects import Blob, ChunkList, ObjectId
from extract.objects.kinds import cast
from extract.store.fsutil import atomic_write
from extract.store.odb import ObjectStore

CHUNK_MIN = 256 * 1024
CHUNK_AVG = 1024 * 1024
CHUNK_MAX = 4 * 1024 * 1024
#: Chunk writes in flight at once; bounds memory while the cutter runs ahead.
_IN_FLIGHT = 8

_cutter = FastCDC(avg_size=CHUNK_AVG, min_size=CHUNK_MIN, max_size=CHUNK_MAX, normalized_chunking=1)


def content_hash(data: bytes | memoryview) -> bytes:
    """BLAKE3-256 of raw content (what b3sum prints), threaded for large inputs."""
    h = blake3.blake3(max_threads=blake3.blake3.AUTO if len(data) > (4 << 20) else 1)
    h.update(data)
    return bytes(h.digest())


def write_bytes(odb: ObjectStore, data: bytes | memoryview, b3: bytes | None = None) -> ObjectId:
    """Store ``data`` as one blob or as a chunk list of blobs; returns the root id."""
    view = memoryview(data)
    if view.nbytes <= CHUNK_MIN:
        return odb.put_blob(view)
    b3 = content_hash(view) if b3 is None else b3
    parts: list[tuple[ObjectId, int]] = []
    with odb.batch(), ThreadPoolExecutor(max_workers=2) as pool:
        pending: list[tuple[Future[ObjectId], int]] = []
        for chunk in _cutter.cut_buf(view):
            piece = view[chunk.offset : chunk.offset + chunk.length]
            pending.append((pool.submit(odb.put_blob, piece), chunk.length))
            if len(pending) >= _IN_FLIGHT:
                fut, n = pending.pop(0)
                parts.append((fut.result(), n))
        parts.extend((fut.result(), n) for fut, n in pending)
    if len(parts) == 1:
        return parts[0][0]
    return odb.put(ChunkList(view.nbytes, b3, tuple(parts)))


def write_file(odb: ObjectStore, path: Path, cache_dir: Path | None = None) -> ObjectId:
    """Store a file's content. With ``cache_dir``, content already stored is found by its hash."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return odb.put_blob(b"")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            view = memoryview(mm)
            try:
                if size <= CHUNK_MIN:
                    return odb.put_blob(view)
                b3 = content_hash(view)
                if cache_dir is not None:
                    known = _cached_root(odb, cache_dir, b3)
                    if known is not None:
                        return known
                root = write_bytes(odb, view, b3)
                if cache_dir is not None and isinstance(odb.get(root), ChunkList):
                    _remember(cache_dir, b3, root)
                return root
            finally:
                view.release()


def _cached_root(odb: ObjectStore, cache_dir: Path, b3: bytes) -> ObjectId | None:
    """The stored root of content hashing to ``b3``, if it and all its chunks still exist."""
    try:
        text = (cache_dir / b3.hex()).read_text("ascii").strip()
        root = ObjectId(bytes.fromhex(text))
    except (FileNotFoundError, ValueError):
        return None
    try:
        obj = odb.get(root)
    except Exception:
        return None
    if isinstance(obj, ChunkList) and obj.b3 == b3 and all(odb.has(p) for p, _ in obj.parts):
        return root
    return None


def _remember(cache_dir: Path, b3: bytes, root: ObjectId) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    # The cache is derived data: losing an entry costs time, never correctness.
    atomic_write(cache_dir / b3.hex(), [root.hex().encode("ascii")], sync_dir=False)


def iter_content(odb: ObjectStore, root: ObjectId) -> Iterator[bytes]:
    """The stored content piece by piece, each chunk verified as it is read."""
    obj = odb.get(root)
    if isinstance(obj, Blob):
        yield obj.data
        return
    chunks = cast(obj, ChunkList)
    for oid, n in chunks.parts:
        data = cast(odb.get(oid), Blob).data
        if len(data) != n:
            raise SchemaError(f"chunk {oid.hex()} holds {len(data)} bytes, its list says {n}")
        yield data


def read_bytes(odb: ObjectStore, root: ObjectId) -> bytes:
    """The whole content; chunked data is checked against its recorded BLAKE3 hash."""
    data = b"".join(iter_content(odb, root))
    obj = odb.get(root)
    if isinstance(obj, ChunkList) and content_hash(data) != obj.b3:
        raise SchemaError(f"content of {root.hex()} does not match its recorded BLAKE3 hash")
    return data


def read_into(odb: ObjectStore, root: ObjectId, out: BinaryIO) -> int:
    """Write the content to ``out``; checks the whole-content hash of chunked data."""
    obj = odb.get(root)
    h = blake3.blake3()
    total = 0
    for piece in iter_content(odb, root):
        h.update(piece)
        out.write(piece)
        total += len(piece)
    if isinstance(obj, ChunkList) and h.digest() != obj.b3:
        raise SchemaError(f"content of {root.hex()} does not match its recorded BLAKE3 hash")
    return total
