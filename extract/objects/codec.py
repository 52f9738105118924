"""Canonical msgpack: one byte sequence for each value, checked on every decode.

The rules are numbered in ``objects_spec/encoding.md``; the comments below cite
them as (R1) ... (R12).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgpack

from extract.errors import DecodeError, InvalidInput
from extract.objects.ids import DIGEST_SIZE, ObjectId

#: msgpack ext type code of a link to another object by its BLAKE3-256 id (R10).
LINK_EXT = 1
#: Deepest nesting of arrays and maps an object may have (R11).
MAX_DEPTH = 64
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1
#: The one NaN (R5): quiet, positive, zero payload.
CANONICAL_NAN_BITS = 0x7FF8000000000000
CANONICAL_NAN: float = struct.unpack(">d", CANONICAL_NAN_BITS.to_bytes(8, "big"))[0]

Value = Any  # None | bool | int | float | str | bytes | list[Value] | dict[str, Value] | Link


@dataclass(frozen=True, slots=True)
class Link:
    """A reference to another object; encoded as its own type so any tool can walk the graph."""

    id: ObjectId

    def __post_init__(self) -> None:
        if not isinstance(self.id, bytes) or len(self.id) != DIGEST_SIZE:
            raise InvalidInput(f"a link holds a {DIGEST_SIZE}-byte id")

    def __repr__(self) -> str:
        return f"Link({self.id.hex()})"


def _canon(value: Value, depth: int) -> Value:
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        if not INT_MIN <= value <= INT_MAX:
            raise InvalidInput(f"integer {value} is outside the encodable range [-2**63, 2**64-1]")
        return value
    if t is float:
        return CANONICAL_NAN if math.isnan(value) else value
    if t is bytes:
        return value
    if t is bytearray or t is memoryview:
        return bytes(value)
    if t is Link:
        return msgpack.ExtType(LINK_EXT, value.id)
    if depth >= MAX_DEPTH:
        raise InvalidInput(f"value nests deeper than {MAX_DEPTH} levels")
    if t is list or t is tuple:
        return [_canon(v, depth + 1) for v in value]
    if t is dict:
        for k in value:
            if type(k) is not str:
                raise InvalidInput(f"map keys must be strings, got {type(k).__name__} {k!r}")
        # Code point order of str equals byte order of their UTF-8 forms (R9).
        return {k: _canon(value[k], depth + 1) for k in sorted(value)}
    raise InvalidInput(
        f"cannot encode {t.__name__}: allowed are None, bool, int, float, str, bytes, "
        "list, dict with str keys, and Link"
    )


def encode(value: Value) -> bytes:
    """The canonical bytes of ``value``. Raises InvalidInput for values outside the model."""
    try:
        out: bytes = msgpack.packb(
            _canon(value, 0), use_bin_type=True, use_single_float=False, datetime=False
        )
        return out
    except UnicodeEncodeError as e:
        raise InvalidInput(f"string is not valid Unicode (lone surrogate?): {e.reason}") from None


def _ext_hook(code: int, data: bytes) -> Link:
    if code != LINK_EXT:
        raise DecodeError(f"unknown msgpack ext type {code}: only {LINK_EXT} (link) is defined")
    if len(data) != DIGEST_SIZE:
        raise DecodeError(f"a link holds {DIGEST_SIZE} bytes, this one {len(data)}")
    return Link(ObjectId(data))


def decode(data: bytes | memoryview) -> Value:
    """Decode canonical bytes; anything malformed or non-canonical raises DecodeError."""
    buf = data  # no copy: received objects arrive as views into a batch buffer
    try:
        value = msgpack.unpackb(
            buf, raw=False, use_list=True, strict_map_key=True, ext_hook=_ext_hook, timestamp=0
        )
    except DecodeError:
        raise
    except msgpack.ExtraData:
        raise DecodeError("trailing bytes after the value") from None
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as e:
        raise DecodeError(f"malformed msgpack: {str(e) or type(e).__name__}") from None
    try:
        again = encode(value)
    except InvalidInput as e:
        raise DecodeError(f"value outside the object model: {e}") from None
    if again != buf:
        at = next(
            (i for i, (a, b) in enumerate(zip(again, buf, strict=False)) if a != b),
            min(len(again), len(buf)),
        )
        raise DecodeError(
            f"bytes are not canonical (first difference at byte {at}): keys must be sorted "
            "and unique, ints and lengths in their shortest form, floats float64 with one NaN"
        )
    return value


def scan_links(data: bytes | memoryview) -> list[ObjectId]:
    """The links in an object's bytes, found without checking that the bytes are canonical
    or hash to anything: for a sender's walk, whose every object the receiver verifies.
    Malformed msgpack still raises DecodeError."""
    try:
        value = msgpack.unpackb(
            data, raw=False, use_list=True, strict_map_key=True, ext_hook=_ext_hook, timestamp=0
        )
    except DecodeError:
        raise
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as e:
        raise DecodeError(f"malformed msgpack: {str(e) or type(e).__name__}") from None
    return list(iter_links(value))


def iter_links(value: Value) -> Iterator[ObjectId]:
    """Every id linked from ``value``, depth first, without knowing its schema."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is Link:
            yield v.id
        elif t is dict:
            stack.extend(v.values())
        elif t is list:
            stack.extend(v)
