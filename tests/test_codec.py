"""Canonical encoding: round trips, one byte form per value, rejection of everything else."""

from __future__ import annotations

import math
import struct
from typing import Any

import msgpack
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from extract.errors import DecodeError, InvalidInput
from extract.objects import Link, ObjectId, decode, encode, hash_bytes, iter_links
from extract.objects.codec import CANONICAL_NAN_BITS, MAX_DEPTH, scan_links

links = st.binary(min_size=32, max_size=32).map(lambda b: Link(ObjectId(b)))
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.binary()
    | links
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5)
    ),
    max_leaves=30,
)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or struct.pack(">d", a) == struct.pack(">d", b)
    if isinstance(a, list | tuple) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@given(values)
@example({"é": 1, "z": 2, "a": 3, "日本": 4})
@example([-0.0, 0.0, float("nan"), float("inf")])
def test_round_trip_is_exact_and_stable(value: Any) -> None:
    raw = encode(value)
    back = decode(raw)
    assert same(value, back)
    assert encode(back) == raw


@given(st.dictionaries(st.text(), st.integers(-100, 100), min_size=2, max_size=8))
def test_insertion_order_does_not_change_bytes(d: dict[str, int]) -> None:
    reversed_d = dict(reversed(list(d.items())))
    assert encode(d) == encode(reversed_d)


@given(st.dictionaries(st.text(min_size=1), st.integers(-100, 100), min_size=2, max_size=8))
def test_unsorted_maps_are_rejected(d: dict[str, int]) -> None:
    items = sorted(d.items(), key=lambda kv: kv[0].encode())
    unsorted = dict(reversed(items))
    raw = msgpack.packb(unsorted, use_bin_type=True)
    with pytest.raises(DecodeError, match="not canonical"):
        decode(raw)


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_non_shortest_ints_are_rejected(n: int) -> None:
    long_form = b"\xcf" + n.to_bytes(8, "big")  # uint64 form, never the shortest below 2**32
    with pytest.raises(DecodeError):
        decode(long_form)
    assert decode(encode(n)) == n


@given(st.floats(width=32, allow_nan=False))
def test_float32_is_rejected(x: float) -> None:
    raw = b"\xca" + struct.pack(">f", x)
    with pytest.raises(DecodeError):
        decode(raw)


@given(st.integers(min_value=1, max_value=2**51 - 1), st.booleans())
def test_only_one_nan(payload: int, negative: bool) -> None:
    bits = 0x7FF0000000000000 | payload | (1 << 63 if negative else 0)
    if bits == CANONICAL_NAN_BITS:
        return
    raw = b"\xcb" + bits.to_bytes(8, "big")
    with pytest.raises(DecodeError):
        decode(raw)
    # The encoder folds every NaN to the canonical one.
    assert encode(
        struct.unpack(">d", bits.to_bytes(8, "big"))[0]
    ) == b"\xcb" + CANONICAL_NAN_BITS.to_bytes(8, "big")


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"", "malformed"),
        (b"\x92\x01", "malformed"),  # truncated array
        (b"\xc1", "malformed"),  # never-used byte
        (b"\xc0\xc0", "trailing"),
        (b"\x82\xa1a\x01\xa1a\x02", "not canonical"),  # duplicate key
        (b"\x81\xc4\x01a\x01", "outside the object model"),  # bin key
        (b"\x81\x01\x01", "malformed"),  # int key
        (b"\xa2\xff\xfe", "malformed"),  # invalid UTF-8
        (b"\xd9\x01a", "not canonical"),  # str8 for a 1-byte string
        (b"\xd4\x05\x00", "ext type 5"),
        (b"\xc7\x1f\x01" + b"\x00" * 31, "holds 32 bytes"),
        (b"\xd8\x01" + b"\x00" * 16, "holds 32 bytes"),
    ],
)
def test_malformed_inputs_are_rejected(raw: bytes, why: str) -> None:
    with pytest.raises(DecodeError, match=why):
        decode(raw)


def test_depth_limit() -> None:
    deep: Any = 0
    for _ in range(MAX_DEPTH):
        deep = [deep]
    decode(encode(deep))
    with pytest.raises(InvalidInput, match="deeper"):
        encode([deep])
    with pytest.raises(DecodeError):
        decode(b"\x91" * (MAX_DEPTH + 1) + b"\x00")


@pytest.mark.parametrize(
    "bad",
    [2**64, -(2**63) - 1, {1: 2}, {"a": {b"k": 1}}, object(), "\ud800", {"x": set()}],
)
def test_encoder_refuses_values_outside_the_model(bad: Any) -> None:
    with pytest.raises(InvalidInput):
        encode(bad)


def test_links_are_walked_without_a_schema() -> None:
    a, b, c = (Link(hash_bytes(bytes([i]))) for i in range(3))
    value = {"x": [a, {"y": b}], "z": c, "w": b"not a link"}
    assert sorted(iter_links(decode(encode(value)))) == sorted([a.id, b.id, c.id])


def test_link_wire_form() -> None:
    oid = hash_bytes(b"")
    assert encode(Link(oid)) == b"\xc7\x20\x01" + oid
    with pytest.raises(InvalidInput):
        Link(ObjectId(b"short"))


def test_scan_links_finds_links_without_the_canonical_check() -> None:
    a, b = Link(ObjectId(b"\x01" * 32)), Link(ObjectId(b"\x02" * 32))
    raw = encode({"x": [a, {"y": b}], "n": 1})
    assert sorted(scan_links(raw)) == sorted([a.id, b.id])
    # keys out of order: not canonical, refused by decode, yet its links are still found
    loose = msgpack.packb({"z": msgpack.ExtType(1, a.id), "a": 1}, use_bin_type=True)
    with pytest.raises(DecodeError, match="not canonical"):
        decode(loose)
    assert scan_links(loose) == [a.id]
    with pytest.raises(DecodeError, match="malformed"):
        scan_links(b"\xc1")
