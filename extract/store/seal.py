"""Sealing: a live run's journal becomes immutable objects.

The same code seals a run at ``finish()`` and recovers one whose process died:
both read the journal file, so what survives a crash is exactly what a clean
finish would have stored up to the last record that reached the kernel.

Journal records are ``[tag, payload]`` lists (see docs/tracking.md):
``start``, ``c`` (curve points), ``l`` (headline values), ``tag``, ``note``,
``todo``, ``artifact``, ``model``, ``lineage`` and ``end``.
"""

from __future__ import annotations

import datetime as dt
import os
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from extract.errors import StoreError
from extract.objects import Event, ObjectId, RunRecord, Value
from extract.store import journal
from extract.store.curves import write_curves
from extract.store.history import stage
from extract.store.repo import Repository


@dataclass
class Columns:
    """One metric's points in arrival order."""

    steps: array[int] = field(default_factory=lambda: array("q"))
    values: array[float] = field(default_factory=lambda: array("d"))
    walls: array[float] = field(default_factory=lambda: array("d"))

    def final(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
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
    """Everything a journal says about one run, folded in order."""

    start: dict[str, Any]
    curves: dict[str, Columns] = field(default_factory=dict)
    metrics: dict[str, tuple[float, float]] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    todos: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    lineage: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] | None = None

    @property
    def run_id(self) -> str:
        return str(self.start["id"])

    def apply(self, records: Iterable[Value]) -> None:
        for rec in records:
            tag, payload = rec[0], rec[1]
            if tag == "C":
                steps, walls = rec[1], rec[2]
                for name, values in rec[3].items():
                    cols = self.curves.get(name)
                    if cols is None:
                        cols = self.curves[name] = Columns()
                    cols.steps.extend(steps)
                    cols.values.extend(values)
                    cols.walls.extend(walls)
            elif tag == "c":
                for step, wall, point in payload:
                    for name, value in point.items():
                        cols = self.curves.get(name)
                        if cols is None:
                            cols = self.curves[name] = Columns()
                        cols.steps.append(step)
                        cols.values.append(float(value))
                        cols.walls.append(wall)
            elif tag == "l":
                for name, value, wall in payload:
                    if isinstance(value, str):
                        self.params[name] = value
                    else:
                        self.metrics[name] = (float(value), wall)
            elif tag == "tag":
                self.tags.extend(t for t in payload if t not in self.tags)
            elif tag == "note":
                self.notes.append(payload)
            elif tag == "todo":
                self.todos.append(payload)
            elif tag == "artifact":
                self.artifacts.append(payload)
            elif tag == "model":
                self.models.append(payload)
            elif tag == "lineage":
                self.lineage.append(payload)
            elif tag == "end":
                self.end = payload


def load_journal(
    path: Path, offset: int = 0, state: RunState | None = None
) -> tuple[RunState, int]:
    """Fold a journal (from ``offset``, onto ``state``) record by record, without holding the
    records; returns the state and the new offset."""
    holder: list[RunState] = [state] if state is not None else []

    def visit(rec: Value) -> None:
        if not holder:
            if rec[0] != "start":
                raise StoreError(f"journal {path} does not begin with a start record")
            holder.append(RunState(start=rec[1]))
        else:
            holder[0].apply((rec,))

    end, _ = journal.scan(path, offset, visit)
    if not holder:
        raise StoreError(f"journal {path} does not begin with a start record")
    return holder[0], end


def _iso_from_mtime(path: Path) -> str:
    t = dt.datetime.fromtimestamp(os.stat(path).st_mtime, tz=dt.UTC)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Sealed:
    run_oid: ObjectId
    record: RunRecord
    curves: dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]]
    events: list[tuple[ObjectId, Event]]


def seal(repo: Repository, state: RunState, journal_path: Path) -> Sealed:
    """Write the run's objects and stage them; the caller updates the index, then deletes the journal."""
    odb = repo.objects
    start = state.start
    finals = {name: cols.final() for name, cols in sorted(state.curves.items())}
    curves_oid = write_curves(odb, finals)
    end = state.end or {"status": "failed", "ended_at": _iso_from_mtime(journal_path)}
    record = RunRecord(
        id=state.run_id,
        experiment=start["experiment"],
        name=start.get("name"),
        config=start.get("config"),
        status=end["status"],
        started_at=start["started_at"],
        ended_at=end["ended_at"],
        host=start.get("host") or "",
        code=start.get("code"),
        total_steps=start.get("total_steps"),
        metrics={k: {"value": v, "wall_time": w} for k, (v, w) in state.metrics.items()},
        params=dict(state.params),
        tags=tuple(state.tags),
        notes=tuple(state.notes),
        curves=curves_oid,
        artifacts=tuple(state.artifacts),
        models=tuple(m["object"].id for m in state.models),
        lineage=tuple(state.lineage),
    )
    run_oid = odb.put(record)
    events = []
    for todo in state.todos:
        ev = Event(
            todo["id"],
            todo["created_at"],
            "todo",
            f"run:{state.run_id}",
            {
                "content": todo["content"],
                "priority": todo["priority"],
                "scope_type": "run",
                "scope_id": state.run_id,
            },
        )
        events.append((odb.put(ev), ev))
    odb.sync()  # every object durable before a staged entry points at it
    for oid, ev in events:
        stage(repo, "events", ev.id, oid)
    for m in state.models:
        stage(repo, "models", m["key"], m["object"].id)
    stage(repo, "runs", state.run_id, run_oid)
    return Sealed(run_oid, record, finals, events)
