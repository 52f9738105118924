"""Object databases: one interface, a memory and a disk implementation.

The disk layout is ``objects/<2 hex>/<62 hex>`` for loose objects and
``objects/pack/<name>.pack`` for packs (objects_spec/store.md). A loose object file is a
4-byte header (``XO``, file format 1, codec) then the object's canonical bytes, raw or
zstd-compressed where that pays; the id is always the hash of the uncompressed canonical
bytes, so compression never changes it.

Inside the package: ``_base`` (the interface, the memory store, ``check_stored``),
``_loose`` (the loose file codec and writes), ``_packs`` (the set of packs), ``_ingest``
(received transfers) and ``_disk`` (the disk store built from them).
"""

from extract.store.odb._base import Ingest, MemoryObjectStore, ObjectStore, check_stored
from extract.store.odb._disk import DiskObjectStore
from extract.store.odb._loose import (
    BLOB_HEAD,
    Buffer,
    decode_loose,
    encode_loose_bytes,
    stored_blob_span,
)

__all__ = [
    "BLOB_HEAD",
    "Buffer",
    "DiskObjectStore",
    "Ingest",
    "MemoryObjectStore",
    "ObjectStore",
    "check_stored",
    "decode_loose",
    "encode_loose_bytes",
    "stored_blob_span",
]
