"""Object kinds: each round trips, and each field table rejects what it should."""

from __future__ import annotations

import pytest

from extract.errors import SchemaError, UnknownFormatVersion
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
    ObjectKind,
    RunRecord,
    Tree,
    blob_parts,
    decode,
    decode_object,
    encode,
    encode_object,
    hash_bytes,
    new_ulid,
)
from extract.objects.ulid import ulid_time_ms

A = hash_bytes(b"a")
B = hash_bytes(b"b")
RUN_ID = new_ulid()


def samples() -> list[ObjectKind]:
    return [
        Blob(b""),
        Blob(b"x" * 70000),
        ChunkList(5, b"\x00" * 32, ((A, 2), (B, 3))),
        Tree({"weights.pt": A, "config.json": B}),
        Array("<f4", (3, 4), (2, 4), (A, B)),
        Array("|b1", (), (), (A,)),
        CurveSet({"loss": Curve(2, b"\x00" * 16, b"\x01" * 16, Link(A))}),
        RunRecord(
            id=RUN_ID,
            experiment="imagenet/resnet50",
            name="r1",
            config={"lr": 0.001, "nested": {"a": [1, 2]}},
            status="completed",
            started_at="2026-11-25T10:00:00.000Z",
            ended_at="2026-11-25T11:00:00.000Z",
            host="gpu01",
            code={"sha": "ab" * 20, "dirty": False},
            total_steps=100,
            metrics={"acc": {"value": 0.9, "wall_time": 3.5}},
            params={"arch": "resnet50"},
            tags=("sweep",),
            notes=("first",),
            curves=A,
            artifacts=({"name": "cm", "kind": "table", "object": Link(B)},),
            models=(B,),
            lineage=({"relation": "derived_from", "type": "run", "id": RUN_ID},),
        ),
        ModelVersion(
            "resnet", "v1", "pytorch", {"epochs": 3}, A, 123, RUN_ID, "2026-11-25T11:00:00Z"
        ),
        Event(new_ulid(), "2026-11-25T11:00:00Z", "tag", f"run:{RUN_ID}", {"tags": ["best"]}),
        Commit((A, B), A, "alice", "laptop", "2026-11-25T11:00:00Z", "sweep results"),
    ]


@pytest.mark.parametrize("obj", samples(), ids=lambda o: o.KIND)
def test_round_trip(obj: ObjectKind) -> None:
    raw = encode_object(obj)
    assert decode_object(raw) == obj
    assert encode_object(decode_object(raw)) == raw


def test_blob_parts_match_the_encoder() -> None:
    for n in (0, 1, 255, 256, 65535, 65536, 1 << 20):
        data = bytes(range(256)) * (n // 256) + bytes(n % 256)
        prefix, suffix = blob_parts(data)
        assert prefix + data + suffix == encode_object(Blob(data))


def with_field(obj: ObjectKind, **changes: object) -> bytes:
    value = obj.to_value()
    value.update(changes)
    return encode(value)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (encode({"kind": "blob", "v": 1}), "missing data"),
        (encode({"kind": "blob", "v": 1, "data": b"", "extra": 1}), "unknown extra"),
        (encode({"kind": "blob", "v": 1, "data": "text"}), "binary"),
        (encode({"kind": "nope", "v": 1}), "unknown object kind"),
        (encode([1, 2]), "is a map"),
        (encode({"kind": "blob"}), "integer 'v'"),
        (with_field(Tree({"a": A}), entries={"..": Link(A)}), "not allowed"),
        (with_field(Tree({"a": A}), entries={"a/b": Link(A)}), "not allowed"),
        (with_field(Tree({"a": A}), entries={"a": 1}), "must be a link"),
        (with_field(ChunkList(5, b"\x00" * 32, ((A, 5),)), size=6), "sum of the part lengths"),
        (with_field(ChunkList(5, b"\x00" * 32, ((A, 5),)), parts=[[Link(A), 0]]), "length > 0"),
        (with_field(Array("<f4", (3,), (2,), (A, B)), chunks=[Link(A)]), "needs 2 chunks"),
        (with_field(Array("<f4", (3,), (2,), (A, B)), dtype=">f4"), "not allowed"),
        (with_field(Array("<f4", (3,), (2,), (A, B)), dtype="|O"), "not allowed"),
        (
            with_field(
                CurveSet({}), metrics={"m": {"n": 2, "steps": b"", "values": b"", "wall_time": b""}}
            ),
            "16 bytes",
        ),
        (with_field(samples()[7], status="running"), "run.status"),
        (with_field(samples()[7], id="not-a-ulid"), "ULID"),
        (with_field(samples()[7], params={"a": 1}), "params values"),
        (with_field(samples()[9], op="explode"), "event.op"),
        (with_field(samples()[10], parents=[b"x"]), "array of links"),
    ],
)
def test_schema_violations(raw: bytes, match: str) -> None:
    with pytest.raises(SchemaError, match=match):
        decode_object(raw)


def test_unknown_version_is_refused() -> None:
    raw = encode({"kind": "blob", "v": 2, "data": b""})
    with pytest.raises(UnknownFormatVersion, match="version 2"):
        decode_object(raw)
    decode(raw)  # still well-formed: tools that only walk links can read it


def test_ulids_sort_by_time_and_are_monotonic() -> None:
    ids = [new_ulid() for _ in range(1000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 1000
    assert ulid_time_ms(new_ulid(now_ms=2_000_000_000_000)) >= 2_000_000_000_000
