"""A resumed run as every reader sees it: the fold of its run record and its segments.

A run is sealed once, as a ``run`` record; each later continuation
(``exp.run(..., resume=RUN_ID)``) is sealed as a ``segment`` object of its own that
names the run (objects_spec/kinds.md, "segment"). Nothing is ever rewritten, so the run
that readers show is computed: the record first, then the segments in ULID order, each
folded over the last exactly as later journal records fold over earlier ones
(``fold.RunState``): later headline values and params win, config keys set later
replace earlier ones, tags are a set in first-seen order, notes, artifacts, models and
lineage edges append, a step logged again keeps its latest point, and the status and
end time are the last segment's. Because the order depends only on the pieces' ids,
any store holding the same pieces folds them to the same run, whatever order they
arrived in: that is what makes merging two machines' continuations a plain union.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from extract.objects import ObjectId, RunRecord, Segment
from extract.store.curves import Column, Curves, read_curves
from extract.store.odb import ObjectStore
from extract.tracking.fold import Columns, merge_config


def ordered(segments: Iterable[Segment]) -> list[Segment]:
    """Segments in fold order: by ULID (their creation time, then their random part)."""
    return sorted(segments, key=lambda s: s.id)


def fold_record(record: RunRecord, segments: Sequence[Segment]) -> RunRecord:
    """The run record the run would have had, had it run as one piece. ``curves`` stays
    the record's own (curve sets are folded by ``fold_curves``, which reads them)."""
    segs = [s for s in ordered(segments) if s.run == record.id]
    if not segs:
        return record
    config = record.config
    metrics = dict(record.metrics)
    params = dict(record.params)
    tags = list(record.tags)
    notes = list(record.notes)
    artifacts = list(record.artifacts)
    models = list(record.models)
    lineage = list(record.lineage)
    total_steps = record.total_steps
    for s in segs:
        if s.config is not None:
            config = merge_config(config, dict(s.config))
        metrics.update(s.metrics)
        params.update(s.params)
        tags.extend(t for t in s.tags if t not in tags)
        notes.extend(s.notes)
        artifacts.extend(s.artifacts)
        models.extend(s.models)
        lineage.extend(s.lineage)
        if s.total_steps is not None:
            total_steps = s.total_steps
    last = segs[-1]
    return replace(
        record,
        config=config,
        status=last.status,
        ended_at=last.ended_at,
        total_steps=total_steps,
        metrics=metrics,
        params=params,
        tags=tuple(tags),
        notes=tuple(notes),
        artifacts=tuple(artifacts),
        models=tuple(models),
        lineage=tuple(lineage),
    )


def fold_curves(odb: ObjectStore, record: RunRecord, segments: Sequence[Segment]) -> Curves:
    """Every metric's points over the record and its segments, sorted by step, one point
    a step: where pieces logged the same step, the later piece's point."""
    sets: list[ObjectId | None] = [record.curves]
    sets += [s.curves for s in ordered(segments) if s.run == record.id]
    per_metric: dict[str, Columns] = {}
    for oid in sets:
        for name, cols in read_curves(odb, oid).items():
            per_metric.setdefault(name, Columns()).pieces.append(cols)
    out: dict[str, tuple[Column, Column, Column]] = {}
    for name in sorted(per_metric):
        out[name] = per_metric[name].final()
    return out
