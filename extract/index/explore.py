"""Questions a person or an agent asks while exploring a store: the read-only layer
that the TUI and the MCP server share.

Every function takes a connection (a reader from ``db.open_reader``) and returns
plain dicts and lists. Floats are Python floats, NaN included: front ends decide
how to show or encode them. Bad arguments raise ``InvalidInput`` (or one of its
subclasses) with a message that names what was wrong and what is allowed; ids
that match nothing are "not found", whatever characters they hold.

- runs: newest first, scoped to an experiment's subtree, with a substring search
  and AND-combined structured filters;
- compare: the headline pivot with metric directions and rankings, the config
  keys that differ, and curves downsampled to a bound;
- lineage: a breadth-first walk of the lineage DAG, flat (nodes and edges);
- todos and models, with the same paging.
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import functools
import json
import math
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from extract.errors import ExperimentNotFound, InvalidInput, ModelNotFound, RunNotFound
from extract.index.query import dict_rows, escape_like
from extract.objects import CurveSet, ObjectId, RunRecord, from_hex
from extract.objects.kinds import cast
from extract.store.config import Config, Direction, metric_direction
from extract.store.curves import read_column
from extract.store.fieldglob import flatten_config
from extract.store.odb import ObjectStore

__all__ = [
    "DIRECTIONS",
    "FILTERS",
    "MAX_DEPTH",
    "NODE_TYPES",
    "SCOPE_TYPES",
    "STATUSES",
    "ExperimentNotFound",
    "ModelNotFound",
    "check_filters",
    "compare",
    "config_summary",
    "curve_stats",
    "downsample",
    "experiment",
    "experiments",
    "lineage",
    "models",
    "rank",
    "run_detail",
    "run_label",
    "run_metrics",
    "runs",
    "shown",
    "todos",
]

FILTERS = ("tag", "status", "experiment_prefix", "started_after", "started_before")
STATUSES = ("running", "completed", "failed")
NODE_TYPES = ("experiment", "run", "model")
DIRECTIONS = ("ancestors", "descendants", "both")
SCOPE_TYPES = ("global", "experiment", "run")
MAX_DEPTH = 5
#: A lineage walk stops adding nodes here and says it was truncated.
MAX_LINEAGE_NODES = 500

_RUN_FIELDS = (
    "id, name, experiment_id, experiment_path, status, started_at, ended_at, tags, "
    "git_sha, hostname, config"
)


#: Longest piece of an argument an error message repeats back.
SHOWN_MAX = 200


def shown(value: object) -> str:
    """``repr`` of an argument for an error message; a huge one is cut, so a hostile
    input cannot fill an agent's context with its own echo."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4,300-digit conversion limit
        return "an integer too long to show"
    if len(text) <= SHOWN_MAX:
        return text
    return f"{text[:SHOWN_MAX]}... ({len(text):,} characters)"


def _like_prefix(prefix: str) -> str:
    return escape_like(prefix) + "%"


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def run_label(experiment_path: str, name: str | None, run_id: str) -> str:
    """``path#name``, the way the reference documents label runs; the id when unnamed."""
    return f"{experiment_path}#{name if name else run_id}"


def config_summary(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{n_keys, top_level_keys}``: n_keys counts flattened (dot) keys, the leaves."""
    if not config:
        return {"n_keys": 0, "top_level_keys": []}
    return {"n_keys": len(flatten_config(config)), "top_level_keys": [str(k) for k in config]}


# experiments -----------------------------------------------------------------------


def _run_counts(conn: sqlite3.Connection) -> tuple[dict[str, int], dict[str, int]]:
    """Runs (not deleted) per experiment path: directly in it, and in its whole subtree."""
    direct: dict[str, int] = {}
    subtree: dict[str, int] = {}
    for path, n in conn.execute(
        "SELECT experiment_path, COUNT(*) FROM runs WHERE deleted = 0 GROUP BY experiment_path"
    ):
        direct[path] = n
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            sub = "/".join(parts[:depth])
            subtree[sub] = subtree.get(sub, 0) + n
    return direct, subtree


def experiments(
    conn: sqlite3.Connection, prefix: str = "", limit: int | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Experiments whose path starts with ``prefix``, in path order; (page, total)."""
    where = "path LIKE ? ESCAPE '\\'"
    args: list[Any] = [_like_prefix(prefix)]
    total = int(conn.execute(f"SELECT COUNT(*) FROM experiments WHERE {where}", args).fetchone()[0])
    sql = (
        "SELECT id, path, name, node_type, parent_id, created_at, status FROM experiments "
        f"WHERE {where} ORDER BY path"
    )
    if limit is not None:
        sql += " LIMIT ?"
        args.append(int(limit))
    rows = dict_rows(conn.execute(sql, args))
    direct, subtree = _run_counts(conn)
    for r in rows:
        r["n_runs"] = direct.get(r["path"], 0)
        r["n_runs_total"] = subtree.get(r["path"], 0)
    return rows, total


def experiment(conn: sqlite3.Connection, ref: str) -> dict[str, Any]:
    """One experiment by id or by path."""
    rows = dict_rows(
        conn.execute(
            "SELECT id, path, name, node_type, parent_id, created_at, status FROM experiments "
            "WHERE id = ? OR path = ? ORDER BY id = ? DESC LIMIT 1",
            (ref, ref, ref),
        )
    )
    if not rows:
        raise ExperimentNotFound(f"Experiment not found: {shown(ref)}")
    return rows[0]


# runs -------------------------------------------------------------------------------


def _utc_text(name: str, value: object) -> str:
    """An ISO 8601 date or time as the index writes timestamps (UTC, milliseconds, Z),
    so a string comparison in SQL orders them correctly. Naive times are UTC."""
    if not isinstance(value, str):
        raise InvalidInput(
            f"Invalid value for filter {shown(name)}: expected an ISO 8601 string, got {shown(value)}"
        )
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"Invalid value for filter {shown(name)}: {shown(value)} is not an ISO 8601 date or time "
            "(e.g. 2024-05-01 or 2024-05-01T12:00:00Z)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    text = when.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def check_filters(filters: Mapping[str, Any] | None) -> dict[str, str]:
    """The filters, checked: known names only, string values, a known status, ISO times."""
    if not filters:
        return {}
    if not isinstance(filters, Mapping):
        raise InvalidInput(
            f"filters must be an object such as {{'status': 'completed'}}, got {shown(filters)}"
        )
    out: dict[str, str] = {}
    for name, value in filters.items():
        if name not in FILTERS:
            raise InvalidInput(
                f"Unknown filter: {shown(name)}. Valid filters: {', '.join(FILTERS)}"
            )
        if name in ("started_after", "started_before"):
            out[name] = _utc_text(name, value)
            continue
        if not isinstance(value, str):
            raise InvalidInput(
                f"Invalid value for filter {shown(name)}: expected a string, got {shown(value)}"
            )
        if name == "status" and value not in STATUSES:
            raise InvalidInput(
                f"Invalid status: {shown(value)}. Valid statuses: {', '.join(STATUSES)}"
            )
        out[name] = value
    return out


def _has_tag(tags_json: str | None, tag: str) -> int:
    try:
        tags = json.loads(tags_json) if tags_json else []
    except ValueError:
        return 0
    return int(isinstance(tags, list) and tag in tags)


def _matches_text(name: str | None, tags_json: str | None, notes: str | None, needle: str) -> int:
    """Case-insensitive substring of the run's name, any of its tags, or its notes."""
    if name and needle in name.casefold():
        return 1
    if notes and needle in notes.casefold():
        return 1
    if tags_json:
        try:
            tags = json.loads(tags_json)
        except ValueError:
            return 0
        if isinstance(tags, list):
            return int(any(isinstance(t, str) and needle in t.casefold() for t in tags))
    return 0


def runs(
    conn: sqlite3.Connection,
    *,
    experiment_id: str | None = None,
    query: str = "",
    filters: Mapping[str, Any] | None = None,
    limit: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Runs, newest first; (page, total). Deleted runs are left out.

    ``experiment_id`` (an id or a path) scopes to that experiment and every one
    below it. ``query`` is a case-insensitive substring of the name, a tag or the
    notes. ``filters`` (see :data:`FILTERS`) are AND-combined with both.
    """
    checked = check_filters(filters)
    where = ["deleted = 0"]
    args: list[Any] = []
    if experiment_id is not None:
        path = experiment(conn, experiment_id)["path"]
        where.append("(experiment_path = ? OR substr(experiment_path, 1, ?) = ?)")
        args += [path, len(path) + 1, path + "/"]
    if "experiment_prefix" in checked:
        where.append("experiment_path LIKE ? ESCAPE '\\'")
        args.append(_like_prefix(checked["experiment_prefix"]))
    if "status" in checked:
        where.append("status = ?")
        args.append(checked["status"])
    if "started_after" in checked:
        where.append("started_at > ?")
        args.append(checked["started_after"])
    if "started_before" in checked:
        where.append("started_at < ?")
        args.append(checked["started_before"])
    if "tag" in checked:
        conn.create_function("explore_has_tag", 2, _has_tag, deterministic=True)
        where.append("explore_has_tag(tags, ?)")
        args.append(checked["tag"])
    if query:
        needle = query.casefold()
        if needle.isascii() and needle.isprintable() and not {'"', "\\"} & set(needle):
            # A cheap superset first (SQLite's lower() folds ASCII; an ASCII tag shows
            # as itself in the tags JSON), so the exact check runs on candidates only.
            where.append(
                "(instr(lower(name), ?) > 0 OR instr(lower(notes), ?) > 0 "
                "OR instr(lower(tags), ?) > 0)"
            )
            args += [needle, needle, needle]
        conn.create_function("explore_matches", 4, _matches_text, deterministic=True)
        where.append("explore_matches(name, tags, notes, ?)")
        args.append(needle)
    cond = " AND ".join(where)
    total = int(conn.execute(f"SELECT COUNT(*) FROM runs WHERE {cond}", args).fetchone()[0])
    sql = f"SELECT {_RUN_FIELDS} FROM runs WHERE {cond} ORDER BY started_at DESC, id DESC"
    page_args = list(args)
    if limit is not None:
        sql += " LIMIT ?"
        page_args.append(int(limit))
    return [_run_item(r) for r in dict_rows(conn.execute(sql, page_args))], total


def _run_item(row: dict[str, Any]) -> dict[str, Any]:
    config = _loads(row.pop("config"))
    row["tags"] = _loads(row["tags"]) or []
    row["label"] = run_label(row["experiment_path"], row["name"], row["id"])
    row["config_summary"] = config_summary(config if isinstance(config, dict) else None)
    return row


def _find_run(conn: sqlite3.Connection, run_id: str) -> dict[str, Any]:
    """A run row by its exact id (ULIDs are case-insensitive); anything else is not found."""
    if not isinstance(run_id, str):
        raise RunNotFound(f"Run not found: {shown(run_id)}")
    rows = dict_rows(
        conn.execute(
            "SELECT * FROM runs WHERE id = ?",
            (run_id.strip().upper(),),
        )
    )
    if not rows:
        raise RunNotFound(f"Run not found: {shown(run_id)}")
    return rows[0]


#: Live curves up to this many points get min, max and a NaN count from the index
#: (one aggregate scan); longer live curves get their count and ends only.
STATS_SCAN_LIMIT = 100_000


def run_metrics(conn: sqlite3.Connection, run_key: int) -> list[tuple[str, int]]:
    """(name, metric id) of every curve a run has, by name. A skip scan over the curve
    table's key: one B-tree seek per curve, however many points each holds."""
    rows = conn.execute(
        "WITH RECURSIVE m(id) AS ("
        " SELECT (SELECT MIN(metric_id) FROM curve_data WHERE run_key = ?1)"
        " UNION ALL"
        " SELECT (SELECT MIN(metric_id) FROM curve_data WHERE run_key = ?1 AND metric_id > m.id)"
        " FROM m WHERE m.id IS NOT NULL)"
        " SELECT n.name, n.id FROM m JOIN metric_names n ON n.id = m.id ORDER BY n.name",
        (run_key,),
    ).fetchall()
    return [(str(name), int(mid)) for name, mid in rows]


def _value(v: float | None) -> float:
    return math.nan if v is None else float(v)


def _index_curve_stats(conn: sqlite3.Connection, run_key: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    where = "WHERE run_key = ? AND metric_id = ?"
    for name, mid in run_metrics(conn, run_key):
        key = (run_key, mid)
        first = conn.execute(f"SELECT step FROM curve_data {where} ORDER BY step LIMIT 1", key)
        last = conn.execute(
            f"SELECT step, value FROM curve_data {where} ORDER BY step DESC LIMIT 1", key
        ).fetchone()
        stats: dict[str, Any] = {
            "first_step": int(first.fetchone()[0]),
            "last_step": int(last[0]),
            "last_value": _value(last[1]),
            "min": None,
            "max": None,
            "nan": None,
        }
        n, lo, hi, nans = conn.execute(
            "SELECT COUNT(*), MIN(value), MAX(value), SUM(value IS NULL) FROM "
            f"(SELECT value FROM curve_data {where} LIMIT ?)",
            (*key, STATS_SCAN_LIMIT + 1),
        ).fetchone()
        if n <= STATS_SCAN_LIMIT:
            stats.update(
                min=None if lo is None else float(lo),
                max=None if hi is None else float(hi),
                nan=int(nans or 0),
            )
        else:
            n = conn.execute(f"SELECT COUNT(*) FROM curve_data {where}", key).fetchone()[0]
        stats["points"] = int(n)
        out[name] = stats
    return out


@functools.lru_cache(maxsize=512)
def _sealed_curve_stats(odb: ObjectStore, curves: ObjectId) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, c in sorted(cast(odb.get(curves), CurveSet).metrics.items()):
        if c.n == 0:
            continue
        steps = read_column(odb, c.steps, "<i8", ends_only=True)
        values = read_column(odb, c.values, "<f8")
        nan = np.isnan(values)
        n_nan = int(nan.sum())
        finite_or_inf = values[~nan] if n_nan else values
        out[name] = {
            "points": int(c.n),
            "first_step": int(steps[0]),  # sealed curves are sorted by step, one point each
            "last_step": int(steps[-1]),
            "last_value": float(values[-1]),
            "min": float(finite_or_inf.min()) if finite_or_inf.size else None,
            "max": float(finite_or_inf.max()) if finite_or_inf.size else None,
            "nan": n_nan,
        }
    return out


def _curves_oid(odb: ObjectStore | None, run_object: str | None) -> ObjectId | None:
    if odb is None or run_object is None:
        return None
    return cast(odb.get(from_hex(run_object)), RunRecord).curves


def curve_stats(
    conn: sqlite3.Connection,
    run_key: int,
    *,
    odb: ObjectStore | None = None,
    run_object: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Per curve of a run: points, first and last step, last value, min, max and how
    many NaN (min and max leave NaN out).

    A sealed run (``run_object`` is its record's id) is summarised from its curve-set
    object, read once and remembered: objects never change. A live run is
    summarised from the index; a live curve longer than :data:`STATS_SCAN_LIMIT`
    points has min, max and nan None.
    """
    oid = _curves_oid(odb, run_object)
    if odb is not None and oid is not None:
        return copy.deepcopy(_sealed_curve_stats(odb, oid))
    if odb is not None and run_object is not None:  # a sealed run with no curves
        return {}
    return _index_curve_stats(conn, run_key)


def run_detail(
    conn: sqlite3.Connection, run_id: str, odb: ObjectStore | None = None
) -> dict[str, Any]:
    """Everything the index knows about one run, its curves summarised (not their points).
    With ``odb``, a sealed run's curve summary comes from its objects (see ``curve_stats``)."""
    row = _find_run(conn, run_id)
    rid = row["id"]
    metrics = {
        name: math.nan if value is None else float(value)
        for name, value in conn.execute(
            "SELECT name, value FROM scalar_metrics WHERE run_id = ? ORDER BY name", (rid,)
        )
    }
    params = dict(
        conn.execute("SELECT name, value FROM run_params WHERE run_id = ? ORDER BY name", (rid,))
    )
    artifacts = dict_rows(
        conn.execute(
            "SELECT id, name, kind, step, shape, dtype, metadata, created_at, object_id, rel_path "
            "FROM artifacts WHERE run_id = ? ORDER BY name, step",
            (rid,),
        )
    )
    for a in artifacts:
        a["shape"] = _loads(a["shape"])
        a["metadata"] = _loads(a["metadata"])
    curves = curve_stats(conn, int(row["key"]), odb=odb, run_object=row["object_id"])
    todo_rows, _ = todos(conn, "run", rid, include_done=True)
    model_rows, _ = models(conn, run_id=rid)
    config = _loads(row["config"])
    return {
        "id": rid,
        "experiment_id": row["experiment_id"],
        "experiment_path": row["experiment_path"],
        "name": row["name"],
        "label": run_label(row["experiment_path"], row["name"], rid),
        "status": row["status"],
        "started_at": row["started_at"],
        "ended_at": row["ended_at"],
        "hostname": row["hostname"],
        "git_sha": row["git_sha"],
        "tags": _loads(row["tags"]) or [],
        "notes": row["notes"] or "",
        "config": config,
        "metrics_final": metrics,
        "metrics_available": sorted(curves),
        "run_params": params,
        "artifacts": artifacts,
        "todos": todo_rows,
        # beyond the reference fields
        "total_steps": row["total_steps"],
        "live": row["object_id"] is None,
        "deleted": bool(row["deleted"]),
        "object_id": row["object_id"],
        "commit_id": row["commit_id"],
        "git_stamp": row["git_stamp"],
        "git_branch": row["git_branch"],
        "git_dirty": None if row["git_dirty"] is None else bool(row["git_dirty"]),
        "git_tree": row["git_tree"],
        "git_diff_id": row["git_diff_id"],
        "curves": curves,
        "models": model_rows,
    }


# compare ------------------------------------------------------------------------------


def _same_key(value: Any) -> str:
    """Equality for config values: 1 and 1.0 agree, NaN equals NaN, key order is ignored."""

    def norm(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, dict):
            return {str(k): norm(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [norm(x) for x in v]
        return v

    return json.dumps(norm(value), sort_keys=True, default=str)


def rank(values: Mapping[str, float | None], direction: Direction) -> list[str]:
    """Run ids best to worst. NaN ranks last; runs without the metric are left out."""
    present = [(rid, v) for rid, v in values.items() if v is not None]
    finite = [(rid, v) for rid, v in present if not math.isnan(v)]
    nans = [rid for rid, v in present if math.isnan(v)]
    finite.sort(key=lambda p: p[1], reverse=direction == "max")
    return [rid for rid, _ in finite] + nans


def compare(
    conn: sqlite3.Connection,
    run_ids: Sequence[str],
    config: Config | None,
    *,
    include_curves: bool = False,
    curve_names: Sequence[str] | None = None,
    max_points: int = 200,
    odb: ObjectStore | None = None,
) -> dict[str, Any]:
    """Runs side by side: ``{runs, metrics, config_diffs}`` and, if asked, ``curves``.

    ``metrics`` holds every headline metric any of the runs has: its direction
    (config.toml, then the name heuristics), each run's value (None where the run
    lacks it) and the ranking best to worst. ``config_diffs`` holds the flattened
    config keys where at least two runs differ. ``curves`` is ``{name: {run_id:
    [[step, value], ...]}}``, each curve downsampled to at most ``max_points``.
    """
    rows = [_find_run(conn, rid) for rid in run_ids]
    ids = [r["id"] for r in rows]
    items = []
    for r in rows:
        item = {k: r[k] for k in _RUN_FIELDS.split(", ")}
        items.append(_run_item(item))
    marks = ",".join("?" * len(ids))
    values: dict[str, dict[str, float]] = {}
    for rid, name, value in conn.execute(
        f"SELECT run_id, name, value FROM scalar_metrics WHERE run_id IN ({marks})", ids
    ):
        values.setdefault(name, {})[rid] = math.nan if value is None else float(value)
    metrics: dict[str, dict[str, Any]] = {}
    for name in sorted(values):
        direction = metric_direction(name, config)
        per_run: dict[str, float | None] = {rid: values[name].get(rid) for rid in ids}
        metrics[name] = {
            "direction": direction,
            "values": per_run,
            "ranking": rank(per_run, direction),
        }
    flat = [flatten_config(_as_dict(_loads(r["config"]))) for r in rows]
    keys: dict[str, None] = {}
    for f in flat:
        keys.update(dict.fromkeys(f))
    diffs: dict[str, dict[str, Any]] = {}
    for key in keys:
        vals = [f.get(key) for f in flat]
        present = [key in f for f in flat]
        if len({_same_key(v) for v in vals}) > 1 or len(set(present)) > 1:
            diffs[key] = dict(zip(ids, vals, strict=True))
    out: dict[str, Any] = {"runs": items, "metrics": metrics, "config_diffs": diffs}
    if include_curves:
        curves, info = _compare_curves(conn, rows, curve_names, max_points, odb)
        out["curves"] = curves
        out["curves_info"] = info
    return out


def _as_dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _compare_curves(
    conn: sqlite3.Connection,
    rows: Sequence[dict[str, Any]],
    names: Sequence[str] | None,
    max_points: int,
    odb: ObjectStore | None,
) -> tuple[dict[str, dict[str, list[list[Any]]]], dict[str, dict[str, dict[str, Any]]]]:
    wanted = None if names is None else set(names)
    curves: dict[str, dict[str, list[list[Any]]]] = {}
    info: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        key = int(r["key"])
        oid = _curves_oid(odb, r["object_id"])
        sizes = (
            {n: int(c.n) for n, c in cast(odb.get(oid), CurveSet).metrics.items()}
            if odb is not None and oid is not None
            else {}
        )
        for name, mid in run_metrics(conn, key):
            if wanted is not None and name not in wanted:
                continue
            points, total = downsample(conn, key, mid, max_points, sizes.get(name))
            curves.setdefault(name, {})[r["id"]] = points
            info.setdefault(name, {})[r["id"]] = {"points": total, "returned": len(points)}
    return dict(sorted(curves.items())), dict(sorted(info.items()))


def downsample(
    conn: sqlite3.Connection,
    run_key: int,
    metric_id: int,
    max_points: int,
    total: int | None = None,
) -> tuple[list[list[Any]], int]:
    """At most ``max_points`` ``[step, value]`` pairs of one curve, and its point count.

    A curve that fits is returned whole. A longer one is sampled at steps evenly
    spaced between its first and last step (each sample the first point at or after
    its target step), the first and last points always kept. Each sample is one
    B-tree seek, so a 10M-point curve costs as little as a 1,000-point one.
    NaN values come back as float NaN. ``total``, when the caller knows the point
    count (a sealed curve set records it), saves counting.
    """
    if max_points < 2:
        raise InvalidInput(f"max_points must be at least 2 (got {max_points})")
    head = conn.execute(
        "SELECT step, value FROM curve_data WHERE run_key = ? AND metric_id = ? "
        "ORDER BY step LIMIT ?",
        (run_key, metric_id, max_points + 1),
    ).fetchall()
    if len(head) <= max_points:
        return [[s, math.nan if v is None else float(v)] for s, v in head], len(head)
    if total is None:
        total = int(
            conn.execute(
                "SELECT COUNT(*) FROM curve_data WHERE run_key = ? AND metric_id = ?",
                (run_key, metric_id),
            ).fetchone()[0]
        )
    first = head[0][0]
    last_step, last_value = conn.execute(
        "SELECT step, value FROM curve_data WHERE run_key = ? AND metric_id = ? "
        "ORDER BY step DESC LIMIT 1",
        (run_key, metric_id),
    ).fetchone()
    picked: list[tuple[int, Any]] = [head[0]]
    seek = (
        "SELECT step, value FROM curve_data WHERE run_key = ? AND metric_id = ? AND step >= ? "
        "ORDER BY step LIMIT 1"
    )
    span = last_step - first
    head_steps = [s for s, _ in head]
    for i in range(1, max_points - 1):
        target = first + (span * i + max_points - 2) // (max_points - 1)  # ceiling
        if target <= picked[-1][0]:
            target = picked[-1][0] + 1
        if target >= last_step:
            break
        j = bisect.bisect_left(head_steps, target)
        found = (
            head[j]
            if j < len(head)
            else conn.execute(seek, (run_key, metric_id, target)).fetchone()
        )
        if found is None or found[0] >= last_step:
            break
        picked.append(found)
    picked.append((last_step, last_value))
    return [[s, math.nan if v is None else float(v)] for s, v in picked], total


# lineage --------------------------------------------------------------------------------


def _check_lineage_args(node_type: str, direction: str, depth: int) -> None:
    if node_type not in NODE_TYPES:
        raise InvalidInput(
            f"Invalid node_type: {shown(node_type)}. Valid node types: {', '.join(NODE_TYPES)}"
        )
    if direction not in DIRECTIONS:
        raise InvalidInput(
            f"Invalid direction: {shown(direction)}. Valid directions: {', '.join(DIRECTIONS)}"
        )
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        raise InvalidInput(f"depth must be between 1 and {MAX_DEPTH} (got {shown(depth)})")


def _model_ref(conn: sqlite3.Connection, ref: str) -> dict[str, Any] | None:
    """A model row by id or by ``name@version`` (a name may itself hold '@')."""
    rows = dict_rows(conn.execute("SELECT id, name, version FROM models WHERE id = ?", (ref,)))
    if rows:
        return rows[0]
    at = ref.rfind("@")
    while at > 0:
        rows = dict_rows(
            conn.execute(
                "SELECT id, name, version FROM models WHERE name = ? AND version = ?",
                (ref[:at], ref[at + 1 :]),
            )
        )
        if rows:
            return rows[0]
        at = ref.rfind("@", 0, at)
    return None


def _root(conn: sqlite3.Connection, node_type: str, node_id: str) -> tuple[str, str]:
    """The canonical (type, id) of the walk's start, or a not-found error."""
    if node_type == "run":
        return "run", str(_find_run(conn, node_id)["id"])
    if node_type == "experiment":
        return "experiment", str(experiment(conn, node_id)["id"])
    found = _model_ref(conn, node_id)
    if found is None:
        raise ModelNotFound(f"Model not found: {shown(node_id)}")
    return "model", str(found["id"])


class _Names:
    """Canonical ids and labels of lineage nodes, looked up in batches."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def canonical(self, node_type: str, raw: str) -> str:
        """Lineage rows name experiments by id or path and models by id: use ids."""
        if node_type == "experiment":
            row = self.conn.execute(
                "SELECT id FROM experiments WHERE id = ? OR path = ? LIMIT 1", (raw, raw)
            ).fetchone()
            return str(row[0]) if row else raw
        if node_type == "run":
            return raw.upper()
        return raw

    def labels(self, nodes: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        out: dict[tuple[str, str], str] = {}
        by_type: dict[str, list[str]] = {}
        for t, i in nodes:
            by_type.setdefault(t, []).append(i)
        for t, ids in by_type.items():
            for lo in range(0, len(ids), 500):
                chunk = ids[lo : lo + 500]
                marks = ",".join("?" * len(chunk))
                if t == "run":
                    sql = f"SELECT id, experiment_path, name FROM runs WHERE id IN ({marks})"
                    for rid, path, name in self.conn.execute(sql, chunk):
                        out[(t, rid)] = run_label(path, name, rid)
                elif t == "experiment":
                    sql = f"SELECT id, path FROM experiments WHERE id IN ({marks})"
                    for eid, path in self.conn.execute(sql, chunk):
                        out[(t, eid)] = path
                else:
                    sql = f"SELECT id, name, version FROM models WHERE id IN ({marks})"
                    for mid, name, version in self.conn.execute(sql, chunk):
                        out[(t, mid)] = f"{name}@{version}"
        return out


def _neighbours(
    conn: sqlite3.Connection, names: _Names, node: tuple[str, str], up: bool
) -> list[tuple[tuple[str, str], str]]:
    """(neighbour, relation) one step up (parents) or down (children) from ``node``.

    Edges are the lineage table's, plus one implicit edge per model: the run that
    registered it is its parent (relation ``registered``).
    """
    t, i = node
    out: list[tuple[tuple[str, str], str]] = []
    ids = [i]
    if t == "experiment":  # lineage rows may name an experiment by its path
        row = conn.execute("SELECT path FROM experiments WHERE id = ?", (i,)).fetchone()
        if row:
            ids.append(row[0])
    marks = ",".join("?" * len(ids))
    if up:
        sql = (
            "SELECT parent_type, parent_id, relation FROM lineage "
            f"WHERE child_type = ? AND child_id IN ({marks}) ORDER BY id"
        )
    else:
        sql = (
            "SELECT child_type, child_id, relation FROM lineage "
            f"WHERE parent_type = ? AND parent_id IN ({marks}) ORDER BY id"
        )
    for other_type, other_id, relation in conn.execute(sql, [t, *ids]).fetchall():
        out.append(((other_type, names.canonical(other_type, other_id)), relation))
    if up and t == "model":
        row = conn.execute("SELECT run_id FROM models WHERE id = ?", (i,)).fetchone()
        if row and row[0]:
            out.append((("run", str(row[0])), "registered"))
    if not up and t == "run":
        for (mid,) in conn.execute(
            "SELECT id FROM models WHERE run_id = ? ORDER BY created_at, name, version", (i,)
        ).fetchall():
            out.append((("model", str(mid)), "registered"))
    return out


def lineage(
    conn: sqlite3.Connection,
    node_type: str,
    node_id: str,
    direction: str = "both",
    depth: int = 2,
) -> dict[str, Any]:
    """A breadth-first walk of the lineage DAG from one node: ``{root, nodes, edges}``.

    Flat, not a tree, so a diamond shows each node once. Every node has its type,
    id, label (``path#name`` for runs, ``path`` for experiments, ``name@version``
    for models), its distance from the root, which side of the root it is on, and
    whether the store knows it (a parent may live in another store). Edges point
    from parent to child. The walk stops at :data:`MAX_LINEAGE_NODES` nodes and
    then says ``truncated``.
    """
    _check_lineage_args(node_type, direction, depth)
    names = _Names(conn)
    root = _root(conn, node_type, node_id)
    seen: dict[tuple[str, str], dict[str, Any]] = {
        root: {"type": root[0], "id": root[1], "distance": 0, "side": "root"}
    }
    edges: dict[tuple[str, str, str, str, str], None] = {}
    truncated = False
    sides = [s for s in ("ancestors", "descendants") if direction in (s, "both")]
    for side in sides:
        up = side == "ancestors"
        frontier = [root]
        for distance in range(1, depth + 1):
            nxt: list[tuple[str, str]] = []
            for node in frontier:
                for other, relation in _neighbours(conn, names, node, up):
                    parent, child = (other, node) if up else (node, other)
                    if other not in seen:
                        if len(seen) >= MAX_LINEAGE_NODES:
                            truncated = True
                            continue
                        seen[other] = {
                            "type": other[0],
                            "id": other[1],
                            "distance": distance,
                            "side": side[:-1],  # "ancestor" / "descendant"
                        }
                        nxt.append(other)
                    edges[(parent[0], parent[1], child[0], child[1], relation)] = None
            frontier = nxt
            if not frontier:
                break
    labels = names.labels(list(seen))
    nodes = []
    for key, entry in seen.items():
        entry["label"] = labels.get(key, entry["id"])
        entry["found"] = key in labels
        nodes.append(entry)
    return {
        "root": nodes[0],
        "nodes": nodes,
        "edges": [
            {
                "parent": p_id,
                "parent_type": p_type,
                "child": c_id,
                "child_type": c_type,
                "relation": rel,
            }
            for p_type, p_id, c_type, c_id, rel in edges
        ],
        "direction": direction,
        "depth": depth,
        "truncated": truncated,
    }


# todos and models ---------------------------------------------------------------------------


def todos(
    conn: sqlite3.Connection,
    scope_type: str = "global",
    scope_id: str | None = None,
    *,
    include_done: bool = False,
    limit: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """TODOs of one scope, highest priority first, then oldest first; (page, total).

    An experiment scope takes the experiment's id or path; a run scope, the run id.
    """
    if scope_type not in SCOPE_TYPES:
        raise InvalidInput(
            f"Invalid scope_type: {shown(scope_type)}. Valid scope types: {', '.join(SCOPE_TYPES)}"
        )
    if scope_type == "global":
        if scope_id is not None:
            raise InvalidInput(
                f"scope_id must be None for scope_type 'global' (got {shown(scope_id)})"
            )
        where, args = "scope_type = 'global' AND scope_id IS NULL", list[Any]()
    else:
        if scope_id is None:
            raise InvalidInput(f"scope_id is required for scope_type {shown(scope_type)}")
        if scope_type == "run":
            sid = str(_find_run(conn, scope_id)["id"])
        else:
            sid = str(experiment(conn, scope_id)["id"])
        where, args = "scope_type = ? AND scope_id = ?", [scope_type, sid]
    if not include_done:
        where += " AND done = 0"
    total = int(conn.execute(f"SELECT COUNT(*) FROM todos WHERE {where}", args).fetchone()[0])
    sql = (
        "SELECT id, scope_type, scope_id, content, done, priority, created_at, completed_at "
        f"FROM todos WHERE {where} ORDER BY priority DESC, created_at ASC, id ASC"
    )
    if limit is not None:
        sql += " LIMIT ?"
        args = [*args, int(limit)]
    rows = dict_rows(conn.execute(sql, args))
    for r in rows:
        r["done"] = bool(r["done"])
    return rows, total


def models(
    conn: sqlite3.Connection,
    name_prefix: str = "",
    *,
    run_id: str | None = None,
    limit: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Model versions whose name starts with ``name_prefix``, newest first; (page, total)."""
    where = "name LIKE ? ESCAPE '\\'"
    args: list[Any] = [_like_prefix(name_prefix)]
    if run_id is not None:
        where += " AND run_id = ?"
        args.append(run_id)
    total = int(conn.execute(f"SELECT COUNT(*) FROM models WHERE {where}", args).fetchone()[0])
    sql = (
        "SELECT id, name, version, run_id, framework, artifact_path, metadata, created_at, "
        "object_id, content_id, size, commit_id FROM models "
        f"WHERE {where} ORDER BY created_at DESC, name, version"
    )
    if limit is not None:
        sql += " LIMIT ?"
        args.append(int(limit))
    rows = dict_rows(conn.execute(sql, args))
    for r in rows:
        r["metadata"] = _loads(r["metadata"])
    return rows, total
