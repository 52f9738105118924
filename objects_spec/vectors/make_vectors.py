"""Write objects_spec/vectors/vectors.json: the test vectors of store format 2.

Run from the repository root::

    .venv/bin/python objects_spec/vectors/make_vectors.py           # rewrite vectors.json
    .venv/bin/python objects_spec/vectors/make_vectors.py --check   # exit 1 if it would change

How the vectors are made:

* every valid value and object is encoded twice, by ``extract.objects.encode`` and by
  ``hand_encode`` below (a second, independent encoder written from encoding.md), and
  the script stops if the two disagree;
* every reject vector is written byte by byte with the helpers under "raw bytes",
  never by an encoder; the script checks that each one fails in the documented way;
* large inputs are generated, not stored: ``pattern(n)`` is the input of BLAKE3's own
  test vectors (byte i is i mod 251) and ``xof(seed, n)`` is the first n bytes of the
  BLAKE3 extendable output of the UTF-8 seed.

The output is deterministic (no clocks, no randomness, fixed key order), so
tests/test_vectors.py can check that running this script reproduces the committed file.
"""

from __future__ import annotations

import json
import math
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import blake3
import numpy as np

from extract.errors import DecodeError, ObjectFormatError, SchemaError, UnknownFormatVersion
from extract.objects import (
    Array,
    Blob,
    ChunkList,
    Commit,
    Curve,
    CurveSet,
    Event,
    Link,
    ModelVersion,
    ObjectId,
    ObjectKind,
    RunRecord,
    Segment,
    Tree,
    Value,
    decode,
    decode_object,
    encode,
    encode_object,
    hash_bytes,
)
from extract.store import chunking
from extract.store.arrays import choose_chunk_shape, write_array
from extract.store.history import HIERARCHY_ENTRY, State, model_key, write_state
from extract.store.odb import MemoryObjectStore

OUT = Path(__file__).with_name("vectors.json")
FORMAT = 2
HASH = "blake3-256"
TIME = "2025-01-02T03:04:05.678Z"
TIME2 = "2025-01-02T04:05:06.789Z"
RUN_ID = "01JGXK5W7E3Q0M8Z9N4R2T6Y1B"
RUN2_ID = "01JGXK6A2B3C4D5E6F7G8H9J0K"
EVENT_ID = "01JGXK7M3N4P5Q6R7S8T9V0W1X"
EVENT2_ID = "01JGXK8Y2Z3A4B5C6D7E8F9G0H"
ARTIFACT_ID = "01JGXK9A2B3C4D5E6F7G8H9J0K"
SEGMENT_ID = "01JGXKAB2C3D4E5F6G7H8J9K0M"
TIME3 = "2025-01-02T05:06:07.891Z"
#: U+FF21 sorts before U+1F600 by UTF-8 bytes (and by code point), after it in UTF-16.
FULLWIDTH_A = "\uff21"

Json = Any


# --- generated inputs --------------------------------------------------------------


def pattern(n: int) -> bytes:
    """BLAKE3's test-vector input: byte i is i mod 251."""
    return bytes(i % 251 for i in range(n))


def xof(seed: str, n: int) -> bytes:
    """The first ``n`` bytes of BLAKE3's extendable output for ``seed``."""
    out: bytes = blake3.blake3(seed.encode("utf-8")).digest(length=n)
    return out


def f64(bits: int) -> float:
    value: float = struct.unpack(">d", bits.to_bytes(8, "big"))[0]
    return value


# --- an independent canonical encoder (encoding.md, R1..R11) -----------------------


def hand_encode(v: Value) -> bytes:
    """Canonical msgpack written from the rules alone; must agree with extract's encoder."""
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if type(v) is int:
        return _hand_int(v)
    if type(v) is float:
        if math.isnan(v):
            return b"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"
        return b"\xcb" + struct.pack(">d", v)
    if type(v) is str:
        raw = v.encode("utf-8")
        return _hand_len(len(raw), 0xA0, 32, b"\xd9", b"\xda", b"\xdb") + raw
    if type(v) is bytes:
        return _hand_len(len(v), None, 0, b"\xc4", b"\xc5", b"\xc6") + v
    if type(v) is Link:
        return b"\xc7\x20\x01" + v.id
    if type(v) is list:
        head = _hand_len(len(v), 0x90, 16, None, b"\xdc", b"\xdd")
        return head + b"".join(hand_encode(x) for x in v)
    if type(v) is dict:
        keys = sorted(v, key=lambda k: k.encode("utf-8"))
        head = _hand_len(len(v), 0x80, 16, None, b"\xde", b"\xdf")
        return head + b"".join(hand_encode(k) + hand_encode(v[k]) for k in keys)
    raise TypeError(f"hand_encode: {type(v).__name__}")


def _hand_int(n: int) -> bytes:
    if 0 <= n <= 0x7F:
        return bytes([n])
    if n > 0:
        for tag, size in ((0xCC, 1), (0xCD, 2), (0xCE, 4), (0xCF, 8)):
            if n < 1 << (8 * size):
                return bytes([tag]) + n.to_bytes(size, "big")
    if -32 <= n < 0:
        return bytes([n & 0xFF])
    for tag, size in ((0xD0, 1), (0xD1, 2), (0xD2, 4), (0xD3, 8)):
        if -(1 << (8 * size - 1)) <= n:
            return bytes([tag]) + n.to_bytes(size, "big", signed=True)
    raise ValueError(n)


def _hand_len(
    n: int, fix: int | None, fix_limit: int, h8: bytes | None, h16: bytes, h32: bytes
) -> bytes:
    if fix is not None and n < fix_limit:
        return bytes([fix | n])
    if h8 is not None and n < 1 << 8:
        return h8 + n.to_bytes(1, "big")
    if n < 1 << 16:
        return h16 + n.to_bytes(2, "big")
    return h32 + n.to_bytes(4, "big")


# --- raw bytes, for inputs that must be rejected -----------------------------------


def s(text: str) -> bytes:
    """A fixstr by hand (texts under 32 bytes)."""
    raw = text.encode("utf-8")
    assert len(raw) < 32
    return bytes([0xA0 | len(raw)]) + raw


def fixmap(*pairs: tuple[bytes, bytes]) -> bytes:
    assert len(pairs) < 16
    return bytes([0x80 | len(pairs)]) + b"".join(k + v for k, v in pairs)


def fixarray(*items: bytes) -> bytes:
    assert len(items) < 16
    return bytes([0x90 | len(items)]) + b"".join(items)


def bin8(data: bytes) -> bytes:
    assert len(data) < 256
    return b"\xc4" + bytes([len(data)]) + data


def link(oid: bytes) -> bytes:
    return b"\xc7\x20\x01" + oid


NIL = b"\xc0"
ONE = b"\x01"
ZERO_ID = bytes(32)


# --- typed JSON (see vectors/README.md) --------------------------------------------


def to_json(v: Value) -> Json:
    if v is None or type(v) in (bool, int, str):
        return v
    if type(v) is float:
        return {"$float": struct.pack(">d", v).hex()}
    if type(v) is bytes:
        if len(v) >= 32 and v == pattern(len(v)):
            return {"$pattern": len(v)}
        return {"$bytes": v.hex()}
    if type(v) is Link:
        return {"$link": v.id.hex()}
    if type(v) is list:
        return [to_json(x) for x in v]
    if type(v) is dict:
        return {k: to_json(v[k]) for k in sorted(v, key=lambda k: k.encode("utf-8"))}
    raise TypeError(type(v).__name__)


# --- the groups --------------------------------------------------------------------


def _value(name: str, rule: str, value: Value) -> dict[str, Json]:
    raw = encode(value)
    if hand_encode(value) != raw:
        raise SystemExit(f"encoders disagree on {name}: {raw.hex()} vs {hand_encode(value).hex()}")
    if encode(decode(raw)) != raw:
        raise SystemExit(f"{name} does not round-trip")
    out = {"name": name, "rule": rule, "value": to_json(value), "bytes": raw.hex()}
    if to_json(decode(raw)) != out["value"]:  # the encoder canonicalised the value (R5)
        out["decoded"] = to_json(decode(raw))
    return out


def values() -> list[dict[str, Json]]:
    out = [
        _value("nil", "R2", None),
        _value("false", "R2", False),
        _value("true", "R2", True),
    ]
    for n in (0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63, 2**64 - 1):
        out.append(_value(f"int.{n}", "R3", n))
    for n in (-1, -32, -33, -128, -129, -32768, -32769, -(2**31), -(2**31) - 1, -(2**63)):
        out.append(_value(f"int.{n}", "R3", n))
    floats = [
        ("float.0.0", "R4", 0.0),
        ("float.-0.0", "R4", -0.0),
        ("float.1.0", "R4", 1.0),
        ("float.0.1", "R4", 0.1),
        ("float.-1.5", "R4", -1.5),
        ("float.inf", "R4", math.inf),
        ("float.-inf", "R4", -math.inf),
        ("float.nan", "R5", math.nan),
        ("float.nan-from-other-payload", "R5", f64(0x7FF0000000000001)),
        ("float.smallest-subnormal", "R4", f64(1)),
        ("float.largest-finite", "R4", f64(0x7FEFFFFFFFFFFFFF)),
    ]
    out.extend(_value(n, r, v) for n, r, v in floats)
    for n in (0, 1, 31, 32, 255, 256):
        out.append(_value(f"str.ascii-{n}", "R6", "a" * n))
    out.append(_value("str.non-ascii", "R6", "é日本😀"))
    out.append(_value("str.fixstr-max-in-bytes", "R6", "é" * 15 + "a"))
    out.append(_value("str.str8-min-in-bytes", "R6", "é" * 16))
    for n in (0, 1, 255, 256):
        out.append(_value(f"bin.{n}", "R7", pattern(n) if n >= 32 else b"\x00" * n))
    out.append(_value("array.empty", "R8", []))
    out.append(_value("array.15", "R8", [None] * 15))
    out.append(_value("array.16", "R8", [None] * 16))
    out.append(_value("map.empty", "R8", {}))
    out.append(_value("map.15", "R8", {f"k{i:02}": i for i in range(15)}))
    out.append(_value("map.16", "R8", {f"k{i:02}": i for i in range(16)}))
    keys = ["😀", "z", "日本", "a", FULLWIDTH_A, "é", "aa", "B", ""]
    out.append(_value("map.key-order-utf8", "R9", {k: i for i, k in enumerate(keys)}))
    out.append(_value("map.nested", "R9", {"b": {"y": 1, "x": [1, {"q": None, "p": 2.5}]}, "a": 0}))
    out.append(_value("link.zero", "R10", Link(ObjectId(ZERO_ID))))
    out.append(_value("link.empty-blob", "R10", Link(hash_bytes(encode_object(Blob(b""))))))
    empty_blob = Link(hash_bytes(encode_object(Blob(b""))))
    worked = {"z": -33, "a": [True, None], "é": 1.5, "l": empty_blob}
    out.append(_value("encoding.worked-example", "R9", worked))
    deep: Value = None
    for _ in range(64):
        deep = [deep]
    out.append(_value("depth.64", "R11", deep))
    return out


class Objects:
    """Builds the object vectors: one small, consistent history with every kind in it."""

    def __init__(self) -> None:
        self.odb = MemoryObjectStore()
        self.out: list[dict[str, Json]] = []
        self.seen: set[ObjectId] = set()

    def add(self, name: str, obj: ObjectKind) -> ObjectId:
        raw = encode_object(obj)
        if hand_encode(obj.to_value()) != raw:
            raise SystemExit(f"encoders disagree on {name}")
        if encode_object(decode_object(raw)) != raw:
            raise SystemExit(f"{name} does not round-trip")
        oid = self.odb.put_raw(raw)
        if oid in self.seen:  # shared subtrees: a later state repeats only what changed
            return oid
        self.seen.add(oid)
        self.out.append(
            {
                "name": name,
                "kind": obj.KIND,
                "value": to_json(obj.to_value()),
                "bytes": raw.hex(),
                "id": oid.hex(),
            }
        )
        return oid

    def record(self, name: str, oid: ObjectId) -> None:
        """Add a vector for an object some code already stored in ``self.odb``."""
        obj = decode_object(self.odb.get_raw(oid))
        if self.add(name, obj) != oid:
            raise SystemExit(f"{name}: stored bytes do not re-encode to themselves")

    def state(self, prefix: str, state: State) -> ObjectId:
        """A state tree written by extract.store.history; vectors for its new trees."""
        root = write_state(self.odb, state)
        top = Tree.from_fields(decode(self.odb.get_raw(root)))
        for entry, child in top.entries.items():
            if entry == HIERARCHY_ENTRY:
                self.record(f"blob.{prefix}.{entry}", child)
                continue
            section = Tree.from_fields(decode(self.odb.get_raw(child)))
            for bucket, leaves in section.entries.items():
                self.record(f"tree.{prefix}.{entry}.{bucket}", leaves)
            self.record(f"tree.{prefix}.{entry}", child)
        self.record(f"tree.{prefix}", root)
        return root


def objects(chunk_list: ChunkList, arrays: dict[str, Array]) -> list[dict[str, Json]]:
    b = Objects()
    empty = b.add("blob.empty", Blob(b""))
    hello = b.add("blob.hello", Blob(b"hello\n"))
    b.add("blob.bin8-max", Blob(pattern(255)))
    b.add("blob.bin16-min", Blob(pattern(256)))
    b.add("blob.bin16-max", Blob(pattern(65535)))
    b.add("blob.bin32-min", Blob(pattern(65536)))
    weights = b.add("chunks.xof-8MiB", chunk_list)
    empty_tree = b.add("tree.empty", Tree({}))
    files = b.add(
        "tree.files",
        Tree({"hello.txt": hello, "résumé.md": empty, "weights.bin": weights, "sub": empty_tree}),
    )
    grid = b.add("array.i4-3x5-grid-2x2", arrays["array.i4-3x5-grid-2x2"])
    lr = b.add("array.f8-1d", arrays["array.f8-1d"])
    b.add("array.b1-0d", arrays["array.b1-0d"])
    b.add("array.u1-0x4", arrays["array.u1-0x4"])
    b.add("curves.empty", CurveSet({}))
    steps = struct.pack("<3q", 0, 1, 2)
    wall = struct.pack("<3d", 0.25, 0.5, 0.75)
    curves = b.add(
        "curves.example",
        CurveSet(
            {
                "loss": Curve(3, steps, struct.pack("<3d", 2.5, 1.25, math.nan), wall),
                "lr": Curve(3, steps, Link(lr), wall),
            }
        ),
    )
    model = b.add(
        "model.example",
        ModelVersion(
            name="org/resnet18",
            version="v1",
            framework="pytorch",
            metadata={"params": 11689512, "input": [3, 224, 224]},
            content=files,
            size=6 + chunk_list.size,
            run=RUN_ID,
            created_at=TIME2,
        ),
    )
    run = b.add(
        "run.example",
        RunRecord(
            id=RUN_ID,
            experiment="imagenet/resnet18/baseline",
            name="run-001",
            config={"lr": 0.001, "batch": 256, "aug": ["flip", "crop"], "sched": None},
            status="completed",
            started_at=TIME,
            ended_at=TIME2,
            host="gpu-01",
            code={"sha": "a" * 40, "branch": "main", "dirty": True, "diff": Link(hello)},
            total_steps=3,
            metrics={
                "final_loss": {"value": 1.25, "wall_time": 12.5},
                "epochs": {"value": 3.0, "wall_time": 12.5},
            },
            params={"arch": "resnet18", "optimizer": "sgd"},
            tags=("baseline",),
            notes=("first try",),
            curves=curves,
            artifacts=(
                {
                    "id": ARTIFACT_ID,
                    "name": "confusion",
                    "kind": "matrix",
                    "step": None,
                    "object": Link(grid),
                    "shape": [3, 5],
                    "dtype": "<i4",
                    "metadata": None,
                    "created_at": TIME,
                },
            ),
            models=(model,),
            lineage=(
                {
                    "relation": "derived_from",
                    "type": "run",
                    "id": RUN2_ID,
                    "metadata": None,
                    "created_at": TIME,
                },
            ),
        ),
    )
    run2 = b.add(
        "run.minimal",
        RunRecord(
            id=RUN2_ID,
            experiment="imagenet",
            name=None,
            config=None,
            status="failed",
            started_at=TIME,
            ended_at=None,
            host="laptop",
            code=None,
            total_steps=None,
            metrics={},
            params={},
            tags=(),
            notes=(),
            curves=None,
            artifacts=(),
            models=(),
            lineage=(),
        ),
    )
    tag = b.add("event.tag", Event(EVENT_ID, TIME2, "tag", f"run:{RUN_ID}", {"tag": "best"}))
    todo = b.add(
        "event.todo",
        Event(
            EVENT2_ID,
            TIME2,
            "todo",
            f"run:{RUN2_ID}",
            {"content": "rerun", "priority": 1, "scope_type": "run", "scope_id": RUN2_ID},
        ),
    )
    runs = {RUN_ID: run, RUN2_ID: run2}
    models = {model_key("org/resnet18", "v1"): model}
    hierarchy = "benchmark > model > variant"
    first = b.state(
        "state.1", State({"runs": runs, "models": models, "events": {EVENT_ID: tag}}, hierarchy)
    )
    root = b.add("commit.root", Commit((), first, "ada@gpu-01", "gpu-01", TIME2, "first runs"))
    events = {EVENT_ID: tag, EVENT2_ID: todo}
    second = b.state(
        "state.2", State({"runs": runs, "models": models, "events": events}, hierarchy)
    )
    child = b.add("commit.child", Commit((root,), second, "ada@laptop", "laptop", TIME2, "a todo"))
    # run.minimal (failed) resumed on another machine: a segment under its own ULID in the
    # runs section, next to the record it continues, which stays as it was
    steps2 = struct.pack("<2q", 3, 4)
    seg_curves = b.add(
        "curves.segment",
        CurveSet(
            {"loss": Curve(2, steps2, struct.pack("<2d", 0.5, 0.25), struct.pack("<2d", 9.5, 9.75))}
        ),
    )
    segment = b.add(
        "segment.example",
        Segment(
            id=SEGMENT_ID,
            run=RUN2_ID,
            config={"lr": 0.0005},
            status="completed",
            started_at=TIME2,
            ended_at=TIME3,
            host="gpu-02",
            code=None,
            total_steps=5,
            metrics={"final_loss": {"value": 0.25, "wall_time": 9.75}},
            params={},
            tags=("resumed",),
            notes=("resumed after preemption",),
            curves=seg_curves,
            artifacts=(),
            models=(),
            lineage=(),
        ),
    )
    third = b.state(
        "state.3",
        State(
            {"runs": {**runs, SEGMENT_ID: segment}, "models": models, "events": events}, hierarchy
        ),
    )
    b.add("commit.resumed", Commit((child,), third, "bo@gpu-02", "gpu-02", TIME3, "resumed"))
    return b.out


def _reject(
    name: str, rule: str, raw: bytes, error: type[ObjectFormatError], reason: str
) -> dict[str, Json]:
    stage = "decode" if error is DecodeError else "object"
    try:
        decode_object(raw)
    except ObjectFormatError as e:
        if type(e) is not error:
            raise SystemExit(
                f"{name}: raised {type(e).__name__}, documented {error.__name__}"
            ) from None
    else:
        raise SystemExit(f"{name} was accepted")
    if stage == "object":
        decode(raw)  # the bytes themselves must be canonical
    return {
        "name": name,
        "rule": rule,
        "bytes": raw.hex(),
        "error": error.__name__,
        "stage": stage,
        "reason": reason,
    }


def _blob(data: bytes, v: bytes = ONE) -> bytes:
    return fixmap((s("data"), bin8(data)), (s("kind"), s("blob")), (s("v"), v))


def _tree(name: str) -> bytes:
    entries = bytes([0x81]) + _hand_key(name) + link(ZERO_ID)
    return fixmap((s("entries"), entries), (s("kind"), s("tree")), (s("v"), ONE))


def _hand_key(name: str) -> bytes:
    raw = name.encode("utf-8")
    if len(raw) < 32:
        return bytes([0xA0 | len(raw)]) + raw
    return (
        b"\xd9" + bytes([len(raw)]) + raw
        if len(raw) < 256
        else b"\xda" + len(raw).to_bytes(2, "big") + raw
    )


def rejects() -> list[dict[str, Json]]:
    D, S, U = DecodeError, SchemaError, UnknownFormatVersion
    z32 = bytes(32)
    r = [
        _reject("empty-input", "R1", b"", D, "no value at all"),
        _reject("truncated.array", "R1", fixarray(ONE, ONE)[:-1], D, "array of 2 holds 1 value"),
        _reject("truncated.float", "R1", b"\xcb\x00\x00", D, "float64 cut after 2 bytes"),
        _reject("truncated.str", "R1", b"\xa3ab", D, "str of 3 holds 2 bytes"),
        _reject("trailing-bytes", "R1", NIL + NIL, D, "a second value after the first"),
        _reject("reserved-byte-c1", "R2", b"\xc1", D, "0xc1 is never used in msgpack"),
        _reject("float32", "R4", b"\xca\x3f\x80\x00\x00", D, "1.0 as float32"),
        _reject("int.uint8-for-fixint", "R3", b"\xcc\x05", D, "5 fits a positive fixint"),
        _reject(
            "int.int8-for-positive", "R3", b"\xd0\x05", D, "non-negative ints use unsigned forms"
        ),
        _reject("int.uint16-for-uint8", "R3", b"\xcd\x00\xff", D, "255 fits uint8"),
        _reject(
            "int.uint64-for-uint32",
            "R3",
            b"\xcf" + (2**32 - 1).to_bytes(8, "big"),
            D,
            "2**32-1 fits uint32",
        ),
        _reject("int.int8-for-negative-fixint", "R3", b"\xd0\xff", D, "-1 fits a negative fixint"),
        _reject("int.int16-for-int8", "R3", b"\xd1\xff\x80", D, "-128 fits int8"),
        _reject(
            "int.int64-for-int32",
            "R3",
            b"\xd3" + (-(2**31)).to_bytes(8, "big", signed=True),
            D,
            "-2**31 fits int32",
        ),
        _reject(
            "nan.payload",
            "R5",
            b"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x01",
            D,
            "NaN with a non-zero payload",
        ),
        _reject(
            "nan.signalling", "R5", b"\xcb\x7f\xf0\x00\x00\x00\x00\x00\x01", D, "signalling NaN"
        ),
        _reject(
            "nan.negative",
            "R5",
            b"\xcb\xff\xf8\x00\x00\x00\x00\x00\x00",
            D,
            "NaN with the sign bit set",
        ),
        _reject("str.invalid-utf8", "R6", b"\xa1\xff", D, "0xff never occurs in UTF-8"),
        _reject("str.surrogate", "R6", b"\xa3\xed\xa0\x80", D, "UTF-8 of the surrogate U+D800"),
        _reject("str.overlong", "R6", b"\xa2\xc0\xaf", D, "overlong UTF-8 for '/'"),
        _reject("str.str8-for-fixstr", "R6", b"\xd9\x01a", D, "'a' fits a fixstr"),
        _reject("bin.bin16-for-bin8", "R7", b"\xc5\x00\x01\x00", D, "1 byte fits bin8"),
        _reject(
            "array.array16-for-fixarray", "R8", b"\xdc\x00\x01\xc0", D, "1 element fits a fixarray"
        ),
        _reject("map.map16-for-fixmap", "R8", b"\xde\x00\x00", D, "an empty map fits a fixmap"),
        _reject(
            "map.unsorted-keys", "R9", fixmap((s("b"), ONE), (s("a"), ONE)), D, "'b' before 'a'"
        ),
        _reject(
            "map.unsorted-non-ascii",
            "R9",
            fixmap((s("😀"), ONE), (s(FULLWIDTH_A), ONE)),
            D,
            "sorted as UTF-16 would sort them, not by UTF-8 bytes",
        ),
        _reject(
            "map.prefix-after-longer",
            "R9",
            fixmap((s("aa"), ONE), (s("a"), ONE)),
            D,
            "a key sorts after its own extension",
        ),
        _reject(
            "map.duplicate-keys",
            "R9",
            fixmap((s("a"), ONE), (s("a"), b"\x02")),
            D,
            "the key 'a' twice",
        ),
        _reject("map.bin-key", "R9", fixmap((bin8(b"a"), ONE)), D, "keys are str, not bin"),
        _reject("map.int-key", "R9", fixmap((ONE, ONE)), D, "keys are str, not int"),
        _reject("map.nil-key", "R9", fixmap((NIL, ONE)), D, "keys are str, not nil"),
        _reject("ext.unknown-type", "R10", b"\xc7\x20\x02" + z32, D, "ext type 2 is not defined"),
        _reject(
            "ext.timestamp",
            "R10",
            b"\xd6\xff\x00\x00\x00\x00",
            D,
            "the msgpack timestamp (ext -1) is not allowed",
        ),
        _reject(
            "link.31-bytes", "R10", b"\xc7\x1f\x01" + z32[:31], D, "a link holds exactly 32 bytes"
        ),
        _reject(
            "link.33-bytes",
            "R10",
            b"\xc7\x21\x01" + z32 + b"\x00",
            D,
            "a link holds exactly 32 bytes",
        ),
        _reject("link.ext16", "R10", b"\xc8\x00\x20\x01" + z32, D, "a link uses the ext8 header"),
        _reject("depth.65", "R11", b"\x91" * 65 + NIL, D, "65 nested arrays"),
        _reject("object.not-a-map", "envelope", ONE, S, "an object is a map"),
        _reject("object.no-kind", "envelope", fixmap((s("v"), ONE)), S, "'kind' is missing"),
        _reject(
            "object.v-not-int",
            "envelope",
            fixmap((s("data"), bin8(b"")), (s("kind"), s("blob")), (s("v"), s("1"))),
            S,
            "'v' is a string",
        ),
        _reject(
            "object.unknown-kind",
            "envelope",
            fixmap((s("kind"), s("nope")), (s("v"), ONE)),
            S,
            "no kind 'nope'",
        ),
        _reject(
            "object.version-2",
            "envelope",
            _blob(b"", b"\x02"),
            U,
            "blob v 2 is not known to format 1",
        ),
        _reject(
            "object.version-0",
            "envelope",
            _blob(b"", b"\x00"),
            U,
            "blob v 0 is not known to format 1",
        ),
        _reject(
            "object.missing-field",
            "fields",
            fixmap((s("kind"), s("blob")), (s("v"), ONE)),
            S,
            "blob without 'data'",
        ),
        _reject(
            "object.extra-field",
            "fields",
            fixmap((s("data"), bin8(b"")), (s("kind"), s("blob")), (s("v"), ONE), (s("x"), NIL)),
            S,
            "blob with an unknown field 'x'",
        ),
        _reject(
            "blob.data-is-str",
            "blob",
            fixmap((s("data"), s("")), (s("kind"), s("blob")), (s("v"), ONE)),
            S,
            "blob data must be bin",
        ),
        _reject("tree.name-dotdot", "tree", _tree(".."), S, "'..' is not an entry name"),
        _reject("tree.name-dot", "tree", _tree("."), S, "'.' is not an entry name"),
        _reject("tree.name-slash", "tree", _tree("a/b"), S, "an entry name is one path component"),
        _reject("tree.name-backslash", "tree", _tree("a\\b"), S, "no backslash in entry names"),
        _reject("tree.name-nul", "tree", _tree("a\x00b"), S, "no NUL in entry names"),
        _reject("tree.name-empty", "tree", _tree(""), S, "entry names are not empty"),
        _reject(
            "tree.name-256-bytes", "tree", _tree("a" * 256), S, "entry names are at most 255 bytes"
        ),
        _reject(
            "tree.entry-not-link",
            "tree",
            fixmap((s("entries"), fixmap((s("a"), NIL))), (s("kind"), s("tree")), (s("v"), ONE)),
            S,
            "tree entries are links",
        ),
        _reject(
            "chunks.size-mismatch",
            "chunks",
            _chunks(7, [(z32, 6)]),
            S,
            "size is not the sum of the part lengths",
        ),
        _reject(
            "chunks.zero-length-part", "chunks", _chunks(0, [(z32, 0)]), S, "part lengths are > 0"
        ),
        _reject(
            "array.too-few-chunks",
            "array",
            _array("<f8", [3], [2], 1),
            S,
            "a [3] array on a [2] grid needs 2 chunks",
        ),
        _reject(
            "array.big-endian-dtype",
            "array",
            _array(">f8", [1], [1], 1),
            S,
            "dtypes are little-endian",
        ),
        _reject(
            "array.zero-chunk-side",
            "array",
            _array("<f8", [0], [0], 0),
            S,
            "chunk_shape entries are >= 1",
        ),
        _reject(
            "curves.column-length",
            "curves",
            _curves(1, b"\x00" * 7),
            S,
            "n = 1 needs 8 bytes per inline column",
        ),
        _reject(
            "run.status-running", "run", _run(status="running"), S, "running runs are never sealed"
        ),
        _reject(
            "run.id-lowercase",
            "run",
            _run(run_id=RUN_ID.lower()),
            S,
            "a ULID is upper-case Crockford base32",
        ),
        _reject(
            "run.optional-absent",
            "fields",
            _run(drop="name"),
            S,
            "optional fields are nil, never absent",
        ),
        _reject("event.unknown-op", "event", _event("star"), S, "no event op 'star'"),
        _reject(
            "commit.parent-not-link",
            "commit",
            _commit(fixarray(bin8(z32))),
            S,
            "parents are links, not bin",
        ),
    ]
    return r


def _chunks(size: int, parts: list[tuple[bytes, int]]) -> bytes:
    plist = fixarray(*(fixarray(link(oid), _hand_int(n)) for oid, n in parts))
    return fixmap(
        (s("b3"), b"\xc4\x20" + bytes(32)),
        (s("kind"), s("chunks")),
        (s("parts"), plist),
        (s("size"), _hand_int(size)),
        (s("v"), ONE),
    )


def _array(dtype: str, shape: list[int], chunk_shape: list[int], n: int) -> bytes:
    return fixmap(
        (s("chunk_shape"), fixarray(*(_hand_int(x) for x in chunk_shape))),
        (s("chunks"), fixarray(*(link(ZERO_ID) for _ in range(n)))),
        (s("dtype"), s(dtype)),
        (s("kind"), s("array")),
        (s("shape"), fixarray(*(_hand_int(x) for x in shape))),
        (s("v"), ONE),
    )


def _curves(n: int, column: bytes) -> bytes:
    curve = fixmap(
        (s("n"), _hand_int(n)),
        (s("steps"), bin8(column)),
        (s("values"), bin8(column)),
        (s("wall_time"), bin8(column)),
    )
    return fixmap((s("kind"), s("curves")), (s("metrics"), fixmap((s("m"), curve))), (s("v"), ONE))


def _run(status: str = "completed", run_id: str = RUN_ID, drop: str = "") -> bytes:
    fields = {
        "artifacts": fixarray(),
        "code": NIL,
        "config": NIL,
        "curves": NIL,
        "ended_at": NIL,
        "experiment": s("e"),
        "host": s("h"),
        "id": s(run_id),
        "kind": s("run"),
        "lineage": fixarray(),
        "metrics": fixmap(),
        "models": fixarray(),
        "name": NIL,
        "notes": fixarray(),
        "params": fixmap(),
        "started_at": s(TIME),
        "status": s(status),
        "tags": fixarray(),
        "total_steps": NIL,
        "v": ONE,
    }
    fields.pop(drop, None)
    body = b"".join(s(k) + v for k, v in fields.items())  # keys above are in UTF-8 order
    head = (
        bytes([0x80 | len(fields)])
        if len(fields) < 16
        else b"\xde" + len(fields).to_bytes(2, "big")
    )
    return head + body


def _event(op: str) -> bytes:
    return fixmap(
        (s("data"), fixmap()),
        (s("id"), s(EVENT_ID)),
        (s("kind"), s("event")),
        (s("op"), s(op)),
        (s("target"), s(RUN_ID)),
        (s("time"), s(TIME)),
        (s("v"), ONE),
    )


def _commit(parents: bytes) -> bytes:
    return fixmap(
        (s("author"), s("a")),
        (s("host"), s("h")),
        (s("kind"), s("commit")),
        (s("message"), s("")),
        (s("parents"), parents),
        (s("state"), link(ZERO_ID)),
        (s("time"), s(TIME)),
        (s("v"), ONE),
    )


def chunking_group() -> tuple[dict[str, Json], ChunkList]:
    seed = "extract chunking vector 1"
    n = 8 * 1024 * 1024
    base = xof(seed, n)
    insert_at, insert = 3 * 1024 * 1024, xof("extract chunking insert 1", 1000)
    cases: list[tuple[str, dict[str, Json], bytes]] = [
        (
            "chunking.min-size",
            {"xof": seed, "length": chunking.CHUNK_MIN},
            base[: chunking.CHUNK_MIN],
        ),
        (
            "chunking.min-size-plus-1",
            {"xof": seed, "length": chunking.CHUNK_MIN + 1},
            base[: chunking.CHUNK_MIN + 1],
        ),
        ("chunking.xof-8MiB", {"xof": seed, "length": n}, base),
        (
            "chunking.xof-8MiB-insert-1000-at-3MiB",
            {
                "xof": seed,
                "length": n,
                "insert": {"at": insert_at, "xof": "extract chunking insert 1", "length": 1000},
            },
            base[:insert_at] + insert + base[insert_at:],
        ),
    ]
    vectors = []
    main_list: ChunkList | None = None
    for name, spec, data in cases:
        odb = MemoryObjectStore()
        root = chunking.write_bytes(odb, data)
        obj = odb.get(root)
        if isinstance(obj, ChunkList):
            parts = [[oid.hex(), size] for oid, size in obj.parts]
            if name == "chunking.xof-8MiB":
                main_list = obj
        else:
            parts = [[root.hex(), len(data)]]
        vectors.append(
            {
                "name": name,
                "input": spec,
                "root_kind": obj.KIND,
                "root": root.hex(),
                "b3": blake3.blake3(data).hexdigest(),
                "parts": parts,
            }
        )
    assert main_list is not None
    params = {
        "algorithm": "FastCDC 2020 as in the v2020 module of the Rust fastcdc crate (pyfastcdc 0.3.1): its GEAR table, seed 0",
        "min_size": chunking.CHUNK_MIN,
        "avg_size": chunking.CHUNK_AVG,
        "max_size": chunking.CHUNK_MAX,
        "normalized_chunking": 1,
        "mask_s": "0x0000d91767537000",
        "mask_l": "0x0000d91707537000",
    }
    return {"params": params, "vectors": vectors}, main_list


ARRAY_CASES: list[tuple[str, Callable[[], np.ndarray[Any, Any]], tuple[int, ...] | None]] = [
    ("array.i4-3x5-grid-2x2", lambda: np.arange(15, dtype="<i4").reshape(3, 5), (2, 2)),
    ("array.f8-1d", lambda: np.array([0.1, 0.01, 0.001], dtype="<f8"), None),
    ("array.b1-0d", lambda: np.array(True), None),
    ("array.u1-0x4", lambda: np.zeros((0, 4), dtype="|u1"), None),
    ("array.f2-2x3-grid-1x2", lambda: np.array([[1, 2, 3], [4, 5, 6]], dtype="<f2"), (1, 2)),
]


def arrays_group() -> tuple[dict[str, Json], dict[str, Array]]:
    choice = []
    for shape, itemsize in (
        ((4096, 1024), 8),
        ((1000000,), 4),
        ((3, 1000, 1000), 1),
        ((0, 3), 8),
        ((), 8),
        ((7,), 2**21),
    ):
        got = choose_chunk_shape(shape, itemsize)
        choice.append({"shape": list(shape), "itemsize": itemsize, "chunk_shape": list(got)})
    vectors = []
    made: dict[str, Array] = {}
    for name, make, chunk_shape in ARRAY_CASES:
        arr = make()
        odb = MemoryObjectStore()
        oid = write_array(odb, arr, chunk_shape)
        meta = odb.get(oid)
        assert isinstance(meta, Array)
        made[name] = meta
        chunks = []
        for c in meta.chunks:
            blob = odb.get(c)
            assert isinstance(blob, Blob)
            chunks.append({"id": c.hex(), "data": blob.data.hex()})
        vectors.append(
            {
                "name": name,
                "dtype": meta.dtype,
                "shape": list(meta.shape),
                "data": arr.tobytes().hex(),
                "chunk_shape_given": None if chunk_shape is None else list(chunk_shape),
                "chunk_shape": list(meta.chunk_shape),
                "chunks": chunks,
                "id": oid.hex(),
            }
        )
    return {"chunk_shape_choice": choice, "vectors": vectors}, made


def well_known(objs: list[dict[str, Json]]) -> list[dict[str, Json]]:
    by_name = {o["name"]: o["id"] for o in objs}
    return [
        {
            "name": "zero-id",
            "id": "0" * 64,
            "what": "no object (reflog old/new of a ref that did not exist)",
        },
        {"name": "empty-blob", "id": by_name["blob.empty"], "what": "a blob of zero bytes"},
        {
            "name": "hello-blob",
            "id": by_name["blob.hello"],
            "what": "a blob of the 6 bytes 'hello\\n'",
        },
        {"name": "empty-tree", "id": by_name["tree.empty"], "what": "a tree with no entries"},
        {
            "name": "empty-curves",
            "id": by_name["curves.empty"],
            "what": "a curve set with no metrics",
        },
    ]


def build() -> dict[str, Json]:
    chunk_doc, chunk_list = chunking_group()
    array_doc, arrays = arrays_group()
    objs = objects(chunk_list, arrays)
    return {
        "about": (
            "Test vectors of the extract object format, store format 2. Made by "
            "objects_spec/vectors/make_vectors.py from the extract package; every valid "
            "value was also encoded by an independent encoder in that script, every reject "
            "input was written byte by byte. Notation: objects_spec/vectors/README.md."
        ),
        "format": FORMAT,
        "hash": HASH,
        "values": values(),
        "objects": objs,
        "reject": rejects(),
        "chunking": chunk_doc,
        "arrays": array_doc,
        "well_known": well_known(objs),
        "pack": pack_vector(objs),
    }


def pack_vector(objs: list[dict[str, Json]]) -> dict[str, Json]:
    """A pack of hello-blob and empty-tree, both stored raw, laid out by hand from store.md
    (not by extract's PackWriter), then read back with extract's reader."""
    import tempfile

    from extract.objects import from_hex
    from extract.store.pack import read_pack

    by_name = {o["name"]: o for o in objs}
    header = b"XP\x01\x00"
    body = b""
    where: dict[bytes, tuple[int, int]] = {}
    for name in ("blob.hello", "tree.empty"):
        oid = bytes.fromhex(str(by_name[name]["id"]))
        stored = b"XO\x01\x00" + bytes.fromhex(str(by_name[name]["bytes"]))
        where[oid] = (len(header) + len(body), len(stored))
        body += stored
    index = b"".join(oid + struct.pack(">QQ", *where[oid]) for oid in sorted(where))
    digest = blake3.blake3(header + index).digest()
    data = header + body + index + struct.pack(">QQ", len(where), len(header) + len(body)) + digest
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"{digest.hex()}.pack"
        path.write_bytes(data)
        pack = read_pack(path)
        for oid, (offset, length) in where.items():
            if pack.find(from_hex(oid.hex())) != (offset, length):
                raise SystemExit("pack vector: extract's reader disagrees with the layout")
    return {
        "name": digest.hex(),
        "hex": data.hex(),
        "objects": [
            {"id": oid.hex(), "offset": off, "length": n} for oid, (off, n) in sorted(where.items())
        ],
        "what": "hello-blob and empty-tree in one pack; file name: <name>.pack",
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=True) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        same = OUT.exists() and OUT.read_text("ascii") == text
        print(f"{OUT}: {'up to date' if same else 'OUT OF DATE'}")
        return 0 if same else 1
    OUT.write_text(text, "ascii")
    print(f"wrote {OUT} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
