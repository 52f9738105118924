"""``exp.run(..., resume=RUN_ID)``: continuing a failed or preempted run under its id.

What may be resumed, and what a continuation starts from, is decided here, before
anything is written (docs/tracking.md, "Resuming a run"):

- a run that ended ``failed`` (an exception, SIGTERM, a SIGKILL sealed as failed): yes;
- a run whose process died and whose journal is not sealed yet: it is sealed first (as
  ``Store()`` would have), then continued;
- a live run (its process holds its journal's lock): no, ``LockHeld`` (exit 4);
- a ``completed`` run: no, ``InvalidInput``: it ended as its script meant it to, and
  new results belong in a new run (``run.derived_from(run=...)`` says where they came
  from; ``store.annotate(run)`` adds tags and notes to a finished run);
- a run of another experiment, or ``name=`` that is not the run's name: no;
- an unknown id: ``RunNotFound`` (``Run not found: 'X'``).

The continuation's journal is ``journal/<run id>.journal`` again, made under a name of
its own and linked into place only if no journal of the run exists: two processes
resuming one run at once cannot both get it.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from extract.errors import AmbiguousId, InvalidInput, LockHeld, WrongType
from extract.index import read
from extract.objects import new_ulid_after
from extract.sdk.system import PREFIX as SYSTEM
from extract.store import journal as journalmod
from extract.store.fsutil import fsync_dir
from extract.store.journal import JournalWriter
from extract.tracking.records import Resume, Start, frame
from extract.tracking.seal import recover_journal

if TYPE_CHECKING:
    from pathlib import Path

    from extract.sdk.store import Experiment, Store


@dataclass(frozen=True)
class ResumePoint:
    """Where a continuation of run ``run_id`` starts."""

    run_id: str
    name: str | None
    t0: float  # the run's start (epoch seconds): wall times go on from the same origin
    last_step: int  # the last step curve() logged (-1: none); curve() goes on after it
    next_system_step: int  # the step the system-metrics sampler goes on from
    # the run's latest known segment: the new one's id sorts after it, since the fold goes
    # by segment id and this machine's clock may be behind the one that made it
    last_segment: str | None = None


def check_resume_arg(resume: Any) -> None:
    if resume is not None and not isinstance(resume, str):
        raise WrongType(
            f"run(): resume must be a run id or name (a str), got {type(resume).__name__} "
            f"{resume!r}"
        )


def resume_point(
    store: Store, experiment: Experiment, resume: str, name: str | None
) -> ResumePoint:
    """Check that run ``resume`` may be continued from ``experiment``; where it goes on."""
    indexer = store._indexer
    indexer.refresh()
    run_id = _resolve(indexer.conn, resume, experiment.path)
    path = store._repo.journal_dir / f"{run_id}.journal"
    if path.exists():
        if not journalmod.is_orphan(path):
            raise _live(run_id)
        recover_journal(indexer, path)  # its process died: sealed as failed first
        indexer.refresh()
    detail = read.get_run(indexer.conn, run_id)
    row = detail.run
    if row.object_id is None:
        if row.status == "running":
            raise _live(run_id)
        raise InvalidInput(
            f"run {run_id} cannot be resumed: its journal could not be sealed "
            "(`extract fsck` says why)"
        )
    if row.deleted:
        raise InvalidInput(
            f"run {run_id} ({row.label}) was deleted: resume= would log into a run no list "
            "shows; start a new run (run.derived_from(run=...) records where it came from)"
        )
    if row.status != "failed":
        raise InvalidInput(
            f"run {run_id} ({row.label}) is {row.status}: resume= continues only a failed "
            "or preempted run; start a new run (run.derived_from(run=...) records where "
            "it came from), or annotate this one with store.annotate()"
        )
    if row.experiment_path != experiment.path:
        raise InvalidInput(
            f"run {run_id} belongs to experiment {row.experiment_path!r}, not "
            f"{experiment.path!r}: resume it from store.experiment() of its own experiment"
        )
    if name is not None and name != row.name:
        raise InvalidInput(
            f"run(): name {name!r} is not the name of run {run_id} ({row.name!r}): a resumed "
            "run keeps its name; leave name= out"
        )
    user = [s.last_step for n, s in detail.curves.items() if not n.startswith(SYSTEM)]
    system = [s.last_step for n, s in detail.curves.items() if n.startswith(SYSTEM)]
    started = dt.datetime.fromisoformat(row.started_at or "1970-01-01T00:00:00Z")
    return ResumePoint(
        run_id=run_id,
        name=row.name,
        t0=started.timestamp(),
        last_step=max(user, default=-1),
        next_system_step=max(system, default=-1) + 1,
        last_segment=detail.continuations[-1].id if detail.continuations else None,
    )


def _resolve(conn: sqlite3.Connection, text: str, path: str) -> str:
    """``text`` as resolve_run takes it; a name two experiments share means this one's."""
    try:
        return read.resolve_run(conn, text, hint=True)
    except AmbiguousId:
        here = [
            r.id
            for r in read.list_runs(conn, path, exact=True, include_deleted=True).items
            if r.name == text
        ]
        if len(here) == 1:
            return here[0]
        raise


def _live(run_id: str) -> LockHeld:
    return LockHeld(
        f"run {run_id} is live: its process holds journal/{run_id}.journal. resume= "
        "continues a run whose process has ended; stop that one first"
    )


def open_continuation(
    journal_dir: Path, start: Start, after: str | None
) -> tuple[JournalWriter, Resume, int]:
    """Create ``journal/<run id>.journal`` for a continuation of sealed run ``start.id``
    (its segment id sorting after ``after``, the run's latest known segment): its run and
    resume records, durable and locked, linked into place only if no journal of the run
    is there. Returns the writer, the resume record and the bytes written."""
    resume = Resume(new_ulid_after(after))
    first = frame(start) + frame(resume)
    tmp = journal_dir / f".{start.id}.{resume.segment}.tmp"
    final = journal_dir / f"{start.id}.journal"
    writer = JournalWriter(tmp)
    try:
        writer.write(first, durable=True)
        try:
            os.link(tmp, final)  # never replaces: a journal already there is not ours
        except FileExistsError:
            raise _live(start.id) from None
    except BaseException:
        writer.close()
        raise
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(journal_dir)
    writer.path = final
    return writer, resume, len(first)
