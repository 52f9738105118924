"""What every object database does, the memory implementation, and ``check_stored``:
the one check every receiver (stores, the git transport) runs on an object that arrived."""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from extract.errors import AmbiguousId, CorruptObject, ObjectNotFound
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
    iter_links,
    object_from_value,
    to_hex,
)
from extract.objects.blob import is_blob
from extract.objects.ids import HEX_SIZE
from extract.store.odb._loose import Buffer, decode_loose, encode_loose_bytes


@dataclass(frozen=True)
class Ingest:
    """What ``ObjectStore.ingest`` hands out: ``put_stored(oid, stored)`` checks an object
    and stores it; ``close_group()`` makes what came so far a group of its own (a disk
    store puts each group in place as a whole: see ``store/odb/_ingest.py``)."""

    put_stored: Callable[[ObjectId, Buffer], None]
    close_group: Callable[[], None]


class ObjectStore(abc.ABC):
    """What every object database does. ``put_*`` never overwrite; ``get_raw`` verifies."""

    #: Set inside ``accept_dangling``: where links to absent objects are recorded.
    _dangling: set[ObjectId] | None = None

    @contextlib.contextmanager
    def accept_dangling(self) -> Iterator[set[ObjectId]]:
        """Received objects may link to objects that never arrive; the ids are collected in
        the set yielded, for the caller to check before anything names them (a purge in the
        received history removed them: ``sync.walk.check_dangling``). Outside it, such a
        link is refused as the object arrives."""
        prev, found = self._dangling, set[ObjectId]()
        self._dangling = found
        try:
            yield found
        finally:
            self._dangling = prev

    def tolerate_absent(self, child: ObjectId) -> bool:
        """Whether a link of a received tree, run or segment to an absent object is accepted
        for now (inside ``accept_dangling``, which records it); never a commit's links."""
        if self._dangling is None:
            return False
        self._dangling.add(child)
        return True

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
            check_stored(
                oid, stored, lambda child: child in held or self.has(child), self.tolerate_absent
            )
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
        return encode_loose_bytes(self.get_raw(oid))

    def put_stored(self, oid: ObjectId, stored: Buffer, check_links: bool = True) -> None:
        """Store an object received in its stored form, after checking it (see ``check_stored``)."""
        if self.has(oid):
            return
        check_stored(oid, stored, self.has if check_links else None, self.tolerate_absent)
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


#: Kinds whose links may name purged objects: state buckets (trees) name purged runs and
#: model versions, run records and segments the model versions they registered (see
#: store/purges.py).
PURGEABLE_PARENTS = ("tree", "run", "segment")


def check_stored(
    oid: ObjectId,
    stored: Buffer,
    present: Callable[[ObjectId], bool] | None,
    tolerate: Callable[[ObjectId], bool] | None = None,
) -> Buffer:
    """Verify an object that arrived in stored form: it unpacks, hashes to ``oid``, is a
    well-formed object of its kind, and everything it links to is ``present`` (not checked
    when None). Objects travel children first, so a complete transfer always passes.
    ``tolerate``: asked about an absent child of a tree or run record, which a purge may
    have removed (the caller checks it against the purges before naming the object).
    Returns the canonical bytes. Every receiver (stores, the git transport) checks here."""
    hexid = to_hex(oid)
    raw = decode_loose(stored, hexid, None)
    actual = hash_bytes(raw)
    if actual != oid:
        raise CorruptObject(
            hexid, to_hex(actual), None, "received bytes do not match the id they were sent as"
        )
    if is_blob(raw):
        return raw  # the prefix and suffix are exact; a blob links to nothing
    value = decode(raw)
    obj = object_from_value(value)  # canonical form and the kind's field table (entry names)
    if present is not None:
        may_be_purged = obj.KIND in PURGEABLE_PARENTS
        for child in iter_links(value):
            if present(child):
                continue
            if not (may_be_purged and tolerate is not None and tolerate(child)):
                raise CorruptObject(
                    hexid,
                    None,
                    None,
                    f"it links to {to_hex(child)}, which did not arrive before it",
                )
    return raw
