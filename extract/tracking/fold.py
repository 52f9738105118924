"""The one fold of journal records into a run's state, used by sealing and by the index.

``RunState.apply`` is the only place that says what a record means for a run: sealing
folds a whole journal and writes the state as objects; the index folds the records it
has not read yet (from the offset it stopped at) and writes that part of the state as
rows. Folding the journal in pieces and applying the pieces in order gives what folding
it whole gives: later points of a step replace earlier ones, a re-logged headline value
replaces the old one, tags are a set in first-seen order, notes and the rest append.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from extract.errors import DecodeError
from extract.objects import Value
from extract.store import journal
from extract.store.curves import Column
from extract.tracking.records import (
    Artifact,
    Config,
    End,
    Lineage,
    Logged,
    Model,
    Note,
    PointRows,
    Points,
    Record,
    Resume,
    Start,
    Tag,
    Todo,
    decode,
)

#: Points records gathered before they are unpacked into arrays (bounds the memory that
#: raw records of one shape hold; about 2 MiB at 10 steps of 3 metrics a record).
SEGMENT_RECORDS = 4096


@dataclass
class Columns:
    """One metric's points in arrival order, as (steps, values, walls) array pieces; the
    pieces of metrics logged together share their steps and walls arrays."""

    pieces: list[tuple[Column, Column, Column]] = field(default_factory=list)

    def final(self) -> tuple[Column, Column, Column]:
        """Sorted by step; a step logged twice keeps its last value (latest wins)."""
        if len(self.pieces) == 1:
            steps, values, walls = self.pieces[0]
        elif not self.pieces:
            steps, values, walls = _EMPTY_STEPS, _EMPTY_VALUES, _EMPTY_VALUES
        else:
            steps, values, walls = (np.concatenate(c) for c in zip(*self.pieces, strict=True))
        if steps.size > 1 and not bool(np.all(steps[1:] > steps[:-1])):
            # last occurrence of each step: unique over the reversed arrays
            rev = steps[::-1]
            uniq, idx = np.unique(rev, return_index=True)
            keep = steps.size - 1 - idx
            return uniq, values[keep], walls[keep]
        return steps, values, walls


_EMPTY_STEPS = np.zeros(0, dtype="<i8")
_EMPTY_VALUES = np.zeros(0, dtype="<f8")


@dataclass
class _Segment:
    """Consecutive points records of one shape (the same metrics, n steps each), kept as
    their packed bytes and unpacked together: one numpy reshape instead of a copy per
    record and metric, which is most of what folding a long journal costs."""

    names: tuple[str, ...]
    n: int
    packed: list[bytes]

    def unpack(self, curves: dict[str, Columns]) -> None:
        k, n = len(self.names), self.n
        raw = b"".join(self.packed)
        ints = np.frombuffer(raw, dtype="<i8").reshape(-1, 2 + k, n)
        floats = np.frombuffer(raw, dtype="<f8").reshape(-1, 2 + k, n)
        steps = ints[:, 0, :].ravel()
        walls = floats[:, 1, :].ravel()
        for j, name in enumerate(self.names):
            cols = curves.get(name)
            if cols is None:
                cols = curves[name] = Columns()
            cols.pieces.append((steps, floats[:, 2 + j, :].ravel(), walls))


@dataclass
class RunState:
    """What a run of journal records says about a run, folded in order."""

    start: Start | None = None
    resume: Resume | None = None  # a continuation of a sealed run (sealed as a segment)
    metrics: dict[str, tuple[float, float]] = field(default_factory=dict)  # name: (value, wall)
    params: dict[str, str] = field(default_factory=dict)
    config: dict[str, Value] | None = None  # keys set after the start, merged in order
    tags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    todos: list[Todo] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    models: list[Model] = field(default_factory=list)
    lineage: list[Lineage] = field(default_factory=list)
    end: End | None = None
    _curves: dict[str, Columns] = field(default_factory=dict)
    _segment: _Segment | None = None

    def curves(self) -> dict[str, tuple[Column, Column, Column]]:
        """Every metric's points, sorted by step, one point a step (latest wins), in
        metric name order."""
        self._close_segment()
        return {name: self._curves[name].final() for name in sorted(self._curves)}

    def metric_names(self) -> list[str]:
        self._close_segment()
        return sorted(self._curves)

    def _close_segment(self) -> None:
        if self._segment is not None:
            self._segment.unpack(self._curves)
            self._segment = None

    def apply(self, rec: Record) -> None:
        match rec:
            case Points(names, packed):
                seg = self._segment
                n = rec.n
                if seg is None or seg.names != names or seg.n != n:
                    self._close_segment()
                    seg = self._segment = _Segment(names, n, [])
                seg.packed.append(packed)
                if len(seg.packed) >= SEGMENT_RECORDS:
                    self._close_segment()
            case PointRows(rows):
                self._close_segment()
                by_name: dict[str, list[tuple[int, float, float]]] = {}
                for step, wall, point in rows:
                    for name, v in point.items():
                        by_name.setdefault(name, []).append((step, v, wall))
                for name, pts in by_name.items():
                    steps, values, walls = zip(*pts, strict=True)
                    cols = self._curves.get(name)
                    if cols is None:
                        cols = self._curves[name] = Columns()
                    cols.pieces.append(
                        (
                            np.array(steps, dtype="<i8"),
                            np.array(values, dtype="<f8"),
                            np.array(walls, dtype="<f8"),
                        )
                    )
            case Logged(entries):
                for name, value, wall in entries:
                    if isinstance(value, str):
                        self.params[name] = value
                    else:
                        self.metrics[name] = (float(value), wall)
            case Config(values):
                self.config = {**(self.config or {}), **values}
            case Tag(tags):
                self.tags.extend(t for t in tags if t not in self.tags)
            case Note(content):
                if content:  # notes are kept joined by newlines: an empty one says nothing
                    self.notes.append(content)
            case Todo():
                self.todos.append(rec)
            case Artifact():
                self.artifacts.append(rec)
            case Model():
                self.models.append(rec)
            case Lineage():
                self.lineage.append(rec)
            case End():
                self.end = rec
            case Resume():
                # only as the record right after ``run`` (objects_spec/store.md)
                if self.resume is not None or self._anything_logged():
                    raise DecodeError("a resume record must directly follow the run record")
                self.resume = rec
            case Start():
                raise DecodeError(f"a second start record for run {rec.id}")

    def _anything_logged(self) -> bool:
        return bool(
            self._curves
            or self._segment
            or self.metrics
            or self.params
            or self.config
            or self.tags
            or self.notes
            or self.todos
            or self.artifacts
            or self.models
            or self.lineage
            or self.end
        )

    def full_config(self) -> Value:
        """The start record's config with every later ``config`` record merged over it."""
        base = self.start.config if self.start is not None else None
        if self.config is None:
            return base
        return merge_config(base, self.config)

    def apply_all(self, records: Iterable[Record]) -> None:
        for rec in records:
            self.apply(rec)

    def extend(self, later: RunState) -> None:
        """Fold in ``later``, the state of the records that follow this state's: the
        result is what folding all of them in order gives."""
        if later.start is not None:
            raise DecodeError(f"a second start record for run {later.start.id}")
        if later.resume is not None:
            if self.resume is not None:
                raise DecodeError("a second resume record")
            self.resume = later.resume
        self._close_segment()
        later._close_segment()
        for name, cols in later._curves.items():
            self._curves.setdefault(name, Columns()).pieces.extend(cols.pieces)
        self.metrics.update(later.metrics)
        self.params.update(later.params)
        if later.config is not None:
            self.config = {**(self.config or {}), **later.config}
        self.tags.extend(t for t in later.tags if t not in self.tags)
        self.notes.extend(later.notes)
        self.todos.extend(later.todos)
        self.artifacts.extend(later.artifacts)
        self.models.extend(later.models)
        self.lineage.extend(later.lineage)
        if later.end is not None:
            self.end = later.end


def merge_config(base: Value, updates: dict[str, Value]) -> Value:
    """A config with ``updates`` set over it key by key (a run's config is a map or nil)."""
    return {**(base if isinstance(base, dict) else {}), **updates}


def fold_journal(path: Path, offset: int = 0, limit: int | None = None) -> tuple[RunState, int]:
    """Fold a journal's intact records from ``offset`` (at most about ``limit`` bytes of
    them), without holding them; returns the state and the offset just past the last
    record folded. From offset 0 the first record must be the start record."""
    state = RunState()

    def visit(value: Value) -> None:
        rec = decode(value)
        if state.start is None and offset == 0:
            if not isinstance(rec, Start):
                raise DecodeError(f"journal {path} does not begin with a start record")
            state.start = rec
        else:
            state.apply(rec)

    end, _ = journal.scan(path, offset, visit, limit=limit)
    if offset == 0 and state.start is None:
        raise DecodeError(f"journal {path} does not begin with a start record")
    return state, end


class _Enough(Exception):
    """Stops a scan once the records wanted are read."""


def first_resume(path: Path) -> Resume | None:
    """The resume record of a journal (its second record), or None if it has none: a
    continuation's journal is told from a new run's without folding it."""
    seen: list[Record] = []

    def visit(value: Value) -> None:
        seen.append(decode(value))
        if len(seen) == 2:
            raise _Enough

    with contextlib.suppress(_Enough):
        journal.scan(path, 0, visit)
    if len(seen) == 2 and isinstance(seen[1], Resume):
        return seen[1]
    return None
