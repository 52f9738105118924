"""The object kinds (the same in store formats 1 and 2): typed values, pure encode and decode.

Each object is a canonical msgpack map holding ``kind`` (a string), ``v`` (the
kind's format version) and exactly the fields of that kind's table in
``objects_spec/kinds.md``. Optional fields are present as nil, never absent, so
every object has one encoding.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self, TypeVar

from extract.errors import SchemaError, UnknownFormatVersion
from extract.objects.codec import Link, Value, decode, encode
from extract.objects.ids import DIGEST_SIZE, ObjectId
from extract.objects.names import check_entry_name

T = TypeVar("T")

RUN_STATUSES = ("completed", "failed")
EVENT_OPS = (
    "tag",
    "untag",
    "note",
    "todo",
    "todo_done",
    "todo_reopen",
    "delete",
    "restore",
    "stamp",
    "lineage",
    "experiment",
    "purge",
)
_DTYPE = re.compile(r"\|b1|\|i1|\|u1|<i[248]|<u[248]|<f[248]")
_ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
#: Columns of a curve: name -> little-endian dtype of the packed values.
CURVE_COLUMNS = {"steps": "<i8", "values": "<f8", "wall_time": "<f8"}


class _Fields:
    """Reads one object's fields, each with the reason it is rejected."""

    def __init__(self, kind: str, value: Mapping[str, Value], names: tuple[str, ...]) -> None:
        self.kind = kind
        self.v = value
        keys = set(value) - {"kind", "v"}
        if keys != set(names):
            missing = sorted(set(names) - keys)
            extra = sorted(keys - set(names))
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            if extra:
                parts.append(f"unknown {', '.join(extra)}")
            raise SchemaError(f"{kind} object: {'; '.join(parts)}")

    def fail(self, name: str, want: str) -> SchemaError:
        got = self.v[name]
        return SchemaError(f"{self.kind}.{name} must be {want}, got {type(got).__name__}")

    def get(self, name: str, check: Callable[[Any], bool], want: str) -> Any:
        value = self.v[name]
        if not check(value):
            raise self.fail(name, want)
        return value

    def str_(self, name: str, optional: bool = False) -> Any:
        return self.get(name, lambda x: type(x) is str or (optional and x is None), "a string")

    def int_(self, name: str, optional: bool = False, minimum: int = 0) -> Any:
        return self.get(
            name,
            lambda x: (type(x) is int and x >= minimum) or (optional and x is None),
            f"an integer >= {minimum}",
        )

    def link(self, name: str, optional: bool = False) -> ObjectId | None:
        v = self.get(name, lambda x: type(x) is Link or (optional and x is None), "a link")
        return None if v is None else v.id

    def map_(self, name: str, optional: bool = False) -> Any:
        return self.get(name, lambda x: type(x) is dict or (optional and x is None), "a map")

    def list_(self, name: str) -> list[Any]:
        return list(self.get(name, lambda x: type(x) is list, "an array"))

    def ulid(self, name: str, optional: bool = False) -> Any:
        return self.get(
            name,
            lambda x: (type(x) is str and bool(_ULID.fullmatch(x))) or (optional and x is None),
            "a 26-character ULID",
        )


def _lk(oid: ObjectId | None) -> Link | None:
    return None if oid is None else Link(oid)


class ObjectKind:
    """Base of every kind; ``fields()`` and ``from_fields()`` are exact inverses."""

    KIND: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def fields(self) -> dict[str, Value]:
        raise NotImplementedError

    @classmethod
    def from_fields(cls, value: Mapping[str, Value]) -> Self:
        raise NotImplementedError

    def to_value(self) -> dict[str, Value]:
        return {"kind": self.KIND, "v": self.VERSION, **self.fields()}


@dataclass(frozen=True)
class Blob(ObjectKind):
    """Raw bytes: a small file or one chunk of a large one."""

    KIND: ClassVar[str] = "blob"
    data: bytes

    def fields(self) -> dict[str, Value]:
        return {"data": self.data}

    @classmethod
    def from_fields(cls, value: Mapping[str, Value]) -> Self:
        f = _Fields(cls.KIND, value, ("data",))
        return cls(f.get("data", lambda x: type(x) is bytes, "binary"))


@dataclass(frozen=True)
class ChunkList(ObjectKind):
    """Large data cut into content-defined chunks, in order."""

    KIND: ClassVar[str] = "chunks"
    size: int
    b3: bytes  # BLAKE3-256 of the whole reassembled content (what b3sum prints)
    parts: tuple[tuple[ObjectId, int], ...]

    def fields(self) -> dict[str, Value]:
        return {
            "size": self.size,
            "b3": self.b3,
            "parts": [[Link(oid), n] for oid, n in self.parts],
        }

    @classmethod
    def from_fields(cls, value: Mapping[str, Value]) -> Self:
        f = _Fields(cls.KIND, value, ("size", "b3", "parts"))
        size = f.int_("size")
        b3 = f.get("b3", lambda x: type(x) is bytes and len(x) == DIGEST_SIZE, "32 bytes")
        parts = []
        for p in f.list_("parts"):
            if not (
                type(p) is list
                and len(p) == 2
                and type(p[0]) is Link
                and type(p[1]) is int
                and p[1] > 0
            ):
                raise SchemaError("chunks.parts entries must be [link, length > 0]")
            parts.append((p[0].id, p[1]))
        if sum(n for _, n in parts) != size:
            raise SchemaError("chunks.size must equal the sum of the part lengths")
        return cls(size, b3, tuple(parts))


@dataclass(frozen=True)
class Tree(ObjectKind):
    """Names to objects: directories, artifact sets and the fan-out of large maps."""

    KIND: ClassVar[str] = "tree"
    entries: Mapping[str, ObjectId]

    def __post_init__(self) -> None:
        for name in self.entries:
            check_entry_name(name)

    def fields(self) -> dict[str, Value]:
        return {"entries": {k: Link(v) for k, v in self.entries.items()}}

    @classmethod
    def from_fields(cls, value: Mapping[str, Value]) -> Self:
        f = _Fields(cls.KIND, value, ("entries",))
        entries = {}
        for name, v in f.map_("entries").items():
            if type(v) is not Link:
                raise SchemaError(f"tree entry {name!r} must be a link")
            entries[name] = v.id
        try:
            return cls(entries)
        except ValueError as e:
            raise SchemaError(f"tree: {e}") from None


@dataclass(frozen=True)
class Array(ObjectKind):
    """An N-d array cut on a regular grid; each chunk a blob of C-order little-endian bytes."""

    KIND: ClassVar[str] = "array"
    dtype: str
    shape: tuple[int, ...]
    chunk_shape: tuple[int, ...]
    chunks: tuple[ObjectId, ...]

    def __post_init__(self) -> None:
        if not _DTYPE.fullmatch(self.dtype):
            raise SchemaError(
                f"array.dtype {self.dtype!r} is not allowed: use |b1, |i1, |u1, <i2/4/8, "
                "<u2/4/8 or <f2/4/8"
            )
        if len(self.shape) != len(self.chunk_shape):
            raise SchemaError("array.shape and array.chunk_shape must have the same length")
        if any(c < 1 for c in self.chunk_shape):
            raise SchemaError("array.chunk_shape entries must be >= 1")
        if len(self.chunks) != grid_size(self.shape, self.chunk_shape):
            raise SchemaError(
                f"array needs {grid_size(self.shape, self.chunk_shape)} chunks for its grid, "
                f"has {len(self.chunks)}"
            )

    def fields(self) -> dict[str, Value]:
        return {
            "dtype": self.dtype,
            "shape": list(self.shape),
            "chunk_shape": list(self.chunk_shape),
            "chunks": [Link(c) for c in self.chunks],
        }

    @classmethod
    def from_fields(cls, value: Mapping[str, Value]) -> Self:
        f = _Fields(cls.KIND, value, ("dtype", "shape", "chunk_shape", "chunks"))

        def ints(name: str) -> tuple[int, ...]:
            xs = f.list_(name)
            if not all(type(x) is int and x >= 0 for x in xs):
                raise SchemaError(f"array.{name} must be an array of integers >= 0")
            return tuple(xs)

        chunks = f.list_("chunks")
        if not all(type(c) is Link for c in chunks):
            raise SchemaError("array.chunks must be an array of links")
        return cls(f.str_("dtype"), ints("shape"), ints("chunk_shape"), tuple(c.id for c in chunks))


def grid_shape(shape: tuple[int, ...], chunk_shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(-(-s // c) for s, c in zip(shape, chunk_shape, strict=True))


def grid_size(shape: tuple[int, ...], chunk_shape: tuple[int, ...]) -> int:
    n = 1
    for g in grid_shape(shape, chunk_shape):
        n *= g
    return n


Column = bytes | Link  # packed little-endian values inline, or a link to a 1-d array


@dataclass(frozen=True)
class Curve:
    n: int
    steps: Column
    values: Column
    wall_time: Column


@dataclass(frozen=True)
class CurveSet(ObjectKind):
    """Per-step metric streams of one run, columnar per metric."""

    KIND: ClassVar[str] = "curves"
    #: Columns longer than this many bytes are stored as linked arrays, not inline.
    INLINE_MAX: ClassVar[int] = 256 * 1024
    metrics: Mapping[str, Curve]

    def fields(self) -> dict[str, Value]:
        return {
            "metrics": {
                name: {"n": c.n, "steps": c.steps, "values": c.values, "wall_time": c.wall_time}
                for name, c in self.metrics.items()
            }
        }

    @classmethod
    def from_fields(cls, value: Mapping[str, Value]) -> Self:
        f = _Fields(cls.KIND, value, ("metrics",))
        metrics: dict[str, Curve] = {}
        for name, m in f.map_("metrics").items():
            if type(m) is not dict or set(m) != {"n", *CURVE_COLUMNS}:
                raise SchemaError(f"curves.metrics[{name!r}] must hold n, steps, values, wall_time")
            n = m["n"]
            if type(n) is not int or n < 0:
                raise SchemaError(f"curves.metrics[{name!r}].n must be an integer >= 0")
            cols: dict[str, Column] = {}
            for k in CURVE_COLUMNS:
                c = m[k]
                if type(c) is Link or (type(c) is bytes and len(c) == 8 * n):
                    cols[k] = c
                else:
                    raise SchemaError(
                        f"curves.metrics[{name!r}].{k} must be a link or {8 * n} bytes"
                    )
            metrics[name] = Curve(n, cols["steps"], cols["values"], cols["wall_time"])
        return cls(metrics)


def _str_map(f: _Fields, name: str) -> dict[str, Any]:
    m = f.map_(name)
    return dict(m)


def run_body(o: Any) -> dict[str, Value]:
    """The fields a run record and a resumed run's segment share (objects_spec/kinds.md)."""
    return {
        "status": o.status,
        "started_at": o.started_at,
        "ended_at": o.ended_at,
        "host": o.host,
        "code": None if o.code is None else dict(o.code),
        "total_steps": o.total_steps,
        "metrics": dict(o.metrics),
        "params": dict(o.params),
        "tags": list(o.tags),
        "notes": list(o.notes),
        "curves": _lk(o.curves),
        "artifacts": [dict(a) for a in o.artifacts],
        "models": [Link(m) for m in o.models],
        "lineage": [dict(e) for e in o.lineage],
    }


def run_body_from(f: _Fields, kind: str) -> dict[str, Any]:
    """``run_body``'s fields checked and decoded; errors name ``kind`` (run, segment)."""
    status = f.str_("status")
    if status not in RUN_STATUSES:
        raise SchemaError(f"{kind}.status must be one of {', '.join(RUN_STATUSES)}, got {status!r}")
    params = _str_map(f, "params")
    if not all(type(v) is str for v in params.values()):
        raise SchemaError(f"{kind}.params values must be strings")
    tags, notes = f.list_("tags"), f.list_("notes")
    if not all(type(t) is str for t in tags + notes):
        raise SchemaError(f"{kind}.tags and {kind}.notes must be arrays of strings")
    artifacts, lineage = f.list_("artifacts"), f.list_("lineage")
    if not all(type(a) is dict for a in artifacts + lineage):
        raise SchemaError(f"{kind}.artifacts and {kind}.lineage must be arrays of maps")
    models = f.list_("models")
    if not all(type(m) is Link for m in models):
        raise SchemaError(f"{kind}.models must be an array of links")
    return {
        "status": status,
        "started_at": f.str_("started_at"),
        "ended_at": f.str_("ended_at", optional=True),
        "host": f.str_("host"),
        "code": f.map_("code", optional=True),
        "total_steps": f.int_("total_steps", optional=True),
        "metrics": _str_map(f, "metrics"),
        "params": params,
        "tags": tuple(tags),
        "notes": tuple(notes),
        "curves": f.link("curves", optional=True),
        "artifacts": tuple(artifacts),
        "models": tuple(m.id for m in models),
        "lineage": tuple(lineage),
    }


@dataclass(frozen=True)
class RunRecord(ObjectKind):
    """A sealed run: everything logged, frozen at finish."""

    KIND: ClassVar[str] = "run"
    id: str
    experiment: str
    name: str | None
    config: Value
    status: str
    started_at: str
    ended_at: str | None
    host: str
    code: Mapping[str, Value] | None
    total_steps: int | None
    metrics: Mapping[str, Value]
    params: Mapping[str, str]
    tags: tuple[str, ...]
    notes: tuple[str, ...]
    curves: ObjectId | None
    artifacts: tuple[Mapping[str, Value], ...]
    models: tuple[ObjectId, ...]
    lineage: tuple[Mapping[str, Value], ...]

    _NAMES: ClassVar[tuple[str, ...]] = (
        "id", "experiment", "name", "config", "status", "started_at", "ended_at", "host",
        "code", "total_steps", "metrics", "params", "tags", "notes", "curves", "artifacts",
        "models", "lineage",
    )  # fmt: skip

    def fields(self) -> dict[str, Value]:
        head = {"id": self.id, "experiment": self.experiment, "name": self.name}
        return {**head, "config": self.config, **run_body(self)}

    @classmethod
    def from_fields(cls, value: Mapping[str, Value]) -> Self:
        f = _Fields(cls.KIND, value, cls._NAMES)
        return cls(
            id=f.ulid("id"),
            experiment=f.str_("experiment"),
            name=f.str_("name", optional=True),
            config=value["config"],
            **run_body_from(f, "run"),
        )


@dataclass(frozen=True)
class ModelVersion(ObjectKind):
    """One registered version of a model; its bytes are a blob, chunk list or tree."""

    KIND: ClassVar[str] = "model"
    name: str
    version: str
    framework: str
    metadata: Value
    content: ObjectId
    size: int
    run: str | None
    created_at: str

    def fields(self) -> dict[str, Value]:
        return {
            "name": self.name,
            "version": self.version,
            "framework": self.framework,
            "metadata": self.metadata,
            "content": Link(self.content),
            "size": self.size,
            "run": self.run,
            "created_at": self.created_at,
        }

    @classmethod
    def from_fields(cls, value: Mapping[str, Value]) -> Self:
        names = ("name", "version", "framework", "metadata", "content", "size", "run", "created_at")
        f = _Fields(cls.KIND, value, names)
        content = f.link("content")
        assert content is not None
        return cls(
            name=f.str_("name"),
            version=f.str_("version"),
            framework=f.str_("framework"),
            metadata=value["metadata"],
            content=content,
            size=f.int_("size"),
            run=f.ulid("run", optional=True),
            created_at=f.str_("created_at"),
        )


@dataclass(frozen=True)
class Event(ObjectKind):
    """An annotation made after a run was sealed; merged by union, never rewritten."""

    KIND: ClassVar[str] = "event"
    id: str
    time: str
    op: str
    target: str
    data: Mapping[str, Value] = field(default_factory=dict)

    def fields(self) -> dict[str, Value]:
        return {
            "id": self.id,
            "time": self.time,
            "op": self.op,
            "target": self.target,
            "data": dict(self.data),
        }

    @classmethod
    def from_fields(cls, value: Mapping[str, Value]) -> Self:
        f = _Fields(cls.KIND, value, ("id", "time", "op", "target", "data"))
        op = f.str_("op")
        if op not in EVENT_OPS:
            raise SchemaError(f"event.op must be one of {', '.join(EVENT_OPS)}, got {op!r}")
        return cls(f.ulid("id"), f.str_("time"), op, f.str_("target"), f.map_("data"))


@dataclass(frozen=True)
class Commit(ObjectKind):
    """A point in history: parents and the state tree they lead to."""

    KIND: ClassVar[str] = "commit"
    parents: tuple[ObjectId, ...]
    state: ObjectId
    author: str
    host: str
    time: str
    message: str

    def fields(self) -> dict[str, Value]:
        return {
            "parents": [Link(p) for p in self.parents],
            "state": Link(self.state),
            "author": self.author,
            "host": self.host,
            "time": self.time,
            "message": self.message,
        }

    @classmethod
    def from_fields(cls, value: Mapping[str, Value]) -> Self:
        f = _Fields(cls.KIND, value, ("parents", "state", "author", "host", "time", "message"))
        parents = f.list_("parents")
        if not all(type(p) is Link for p in parents):
            raise SchemaError("commit.parents must be an array of links")
        state = f.link("state")
        assert state is not None
        return cls(
            tuple(p.id for p in parents),
            state,
            f.str_("author"),
            f.str_("host"),
            f.str_("time"),
            f.str_("message"),
        )


KINDS: dict[str, type[ObjectKind]] = {
    k.KIND: k
    for k in (Blob, ChunkList, Tree, Array, CurveSet, RunRecord, ModelVersion, Event, Commit)
}


def encode_object(obj: ObjectKind) -> bytes:
    return encode(obj.to_value())


def object_from_value(value: Value) -> ObjectKind:
    """Check a decoded value against its kind's table and build the typed object."""
    if type(value) is not dict:
        raise SchemaError(f"an object is a map, got {type(value).__name__}")
    kind = value.get("kind")
    version = value.get("v")
    if type(kind) is not str or type(version) is not int:
        raise SchemaError("an object map must hold a string 'kind' and an integer 'v'")
    cls = KINDS.get(kind)
    if cls is None:
        raise SchemaError(f"unknown object kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}")
    if version != cls.VERSION:
        raise UnknownFormatVersion(
            f"{kind} object has format version {version}; this build reads version {cls.VERSION}"
        )
    return cls.from_fields(value)


def decode_object(raw: bytes | memoryview) -> ObjectKind:
    """Bytes to a typed object: canonical form, then the kind's field table."""
    return object_from_value(decode(raw))


def cast(obj: ObjectKind, cls: type[T]) -> T:
    if not isinstance(obj, cls):
        raise SchemaError(f"expected a {getattr(cls, 'KIND', cls.__name__)} object, got {obj.KIND}")
    return obj
