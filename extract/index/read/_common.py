"""What every reader shares: rows to models, prefix ranges, echoing bad arguments."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from extract.index.models import Code, ConfigSummary, RunRow
from extract.store.flatten import flatten_config as flatten_config  # readers take it here

#: The columns of ``runs r`` a ``RunRow`` is built from ...
RUN_COLUMNS = (
    "r.id, r.name, r.experiment_id, r.experiment_path, r.status, r.started_at, r.ended_at, "
    "r.tags, r.total_steps, r.object_id, r.commit_id, r.deleted, r.git_sha, r.hostname"
)
#: ... and these make a full row: the config, the notes and the code provenance.
RUN_FULL = (
    f"{RUN_COLUMNS}, r.config, r.notes, r.git_branch, r.git_dirty, r.git_tree, r.git_diff_id, "
    "r.git_stamp"
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


def dict_rows(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def paged(
    conn: sqlite3.Connection,
    columns: str,
    source: str,
    where: str,
    args: Sequence[Any],
    order: str,
    limit: int | None,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """One page of ``SELECT columns FROM source WHERE where ORDER BY order`` (at most
    ``limit`` rows from ``offset``; all without) and how many rows match in all, counted
    apart only when the limit may have left some out."""
    sql = f"SELECT {columns} FROM {source} WHERE {where} ORDER BY {order}"
    if limit is None:
        rows = dict_rows(conn.execute(sql, args))
        return rows, len(rows)
    total = int(conn.execute(f"SELECT COUNT(*) FROM {source} WHERE {where}", args).fetchone()[0])
    page = dict_rows(conn.execute(f"{sql} LIMIT ? OFFSET ?", [*args, int(limit), int(offset)]))
    return page, total


def prefix_range(column: str, prefix: str) -> tuple[str, list[Any]]:
    """SQL condition and arguments: ``column`` starts with ``prefix``. A range on the
    column rather than LIKE: it can use an index and has no pattern-length limit
    (U+10FFFF sorts after every character, byte-wise as SQLite compares)."""
    if not prefix:
        return "1", []
    return f"({column} >= ? AND {column} < ?)", [prefix, prefix + "\U0010ffff"]


def subtree(path: str, column: str = "experiment_path") -> tuple[str, list[Any]]:
    """SQL condition and arguments: an experiment path equal to ``path`` or below it."""
    if not path:
        return "1", []
    return f"({column} = ? OR substr({column}, 1, ?) = ?)", [path, len(path) + 1, path + "/"]


def among(column: str, values: Iterable[str]) -> tuple[str, list[Any]]:
    """SQL condition and argument: ``column`` is one of ``values``. One JSON argument
    however many values (no variable limit to chunk around); SQLite still seeks ``column``'s
    index once per value."""
    return f"{column} IN (SELECT value FROM json_each(?))", [json.dumps(list(values))]


def loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def num(value: float | None) -> float:
    """A number from the index: NULL is how SQLite keeps a NaN that was logged."""
    return math.nan if value is None else float(value)


def config_summary(config: Any) -> ConfigSummary:
    """``{n_keys, top_level_keys}``: n_keys counts flattened (dot) keys, the leaves."""
    if not isinstance(config, Mapping) or not config:
        return ConfigSummary(0, ())
    return ConfigSummary(len(flatten_config(config)), tuple(str(k) for k in config))


def run_row(row: Mapping[str, Any]) -> RunRow:
    """A ``RunRow`` from a row of ``RUN_COLUMNS`` (or ``RUN_FULL``); other keys are ignored."""
    full = "config" in row
    config = loads(row["config"]) if full else None
    return RunRow(
        id=row["id"],
        name=row["name"],
        experiment_id=row["experiment_id"],
        experiment_path=row["experiment_path"] or "",
        status=row["status"] or "?",
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        tags=tuple(loads(row["tags"]) or ()),
        total_steps=row["total_steps"],
        object_id=row["object_id"],
        commit_id=row["commit_id"],
        deleted=bool(row["deleted"]),
        git_sha=row["git_sha"],
        hostname=row["hostname"],
        config=config if isinstance(config, Mapping) else None,
        notes=(row["notes"] or "") if full else None,
        code=Code(
            git_sha=row["git_sha"],
            git_branch=row["git_branch"],
            git_dirty=None if row["git_dirty"] is None else bool(row["git_dirty"]),
            git_tree=row["git_tree"],
            git_diff_id=row["git_diff_id"],
            git_stamp=row["git_stamp"],
        )
        if full
        else None,
    )
