"""The read-only query layer: every question the CLI, SDK, TUI and MCP ask of the index.

Functions take a connection (a reader from ``db.open_reader`` for front ends)
and return plain dicts and numpy arrays. No front end writes SQL of its own.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from extract.errors import InvalidInput, QueryTimeout, RunNotFound
from extract.index import skips

RUN_COLUMNS = (
    "id, experiment_id, experiment_path, name, config, started_at, ended_at, status, hostname, "
    "git_sha, tags, notes, total_steps, object_id, commit_id, deleted, git_branch, git_dirty, "
    "git_tree, git_diff_id, git_stamp"
)


def dict_rows(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    """A cursor's rows as dicts by column name (the TUI's and MCP's queries share it)."""
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def escape_like(text: str) -> str:
    """``text`` matched literally by ``LIKE ... ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _run_dict(row: dict[str, Any]) -> dict[str, Any]:
    row["config"] = json.loads(row["config"]) if row.get("config") else None
    row["tags"] = json.loads(row["tags"]) if row.get("tags") else []
    row["deleted"] = bool(row.get("deleted"))
    if row.get("git_dirty") is not None:
        row["git_dirty"] = bool(row["git_dirty"])
    return row


def experiments(conn: sqlite3.Connection, prefix: str = "") -> list[dict[str, Any]]:
    cur = conn.execute(
        "SELECT e.id, e.path, e.name, e.parent_id, e.created_at, e.metadata, e.status, e.node_type, "
        "(SELECT COUNT(*) FROM runs r WHERE r.experiment_id = e.id AND r.deleted = 0) AS n_runs "
        "FROM experiments e WHERE e.path LIKE ? ESCAPE '\\' ORDER BY e.path",
        (_like_prefix(prefix),),
    )
    return dict_rows(cur)


def _like_prefix(prefix: str) -> str:
    return escape_like(prefix) + "%"


def runs(
    conn: sqlite3.Connection,
    experiment_id: str | None = None,
    *,
    newest_first: bool = False,
    include_deleted: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    where, args = [], []
    if experiment_id is not None:
        where.append("experiment_id = ?")
        args.append(experiment_id)
    if not include_deleted:
        where.append("deleted = 0")
    sql = f"SELECT {RUN_COLUMNS} FROM runs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY started_at {'DESC' if newest_first else 'ASC'}, id {'DESC' if newest_first else 'ASC'}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [_run_dict(r) for r in dict_rows(conn.execute(sql, args))]


def resolve_run(conn: sqlite3.Connection, text: str) -> str:
    """A run id from its full id, a unique id prefix, or a unique run name."""
    if not isinstance(text, str):
        raise InvalidInput(f"a run id is a string, got {type(text).__name__} {text!r}")
    text = text.strip()
    if not text:
        raise InvalidInput("empty run id")
    row = conn.execute("SELECT id FROM runs WHERE id = ?", (text.upper(),)).fetchone()
    if row:
        return str(row[0])
    found = [
        r[0]
        for r in conn.execute("SELECT id FROM runs WHERE id LIKE ? LIMIT 3", (text.upper() + "%",))
    ]
    if not found:
        found = [r[0] for r in conn.execute("SELECT id FROM runs WHERE name = ? LIMIT 3", (text,))]
    if len(found) == 1:
        return str(found[0])
    if len(found) > 1:
        raise InvalidInput(f"run {text!r} is ambiguous: matches {', '.join(found)} ...")
    raise RunNotFound(f"Run not found: {text!r}")


def run(conn: sqlite3.Connection, run_id: str) -> dict[str, Any]:
    rows = dict_rows(conn.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)))
    if not rows:
        raise RunNotFound(f"Run not found: {run_id!r}")
    out = _run_dict(rows[0])
    out["metrics"] = {
        r["name"]: r["value"] if r["value"] is not None else float("nan")
        for r in dict_rows(
            conn.execute(
                "SELECT name, value FROM scalar_metrics WHERE run_id=? ORDER BY name", (run_id,)
            )
        )
    }
    out["params"] = {
        r["name"]: r["value"]
        for r in dict_rows(
            conn.execute(
                "SELECT name, value FROM run_params WHERE run_id=? ORDER BY name", (run_id,)
            )
        )
    }
    out["artifacts"] = dict_rows(
        conn.execute(
            "SELECT id, name, kind, step, shape, dtype, metadata, created_at, object_id, rel_path "
            "FROM artifacts WHERE run_id=? ORDER BY name, step",
            (run_id,),
        )
    )
    out["curves"] = curve_names(conn, run_id)
    out["todos"] = todos(conn, "run", run_id, include_done=True)
    out["models"] = dict_rows(
        conn.execute("SELECT * FROM models WHERE run_id=? ORDER BY name, version", (run_id,))
    )
    out["lineage"] = dict_rows(
        conn.execute(
            "SELECT parent_type, parent_id, relation, created_at FROM lineage "
            "WHERE child_type='run' AND child_id=? ORDER BY id",
            (run_id,),
        )
    )
    return out


def _run_key(conn: sqlite3.Connection, run_id: str) -> int:
    row = conn.execute("SELECT key FROM runs WHERE id=?", (run_id,)).fetchone()
    if row is None:
        raise RunNotFound(f"Run not found: {run_id!r}")
    return int(row[0])


def curve_names(conn: sqlite3.Connection, run_id: str) -> list[str]:
    key = _run_key(conn, run_id)
    return [
        r[0]
        for r in conn.execute(
            "SELECT name FROM metric_names WHERE id IN (SELECT DISTINCT metric_id FROM curve_data WHERE run_key=?) "
            "ORDER BY name",
            (key,),
        )
    ]


def curve(
    conn: sqlite3.Connection, run_id: str, name: str
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(steps, values, wall_time) of one curve, by step; NaN where NaN was logged."""
    key = _run_key(conn, run_id)
    row = conn.execute("SELECT id FROM metric_names WHERE name=?", (name,)).fetchone()
    if row is None:
        empty = np.empty(0)
        return empty.astype(np.int64), empty, empty
    data = conn.execute(
        "SELECT step, value, wall_time FROM curve_data WHERE run_key=? AND metric_id=? ORDER BY step",
        (key, row[0]),
    ).fetchall()
    if not data:
        empty = np.empty(0)
        return empty.astype(np.int64), empty, empty
    steps, values, walls = zip(*data, strict=True)
    return (
        np.asarray(steps, dtype=np.int64),
        np.asarray(values, dtype=np.float64),  # None (how SQLite holds NaN) becomes NaN
        np.asarray(walls, dtype=np.float64),
    )


def todos(
    conn: sqlite3.Connection,
    scope_type: str = "global",
    scope_id: str | None = None,
    include_done: bool = True,
) -> list[dict[str, Any]]:
    sql = "SELECT * FROM todos WHERE scope_type = ?"
    args: list[Any] = [scope_type]
    if scope_id is None:
        sql += " AND scope_id IS NULL"
    else:
        sql += " AND scope_id = ?"
        args.append(scope_id)
    if not include_done:
        sql += " AND done = 0"
    sql += " ORDER BY priority DESC, created_at ASC, id ASC"
    rows = dict_rows(conn.execute(sql, args))
    for r in rows:
        r["done"] = bool(r["done"])
    return rows


def models(conn: sqlite3.Connection, name_prefix: str = "") -> list[dict[str, Any]]:
    rows = dict_rows(
        conn.execute(
            "SELECT * FROM models WHERE name LIKE ? ESCAPE '\\' ORDER BY created_at DESC, name, version",
            (_like_prefix(name_prefix),),
        )
    )
    for r in rows:
        r["metadata"] = json.loads(r["metadata"]) if r["metadata"] else None
    return rows


def model(conn: sqlite3.Connection, name: str, version: str) -> dict[str, Any] | None:
    rows = dict_rows(
        conn.execute("SELECT * FROM models WHERE name=? AND version=?", (name, version))
    )
    return rows[0] if rows else None


def status_counts(conn: sqlite3.Connection) -> dict[str, int]:
    row = conn.execute(
        "SELECT SUM(object_id IS NULL), SUM(object_id IS NOT NULL AND commit_id IS NULL), "
        "SUM(commit_id IS NOT NULL) FROM runs WHERE deleted = 0"
    ).fetchone()
    return {
        "live": int(row[0] or 0),
        "uncommitted": int(row[1] or 0),
        "committed": int(row[2] or 0),
    }


def skipped(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Entries the index could not read (a missing or damaged object), retried on every
    refresh: section, key, object_id, commit_id, bad_object, reason."""
    return [asdict(s) for s in skips.listed(conn)]


def runs_by_state(conn: sqlite3.Connection, state: str) -> list[dict[str, Any]]:
    cond = {
        "live": "object_id IS NULL",
        "uncommitted": "object_id IS NOT NULL AND commit_id IS NULL",
        "committed": "commit_id IS NOT NULL",
    }[state]
    return [
        _run_dict(r)
        for r in dict_rows(
            conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE {cond} AND deleted=0 ORDER BY started_at"
            )
        )
    ]


def commits(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    out = {}
    for r in dict_rows(conn.execute("SELECT * FROM commits")):
        r["parents"] = json.loads(r["parents"])
        out[r["id"]] = r
    return out


def runs_in_commit(conn: sqlite3.Connection, commit_id: str) -> list[str]:
    return [
        r[0]
        for r in conn.execute("SELECT id FROM runs WHERE commit_id=? ORDER BY id", (commit_id,))
    ]


def uncommitted_events(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM events WHERE commit_id IS NULL").fetchone()[0])


def table_rows(
    conn: sqlite3.Connection, table: str, exclude: Sequence[str] = ()
) -> list[tuple[Any, ...]]:
    """Every row of a table, sorted, without the named columns (for reindex comparisons)."""
    cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})") if r[1] not in exclude]
    if not cols:  # a view: PRAGMA table_info lists its columns too
        raise InvalidInput(f"no table {table}")
    return sorted(
        conn.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall(),
        key=lambda row: tuple((x is None, str(x)) for x in row),
    )


def sql(
    conn: sqlite3.Connection, query: str, limit: int | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run a read-only query (the connection's authorizer refuses anything else)."""
    try:
        cur = conn.execute(query)
    except sqlite3.DatabaseError as e:
        msg = str(e)
        if "not authorized" in msg or "readonly" in msg or "query_only" in msg.lower():
            raise InvalidInput(
                f"only read-only queries are allowed (SELECT, WITH ... SELECT): {msg}"
            ) from None
        raise InvalidInput(f"SQL error: {msg}") from None
    if cur.description is None:
        return [], []
    cols = [d[0] for d in cur.description]
    rows = cur.fetchmany(limit) if limit else cur.fetchall()
    return cols, rows


def sql_page(
    conn: sqlite3.Connection, query: str, limit: int, seconds: float = 5.0
) -> tuple[list[str], list[tuple[Any, ...]], bool]:
    """``sql`` for front ends that hand queries from elsewhere (an agent): at most ``limit``
    rows plus whether more were left, and the query stopped after ``seconds``.

    The connection must come from ``db.open_reader``: its authorizer is what makes the
    query read-only. The time bound is a progress handler, removed before returning.
    """
    deadline = time.monotonic() + seconds

    def too_long() -> int:
        return int(time.monotonic() > deadline)

    stopped = QueryTimeout(
        f"SQL query stopped after {seconds:g} s: narrow it with WHERE or LIMIT, or aggregate"
    )
    conn.set_progress_handler(too_long, 10_000)
    try:
        cols, rows = sql(conn, query, limit + 1)
    except InvalidInput as e:
        if "interrupted" in str(e):
            raise stopped from None
        if "authorization denied" in str(e):  # how SQLite words some refusals (VACUUM INTO)
            raise InvalidInput(
                "only read-only queries are allowed (SELECT, WITH ... SELECT): authorization denied"
            ) from None
        raise
    except sqlite3.DatabaseError as e:  # raised while fetching rows, after execute()
        if "interrupted" in str(e):
            raise stopped from None
        raise InvalidInput(f"SQL error: {e}") from None
    finally:
        conn.set_progress_handler(None, 0)
    return cols, rows[:limit], len(rows) > limit
