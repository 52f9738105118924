"""The journal's records: everything a live run writes, as typed, frozen values.

A live run's journal (``store/journal.py`` frames it) holds one record per frame.
``encode`` turns a record into the msgpack value its frame carries and ``decode`` turns
that value back; nothing else in extract knows the layout, which objects_spec/store.md
("Journal records") states byte for byte. A frame whose checksum holds but whose value
is not a well-formed record is a malformed journal, not a torn tail: ``decode`` raises
``DecodeError`` saying which record and what is wrong, and so does an unknown tag (a
newer writer's record): sealing such a journal would drop what it says, so it is left
alone for a reader that knows it.

Curve points are columnar: one ``points`` record carries the steps, wall times and
values of every metric logged at those steps. ``PointRows`` (per-step rows) is what a
buffer becomes when its steps did not all log the same metrics.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from extract.errors import DecodeError
from extract.objects import Link, ObjectId, Value
from extract.store import journal

#: A step column as the records hold it: ``array('q')`` when decoded, any int sequence
#: when built by a writer.
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
    """Curve points: ``values[name][i]`` was logged at ``steps[i]``, ``walls[i]`` seconds
    after the run started. Every column has the same length."""

    steps: Steps
    walls: Floats
    values: Mapping[str, Floats]


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
    def from_value(cls, value: Value) -> Artifact:
        m = _Map("artifact", value, _ARTIFACT_KEYS)
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
    def from_value(cls, value: Value) -> Lineage:
        m = _Map("lineage", value, _LINEAGE_KEYS)
        return cls(
            relation=m.str_("relation"),
            type=m.str_("type"),
            id=m.str_("id"),
            metadata=m.value("metadata"),
            created_at=m.str_("created_at", optional=True),
        )


@dataclass(frozen=True, slots=True)
class End:
    status: str
    ended_at: str


Record = Start | Points | PointRows | Logged | Tag | Note | Todo | Artifact | Model | Lineage | End

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
        return Points(
            [p[0] for p in buf],
            [p[1] for p in buf],
            {k: [p[2][k] for p in buf] for k in keys},
        )
    return PointRows(tuple(buf))


def encode(rec: Record) -> list[Value]:
    """The msgpack value of a record's frame (objects_spec/store.md, "Journal records")."""
    match rec:
        case Points(steps, walls, values):
            return ["C", list(steps), list(walls), {k: list(v) for k, v in values.items()}]
        case PointRows(rows):
            return ["c", [[s, w, dict(p)] for s, w, p in rows]]
        case Logged(entries):
            return ["l", [list(e) for e in entries]]
        case Start():
            return ["start", {k: getattr(rec, k) for k in _START_KEYS}]
        case Tag(tags):
            return ["tag", list(tags)]
        case Note(content):
            return ["note", content]
        case Todo(id_, content, priority, created_at):
            return [
                "todo",
                {"id": id_, "content": content, "priority": priority, "created_at": created_at},
            ]
        case Artifact():
            return ["artifact", rec.to_value()]
        case Model(key, oid):
            return ["model", {"key": key, "object": Link(oid)}]
        case Lineage():
            return ["lineage", rec.to_value()]
        case End(status, ended_at):
            return ["end", {"status": status, "ended_at": ended_at}]
    raise TypeError(f"not a journal record: {rec!r}")


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
    want = 4 if tag == "C" else 2
    if len(value) != want:
        raise DecodeError(f"journal record {tag!r} has {len(value)} elements, expected {want}")
    return reader(value)


def _start(value: list[Value]) -> Start:
    m = _Map("start", value[1], _START_KEYS)
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


def _columns(value: list[Value]) -> Points:
    _, steps, walls, values = value
    if type(values) is not dict or not all(type(k) is str for k in values):
        raise DecodeError("journal record 'C': values must be a map from metric names")
    out = Points(
        _ints("C", steps), _floats("C", walls), {k: _floats("C", v) for k, v in values.items()}
    )
    n = len(out.steps)
    if len(out.walls) != n or any(len(v) != n for v in out.values.values()):
        raise DecodeError("journal record 'C': columns of different lengths")
    return out


def _rows(value: list[Value]) -> PointRows:
    rows = value[1]
    if type(rows) is not list:
        raise DecodeError("journal record 'c': rows must be an array")
    out = []
    for row in rows:
        if type(row) is not list or len(row) != 3 or type(row[2]) is not dict:
            raise DecodeError("journal record 'c': a row is [step, wall, {name: value}]")
        step, wall, point = row
        if type(step) is not int or not all(type(k) is str for k in point):
            raise DecodeError("journal record 'c': a row's step is an int, its names strings")
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


def _end(value: list[Value]) -> End:
    m = _Map("end", value[1], ("status", "ended_at"))
    return End(m.str_("status"), m.str_("ended_at"))


_READERS: dict[str, Callable[[list[Value]], Record]] = {
    "start": _start,
    "C": _columns,
    "c": _rows,
    "l": _logged,
    "tag": _tag,
    "note": _note,
    "todo": _todo,
    "artifact": lambda v: Artifact.from_value(v[1]),
    "model": _model,
    "lineage": lambda v: Lineage.from_value(v[1]),
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
    """A record's map payload: exactly ``keys``, each checked as it is read."""

    def __init__(self, tag: str, value: Value, keys: tuple[str, ...]) -> None:
        self.tag = tag
        if type(value) is not dict or set(value) != set(keys):
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
