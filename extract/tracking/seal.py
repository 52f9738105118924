"""Sealing: a live run's journal becomes immutable objects, then the index learns of it.

The same code seals a run at ``finish()`` and recovers one whose process died: both
read the journal file, so what survives a crash is exactly what a clean finish would
have stored up to the last record that reached the kernel. The order of writes is the
store's (objects_spec/store.md, "Write ordering"): every object durable, then the staged
entries that name them, then the index, and only then is the journal unlinked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from pathlib import Path

from extract.errors import ExtractError
from extract.objects import Event, RunRecord, Segment, Value
from extract.store import journal
from extract.store.curves import write_curves
from extract.store.history import stage
from extract.store.repo import Repository
from extract.tracking.fold import RunState, fold_journal
from extract.tracking.sink import RunSink, Sealed


def _iso_from_mtime(path: Path) -> str:
    t = dt.datetime.fromtimestamp(os.stat(path).st_mtime, tz=dt.UTC)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def seal(
    repo: Repository,
    state: RunState,
    journal_path: Path,
    journal_end: int,
    tail: RunState | None = None,
    tail_from: int = 0,
) -> Sealed:
    """Write a whole journal's state as objects and stage them (inside ``repo.writing()``);
    the caller then updates the index and deletes the journal. ``tail`` is the part of
    ``state`` folded from ``tail_from`` on (the whole of it by default), which the index
    has not read yet."""
    start = state.start
    if start is None:
        raise ValueError("seal() needs the state of a whole journal, from its start record")
    odb = repo.objects
    finals = state.curves()
    curves_oid = write_curves(odb, finals)
    status, ended_at = (
        (state.end.status, state.end.ended_at)
        if state.end is not None
        else ("failed", _iso_from_mtime(journal_path))
    )
    record: RunRecord | Segment
    if state.resume is not None:
        # a continuation of a sealed run: its own immutable segment, keyed by its own ULID
        base = start.config
        config = {**(base if isinstance(base, dict) else {}), **(state.config or {})}
        record = Segment(
            id=state.resume.segment,
            run=start.id,
            config=config or None,
            status=status,
            started_at=start.started_at,
            ended_at=ended_at,
            host=start.host,
            code=start.code,
            total_steps=start.total_steps,
            metrics=_metrics(state),
            params=dict(state.params),
            tags=tuple(state.tags),
            notes=tuple(state.notes),
            curves=curves_oid,
            artifacts=tuple(a.to_value() for a in state.artifacts),
            models=tuple(m.object for m in state.models),
            lineage=tuple(e.to_value() for e in state.lineage),
        )
    else:
        record = RunRecord(
            id=start.id,
            experiment=start.experiment,
            name=start.name,
            config=state.full_config(),
            status=status,
            started_at=start.started_at,
            ended_at=ended_at,
            host=start.host,
            code=start.code,
            total_steps=start.total_steps,
            metrics=_metrics(state),
            params=dict(state.params),
            tags=tuple(state.tags),
            notes=tuple(state.notes),
            curves=curves_oid,
            artifacts=tuple(a.to_value() for a in state.artifacts),
            models=tuple(m.object for m in state.models),
            lineage=tuple(e.to_value() for e in state.lineage),
        )
    run_oid = odb.put(record)
    events = []
    for todo in state.todos:
        ev = Event(
            todo.id,
            todo.created_at,
            "todo",
            f"run:{start.id}",
            {
                "content": todo.content,
                "priority": todo.priority,
                "scope_type": "run",
                "scope_id": start.id,
            },
        )
        events.append((odb.put(ev), ev))
    odb.sync()  # every object durable before a staged entry points at it
    for oid, ev in events:
        stage(repo, "events", ev.id, oid)
    for m in state.models:
        stage(repo, "models", m.key, m.object)
    stage(repo, "runs", record.id, run_oid)  # a segment goes under its own ULID
    return Sealed(
        run_oid,
        record,
        finals,
        tuple(events),
        journal_path,
        journal_end,
        state if tail is None else tail,
        tail_from,
    )


def _metrics(state: RunState) -> dict[str, Value]:
    return {k: {"value": v, "wall_time": w} for k, (v, w) in state.metrics.items()}


def seal_journal(sink: RunSink, path: Path, folded: tuple[RunState, int] | None = None) -> Sealed:
    """Turn a journal into sealed objects, index them, and remove the journal."""
    repo = sink.repo
    # One write transaction: the journal names the run's objects until the staged entries
    # that replace it are durable, and gc must not slip in between.
    with repo.writing():
        # The journal is folded once, in two parts: what the index has read already
        # (often nearly all of it: the writer's process indexes while the run logs) and
        # the rest, which the index gets folded along with the objects.
        read = sink.journal_offset(path.name.split(".")[0])
        if folded is not None and folded[1] == read:
            # the writer's process folded what the index holds as it indexed it
            state = folded[0]
            tail, end = fold_journal(path, read)
            state.extend(tail)
        elif read > 0:
            state, read = fold_journal(path, 0, limit=read)
            tail, end = fold_journal(path, read)
            state.extend(tail)
        else:
            state, end = fold_journal(path)
            tail = state
        sealed = seal(repo, state, path, end, tail, read)
        sink.run_sealed(sealed)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return sealed


def recover_orphans(sink: RunSink) -> list[str]:
    """Seal, as failed, every run whose process died; returns their ids.

    A live run's process holds its journal's lock; a journal nobody holds is an orphan.
    We take the lock ourselves while sealing, so two processes opening the store at once
    never seal the same run twice.
    """
    recovered = []
    for path in sorted(sink.repo.journal_dir.glob("*.journal")):
        run_id = recover_journal(sink, path)
        if run_id is not None:
            recovered.append(run_id)
    return recovered


def recover_journal(sink: RunSink, path: Path) -> str | None:
    """Seal one journal if its process died (a run, or a continuation of one: then a
    segment); the run's id, or None when it is live, gone, or cannot be sealed."""
    if not journal.is_orphan(path):
        return None
    with journal.claimed(path) as ok:
        if not ok or not path.exists():
            return None
        try:
            sealed = seal_journal(sink, path)
        except (ExtractError, OSError):
            # a malformed journal (DecodeError: damaged, or a newer extract's) or one
            # we cannot read must not stop every open of the store: it stays as it is
            return None
        return sealed.run_id
