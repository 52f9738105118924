"""Experiments: the hierarchy with run counts, one node by id or path."""

from __future__ import annotations

import sqlite3

from extract.errors import ExperimentNotFound
from extract.index.models import ExperimentNode, Page
from extract.index.read._common import dict_rows, paged, prefix_range, shown, subtree

_COLUMNS = "id, path, name, node_type, parent_id, created_at, status"


def _counts(conn: sqlite3.Connection) -> dict[str, list[int]]:
    """path -> [runs in it, runs in its subtree, running runs in its subtree], in one pass
    over the runs (deleted ones left out)."""
    out: dict[str, list[int]] = {}
    for path, n, live in conn.execute(
        "SELECT experiment_path, COUNT(*), SUM(status = 'running') FROM runs "
        "WHERE deleted = 0 GROUP BY experiment_path"
    ):
        out.setdefault(path, [0, 0, 0])[0] += int(n)
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            acc = out.setdefault("/".join(parts[:depth]), [0, 0, 0])
            acc[1] += int(n)
            acc[2] += int(live or 0)
    return out


def _counts_of(conn: sqlite3.Connection, path: str) -> dict[str, list[int]]:
    """``_counts`` for one path only: one pass over the runs, no grouping (what resolving
    one experiment costs, e.g. for every ``list_runs`` with a scope)."""
    cond, args = subtree(path)
    n, total, live = conn.execute(
        "SELECT SUM(experiment_path = ?), COUNT(*), SUM(status = 'running') FROM runs "
        f"WHERE deleted = 0 AND {cond}",
        [path, *args],
    ).fetchone()
    return {path: [int(n or 0), int(total), int(live or 0)]}


def _nodes(
    conn: sqlite3.Connection, rows: list[dict[str, object]], one: bool = False
) -> list[ExperimentNode]:
    counts = _counts_of(conn, str(rows[0]["path"])) if one else _counts(conn)
    out = []
    for r in rows:
        n = counts.get(str(r["path"]), [0, 0, 0])
        out.append(ExperimentNode(**r, n_runs=n[0], n_total=n[1], n_live=n[2]))  # type: ignore[arg-type]
    return out


def experiment_tree(conn: sqlite3.Connection) -> list[ExperimentNode]:
    """Every experiment, in path order (a parent before its children)."""
    return _nodes(
        conn, dict_rows(conn.execute(f"SELECT {_COLUMNS} FROM experiments ORDER BY path"))
    )


def list_experiments(
    conn: sqlite3.Connection, prefix: str = "", limit: int | None = None
) -> Page[ExperimentNode]:
    """Experiments whose path starts with ``prefix``, in path order."""
    where, args = prefix_range("path", prefix)
    rows, total = paged(conn, _COLUMNS, "experiments", where, args, "path", limit)
    return Page(tuple(_nodes(conn, rows)), total)


def get_experiment(conn: sqlite3.Connection, ref: object) -> ExperimentNode:
    """One experiment by id or by path."""
    if isinstance(ref, str) and ref:
        rows = dict_rows(
            conn.execute(
                f"SELECT {_COLUMNS} FROM experiments WHERE id = ? OR path = ? "
                "ORDER BY id = ? DESC LIMIT 1",
                (ref, ref.strip("/"), ref),
            )
        )
        if rows:
            return _nodes(conn, rows, one=True)[0]
    raise ExperimentNotFound(f"Experiment not found: {shown(ref)}")
