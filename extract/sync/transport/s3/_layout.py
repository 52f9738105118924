"""The bucket layout (objects_spec/s3-remote.md): key names, FORMAT, packs and their
indexes. Pure: bytes in, bytes out, no requests."""

from __future__ import annotations

import re
import time
from collections.abc import Container
from dataclasses import dataclass

import blake3

from extract.errors import CorruptPack, InvalidInput, UnknownFormatVersion
from extract.objects import Blob, ObjectId, encode_object, from_hex, hash_bytes, to_hex
from extract.store.odb import Buffer, encode_loose_bytes
from extract.store.pack import ENTRY, PACK_HEADER, TRAILER

FORMAT_KEY = "FORMAT"
FORMAT_TEXT = b"extract-s3-remote 1\nhash blake3-256\n"
REFS = "refs/"
PACKS = "packs/"
INDEX = "index/"
PROBES = "probe/"
#: The packs gc found unreachable, and when: a pusher does not count on their objects
#: (it sends them again), and a later gc deletes them once the grace period has passed.
CONDEMNED_KEY = "gc/condemned"
#: ``meta`` packs hold every object except blobs (small; a reader keeps them whole);
#: ``data`` packs hold blobs only (large; a reader takes byte ranges of them).
KINDS = ("meta", "data")
_INDEX_KEY = re.compile(r"^index/(\d{14})-(meta|data)-([0-9a-f]{64})$")


def pack_key(name: str) -> str:
    return f"{PACKS}{name}.pack"


def index_key(stamp: int, kind: str, name: str) -> str:
    return f"{INDEX}{stamp:014d}-{kind}-{name}"


def parse_index_key(rel: str) -> tuple[int, str, str] | None:
    """(stamp, kind, pack name) of an index key, or None for a key that is not one."""
    m = _INDEX_KEY.match(rel)
    return None if m is None else (int(m.group(1)), m.group(2), m.group(3))


def parse_condemned(body: bytes, where: str) -> dict[str, int]:
    """``<pack name> <stamp>`` lines -> {pack name: stamp}."""
    out: dict[str, int] = {}
    for line in body.decode("ascii", "replace").splitlines():
        name, _, stamp = line.partition(" ")
        if not re.fullmatch(r"[0-9a-f]{64}", name) or not stamp.isdigit():
            raise UnknownFormatVersion(f"{where}: line {line[:80]!r} is not '<pack name> <stamp>'")
        out[name] = int(stamp)
    return out


def condemned_body(condemned: dict[str, int]) -> bytes:
    return "".join(f"{n} {condemned[n]}\n" for n in sorted(condemned)).encode("ascii")


def now_stamp() -> int:
    """Milliseconds since the epoch: index keys sort by when they were written."""
    return int(time.time() * 1000)


def ref_body(oid: ObjectId) -> bytes:
    return to_hex(oid).encode("ascii") + b"\n"


def parse_ref(body: bytes, where: str) -> ObjectId:
    if len(body) != 65 or not body.endswith(b"\n"):
        raise UnknownFormatVersion(f"{where} is not a ref (64 hex digits and LF)")
    try:
        return from_hex(body[:64].decode("ascii"))
    except (UnicodeDecodeError, InvalidInput):
        raise UnknownFormatVersion(f"{where} is not a ref (64 hex digits and LF)") from None


def check_format(body: bytes, where: str) -> None:
    if body == FORMAT_TEXT:
        return
    lines = body.decode("utf-8", "replace").splitlines()
    found = " / ".join(lines[:2]) or "empty"
    raise UnknownFormatVersion(
        f"{where} says {found!r}; this extract reads 'extract-s3-remote 1' with hash "
        "blake3-256. Upgrade extract to read it"
    )


@dataclass(frozen=True)
class BuiltPack:
    name: str
    data: bytes  # the whole pack file
    index: bytes  # its tail: entries and trailer (the index object's content)
    entries: dict[ObjectId, tuple[int, int]]


def build_pack(items: list[tuple[ObjectId, Buffer]], avoid: Container[str] = ()) -> BuiltPack:
    """A pack in the store's pack format (objects_spec/store.md#packs) of ``items``, whose
    name is not in ``avoid``.

    The same objects as a pack gc condemned make the same pack name, and the upload would
    find that pack "already there" and count on it while gc may be deleting it: one more
    (unreferenced) object makes a pack of its own."""
    built = _build(items)
    salt = 0
    while built.name in avoid:
        salt += 1
        raw = encode_object(Blob(f"extract: a pack of its own #{salt}".encode()))
        built = _build([*items, (hash_bytes(raw), encode_loose_bytes(raw))])
    return built


def _build(items: list[tuple[ObjectId, Buffer]]) -> BuiltPack:
    entries: dict[ObjectId, tuple[int, int]] = {}
    parts: list[Buffer] = [PACK_HEADER]
    size = len(PACK_HEADER)
    for oid, stored in items:
        if oid in entries:
            continue
        n = memoryview(stored).nbytes
        entries[oid] = (size, n)
        parts.append(stored)
        size += n
    index = b"".join(ENTRY.pack(oid, *entries[oid]) for oid in sorted(entries))
    digest = blake3.blake3(PACK_HEADER + index).digest()
    tail = index + TRAILER.pack(len(entries), size, digest)
    parts.append(tail)
    return BuiltPack(digest.hex(), b"".join(parts), tail, entries)


#: One GET of a data pack: (pack, start, end, [(id, offset, length)]) for the objects in it.
Read = tuple["PackIndex", int, int, list[tuple[ObjectId, int, int]]]


def plan_reads(
    wanted: list[tuple[ObjectId, PackIndex, int, int]], whole_below: int, gap: int
) -> list[Read]:
    """The GETs that bring ``wanted`` (id, pack, offset, length): a pack whole when at least
    half of it is wanted or it is smaller than ``whole_below``, else byte ranges of the
    wanted objects, merged across gaps under ``gap``."""
    by_pack: dict[str, list[tuple[ObjectId, PackIndex, int, int]]] = {}
    for w in wanted:
        by_pack.setdefault(w[1].name, []).append(w)
    reads: list[Read] = []
    for items in by_pack.values():
        idx = items[0][1]
        items.sort(key=lambda w: w[2])
        need = sum(w[3] for w in items)
        if need * 2 >= idx.body_end or idx.body_end <= whole_below:
            reads.append((idx, 0, idx.body_end, [(w[0], w[2], w[3]) for w in items]))
            continue
        run: list[tuple[ObjectId, int, int]] = []
        for oid, _, offset, length in items:
            if run and offset - (run[-1][1] + run[-1][2]) > gap:
                reads.append((idx, run[0][1], run[-1][1] + run[-1][2], run))
                run = []
            run.append((oid, offset, length))
        reads.append((idx, run[0][1], run[-1][1] + run[-1][2], run))
    return reads


@dataclass(frozen=True)
class PackIndex:
    """A pack's index as read from its index object: where each object lies in the pack."""

    name: str
    kind: str
    stamp: int
    body_end: int  # where the pack's body ends (its index starts): the pack's useful size
    entries: dict[ObjectId, tuple[int, int]]


def parse_index(data: bytes, name: str, kind: str, stamp: int, where: str) -> PackIndex:
    """Check an index object against the pack name it claims (the name is the BLAKE3 of
    the pack header and these entries) and load it."""
    if len(data) < TRAILER.size:
        raise CorruptPack(where, f"{len(data)} bytes is too short for a pack index")
    n, body_end, digest = TRAILER.unpack(data[-TRAILER.size :])
    if n * ENTRY.size + TRAILER.size != len(data):
        raise CorruptPack(where, "truncated or padded (the trailer does not fit)")
    index = data[: -TRAILER.size]
    if blake3.blake3(PACK_HEADER + index).digest() != digest or digest.hex() != name:
        raise CorruptPack(where, "does not match the pack name it is stored under")
    entries: dict[ObjectId, tuple[int, int]] = {}
    previous = b""
    for oid, offset, length in ENTRY.iter_unpack(index):
        if oid <= previous:
            raise CorruptPack(where, "entries are not sorted by id")
        if offset < len(PACK_HEADER) or offset + length > body_end:
            raise CorruptPack(where, f"entry {oid.hex()} points outside the pack body")
        entries[ObjectId(oid)] = (offset, length)
        previous = oid
    return PackIndex(name, kind, stamp, body_end, entries)
