"""Curves: the one reader of curve points, whole or downsampled in SQL, and their stats.

Points live in ``curve_data`` keyed by (run key, metric id, step); every read here is a
range or a seek on that key, so a 10M-point store answers as fast as a small one.
"""

from __future__ import annotations

import bisect
import functools
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from extract.errors import InvalidInput, RunNotFound
from extract.index.models import CurvePoints, CurveStats
from extract.index.read._common import among, num, shown
from extract.objects import Array, Blob, CurveSet, Link, ObjectId, RunRecord, from_hex
from extract.objects.kinds import cast
from extract.store.odb import ObjectStore

if TYPE_CHECKING:  # in annotations only; functions import it when they run
    import numpy as np

Mode = Literal["sample", "envelope"]
#: Live curves up to this many points get min, max and a NaN count from the index (one
#: aggregate scan); longer live curves get their count and ends only.
STATS_SCAN_LIMIT = 100_000


def run_key(conn: sqlite3.Connection, run_id: str) -> int:
    row = conn.execute("SELECT key FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise RunNotFound(f"Run not found: {shown(run_id)}")
    return int(row[0])


def run_metrics(conn: sqlite3.Connection, key: int) -> list[tuple[str, int]]:
    """(name, metric id) of every curve a run has, by name. A skip scan over the curve
    table's key: one B-tree seek per curve, however many points each holds."""
    rows = conn.execute(
        "WITH RECURSIVE m(id) AS ("
        " SELECT (SELECT MIN(metric_id) FROM curve_data WHERE run_key = ?1)"
        " UNION ALL"
        " SELECT (SELECT MIN(metric_id) FROM curve_data WHERE run_key = ?1 AND metric_id > m.id)"
        " FROM m WHERE m.id IS NOT NULL)"
        " SELECT n.name, n.id FROM m JOIN metric_names n ON n.id = m.id ORDER BY n.name",
        (key,),
    ).fetchall()
    return [(str(name), int(mid)) for name, mid in rows]


def curve_names(conn: sqlite3.Connection, run_id: str) -> list[str]:
    """The names of a run's curves, in name order."""
    return [name for name, _ in run_metrics(conn, run_key(conn, run_id))]


def _points(
    rows: Sequence[Sequence[Any]], name: str, total: int, walls: bool = False
) -> CurvePoints:
    """Rows of (step, value[, wall time]) as arrays."""
    import numpy as np  # here: listing runs should not pay numpy's import

    def column(i: int, dtype: Any) -> Any:
        # numpy reads None (how SQLite holds a logged NaN) as NaN, in C: what ``num`` does
        return np.array([r[i] for r in rows], dtype=dtype).reshape(len(rows))

    wall_times = column(2, np.float64) if walls else None
    return CurvePoints(name, column(0, np.int64), column(1, np.float64), total, wall_times)


_RANGE = "FROM curve_data WHERE run_key = ? AND metric_id = ?"


def _count(conn: sqlite3.Connection, key: int, mid: int) -> int:
    return int(conn.execute(f"SELECT COUNT(*) {_RANGE}", (key, mid)).fetchone()[0])


def _end(conn: sqlite3.Connection, key: int, mid: int, last: bool) -> tuple[int, Any]:
    """(step, value) of a non-empty curve's first or last point: one seek."""
    order = "DESC" if last else "ASC"
    row: tuple[int, Any] = conn.execute(
        f"SELECT step, value {_RANGE} ORDER BY step {order} LIMIT 1", (key, mid)
    ).fetchone()
    return row


def _sample(
    conn: sqlite3.Connection, key: int, mid: int, max_points: int, total: int | None
) -> tuple[list[tuple[int, Any]], int]:
    """At most ``max_points`` points at steps evenly spaced between the first and the last
    (each the first point at or after its target step), both ends kept. One B-tree seek
    per sample, so a 10M-point curve costs as little as a 1,000-point one."""
    head = conn.execute(
        f"SELECT step, value {_RANGE} ORDER BY step LIMIT ?", (key, mid, max_points + 1)
    ).fetchall()
    if len(head) <= max_points:
        return head, len(head)
    if total is None:
        total = _count(conn, key, mid)
    first = head[0][0]
    last_step, last_value = _end(conn, key, mid, last=True)
    picked: list[tuple[int, Any]] = [head[0]]
    seek = f"SELECT step, value {_RANGE} AND step >= ? ORDER BY step LIMIT 1"
    span = last_step - first
    head_steps = [s for s, _ in head]
    for i in range(1, max_points - 1):
        target = first + (span * i + max_points - 2) // (max_points - 1)  # ceiling
        target = max(target, picked[-1][0] + 1)
        if target >= last_step:
            break
        j = bisect.bisect_left(head_steps, target)
        found = head[j] if j < len(head) else conn.execute(seek, (key, mid, target)).fetchone()
        if found is None or found[0] >= last_step:
            break
        picked.append(found)
    picked.append((last_step, last_value))
    return picked, total


def _envelope(
    conn: sqlite3.Connection, key: int, mid: int, max_points: int
) -> tuple[list[tuple[int, Any, Any]], int]:
    """At most about ``max_points`` points that keep the curve's shape: its ends, and the
    lowest and highest point of each of ``max_points // 2`` equal step ranges (SQLite's
    bare columns with MIN/MAX give the step and wall time of the extreme). Costs one scan
    of the curve. Rows are (step, value, wall time): a chart may plot against either."""
    total = _count(conn, key, mid)
    if total <= max_points:
        rows = conn.execute(
            f"SELECT step, value, wall_time {_RANGE} ORDER BY step", (key, mid)
        ).fetchall()
        return rows, total
    lo, hi = conn.execute(f"SELECT MIN(step), MAX(step) {_RANGE}", (key, mid)).fetchone()
    buckets = max(1, (max_points - 2) // 2)
    width = (hi - lo) / buckets or 1
    picked: dict[int, tuple[Any, Any]] = {}
    for agg in ("MIN", "MAX"):
        for step, value, wall in conn.execute(
            f"SELECT step, {agg}(value), wall_time {_RANGE} AND value IS NOT NULL "
            "GROUP BY CAST((step - ?) / ? AS INTEGER)",
            (key, mid, lo, width),
        ):
            picked[int(step)] = (value, wall)
    for step, value, wall in (
        conn.execute(
            f"SELECT step, value, wall_time {_RANGE} ORDER BY step LIMIT 1", (key, mid)
        ).fetchone(),
        conn.execute(
            f"SELECT step, value, wall_time {_RANGE} ORDER BY step DESC LIMIT 1", (key, mid)
        ).fetchone(),
    ):
        picked[int(step)] = (value, wall)
    return [(s, v, w) for s, (v, w) in sorted(picked.items())], total


def curve(
    conn: sqlite3.Connection,
    run_id: str,
    name: str,
    *,
    max_points: int | None = None,
    mode: Mode = "sample",
) -> CurvePoints:
    """One curve of a run, by step; empty if the run has no such curve. With
    ``max_points``, at most that many points: ``"sample"`` picks points at evenly spaced
    steps (one seek each), ``"envelope"`` keeps each step range's extremes (for charts)."""
    key = run_key(conn, run_id)
    row = conn.execute("SELECT id FROM metric_names WHERE name = ?", (name,)).fetchone()
    if row is None:
        return _points([], name, 0)
    return read_curve(conn, key, int(row[0]), name, max_points, mode)


def read_curve(
    conn: sqlite3.Connection,
    key: int,
    mid: int,
    name: str,
    max_points: int | None,
    mode: Mode,
    total: int | None = None,
) -> CurvePoints:
    """A curve by run key and metric id (see ``curve``); ``total``, if known, saves a count."""
    if max_points is None:
        rows = conn.execute(
            f"SELECT step, value, wall_time {_RANGE} ORDER BY step", (key, mid)
        ).fetchall()
        return _points(rows, name, len(rows), walls=True)
    if max_points < 2:
        raise InvalidInput(f"max_points must be at least 2 (got {shown(max_points)})")
    if mode == "envelope":
        triples, n = _envelope(conn, key, mid, max_points)
        return _points(triples, name, n, walls=True)
    rows, n = _sample(conn, key, mid, max_points, total)
    return _points(rows, name, n)


def curves(
    conn: sqlite3.Connection,
    run_id: str,
    names: Sequence[str] | None = None,
    *,
    max_points: int | None = None,
    mode: Mode = "sample",
    odb: ObjectStore | None = None,
) -> dict[str, CurvePoints]:
    """A run's curves (all, or those named), by name; see ``curve``.

    With ``odb`` and ``mode="envelope"``, a sealed run's envelope is computed from its
    curve-set object (the same points the index holds, read as whole columns and reduced
    in numpy, by the same rule as ``_envelope``): a 100,000-point curve costs a few
    milliseconds instead of two grouped scans in SQLite. Live runs read the index."""
    key = run_key(conn, run_id)
    wanted = None if names is None else set(names)
    if odb is not None and mode == "envelope" and max_points is not None:
        if max_points < 2:
            raise InvalidInput(f"max_points must be at least 2 (got {shown(max_points)})")
        record = single_record(conn, run_id)
        if record is not None:
            return _sealed_envelopes(odb, record, wanted, max_points)
    return {
        name: read_curve(conn, key, mid, name, max_points, mode)
        for name, mid in run_metrics(conn, key)
        if wanted is None or name in wanted
    }


def envelope_index(
    steps: np.ndarray[Any, Any], values: np.ndarray[Any, Any], max_points: int
) -> Any:
    """Positions of the points ``_envelope`` keeps, for a curve sorted by step: both ends
    and, in each of ``(max_points - 2) // 2`` equal step ranges, the lowest and the highest
    value (NaN left out; of equal values, the first). All of them when few enough."""
    import numpy as np

    n = len(steps)
    if n <= max_points:
        return np.arange(n)
    lo, hi = int(steps[0]), int(steps[-1])
    buckets = max(1, (max_points - 2) // 2)
    width = (hi - lo) / buckets or 1
    keep = [np.array([0, n - 1])]
    ok = np.flatnonzero(~np.isnan(values))
    if ok.size:
        key = ((steps[ok] - lo) / width).astype(np.int64)  # as SQLite's CAST(... AS INTEGER)
        v = values[ok]
        # steps are sorted, so each range is one run of equal keys: reduce each run
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        segment = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, key.size]))
        for reduce in (np.minimum, np.maximum):
            hits = np.flatnonzero(v == reduce.reduceat(v, starts)[segment])
            first = np.r_[True, segment[hits][1:] != segment[hits][:-1]]  # ties: the first
            keep.append(ok[hits[first]])
    return np.unique(np.concatenate(keep))


def _sealed_envelopes(
    odb: ObjectStore, record: str, wanted: set[str] | None, max_points: int
) -> dict[str, CurvePoints]:
    import numpy as np

    curves_oid = cast(odb.get(from_hex(record)), RunRecord).curves
    if curves_oid is None:
        return {}
    out = {}
    for name, c in sorted(cast(odb.get(curves_oid), CurveSet).metrics.items()):
        if c.n == 0 or (wanted is not None and name not in wanted):
            continue
        steps = _column(odb, c.steps, "<i8")
        values = _column(odb, c.values, "<f8")
        walls = _column(odb, c.wall_time, "<f8")
        idx = envelope_index(steps, values, max_points)
        out[name] = CurvePoints(
            name,
            steps[idx].astype(np.int64),
            values[idx].astype(np.float64),
            int(c.n),
            walls[idx].astype(np.float64),
        )
    return out


def point_counts(conn: sqlite3.Connection, run_ids: Sequence[str]) -> dict[str, int]:
    """Curve points logged so far by each run (all its metrics), through the primary key."""
    cond, args = among("r.id", run_ids)
    counts = conn.execute(
        "SELECT r.id, (SELECT COUNT(*) FROM curve_data c WHERE c.run_key = r.key) FROM runs r "
        f"WHERE {cond}",
        args,
    )
    return {**dict.fromkeys(run_ids, 0), **dict(counts)}


# stats --------------------------------------------------------------------------------


def _index_stats(conn: sqlite3.Connection, key: int) -> dict[str, CurveStats]:
    out: dict[str, CurveStats] = {}
    for name, mid in run_metrics(conn, key):
        first, _ = _end(conn, key, mid, last=False)
        last_step, last_value = _end(conn, key, mid, last=True)
        n, lo, hi, nans = conn.execute(
            "SELECT COUNT(*), MIN(value), MAX(value), SUM(value IS NULL) FROM "
            f"(SELECT value {_RANGE} LIMIT ?)",
            (key, mid, STATS_SCAN_LIMIT + 1),
        ).fetchone()
        if n > STATS_SCAN_LIMIT:
            n, lo, hi, nans = _count(conn, key, mid), None, None, None
        out[name] = CurveStats(
            points=int(n),
            first_step=int(first),
            last_step=int(last_step),
            last_value=num(last_value),
            min=None if lo is None else float(lo),
            max=None if hi is None else float(hi),
            nan=None if nans is None else int(nans),
        )
    return out


def _column(odb: ObjectStore, col: Any, dtype: str, ends_only: bool = False) -> Any:
    """A curve column as numpy: inline bytes, or a linked 1-d array object read chunk by
    chunk (with ``ends_only``, just the first and the last chunk)."""
    import numpy as np

    if not isinstance(col, Link):
        return np.frombuffer(col, dtype=dtype)
    parts = cast(odb.get(col.id), Array).chunks
    if ends_only and len(parts) > 2:
        parts = (parts[0], parts[-1])
    return np.concatenate([np.frombuffer(cast(odb.get(c), Blob).data, dtype=dtype) for c in parts])


@functools.lru_cache(maxsize=512)
def _sealed_stats(odb: ObjectStore, curves_oid: ObjectId) -> tuple[tuple[str, CurveStats], ...]:
    import numpy as np

    out = []
    for name, c in sorted(cast(odb.get(curves_oid), CurveSet).metrics.items()):
        if c.n == 0:
            continue
        steps = _column(odb, c.steps, "<i8", ends_only=True)
        values = _column(odb, c.values, "<f8")
        nan = np.isnan(values)
        n_nan = int(nan.sum())
        rest = values[~nan] if n_nan else values
        out.append(
            (
                name,
                CurveStats(
                    points=int(c.n),
                    first_step=int(steps[0]),  # sealed curves are sorted, one point per step
                    last_step=int(steps[-1]),
                    last_value=float(values[-1]),
                    min=float(rest.min()) if rest.size else None,
                    max=float(rest.max()) if rest.size else None,
                    nan=n_nan,
                ),
            )
        )
    return tuple(out)


def curve_stats(
    conn: sqlite3.Connection, run_id: str, *, odb: ObjectStore | None = None
) -> dict[str, CurveStats]:
    """Per curve of a run: points, first and last step, last value, min, max and NaN count.

    With ``odb``, a sealed run is summarised from its curve-set object, read once and
    remembered (objects never change; min and max are exact whatever the length). A live
    run, or any run without ``odb``, is summarised from the index; a curve longer than
    :data:`STATS_SCAN_LIMIT` points then has min, max and nan None."""
    row = conn.execute("SELECT key FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise RunNotFound(f"Run not found: {shown(run_id)}")
    key, record = int(row[0]), single_record(conn, run_id)
    if odb is not None and record is not None:
        curves_oid = _curve_set(odb, record)
        return {} if curves_oid is None else dict(_sealed_stats(odb, curves_oid))
    return _index_stats(conn, key)


def single_record(conn: sqlite3.Connection, run_id: str) -> str | None:
    """The run record that holds all of a sealed run's curves, or None: the run is live,
    or it was resumed (its curves are the fold of several pieces, which the index holds
    and one record's curve set does not)."""
    row = conn.execute(
        "SELECT object_id FROM runs r WHERE id = ? AND NOT EXISTS "
        "(SELECT 1 FROM segments s WHERE s.run_id = r.id)",
        (run_id,),
    ).fetchone()
    return None if row is None else row[0]


def sealed_point_counts(odb: ObjectStore | None, record: str | None) -> dict[str, int]:
    """Point counts a sealed run's curve set records (saves counting in SQL)."""
    if odb is None or record is None or (curves_oid := _curve_set(odb, record)) is None:
        return {}
    return {n: int(c.n) for n, c in cast(odb.get(curves_oid), CurveSet).metrics.items()}


def _curve_set(odb: ObjectStore, record: str) -> ObjectId | None:
    """The curve-set object of a sealed run (its run record's ``curves``)."""
    return cast(odb.get(from_hex(record)), RunRecord).curves
