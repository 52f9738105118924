"""The ``segment`` kind: one continuation of a run that was already sealed.

A run resumed after a failure or a preemption (``exp.run(..., resume=RUN_ID)``) is not
rewritten: its run record stays as it was sealed (and perhaps committed and pushed).
What the continuation logs is sealed as a segment with its own ULID, naming the run it
continues, and lives in the state tree's ``runs`` section under that ULID like any
sealed run. The run as every reader sees it is the fold of its record and its segments
in ULID order (``extract.tracking.pieces``), so two machines that both continued one run
hold two segments, and merging them is a union of keys: conflict-free, commutative and
idempotent. objects_spec/kinds.md ("segment") is the authority on the fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Self

from extract.errors import SchemaError
from extract.objects.codec import Link, Value
from extract.objects.ids import ObjectId
from extract.objects.kinds import KINDS, RUN_STATUSES, ObjectKind, _Fields, _lk


@dataclass(frozen=True)
class Segment(ObjectKind):
    """What one continuation of run ``run`` logged, frozen when it ended."""

    KIND: ClassVar[str] = "segment"
    id: str  # the segment's own ULID: its key in the state tree and its place in the fold
    run: str  # the run it continues
    config: Mapping[str, Value] | None  # config keys this continuation set, or nil
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
        "id", "run", "config", "status", "started_at", "ended_at", "host", "code",
        "total_steps", "metrics", "params", "tags", "notes", "curves", "artifacts",
        "models", "lineage",
    )  # fmt: skip

    def fields(self) -> dict[str, Value]:
        return {
            "id": self.id,
            "run": self.run,
            "config": None if self.config is None else dict(self.config),
            "status": self.status,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "host": self.host,
            "code": None if self.code is None else dict(self.code),
            "total_steps": self.total_steps,
            "metrics": dict(self.metrics),
            "params": dict(self.params),
            "tags": list(self.tags),
            "notes": list(self.notes),
            "curves": _lk(self.curves),
            "artifacts": [dict(a) for a in self.artifacts],
            "models": [Link(m) for m in self.models],
            "lineage": [dict(e) for e in self.lineage],
        }

    @classmethod
    def from_fields(cls, value: Mapping[str, Value]) -> Self:
        f = _Fields(cls.KIND, value, cls._NAMES)
        status = f.str_("status")
        if status not in RUN_STATUSES:
            raise SchemaError(
                f"segment.status must be one of {', '.join(RUN_STATUSES)}, got {status!r}"
            )
        params = dict(f.map_("params"))
        if not all(type(v) is str for v in params.values()):
            raise SchemaError("segment.params values must be strings")
        tags, notes = f.list_("tags"), f.list_("notes")
        if not all(type(t) is str for t in tags + notes):
            raise SchemaError("segment.tags and segment.notes must be arrays of strings")
        artifacts, lineage = f.list_("artifacts"), f.list_("lineage")
        if not all(type(a) is dict for a in artifacts + lineage):
            raise SchemaError("segment.artifacts and segment.lineage must be arrays of maps")
        models = f.list_("models")
        if not all(type(m) is Link for m in models):
            raise SchemaError("segment.models must be an array of links")
        config = f.map_("config", optional=True)
        if config is not None and not all(type(k) is str for k in config):
            raise SchemaError("segment.config keys must be strings")
        seg_id, run = f.ulid("id"), f.ulid("run")
        if seg_id == run:
            raise SchemaError("segment.id must differ from segment.run (the run it continues)")
        return cls(
            id=seg_id,
            run=run,
            config=config,
            status=status,
            started_at=f.str_("started_at"),
            ended_at=f.str_("ended_at", optional=True),
            host=f.str_("host"),
            code=f.map_("code", optional=True),
            total_steps=f.int_("total_steps", optional=True),
            metrics=dict(f.map_("metrics")),
            params=params,
            tags=tuple(tags),
            notes=tuple(notes),
            curves=f.link("curves", optional=True),
            artifacts=tuple(artifacts),
            models=tuple(m.id for m in models),
            lineage=tuple(lineage),
        )


KINDS[Segment.KIND] = Segment  # imported by extract.objects, so every reader knows it
