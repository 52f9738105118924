"""The one fold of journal records into a run's state, used by sealing and by the index.

``RunState.apply`` is the only place that says what a record means for a run: sealing
folds a whole journal and writes the state as objects; the index folds the records it
has not read yet (from the offset it stopped at) and writes that part of the state as
rows. Folding the journal in pieces and applying the pieces in order gives what folding
it whole gives: later points of a step replace earlier ones, a re-logged headline value
replaces the old one, tags are a set in first-seen order, notes and the rest append.
"""

from __future__ import annotations

import sys
from array import array
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
    Start,
    Tag,
    Todo,
    decode,
)

_LITTLE = sys.byteorder == "little"


@dataclass
class Columns:
    """One metric's points in arrival order."""

    steps: array[int] = field(default_factory=lambda: array("q"))
    values: array[float] = field(default_factory=lambda: array("d"))
    walls: array[float] = field(default_factory=lambda: array("d"))

    def add(self, points: Points, j: int) -> None:
        """Metric ``points.names[j]``'s points: slices of the record's packed columns,
        copied as bytes (on a big-endian machine, through byte-swapped arrays)."""
        if _LITTLE:
            self.steps.frombytes(points.column(0))
            self.values.frombytes(points.column(2 + j))
            self.walls.frombytes(points.column(1))
        else:
            self.steps.extend(points.steps)
            self.values.extend(points.values[points.names[j]])
            self.walls.extend(points.walls)

    def final(self) -> tuple[Column, Column, Column]:
        """Sorted by step; a step logged twice keeps its last value (latest wins)."""
        steps = np.frombuffer(self.steps, dtype=np.int64)
        values = np.frombuffer(self.values, dtype=np.float64)
        walls = np.frombuffer(self.walls, dtype=np.float64)
        if steps.size > 1 and not bool(np.all(steps[1:] > steps[:-1])):
            # last occurrence of each step: unique over the reversed arrays
            rev = steps[::-1]
            uniq, idx = np.unique(rev, return_index=True)
            keep = steps.size - 1 - idx
            return uniq, values[keep], walls[keep]
        return steps, values, walls


@dataclass
class RunState:
    """What a run of journal records says about a run, folded in order."""

    start: Start | None = None
    curves: dict[str, Columns] = field(default_factory=dict)
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

    def _columns(self, name: str) -> Columns:
        cols = self.curves.get(name)
        if cols is None:
            cols = self.curves[name] = Columns()
        return cols

    def apply(self, rec: Record) -> None:
        match rec:
            case Points(names):
                for j, name in enumerate(names):
                    self._columns(name).add(rec, j)
            case PointRows(rows):
                for step, wall, point in rows:
                    for name, v in point.items():
                        cols = self._columns(name)
                        cols.steps.append(step)
                        cols.values.append(v)
                        cols.walls.append(wall)
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
            case Start():
                raise DecodeError(f"a second start record for run {rec.id}")

    def full_config(self) -> Value:
        """The start record's config with every later ``config`` record merged over it."""
        base = self.start.config if self.start is not None else None
        if self.config is None:
            return base
        return merge_config(base, self.config)

    def apply_all(self, records: Iterable[Record]) -> None:
        for rec in records:
            self.apply(rec)


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
