"""Object identifiers: BLAKE3-256 digests, typed inside, hex at the edges."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NewType

import blake3

from extract.errors import InvalidId

#: The hash every id of store format 1 is made with. A future algorithm gets a
#: new name here, a new link type code in the codec, and a new store format.
HASH_NAME = "blake3-256"
DIGEST_SIZE = 32
HEX_SIZE = 2 * DIGEST_SIZE
#: The shortest prefix a person may type for an id.
MIN_PREFIX = 8
#: The length ``short()`` displays.
SHORT_SIZE = 12

ObjectId = NewType("ObjectId", bytes)

_HEX = re.compile(r"[0-9a-f]+")


def hash_bytes(data: bytes | memoryview) -> ObjectId:
    """Id of an object's canonical encoded bytes."""
    return ObjectId(blake3.blake3(data).digest())


def hash_parts(parts: Iterable[bytes | memoryview]) -> ObjectId:
    """Id of the concatenation of ``parts`` without joining them in memory."""
    h = blake3.blake3()
    for part in parts:
        h.update(part)
    return ObjectId(h.digest())


def to_hex(oid: ObjectId) -> str:
    return oid.hex()


def short(oid: ObjectId) -> str:
    return oid.hex()[:SHORT_SIZE]


def from_hex(text: str) -> ObjectId:
    """Parse a full 64-character lowercase hex id; anything else is an InvalidId."""
    if not isinstance(text, str):
        raise InvalidId(
            f"object id must be a string of {HEX_SIZE} hex digits, got {type(text).__name__}"
        )
    if len(text) != HEX_SIZE or not _HEX.fullmatch(text):
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise InvalidId(
            f"invalid object id {shown!r}: expected {HEX_SIZE} lowercase hex digits (0-9, a-f)"
        )
    return ObjectId(bytes.fromhex(text))


def check_prefix(text: str) -> str:
    """Validate an abbreviated id typed by a person; returns it lowercased."""
    low = text.strip().lower()
    if not (MIN_PREFIX <= len(low) <= HEX_SIZE) or not _HEX.fullmatch(low):
        raise InvalidId(
            f"invalid object id {text!r}: give {MIN_PREFIX} to {HEX_SIZE} hex digits (0-9, a-f)"
        )
    return low
