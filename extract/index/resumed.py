"""Resumed runs in the index: one run, whatever number of pieces it was sealed in.

A run continued with ``exp.run(..., resume=RUN_ID)`` is stored as its run record plus
one ``segment`` object per continuation (objects_spec/kinds.md). The index shows it as
one row of ``runs`` (with its curves, metrics, params, artifacts, ...) holding the fold
of those pieces in id order (``tracking.pieces``), and lists the segments in
``segments``. Pieces may arrive in any order (a merge, a rebuild, a commit of a segment
whose run is still only staged): whichever arrives last folds the run whole, so every
order gives the same rows.

While a continuation is live its journal, ``journal/<run id>.journal``, is indexed like
any live run's (``object_id`` NULL, status ``running``), on top of the fold of what is
sealed; its points replace the sealed ones of the same step, as the fold will.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from extract.errors import ExtractError
from extract.objects import ObjectId, RunRecord, Segment, from_hex, to_hex
from extract.objects.kinds import cast
from extract.tracking.fold import first_resume
from extract.tracking.pieces import fold_curves, fold_record

if TYPE_CHECKING:
    from extract.index.rows import Rows


def has_segments(rows: Rows, run_id: str) -> bool:
    found = rows.conn.execute("SELECT 1 FROM segments WHERE run_id=? LIMIT 1", (run_id,))
    return found.fetchone() is not None


def same_segment(rows: Rows, seg_id: str, oid: ObjectId, commit: str | None) -> bool:
    """Whether segment ``seg_id`` is indexed as ``oid``; if so, credit it to ``commit``."""
    row = rows.conn.execute("SELECT object_id FROM segments WHERE id=?", (seg_id,)).fetchone()
    if row is None or row[0] != to_hex(oid):
        return False
    if commit:
        rows.conn.execute(
            "UPDATE segments SET commit_id=COALESCE(commit_id, ?) WHERE id=?", (commit, seg_id)
        )
    return True


def apply_segment(
    rows: Rows,
    oid: ObjectId,
    seg: Segment,
    commit: str | None,
    *,
    sealing: bool = False,
    points_indexed: bool = False,
) -> None:
    """Index a sealed continuation of run ``seg.run``.

    ``sealing``: its own journal was just sealed (that journal is about to go).
    ``points_indexed``: that journal's points are all in ``curve_data`` already; when this
    segment is the run's latest they are exactly the fold's, and only the other rows are
    folded again. Otherwise the run's curves are folded again from every piece."""
    rows.sync_hierarchy()
    if same_segment(rows, seg.id, oid, commit):
        return
    rows.conn.execute(
        "INSERT OR REPLACE INTO segments(id, run_id, object_id, commit_id, started_at, ended_at, "
        "status, hostname) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seg.id, seg.run, to_hex(oid), commit, seg.started_at, seg.ended_at, seg.status, seg.host),
    )
    if sealing:
        rows.conn.execute("DELETE FROM journals WHERE run_id=?", (seg.run,))
    row = rows.conn.execute(
        "SELECT record_id, commit_id FROM runs WHERE id=?", (seg.run,)
    ).fetchone()
    if row is None or row[0] is None:
        return  # the run record is not here (yet): when it comes, apply_run folds this in
    (latest,) = rows.conn.execute(
        "SELECT MAX(id) FROM segments WHERE run_id=?", (seg.run,)
    ).fetchone()
    keep_points = points_indexed and latest == seg.id
    refold(rows, seg.run, from_hex(row[0]), row[1], curves=not keep_points)


def refold(
    rows: Rows, run_id: str, record_oid: ObjectId, commit: str | None, *, curves: bool
) -> None:
    """Rewrite the run's rows as the fold of its record and every indexed segment (the
    curve points too, with ``curves``). A continuation still live stays live: its journal
    is read again from the start by the next ingest, over the new fold."""
    odb = rows.repo.objects
    record = cast(odb.get(record_oid), RunRecord)
    segs = [
        cast(odb.get(from_hex(r[0])), Segment)
        for r in rows.conn.execute(
            "SELECT object_id FROM segments WHERE run_id=? ORDER BY id", (run_id,)
        ).fetchall()
    ]
    live = rows.conn.execute(
        "SELECT 1 FROM journals j JOIN runs r ON r.id = j.run_id "
        "WHERE j.run_id=? AND r.object_id IS NULL AND r.record_id IS NOT NULL",
        (run_id,),
    ).fetchone()
    view = fold_record(record, segs)
    points = fold_curves(odb, record, segs) if curves or live else None
    rows.write_record(record_oid, view, points, commit, points_indexed=points is None)
    if live:
        mark_resumed(rows, run_id, None)
        rows.conn.execute(
            "INSERT OR REPLACE INTO journals(run_id, offset) VALUES (?, 0)", (run_id,)
        )


def mark_resumed(rows: Rows, run_id: str, total_steps: int | None) -> None:
    """A continuation of the sealed run began: the run is live again until it is sealed."""
    rows.conn.execute(
        "UPDATE runs SET object_id=NULL, status='running', ended_at=NULL, "
        "total_steps=COALESCE(?, total_steps) WHERE id=?",
        (total_steps, run_id),
    )


def continues(rows: Rows, path: Path) -> bool:
    """Whether the journal of a sealed run is a live continuation of it (``resume=``)
    whose segment is not sealed yet, rather than the journal just sealed."""
    try:
        resume = first_resume(path)
    except (ExtractError, FileNotFoundError):
        return False
    if resume is None:
        return False
    found = rows.conn.execute("SELECT 1 FROM segments WHERE id=?", (resume.segment,))
    return found.fetchone() is None
