"""The format's test vectors (objects_spec/vectors/vectors.json), checked against the code.

Every vector is checked both ways: the value encodes to the recorded bytes and the bytes
decode back to the value; object ids are recomputed; every reject input fails with the
documented error class. The last tests keep the spec and the code from drifting apart:
regenerating the vectors must reproduce the committed file, every kind must have a
vector, and the well-known ids named in objects_spec/README.md must be the code's.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import struct
from pathlib import Path
from types import ModuleType
from typing import Any

import blake3
import numpy as np
import pytest

from extract import errors
from extract.objects import (
    KINDS,
    Array,
    Blob,
    ChunkList,
    Commit,
    CurveSet,
    Link,
    ObjectId,
    Tree,
    Value,
    blob_parts,
    decode,
    decode_object,
    encode,
    encode_object,
    hash_bytes,
)
from extract.objects.kinds import cast
from extract.store import chunking
from extract.store.arrays import ArrayReader, choose_chunk_shape, write_array
from extract.store.history import HIERARCHY_ENTRY, SECTIONS, State, read_state, write_state
from extract.store.odb import MemoryObjectStore
from extract.store.refs import ZERO_HEX

# Unit tests of the store: objects are raw material here, not writes racing gc.
pytestmark = pytest.mark.usefixtures("lax_writes")

SPEC = Path(__file__).resolve().parent.parent / "objects_spec"
VECTORS = SPEC / "vectors" / "vectors.json"
DOC: dict[str, Any] = json.loads(VECTORS.read_text("ascii"))
ERRORS: dict[str, type[errors.ObjectFormatError]] = {
    "DecodeError": errors.DecodeError,
    "SchemaError": errors.SchemaError,
    "UnknownFormatVersion": errors.UnknownFormatVersion,
}


def _params(group: list[dict[str, Any]]) -> list[Any]:
    return [pytest.param(v, id=v["name"]) for v in group]


def pattern(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


def xof(seed: str, n: int) -> bytes:
    out: bytes = blake3.blake3(seed.encode("utf-8")).digest(length=n)
    return out


# --- typed JSON, implemented here independently of make_vectors.py ------------------


def from_json(j: Any) -> Value:
    if j is None or type(j) in (bool, int, str):
        return j
    if type(j) is list:
        return [from_json(x) for x in j]
    if type(j) is dict:
        if len(j) == 1:
            ((tag, arg),) = j.items()
            if tag == "$float":
                return struct.unpack(">d", bytes.fromhex(arg))[0]
            if tag == "$bytes":
                return bytes.fromhex(arg)
            if tag == "$pattern":
                return pattern(arg)
            if tag == "$link":
                return Link(ObjectId(bytes.fromhex(arg)))
        return {k: from_json(v) for k, v in j.items()}
    raise AssertionError(f"not typed JSON: {j!r}")


def to_json(v: Value) -> Any:
    if v is None or type(v) in (bool, int, str):
        return v
    if type(v) is float:
        return {"$float": struct.pack(">d", v).hex()}
    if type(v) is bytes:
        return (
            {"$pattern": len(v)} if len(v) >= 32 and v == pattern(len(v)) else {"$bytes": v.hex()}
        )
    if type(v) is Link:
        return {"$link": v.id.hex()}
    if type(v) is list:
        return [to_json(x) for x in v]
    if type(v) is dict:
        return {k: to_json(x) for k, x in v.items()}
    raise AssertionError(f"unexpected decoded type {type(v).__name__}")


# --- values and objects --------------------------------------------------------------


@pytest.mark.parametrize("vec", _params(DOC["values"]))
def test_value_vector(vec: dict[str, Any]) -> None:
    raw = bytes.fromhex(vec["bytes"])
    value = from_json(vec["value"])
    assert encode(value) == raw
    decoded = decode(raw)
    assert to_json(decoded) == vec.get("decoded", vec["value"])
    assert encode(decoded) == raw


@pytest.mark.parametrize("vec", _params(DOC["objects"]))
def test_object_vector(vec: dict[str, Any]) -> None:
    raw = bytes.fromhex(vec["bytes"])
    assert encode(from_json(vec["value"])) == raw
    assert hash_bytes(raw).hex() == vec["id"]
    assert to_json(decode(raw)) == vec["value"]
    obj = decode_object(raw)
    assert vec["kind"] == obj.KIND
    assert type(obj) is KINDS[vec["kind"]]
    assert encode_object(obj) == raw
    if isinstance(obj, Blob):
        prefix, suffix = blob_parts(obj.data)
        assert prefix + obj.data + suffix == raw


@pytest.mark.parametrize("vec", _params(DOC["reject"]))
def test_reject_vector(vec: dict[str, Any]) -> None:
    raw = bytes.fromhex(vec["bytes"])
    cls = ERRORS[vec["error"]]
    with pytest.raises(cls) as caught:
        decode_object(raw)
    assert type(caught.value) is cls, f"{vec['name']}: {caught.value}"
    if vec["stage"] == "decode":
        with pytest.raises(errors.DecodeError):
            decode(raw)
    else:
        assert encode(decode(raw)) == raw  # canonical bytes, refused by the kind's table


def test_every_kind_has_a_vector() -> None:
    assert {v["kind"] for v in DOC["objects"]} >= set(KINDS)


def test_vector_names_are_unique() -> None:
    for group in ("values", "objects", "reject"):
        names = [v["name"] for v in DOC[group]]
        assert len(names) == len(set(names)), group


def test_reject_vectors_cover_every_rule() -> None:
    rules = {v["rule"] for v in DOC["reject"]}
    assert {f"R{i}" for i in range(1, 12)} <= rules  # R12 is the decoder rule itself


def test_cited_rules_are_defined_in_encoding_md() -> None:
    text = (SPEC / "encoding.md").read_text("utf-8")
    defined = set(re.findall(r"^\*\*(R\d+)\*\*", text, re.MULTILINE))
    assert defined == {f"R{i}" for i in range(1, 13)}
    cited = {v["rule"] for v in DOC["values"] + DOC["reject"] if v["rule"].startswith("R")}
    assert cited <= defined


# --- chunking ------------------------------------------------------------------------


def _chunk_input(spec: dict[str, Any]) -> bytes:
    data = xof(spec["xof"], spec["length"])
    ins = spec.get("insert")
    if ins:
        data = data[: ins["at"]] + xof(ins["xof"], ins["length"]) + data[ins["at"] :]
    return data


def test_chunking_parameters() -> None:
    p = DOC["chunking"]["params"]
    assert (p["min_size"], p["avg_size"], p["max_size"]) == (
        chunking.CHUNK_MIN,
        chunking.CHUNK_AVG,
        chunking.CHUNK_MAX,
    )


@pytest.mark.parametrize("vec", _params(DOC["chunking"]["vectors"]))
def test_chunking_vector(vec: dict[str, Any]) -> None:
    data = _chunk_input(vec["input"])
    odb = MemoryObjectStore()
    root = chunking.write_bytes(odb, data)
    assert root.hex() == vec["root"]
    obj = odb.get(root)
    assert vec["root_kind"] == obj.KIND
    assert blake3.blake3(data).hexdigest() == vec["b3"]
    offset = 0
    for oid_hex, n in vec["parts"]:
        assert hash_bytes(encode_object(Blob(data[offset : offset + n]))).hex() == oid_hex
        offset += n
    assert offset == len(data)
    if isinstance(obj, ChunkList):
        assert obj.b3.hex() == vec["b3"]
        assert len(obj.parts) >= 2
        assert all(n <= chunking.CHUNK_MAX for _, n in obj.parts)
        assert all(n >= chunking.CHUNK_MIN for _, n in obj.parts[:-1])
    assert chunking.read_bytes(odb, root) == data


def test_chunking_insert_changes_one_chunk() -> None:
    by_name = {v["name"]: v for v in DOC["chunking"]["vectors"]}
    before = [p[0] for p in by_name["chunking.xof-8MiB"]["parts"]]
    after = [p[0] for p in by_name["chunking.xof-8MiB-insert-1000-at-3MiB"]["parts"]]
    assert len(before) == len(after)
    assert sum(a != b for a, b in zip(before, after, strict=True)) == 1


# --- arrays --------------------------------------------------------------------------


@pytest.mark.parametrize("case", DOC["arrays"]["chunk_shape_choice"])
def test_chunk_shape_choice(case: dict[str, Any]) -> None:
    got = choose_chunk_shape(tuple(case["shape"]), case["itemsize"])
    assert list(got) == case["chunk_shape"]


@pytest.mark.parametrize("vec", _params(DOC["arrays"]["vectors"]))
def test_array_vector(vec: dict[str, Any]) -> None:
    arr = np.frombuffer(bytes.fromhex(vec["data"]), dtype=vec["dtype"]).reshape(vec["shape"])
    given = vec["chunk_shape_given"]
    odb = MemoryObjectStore()
    oid = write_array(odb, arr, None if given is None else tuple(given))
    assert oid.hex() == vec["id"]
    meta = cast(odb.get(oid), Array)
    assert list(meta.chunk_shape) == vec["chunk_shape"]
    assert [c.hex() for c in meta.chunks] == [c["id"] for c in vec["chunks"]]
    for c in vec["chunks"]:
        blob = cast(odb.get(ObjectId(bytes.fromhex(c["id"]))), Blob)
        assert blob.data.hex() == c["data"]
    np.testing.assert_array_equal(ArrayReader(odb, oid).read(), arr)


# --- state trees (kinds.md, "State trees") ----------------------------------------


def _vector_store() -> MemoryObjectStore:
    odb = MemoryObjectStore()
    for v in DOC["objects"]:
        odb.put_raw(bytes.fromhex(v["bytes"]))
    return odb


@pytest.mark.parametrize("name", ["commit.root", "commit.child"])
def test_state_tree_layout(name: str) -> None:
    odb = _vector_store()
    commit = cast(decode_object(bytes.fromhex(_by_name(name)["bytes"])), Commit)
    root = cast(odb.get(commit.state), Tree)
    assert set(root.entries) <= {*SECTIONS, HIERARCHY_ENTRY}
    for entry, child in root.entries.items():
        if entry == HIERARCHY_ENTRY:
            cast(odb.get(child), Blob)
            continue
        section = cast(odb.get(child), Tree)
        assert section.entries, "an empty section is absent, not an empty tree"
        for bucket, sub in section.entries.items():
            leaves = cast(odb.get(sub), Tree)
            assert leaves.entries, "an empty bucket is absent"
            for key in leaves.entries:
                assert blake3.blake3(key.encode("utf-8")).hexdigest()[:2] == bucket
    assert write_state(odb, read_state(odb, commit.state)) == commit.state


def test_empty_state_is_the_empty_tree() -> None:
    assert write_state(MemoryObjectStore(), State()).hex() == _well_known_from_code()["empty-tree"]


def _by_name(name: str) -> dict[str, Any]:
    return next(v for v in DOC["objects"] if v["name"] == name)


# --- well-known ids and drift --------------------------------------------------------


def _well_known_from_code() -> dict[str, str]:
    return {
        "zero-id": ZERO_HEX,
        "empty-blob": hash_bytes(encode_object(Blob(b""))).hex(),
        "hello-blob": hash_bytes(encode_object(Blob(b"hello\n"))).hex(),
        "empty-tree": hash_bytes(encode_object(Tree({}))).hex(),
        "empty-curves": hash_bytes(encode_object(CurveSet({}))).hex(),
    }


def test_well_known_vectors_match_code() -> None:
    assert {w["name"]: w["id"] for w in DOC["well_known"]} == _well_known_from_code()


def test_readme_well_known_table_matches_code() -> None:
    text = (SPEC / "README.md").read_text("utf-8")
    table = dict(re.findall(r"^\| `([a-z0-9-]+)` \| `([0-9a-f]{64})` \|", text, re.MULTILINE))
    assert table == _well_known_from_code()


def _known_hex() -> set[str]:
    known = {w["id"] for w in DOC["well_known"]} | {v["id"] for v in DOC["objects"]}
    for v in DOC["chunking"]["vectors"]:
        known |= {v["root"], v["b3"], *(p[0] for p in v["parts"])}
    for v in DOC["arrays"]["vectors"]:
        known |= {v["id"], *(c["id"] for c in v["chunks"])}
    return known


def test_every_id_in_the_spec_is_a_vector() -> None:
    known = _known_hex()
    for md in sorted(SPEC.glob("*.md")):
        for found in re.findall(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])", md.read_text("utf-8")):
            assert found in known, f"{md.name} names {found}, which no vector has"


def test_format_and_hash_match_code() -> None:
    from extract.objects import HASH_NAME
    from extract.store.repo import STORE_FORMAT, format_text

    assert DOC["format"] == STORE_FORMAT
    assert DOC["hash"] == HASH_NAME
    assert format_text() == f"extract-store {DOC['format']}\nhash {DOC['hash']}\n"


def _load_make_vectors() -> ModuleType:
    path = SPEC / "vectors" / "make_vectors.py"
    spec = importlib.util.spec_from_file_location("_extract_make_vectors", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regenerating_vectors_reproduces_the_committed_file() -> None:
    text = _load_make_vectors().render()
    assert isinstance(text, str)
    committed = VECTORS.read_text("ascii")
    assert text == committed, (
        "objects_spec/vectors/vectors.json is out of date: the code's encoding changed. "
        "If the change is intended, bump the format (objects_spec/changes.md) and run "
        ".venv/bin/python objects_spec/vectors/make_vectors.py"
    )


def test_nan_vectors_are_the_one_nan() -> None:
    for v in DOC["values"]:
        if v["rule"] == "R5":
            value = from_json(v["value"])
            assert isinstance(value, float) and math.isnan(value)
            assert v["bytes"] == "cb7ff8000000000000"
