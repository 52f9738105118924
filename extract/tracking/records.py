"""The journal's records: everything a live run writes, as typed, frozen values.

A live run's journal (``store/journal.py`` frames it) holds one record per frame.
``encode`` turns a record into the msgpack value its frame carries and ``decode`` turns
that value back; nothing else in extract knows the layout, which objects_spec/store.md
("Journal records") states byte for byte and objects_spec/vectors/journal.json shows.
A frame whose checksum holds but whose value is not a well-formed record is a malformed
journal, not a torn tail: ``decode`` raises ``DecodeError`` saying which record and what
is wrong, and so do an unknown tag and an unknown journal version (a newer writer's):
sealing such a journal would drop what it says, so it is left alone for a reader that
knows it.

Curve points are columnar: one ``Points`` record (tag ``P``) carries the steps, wall
times and values of every metric logged at those steps, each column as raw
little-endian 64-bit numbers, so folding a long journal copies bytes instead of making
a Python float per value. ``PointRows`` (per-step rows) is what a buffer becomes when
its steps did not all log the same metrics.

Version 2 journals begin with a ``run`` record; version 1 (extract before the ``P``
record) began with ``start`` and wrote points as ``C`` lists. Both are read. The new
first tag is what keeps an older extract, which knows only ``start``, from sealing a
version 2 journal without the points it cannot read.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from extract.errors import DecodeError
from extract.objects import Link, ObjectId, Value
from extract.store import journal

#: The journal version this build writes (the ``v`` of its ``run`` record).
VERSION = 2

#: A column as the records hold it: ``array('q')`` or ``array('d')`` when decoded, any
#: sequence of numbers when built by a writer.
Steps = Sequence[int]
Floats = Sequence[float]


@dataclass(frozen=True, slots=True)
class Start:
    """The first record of every journal: what the run record's header will say."""

    id: str
    experiment: str
    name: str | None
    config: Value
    total_steps: int | None
    started_at: str
    host: str
    code: Mapping[str, Value] | None


@dataclass(frozen=True, slots=True)
class Points:
    """Curve points of ``n`` steps: metric ``names[j]``'s i-th value was logged at step
    ``steps[i]``, ``walls[i]`` seconds after the run started.

    ``columns`` holds them packed as the journal does: n little-endian int64 steps, then
    n float64 wall times, then n float64 values per name, in order. Writing packs once;
    folding copies slices of it; nothing makes a Python number per value."""

    names: tuple[str, ...]
    columns: bytes

    @property
    def n(self) -> int:
        return len(self.columns) // (8 * (2 + len(self.names)))

    def column(self, i: int) -> memoryview:
        """Column ``i`` as little-endian bytes: 0 steps, 1 wall times, 2 + j metric j."""
        n8 = 8 * self.n
        return memoryview(self.columns)[i * n8 : (i + 1) * n8]

    @property
    def steps(self) -> array[int]:
        return _array("q", self.column(0))

    @property
    def walls(self) -> array[float]:
        return _array("d", self.column(1))

    @property
    def values(self) -> dict[str, array[float]]:
        return {k: _array("d", self.column(2 + j)) for j, k in enumerate(self.names)}


@dataclass(frozen=True, slots=True)
class PointRows:
    """Curve points as per-step rows ``(step, wall, {name: value})``, for steps that did
    not all log the same metrics."""

    rows: tuple[tuple[int, float, Mapping[str, float]], ...]


@dataclass(frozen=True, slots=True)
class Logged:
    """Headline values, ``(name, value, wall)``: a number is a metric, a str a param."""

    entries: tuple[tuple[str, float | int | str, float], ...]


@dataclass(frozen=True, slots=True)
class Config:
    """Config keys set after the run started (``run.update_config``): each replaces the
    key of that name in the config the run started with (or adds it); later ones win."""

    values: Mapping[str, Value]


@dataclass(frozen=True, slots=True)
class Tag:
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Note:
    content: str


@dataclass(frozen=True, slots=True)
class Todo:
    id: str
    content: str
    priority: int
    created_at: str


@dataclass(frozen=True, slots=True)
class Artifact:
    """A table or text logged by the run; the same map is an entry of the run record's
    ``artifacts``."""

    id: str
    name: str
    kind: str
    step: int | None
    object: ObjectId
    shape: tuple[int, ...] | None
    dtype: str | None
    metadata: Value
    created_at: str

    def to_value(self) -> dict[str, Value]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "step": self.step,
            "object": Link(self.object),
            "shape": None if self.shape is None else list(self.shape),
            "dtype": self.dtype,
            "metadata": self.metadata,
            "created_at": self.created_at,
        }

    @classmethod
    def from_value(cls, value: Value, exact: bool = True) -> Artifact:
        """From a journal record's map (``exact``: those keys and no other) or a run
        record's entry (other keys allowed: kinds.md lets a writer add some)."""
        m = _Map("artifact", value, _ARTIFACT_KEYS, exact)
        shape = m.get("shape", list, optional=True)
        if shape is not None and not all(type(n) is int and n >= 0 for n in shape):
            raise m.fail("shape must be a list of sizes")
        return cls(
            id=m.str_("id"),
            name=m.str_("name"),
            kind=m.str_("kind"),
            step=m.get("step", int, optional=True),
            object=m.link("object"),
            shape=None if shape is None else tuple(shape),
            dtype=m.str_("dtype", optional=True),
            metadata=m.value("metadata"),
            created_at=m.str_("created_at"),
        )


@dataclass(frozen=True, slots=True)
class Model:
    """A model version the run registered, by its state key ``name@version``."""

    key: str
    object: ObjectId


@dataclass(frozen=True, slots=True)
class Lineage:
    """A parent edge; the same map is an entry of the run record's ``lineage``."""

    relation: str
    type: str
    id: str
    metadata: Value
    created_at: str | None

    def to_value(self) -> dict[str, Value]:
        return {
            "relation": self.relation,
            "type": self.type,
            "id": self.id,
            "metadata": self.metadata,
            "created_at": self.created_at,
        }

    @classmethod
    def from_value(cls, value: Value, exact: bool = True) -> Lineage:
        """As ``Artifact.from_value``."""
        m = _Map("lineage", value, _LINEAGE_KEYS, exact)
        return cls(
            relation=m.str_("relation"),
            type=m.str_("type"),
            id=m.str_("id"),
            metadata=m.value("metadata"),
            created_at=m.str_("created_at", optional=True),
        )


@dataclass(frozen=True, slots=True)
class Resume:
    """Second record of a continuation's journal (``exp.run(..., resume=RUN_ID)``): the
    journal continues the sealed run its ``run`` record names, and is sealed as segment
    ``segment`` of it (objects_spec/kinds.md, "segment"), not as a new run."""

    segment: str


@dataclass(frozen=True, slots=True)
class End:
    status: str
    ended_at: str


Record = (
    Start
    | Points
    | PointRows
    | Logged
    | Config
    | Tag
    | Note
    | Todo
    | Artifact
    | Model
    | Lineage
    | Resume
    | End
)

_START_KEYS = ("id", "experiment", "name", "config", "total_steps", "started_at", "host", "code")
_ARTIFACT_KEYS = (
    "id", "name", "kind", "step", "object", "shape", "dtype", "metadata", "created_at",
)  # fmt: skip
_LINEAGE_KEYS = ("relation", "type", "id", "metadata", "created_at")


# --- writing -------------------------------------------------------------------------


def points(buf: Sequence[tuple[int, float, Mapping[str, float]]]) -> Points | PointRows:
    """The record for buffered curve steps ``(step, wall, {name: value})``: columnar when
    every step logged the same metrics, as it almost always does; rows otherwise."""
    keys = buf[0][2].keys()
    if all(p[2].keys() == keys for p in buf):
        names = tuple(keys)
        packed = _struct(len(buf), len(names)).pack(
            *[p[0] for p in buf], *[p[1] for p in buf], *[p[2][k] for k in names for p in buf]
        )
        return Points(names, packed)
    return PointRows(tuple(buf))


def columns(names: Sequence[str], steps: Steps, walls: Floats, values: Sequence[Floats]) -> Points:
    """A ``Points`` record from separate columns (``values[j]`` for ``names[j]``)."""
    n = len(steps)
    if len(walls) != n or any(len(v) != n for v in values) or len(values) != len(names):
        raise ValueError("columns(): every column needs one value a step, one column a name")
    return Points(
        tuple(names), _struct(n, len(names)).pack(*steps, *walls, *[x for v in values for x in v])
    )


def encode(rec: Record) -> list[Value]:
    """The msgpack value of a record's frame (objects_spec/store.md, "Journal records").

    A record's own maps have their keys in canonical order, so a record whose values are
    canonical (sorted maps inside a config, say) is written as its canonical encoding."""
    match rec:
        case Points(names, packed):
            return ["P", list(names), packed]
        case PointRows(rows):
            return ["c", [[s, w, _sorted(p)] for s, w, p in rows]]
        case Logged(entries):
            return ["l", [list(e) for e in entries]]
        case Start():
            return ["run", _sorted({"v": VERSION, **{k: getattr(rec, k) for k in _START_KEYS}})]
        case Config(values):
            return ["config", dict(values)]
        case Tag(tags):
            return ["tag", list(tags)]
        case Note(content):
            return ["note", content]
        case Todo(id_, content, priority, created_at):
            return [
                "todo",
                {"content": content, "created_at": created_at, "id": id_, "priority": priority},
            ]
        case Artifact():
            return ["artifact", _sorted(rec.to_value())]
        case Model(key, oid):
            return ["model", {"key": key, "object": Link(oid)}]
        case Lineage():
            return ["lineage", _sorted(rec.to_value())]
        case Resume(segment):
            return ["resume", {"segment": segment}]
        case End(status, ended_at):
            return ["end", {"ended_at": ended_at, "status": status}]
    raise TypeError(f"not a journal record: {rec!r}")


def _sorted(m: Mapping[str, Value]) -> dict[str, Value]:
    return {k: m[k] for k in sorted(m, key=lambda k: k.encode("utf-8"))}


_LITTLE = sys.byteorder == "little"


@cache
def _struct(n: int, k: int) -> struct.Struct:
    """The packing of n steps of k metrics: steps, wall times, then each metric's values."""
    return struct.Struct(f"<{n}q{n * (k + 1)}d")


def _array(code: str, data: memoryview) -> array[Any]:
    col = array(code)
    col.frombytes(data)
    if not _LITTLE:
        col.byteswap()
    return col


def frame(rec: Record) -> bytes:
    """A record framed for appending to a journal."""
    return journal.frame(encode(rec))


# --- reading -------------------------------------------------------------------------


def decode(value: Value) -> Record:
    """A frame's value as a record; DecodeError if it is not one."""
    if type(value) is not list or not value or type(value[0]) is not str:
        raise DecodeError(
            f"a journal record is an array that starts with its tag, got {value!r:.80}"
        )
    tag = value[0]
    reader = _READERS.get(tag)
    if reader is None:
        raise DecodeError(
            f"unknown journal record tag {tag!r} (written by a newer extract?); "
            f"known: {', '.join(sorted(_READERS))}"
        )
    want = {"P": 3, "C": 4}.get(tag, 2)
    if len(value) != want:
        raise DecodeError(f"journal record {tag!r} has {len(value)} elements, expected {want}")
    return reader(value)


def _run(value: list[Value]) -> Start:
    m = value[1]
    if type(m) is not dict or "v" not in m:
        raise DecodeError("journal record 'run': must be a map that holds the journal version v")
    if type(m["v"]) is not int or m["v"] != VERSION:
        raise DecodeError(
            f"journal version {m['v']!r} is not one this extract reads (it reads 1 and "
            f"{VERSION}): a newer extract wrote it; seal it with that one"
        )
    return _start(["run", {k: v for k, v in m.items() if k != "v"}])


def _start(value: list[Value]) -> Start:
    m = _Map(value[0], value[1], _START_KEYS)
    code = m.get("code", dict, optional=True)
    total = m.get("total_steps", int, optional=True)
    return Start(
        id=m.str_("id"),
        experiment=m.str_("experiment"),
        name=m.str_("name", optional=True),
        config=m.value("config"),
        total_steps=total,
        started_at=m.str_("started_at"),
        host=m.str_("host"),
        code=code,
    )


def _points(value: list[Value]) -> Points:
    _, name_list, packed = value
    names = _NAMES.get(tuple(name_list) if type(name_list) is list else ())
    if names is None:
        if (
            type(name_list) is not list
            or not name_list
            or not all(type(k) is str for k in name_list)
            or len(set(name_list)) != len(name_list)
        ):
            raise DecodeError("journal record 'P': names must be an array of distinct metric names")
        names = tuple(name_list)
        if len(_NAMES) < 1024:  # a run logs the same few name lists over and over
            _NAMES[names] = names
    width = 8 * (2 + len(names))
    if type(packed) is not bytes or not packed or len(packed) % width:
        raise DecodeError(
            f"journal record 'P': columns must be a bin of n x {width} bytes "
            f"(steps, wall times and {len(names)} metrics of n steps, 8 bytes a value)"
        )
    return Points(names, packed)


_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {}


def _columns(value: list[Value]) -> Points:
    """The columnar record of version 1 journals: numbers as msgpack arrays."""
    _, steps, walls, values = value
    if type(values) is not dict or not all(type(k) is str for k in values):
        raise DecodeError("journal record 'C': values must be a map from metric names")
    s, w = _ints("C", steps), _floats("C", walls)
    cols = [_floats("C", v) for v in values.values()]
    if len(w) != len(s) or any(len(v) != len(s) for v in cols):
        raise DecodeError("journal record 'C': columns of different lengths")
    return columns(list(values), s, w, cols)


def _rows(value: list[Value]) -> PointRows:
    rows = value[1]
    if type(rows) is not list:
        raise DecodeError("journal record 'c': rows must be an array")
    out = []
    for row in rows:
        if type(row) is not list or len(row) != 3 or type(row[2]) is not dict:
            raise DecodeError("journal record 'c': a row is [step, wall, {name: value}]")
        step, wall, point = row
        if type(step) is not int or not -(2**63) <= step < 2**63:
            raise DecodeError("journal record 'c': a row's step is a 64-bit integer")
        if not all(type(k) is str for k in point):
            raise DecodeError("journal record 'c': a row's metric names are strings")
        out.append((step, _number("c", wall), {k: _number("c", v) for k, v in point.items()}))
    return PointRows(tuple(out))


def _logged(value: list[Value]) -> Logged:
    entries = value[1]
    if type(entries) is not list:
        raise DecodeError("journal record 'l': entries must be an array")
    out: list[tuple[str, float | int | str, float]] = []
    for e in entries:
        if type(e) is not list or len(e) != 3 or type(e[0]) is not str:
            raise DecodeError("journal record 'l': an entry is [name, value, wall]")
        v = e[1]
        if type(v) is not str:
            v = v if type(v) is int else _number("l", v)
        out.append((e[0], v, _number("l", e[2])))
    return Logged(tuple(out))


def _config(value: list[Value]) -> Config:
    m = value[1]
    if type(m) is not dict or not all(type(k) is str for k in m):
        raise DecodeError("journal record 'config': must be a map from config keys (str)")
    return Config(m)


def _tag(value: list[Value]) -> Tag:
    tags = value[1]
    if type(tags) is not list or not all(type(t) is str for t in tags):
        raise DecodeError("journal record 'tag': tags must be an array of strings")
    return Tag(tuple(tags))


def _note(value: list[Value]) -> Note:
    if type(value[1]) is not str:
        raise DecodeError("journal record 'note': the note must be a string")
    return Note(value[1])


def _todo(value: list[Value]) -> Todo:
    m = _Map("todo", value[1], ("id", "content", "priority", "created_at"))
    return Todo(m.str_("id"), m.str_("content"), m.get("priority", int), m.str_("created_at"))


def _model(value: list[Value]) -> Model:
    m = _Map("model", value[1], ("key", "object"))
    return Model(m.str_("key"), m.link("object"))


def _resume(value: list[Value]) -> Resume:
    return Resume(_Map("resume", value[1], ("segment",)).str_("segment"))


def _end(value: list[Value]) -> End:
    m = _Map("end", value[1], ("status", "ended_at"))
    return End(m.str_("status"), m.str_("ended_at"))


_READERS: dict[str, Callable[[list[Value]], Record]] = {
    "run": _run,
    "start": _start,  # version 1
    "P": _points,
    "C": _columns,  # version 1
    "c": _rows,
    "l": _logged,
    "config": _config,
    "tag": _tag,
    "note": _note,
    "todo": _todo,
    "artifact": lambda v: Artifact.from_value(v[1]),
    "model": _model,
    "lineage": lambda v: Lineage.from_value(v[1]),
    "resume": _resume,
    "end": _end,
}


def _ints(tag: str, col: Value) -> array[int]:
    if type(col) is not list or not all(type(x) is int for x in col):
        raise DecodeError(f"journal record {tag!r}: steps must be an array of integers")
    try:
        return array("q", col)
    except OverflowError:
        raise DecodeError(f"journal record {tag!r}: a step does not fit in 64 bits") from None


def _floats(tag: str, col: Value) -> array[float]:
    if type(col) is not list:
        raise DecodeError(f"journal record {tag!r}: a column must be an array of numbers")
    try:
        return array("d", col)
    except (TypeError, OverflowError):
        raise DecodeError(f"journal record {tag!r}: a column must be an array of numbers") from None


def _number(tag: str, v: Value) -> float:
    if type(v) is float:
        return v
    if type(v) is int:
        try:
            return float(v)
        except OverflowError:
            pass
    raise DecodeError(f"journal record {tag!r}: {v!r:.40} is not a number")


class _Map:
    """A record's map payload: exactly ``keys`` (or at least, unless ``exact``), each
    checked as it is read."""

    def __init__(self, tag: str, value: Value, keys: tuple[str, ...], exact: bool = True) -> None:
        self.tag = tag
        if type(value) is not dict or not (
            set(value) == set(keys) if exact else set(keys) <= set(value)
        ):
            got = sorted(value) if type(value) is dict else type(value).__name__
            raise self.fail(f"must be a map of {', '.join(keys)}; got {got}")
        self.m: dict[str, Value] = value

    def fail(self, why: str) -> DecodeError:
        return DecodeError(f"journal record {self.tag!r}: {why}")

    def value(self, key: str) -> Value:
        return self.m[key]

    def get(self, key: str, kind: type[Any], optional: bool = False) -> Any:
        v = self.m[key]
        if (v is None and optional) or (type(v) is kind):
            return v
        raise self.fail(f"{key} must be {'null or ' if optional else ''}a {kind.__name__}")

    def str_(self, key: str, optional: bool = False) -> Any:
        return self.get(key, str, optional)

    def link(self, key: str) -> ObjectId:
        v = self.m[key]
        if type(v) is not Link:
            raise self.fail(f"{key} must be a link")
        return v.id
