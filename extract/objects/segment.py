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
from extract.objects.codec import Value
from extract.objects.ids import ObjectId
from extract.objects.kinds import KINDS, ObjectKind, _Fields, run_body, run_body_from


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
        config = None if self.config is None else dict(self.config)
        return {"id": self.id, "run": self.run, "config": config, **run_body(self)}

    @classmethod
    def from_fields(cls, value: Mapping[str, Value]) -> Self:
        f = _Fields(cls.KIND, value, cls._NAMES)
        config = f.map_("config", optional=True)
        if config is not None and not all(type(k) is str for k in config):
            raise SchemaError("segment.config keys must be strings")
        seg_id, run = f.ulid("id"), f.ulid("run")
        if seg_id == run:
            raise SchemaError("segment.id must differ from segment.run (the run it continues)")
        return cls(id=seg_id, run=run, config=config, **run_body_from(f, "segment"))


KINDS[Segment.KIND] = Segment  # imported by extract.objects, so every reader knows it
