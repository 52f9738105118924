"""Read-only queries the terminal UI needs beyond ``query``: pages, counts, search, lineage.

Like ``query``, every function takes a reader connection (``db.open_reader``) and
returns plain dicts, tuples and numpy arrays; nothing here writes. The functions
are shaped for a UI that must stay fast on 10,000 runs and 10M curve points:
light run rows without configs, counts by prefix in one pass, headline values
for a page of runs in one query, and curve points counted through the primary key.
"""

from __future__ import annotations

import json
import sqlite3
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from extract.errors import InvalidInput
from extract.index.query import dict_rows, escape_like

#: Columns of a light run row: enough for a list, no config or notes.
LIGHT_COLUMNS = (
    "id, name, status, started_at, ended_at, experiment_path, tags, total_steps, "
    "object_id, commit_id, deleted"
)
ORDERS = {
    "newest": "started_at DESC, id DESC",
    "oldest": "started_at ASC, id ASC",
    "name": "name COLLATE NOCASE ASC, started_at ASC, id ASC",
    "status": "status ASC, started_at DESC, id DESC",
}
SEARCH_FILTERS = ("tag", "status", "experiment_prefix")
STATUSES = ("running", "completed", "failed")
NODE_TYPES = ("experiment", "run", "model")


def _light(row: dict[str, Any]) -> dict[str, Any]:
    row["tags"] = json.loads(row["tags"]) if row.get("tags") else []
    row["deleted"] = bool(row.get("deleted"))
    row["live"] = row.get("object_id") is None
    return row


def _subtree(path: str) -> tuple[str, list[Any]]:
    """SQL condition and arguments: a run in the experiment ``path`` or below it."""
    if not path:
        return "1", []
    return "(experiment_path = ? OR experiment_path LIKE ? ESCAPE '\\')", [
        path,
        escape_like(path) + "/%",
    ]


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------


def run_rows(
    conn: sqlite3.Connection,
    experiment_path: str = "",
    *,
    order: str = "newest",
    limit: int | None = None,
    offset: int = 0,
    include_deleted: bool = False,
    exact: bool = False,
) -> list[dict[str, Any]]:
    """Light rows of the runs in ``experiment_path`` and below (only that node if ``exact``)."""
    if order not in ORDERS:
        raise InvalidInput(f"unknown order {order!r}: use one of {', '.join(ORDERS)}")
    if exact:
        where, args = "experiment_path = ?", [experiment_path]
    else:
        where, args = _subtree(experiment_path)
    if not include_deleted:
        where += " AND deleted = 0"
    sql = f"SELECT {LIGHT_COLUMNS} FROM runs WHERE {where} ORDER BY {ORDERS[order]}"
    if limit is not None:
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    return [_light(r) for r in dict_rows(conn.execute(sql, args))]


def runs_by_id(conn: sqlite3.Connection, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Light rows of the given runs (deleted ones included), by id."""
    out: dict[str, dict[str, Any]] = {}
    for part in _chunks(list(run_ids)):
        marks = ",".join("?" * len(part))
        for r in dict_rows(
            conn.execute(f"SELECT {LIGHT_COLUMNS} FROM runs WHERE id IN ({marks})", list(part))
        ):
            out[r["id"]] = _light(r)
    return out


def count_runs(conn: sqlite3.Connection, experiment_path: str = "") -> int:
    where, args = _subtree(experiment_path)
    row = conn.execute(f"SELECT COUNT(*) FROM runs WHERE {where} AND deleted = 0", args)
    return int(row.fetchone()[0])


def experiment_tree(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every experiment with its own runs (``n_runs``), the runs below it (``n_total``)
    and how many of those are running (``n_live``), ordered by path."""
    own: dict[str, tuple[int, int]] = {
        path: (int(n), int(live or 0))
        for path, n, live in conn.execute(
            "SELECT experiment_path, COUNT(*), SUM(status = 'running') FROM runs "
            "WHERE deleted = 0 GROUP BY experiment_path"
        )
    }
    rows = dict_rows(
        conn.execute(
            "SELECT id, path, name, parent_id, node_type, created_at FROM experiments ORDER BY path"
        )
    )
    totals: dict[str, list[int]] = {r["path"]: [0, 0] for r in rows}
    for path, (n, live) in own.items():
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            acc = totals.setdefault("/".join(parts[:depth]), [0, 0])
            acc[0] += n
            acc[1] += live
    for r in rows:
        r["n_runs"] = own.get(r["path"], (0, 0))[0]
        r["n_total"], r["n_live"] = totals[r["path"]]
    return rows


def headline(
    conn: sqlite3.Connection, run_ids: Sequence[str]
) -> dict[str, dict[str, float | None]]:
    """run id -> {metric: value} for the given runs, in one pass; NaN reads back as None."""
    out: dict[str, dict[str, float | None]] = {rid: {} for rid in run_ids}
    for part in _chunks(list(run_ids)):
        marks = ",".join("?" * len(part))
        for rid, name, value in conn.execute(
            f"SELECT run_id, name, value FROM scalar_metrics WHERE run_id IN ({marks}) ORDER BY name",
            list(part),
        ):
            out[rid][name] = value
    return out


def metric_names(conn: sqlite3.Connection, experiment_path: str = "") -> list[str]:
    """Headline metric names logged by the runs in ``experiment_path`` and below."""
    where, args = _subtree(experiment_path)
    return [
        r[0]
        for r in conn.execute(
            f"SELECT DISTINCT name FROM scalar_metrics WHERE run_id IN "
            f"(SELECT id FROM runs WHERE {where} AND deleted = 0) ORDER BY name",
            args,
        )
    ]


def best_values(
    conn: sqlite3.Connection, experiment_path: str, metric: str, direction: str, limit: int = 3
) -> tuple[list[tuple[str, str, float]], list[tuple[str, float]]]:
    """A headline metric under ``experiment_path``, best first by ``direction`` ("min"/"max"):
    the best ``limit`` runs as (experiment path, run name or id, value), and the best value
    of each experiment path that has one."""
    where, args = _subtree(experiment_path)
    cond = f"s.name = ? AND s.value IS NOT NULL AND r.deleted = 0 AND {where.replace('experiment_path', 'r.experiment_path')}"
    order = "ASC" if direction == "min" else "DESC"
    best = conn.execute(
        "SELECT r.experiment_path, COALESCE(r.name, r.id), s.value FROM scalar_metrics s "
        f"JOIN runs r ON r.id = s.run_id WHERE {cond} ORDER BY s.value {order}, r.id LIMIT {int(limit)}",
        [metric, *args],
    ).fetchall()
    agg = "MIN" if direction == "min" else "MAX"
    per_path = conn.execute(
        f"SELECT r.experiment_path, {agg}(s.value) FROM scalar_metrics s JOIN runs r "
        f"ON r.id = s.run_id WHERE {cond} GROUP BY r.experiment_path",
        [metric, *args],
    ).fetchall()
    return (
        [(str(p), str(n), float(v)) for p, n, v in best],
        [(str(p), float(v)) for p, v in per_path],
    )


def search(
    conn: sqlite3.Connection,
    text: str = "",
    filters: dict[str, str] | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Runs whose name, tags or notes hold ``text`` (any case), newest first, AND-combined
    with the filters ``tag`` (exact), ``status`` and ``experiment_prefix``."""
    filters = dict(filters or {})
    unknown = [k for k in filters if k not in SEARCH_FILTERS]
    if unknown:
        raise InvalidInput(
            f"Unknown filter: {unknown[0]!r}. Valid filters: {', '.join(SEARCH_FILTERS)}"
        )
    where = ["deleted = 0"]
    args: list[Any] = []
    if text:
        like = "%" + escape_like(text.lower()) + "%"
        where.append(
            "(lower(COALESCE(name, '')) LIKE ? ESCAPE '\\' OR lower(COALESCE(tags, '')) LIKE ? "
            "ESCAPE '\\' OR lower(COALESCE(notes, '')) LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\')"
        )
        args += [like, like, like, escape_like(text.upper()) + "%"]
    if "status" in filters:
        if filters["status"] not in STATUSES:
            raise InvalidInput(
                f"status must be one of {', '.join(STATUSES)}, got {filters['status']!r}"
            )
        where.append("status = ?")
        args.append(filters["status"])
    if "tag" in filters:
        where.append("array_contains(tags, ?)")
        args.append(filters["tag"])
    if "experiment_prefix" in filters:
        where.append("experiment_path LIKE ? ESCAPE '\\'")
        args.append(escape_like(filters["experiment_prefix"]) + "%")
    sql = (
        f"SELECT {LIGHT_COLUMNS} FROM runs WHERE {' AND '.join(where)} "
        f"ORDER BY started_at DESC, id DESC LIMIT {int(limit)}"
    )
    return [_light(r) for r in dict_rows(conn.execute(sql, args))]


# ---------------------------------------------------------------------------
# Curves
# ---------------------------------------------------------------------------


def _keys(conn: sqlite3.Connection, run_ids: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in _chunks(list(run_ids)):
        marks = ",".join("?" * len(part))
        for rid, key in conn.execute(f"SELECT id, key FROM runs WHERE id IN ({marks})", list(part)):
            out[rid] = int(key)
    return out


def point_counts(conn: sqlite3.Connection, run_ids: Sequence[str]) -> dict[str, int]:
    """Curve points logged so far by each run (all its metrics), through the primary key."""
    out = dict.fromkeys(run_ids, 0)
    for rid, key in _keys(conn, run_ids).items():
        out[rid] = int(
            conn.execute("SELECT COUNT(*) FROM curve_data WHERE run_key = ?", (key,)).fetchone()[0]
        )
    return out


def curve_summary(conn: sqlite3.Connection, run_id: str) -> dict[str, dict[str, Any]]:
    """Per curve of a run: points, last step and last value (NaN as None)."""
    keys = _keys(conn, [run_id])
    if run_id not in keys:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, n, last_step in conn.execute(
        "SELECT m.name, COUNT(*), MAX(c.step) FROM curve_data c JOIN metric_names m "
        "ON m.id = c.metric_id WHERE c.run_key = ? GROUP BY m.name ORDER BY m.name",
        (keys[run_id],),
    ):
        out[name] = {"points": int(n), "last_step": int(last_step)}
    return out


def curves(
    conn: sqlite3.Connection, run_id: str, names: Sequence[str] | None = None
) -> dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    """(steps, values) of a run's curves (all, or those named), by step; NaN where NaN was logged."""
    keys = _keys(conn, [run_id])
    if run_id not in keys:
        return {}
    ids = {
        name: mid
        for mid, name in conn.execute("SELECT id, name FROM metric_names")
        if names is None or name in names
    }
    out: dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = {}
    for name, mid in sorted(ids.items()):
        data = conn.execute(
            "SELECT step, value FROM curve_data WHERE run_key = ? AND metric_id = ? ORDER BY step",
            (keys[run_id], mid),
        ).fetchall()
        if not data:
            continue
        arr = np.array(data, dtype=np.float64)  # None (how SQLite holds NaN) becomes NaN
        out[name] = (arr[:, 0].astype(np.int64), arr[:, 1])
    return out


# ---------------------------------------------------------------------------
# Store overview, todos, lineage
# ---------------------------------------------------------------------------


def overview(conn: sqlite3.Connection) -> dict[str, Any]:
    """Counts for the dashboard: runs by status, experiments, models, open TODOs, commits."""
    status = {
        s: int(n)
        for s, n in conn.execute(
            "SELECT status, COUNT(*) FROM runs WHERE deleted = 0 GROUP BY status"
        )
    }
    one = conn.execute(
        "SELECT (SELECT COUNT(*) FROM experiments), (SELECT COUNT(*) FROM models), "
        "(SELECT COUNT(*) FROM todos WHERE done = 0), (SELECT COUNT(*) FROM todos), "
        "(SELECT COUNT(*) FROM commits), (SELECT COUNT(*) FROM runs WHERE deleted = 1), "
        "(SELECT COUNT(*) FROM runs WHERE deleted = 0 AND commit_id IS NULL)"
    ).fetchone()
    return {
        "runs": sum(status.values()),
        "status": status,
        "experiments": int(one[0]),
        "models": int(one[1]),
        "todos_open": int(one[2]),
        "todos": int(one[3]),
        "commits": int(one[4]),
        "deleted": int(one[5]),
        "uncommitted": int(one[6]),
    }


def change_marker(conn: sqlite3.Connection) -> tuple[Any, ...]:
    """A cheap value that changes whenever anything a UI shows changes in the index."""
    return tuple(
        conn.execute(
            "SELECT (SELECT COUNT(*) FROM runs), (SELECT COUNT(*) FROM runs WHERE object_id IS NULL), "
            "(SELECT COUNT(*) FROM runs WHERE status = 'running'), (SELECT COUNT(*) FROM events), "
            "(SELECT COALESCE(SUM(offset), 0) FROM journals), (SELECT COUNT(*) FROM journals), "
            "(SELECT COUNT(*) FROM models), (SELECT COUNT(*) FROM todos), "
            "(SELECT COUNT(*) FROM commits), (SELECT COUNT(*) FROM scalar_metrics), "
            "(SELECT COUNT(*) FROM artifacts)"
        ).fetchone()
    )


def all_todos(conn: sqlite3.Connection, include_done: bool = True) -> list[dict[str, Any]]:
    """Every TODO of every scope, highest priority first, then oldest; with a scope label."""
    sql = (
        "SELECT t.*, CASE t.scope_type "
        "WHEN 'run' THEN (SELECT r.experiment_path || '#' || COALESCE(r.name, r.id) FROM runs r "
        "WHERE r.id = t.scope_id) "
        "WHEN 'experiment' THEN (SELECT e.path FROM experiments e WHERE e.id = t.scope_id) "
        "ELSE NULL END AS scope_label FROM todos t"
    )
    if not include_done:
        sql += " WHERE t.done = 0"
    sql += " ORDER BY t.priority DESC, t.created_at ASC, t.id ASC"
    rows = dict_rows(conn.execute(sql))
    for r in rows:
        r["done"] = bool(r["done"])
    return rows


def node_label(conn: sqlite3.Connection, node_type: str, node_id: str) -> str | None:
    """How a lineage node reads: path#name for runs, path for experiments, name@version for models."""
    if node_type == "run":
        row = conn.execute(
            "SELECT experiment_path, name FROM runs WHERE id = ?", (node_id,)
        ).fetchone()
        return None if row is None else f"{row[0]}#{row[1] or node_id}"
    if node_type == "experiment":
        row = conn.execute(
            "SELECT path FROM experiments WHERE id = ? OR path = ?", (node_id, node_id)
        ).fetchone()
        return None if row is None else str(row[0])
    if node_type == "model":
        row = conn.execute("SELECT name, version FROM models WHERE id = ?", (node_id,)).fetchone()
        return None if row is None else f"{row[0]}@{row[1]}"
    raise InvalidInput(f"node_type must be one of {', '.join(NODE_TYPES)}, got {node_type!r}")


def lineage(
    conn: sqlite3.Connection,
    node_type: str,
    node_id: str,
    direction: str = "both",
    depth: int = 2,
) -> dict[str, Any]:
    """Breadth-first walk of the lineage DAG from one node: ``{root, nodes, edges}``.

    ``nodes`` carry a signed ``level`` (negative: ancestors, positive: descendants, the
    shortest distance found); ``edges`` go parent -> child with their relation. A
    model's runs (the run that registered it) count as its parents.
    """
    if node_type not in NODE_TYPES:
        raise InvalidInput(f"node_type must be one of {', '.join(NODE_TYPES)}, got {node_type!r}")
    if direction not in ("ancestors", "descendants", "both"):
        raise InvalidInput(
            f"direction must be 'ancestors', 'descendants' or 'both', got {direction!r}"
        )
    if not 1 <= depth <= 5:
        raise InvalidInput(f"depth must be from 1 to 5, got {depth}")
    root = (node_type, node_id)
    levels: dict[tuple[str, str], int] = {root: 0}
    edges: set[tuple[str, str, str, str, str]] = set()
    for sign, up in ((-1, True), (1, False)):
        if (direction == "ancestors" and not up) or (direction == "descendants" and up):
            continue
        queue: deque[tuple[tuple[str, str], int]] = deque([(root, 0)])
        seen = {root}
        while queue:
            node, dist = queue.popleft()
            if dist >= depth:
                continue
            for edge in _neighbours(conn, node, up):
                other = (edge[0], edge[1]) if up else (edge[2], edge[3])
                edges.add(edge)
                if other not in seen:
                    seen.add(other)
                    levels.setdefault(other, sign * (dist + 1))
                    queue.append((other, dist + 1))
    nodes = [
        {
            "type": t,
            "id": i,
            "label": node_label(conn, t, i) or f"{t}:{i}",
            "level": lvl,
            "missing": node_label(conn, t, i) is None,
        }
        for (t, i), lvl in sorted(levels.items(), key=lambda kv: (kv[1], kv[0]))
    ]
    return {
        "root": {"type": node_type, "id": node_id},
        "nodes": nodes,
        "edges": [
            {
                "parent_type": e[0],
                "parent_id": e[1],
                "child_type": e[2],
                "child_id": e[3],
                "relation": e[4],
            }
            for e in sorted(edges)
        ],
    }


def _neighbours(
    conn: sqlite3.Connection, node: tuple[str, str], up: bool
) -> list[tuple[str, str, str, str, str]]:
    t, i = node
    if up:
        rows = conn.execute(
            "SELECT parent_type, parent_id, child_type, child_id, relation FROM lineage "
            "WHERE child_type = ? AND child_id = ?",
            (t, i),
        ).fetchall()
        if t == "model":
            rows += conn.execute(
                "SELECT 'run', run_id, 'model', id, 'registered' FROM models "
                "WHERE id = ? AND run_id IS NOT NULL",
                (i,),
            ).fetchall()
    else:
        rows = conn.execute(
            "SELECT parent_type, parent_id, child_type, child_id, relation FROM lineage "
            "WHERE parent_type = ? AND parent_id = ?",
            (t, i),
        ).fetchall()
        if t == "run":
            rows += conn.execute(
                "SELECT 'run', run_id, 'model', id, 'registered' FROM models WHERE run_id = ?",
                (i,),
            ).fetchall()
    return [tuple(str(x) for x in r) for r in rows]  # type: ignore[misc]
