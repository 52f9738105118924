"""Pure object layer: canonical encoding, ids and object kinds. No file I/O."""

from extract.objects.blob import blob_parts
from extract.objects.codec import Link, Value, decode, encode, iter_links
from extract.objects.ids import (
    HASH_NAME,
    ObjectId,
    check_prefix,
    from_hex,
    hash_bytes,
    hash_parts,
    short,
    to_hex,
)
from extract.objects.kinds import (
    KINDS,
    Array,
    Blob,
    ChunkList,
    Commit,
    Curve,
    CurveSet,
    Event,
    ModelVersion,
    ObjectKind,
    RunRecord,
    Tree,
    decode_object,
    encode_object,
    object_from_value,
)
from extract.objects.names import check_entry_name, check_ref_name
from extract.objects.segment import Segment
from extract.objects.ulid import new_ulid

__all__ = [
    "HASH_NAME",
    "KINDS",
    "Array",
    "Blob",
    "ChunkList",
    "Commit",
    "Curve",
    "CurveSet",
    "Event",
    "Link",
    "ModelVersion",
    "ObjectId",
    "ObjectKind",
    "RunRecord",
    "Segment",
    "Tree",
    "Value",
    "blob_parts",
    "check_entry_name",
    "check_prefix",
    "check_ref_name",
    "decode",
    "decode_object",
    "encode",
    "encode_object",
    "from_hex",
    "hash_bytes",
    "hash_parts",
    "iter_links",
    "new_ulid",
    "object_from_value",
    "short",
    "to_hex",
]
