"""TODOs: of one scope, or of every scope with a label for where each belongs."""

from __future__ import annotations

import sqlite3
from typing import Any

from extract.errors import InvalidInput, TodoNotFound
from extract.index.models import Page, Todo
from extract.index.read._common import paged, shown

SCOPE_TYPES = ("global", "experiment", "run")

_COLUMNS = (
    "t.id, t.scope_type, t.scope_id, t.content, t.done, t.priority, t.created_at, "
    "t.completed_at, CASE t.scope_type "
    "WHEN 'run' THEN (SELECT r.experiment_path || '#' || COALESCE(r.name, r.id) FROM runs r "
    "WHERE r.id = t.scope_id) "
    "WHEN 'experiment' THEN (SELECT e.path FROM experiments e WHERE e.id = t.scope_id) "
    "ELSE NULL END AS scope_label"
)


def list_todos(
    conn: sqlite3.Connection,
    scope_type: str | None = "global",
    scope_id: str | None = None,
    *,
    include_done: bool = False,
    limit: int | None = None,
) -> Page[Todo]:
    """TODOs of one scope (``scope_type`` None: every scope), highest priority first, then
    oldest first. An experiment scope takes the experiment's id or path; a run scope, the
    run as ``resolve_run`` takes it."""
    where: list[str] = []
    args: list[Any] = []
    if scope_type is None:
        if scope_id is not None:
            raise InvalidInput("scope_id needs a scope_type")
    elif scope_type not in SCOPE_TYPES:
        raise InvalidInput(
            f"Invalid scope_type: {shown(scope_type)}. Valid scope types: {', '.join(SCOPE_TYPES)}"
        )
    elif scope_type == "global":
        if scope_id is not None:
            raise InvalidInput(
                f"scope_id must be None for scope_type 'global' (got {shown(scope_id)})"
            )
        where.append("t.scope_type = 'global' AND t.scope_id IS NULL")
    else:
        if scope_id is None:
            raise InvalidInput(f"scope_id is required for scope_type {shown(scope_type)}")
        if scope_type == "run":
            from extract.index.read._runs import resolve_run  # runs lists a run's todos

            sid = resolve_run(conn, scope_id)
        else:
            from extract.index.read._experiments import get_experiment

            sid = get_experiment(conn, scope_id).id
        where.append("t.scope_type = ? AND t.scope_id = ?")
        args += [scope_type, sid]
    if not include_done:
        where.append("t.done = 0")
    order = "t.priority DESC, t.created_at ASC, t.id ASC"
    rows, total = paged(conn, _COLUMNS, "todos t", " AND ".join(where) or "1", args, order, limit)
    return Page(tuple(Todo(**{**r, "done": bool(r["done"])}) for r in rows), total)


def resolve_todo(conn: sqlite3.Connection, ref: object) -> str:
    """A TODO's id from its id or a unique prefix of at least 4 characters (as runs)."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput(f"a TODO id must be non-empty text, got {shown(ref)}")
    key = ref.strip().upper()  # ULIDs are upper case
    rows = conn.execute(
        "SELECT id FROM todos WHERE id >= ? AND id < ? ORDER BY id LIMIT 2",
        (key, key + "\U0010ffff"),
    ).fetchall()
    if rows and (rows[0][0] == key or (len(rows) == 1 and len(key) >= 4)):
        return str(rows[0][0])
    if len(rows) > 1:
        raise InvalidInput(f"TODO id prefix {ref!r} matches more than one TODO; give more of it")
    raise TodoNotFound(f"TODO not found: {ref!r}")
