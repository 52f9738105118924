"""Canonical msgpack: one byte sequence for each value, checked on every decode.

The rules are numbered in ``objects_spec/encoding.md``; the comments below cite
them as (R1) ... (R12).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Iterator
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


#: What the encoder takes, for messages that say what is allowed.
ALLOWED = (
    "None, bool, int in [-2**63, 2**64-1], float, str (valid Unicode), bytes, "
    f"list, and dict with str keys, nested at most {MAX_DEPTH} deep"
)


class _Refused(Exception):
    """Why ``_canon`` refused a value, and where: the keys and indexes from the top, filled
    in on the way out (only when something is refused: the usual path pays nothing).
    ``node`` is the value refused, then each container around it in turn, so a container
    finds which of its items failed by identity, without walking anything again."""

    def __init__(self, reason: str, node: Value) -> None:
        super().__init__(reason)
        self.reason = reason
        self.node = node
        self.path: list[str | int] = []

    def step_out(self, container: Value, items: Iterable[tuple[str | int, Value]]) -> None:
        for key, v in items:
            if v is self.node:
                self.path.insert(0, key)
                break
        self.node = container


def _canon(value: Value, depth: int) -> Value:
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        if not INT_MIN <= value <= INT_MAX:
            raise _Refused(
                f"integer {_short_int(value)} is outside the encodable range [-2**63, 2**64-1]",
                value,
            )
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
        raise _Refused(f"value nests deeper than {MAX_DEPTH} levels", value)
    if t is list or t is tuple:
        try:
            return [_canon(v, depth + 1) for v in value]
        except _Refused as e:
            e.step_out(value, enumerate(value))
            raise
    if t is dict:
        for k in value:
            if type(k) is not str:
                raise _Refused(f"map keys must be strings, got {type(k).__name__} {k!r}", value)
        # Code point order of str equals byte order of their UTF-8 forms (R9).
        try:
            return {k: _canon(value[k], depth + 1) for k in sorted(value)}
        except _Refused as e:
            e.step_out(value, value.items())
            raise
    raise _Refused(
        f"cannot encode {t.__name__}: allowed are None, bool, int, float, str, bytes, "
        "list, dict with str keys, and Link",
        value,
    )


def _short_int(n: int) -> str:
    """An integer as a message shows it: 2**100, not 31 digits."""
    if n > 0 and n & (n - 1) == 0:
        return f"2**{n.bit_length() - 1}"
    text = str(n)
    return text if len(text) <= 30 else f"{text[:12]}...({len(text)} digits)"


def _bad_text(value: Value, depth: int = 0) -> _Refused | None:
    """The first string (or key) that is not valid Unicode, with where it is."""
    t = type(value)
    if t is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            return _Refused(
                f"string {value[:40]!r} is not valid Unicode (a lone surrogate at {e.start})",
                value,
            )
        return None
    if depth >= MAX_DEPTH:
        return None
    items = enumerate(value) if t is list or t is tuple else value.items() if t is dict else ()
    for key, v in items:
        bad = _bad_text(key, depth + 1) if type(key) is str else None
        if bad is not None:
            bad.reason = f"key {bad.reason[len('string ') :]}"
        else:
            bad = _bad_text(v, depth + 1)
        if bad is not None:
            bad.path.insert(0, key)
            return bad
    return None


def _canonical(value: Value) -> bytes:
    """``encode``, raising _Refused (with the path to what was refused) instead."""
    try:
        out: bytes = msgpack.packb(
            _canon(value, 0), use_bin_type=True, use_single_float=False, datetime=False
        )
        return out
    except UnicodeEncodeError:
        bad = _bad_text(value)
        raise bad if bad is not None else _Refused("a string is not valid Unicode", value) from None


def _where(path: list[str | int]) -> str:
    return "".join(f"[{k!r}]" for k in path)


def _shown(path: list[str | int]) -> str:
    return _where(path[:8]) + ("..." if len(path) > 8 else "")


def encode(value: Value) -> bytes:
    """The canonical bytes of ``value``. Raises InvalidInput for values outside the model."""
    try:
        return _canonical(value)
    except _Refused as e:
        at = f" (at {_shown(e.path)})" if e.path else ""
        raise InvalidInput(f"{e.reason}{at}") from None


def check_value(value: Value, what: str) -> None:
    """Refuse, before anything is written, a value ``encode`` would refuse, with an error
    that names it (``what``: ``"run(): config"``), where in it the problem lies, and what
    is allowed. The same rules as ``encode``, because it is ``encode``: whatever passes
    can be stored, whatever fails would have failed later, when it could no longer be
    refused cleanly (at a run's finish, say)."""
    try:
        _canonical(value)
    except _Refused as e:
        where, reason = _shown(e.path), e.reason
        if reason.startswith("value nests deeper") and (cycle := _cycle(value, e.path)):
            where = _where(e.path[: cycle[1]])
            reason = f"refers back to {what}{_where(e.path[: cycle[0]])} (a reference cycle)"
        allowed = "" if "allowed" in reason else f"; allowed: {ALLOWED}"
        raise InvalidInput(f"{what}{where}: {reason}{allowed}") from None


def _cycle(value: Value, path: list[str | int]) -> tuple[int, int] | None:
    """If a value too deep contains itself along ``path``: (i, j) such that the container
    at ``path[:j]`` is the one at ``path[:i]``."""
    seen = {id(value): 0}
    v = value
    for j, key in enumerate(path, 1):
        try:
            v = v[key]
        except (KeyError, IndexError, TypeError):
            return None
        if type(v) in (dict, list, tuple):
            if id(v) in seen:
                return seen[id(v)], j
            seen[id(v)] = j
    return None


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
