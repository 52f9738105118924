"""The model registry: versions by name prefix or run, one version by name@version."""

from __future__ import annotations

import difflib
import sqlite3
from typing import Any

from extract.errors import ModelNotFound
from extract.index.models import ModelVersion, Page, run_label
from extract.index.read._common import dict_rows, loads, paged, prefix_range, shown

_COLUMNS = (
    "m.id, m.name, m.version, m.run_id, m.framework, m.artifact_path, m.metadata, "
    "m.created_at, m.object_id, m.content_id, m.size, m.commit_id, r.experiment_path, "
    "r.name AS run_name"
)
_SOURCE = "models m LEFT JOIN runs r ON r.id = m.run_id"
_SELECT = f"SELECT {_COLUMNS} FROM {_SOURCE}"


def _version(row: dict[str, Any]) -> ModelVersion:
    path, run_name = row.pop("experiment_path"), row.pop("run_name")
    row["metadata"] = loads(row["metadata"])
    label = None if path is None else run_label(path, run_name, row["run_id"])
    return ModelVersion(**row, run_label=label)


def list_models(
    conn: sqlite3.Connection,
    name_prefix: str = "",
    *,
    run_id: str | None = None,
    limit: int | None = None,
) -> Page[ModelVersion]:
    """Model versions whose name starts with ``name_prefix`` (registered by ``run_id``
    if given), newest first."""
    cond, args = prefix_range("m.name", name_prefix)
    where = [cond]
    if run_id is not None:
        where.append("m.run_id = ?")
        args.append(run_id)
    order = "m.created_at DESC, m.name, m.version"
    rows, total = paged(conn, _COLUMNS, _SOURCE, " AND ".join(where), args, order, limit)
    return Page(tuple(_version(r) for r in rows), total)


def get_model(
    conn: sqlite3.Connection, ref: object, version: str | None = None, *, hint: bool = False
) -> ModelVersion:
    """One version: ``ref`` is its id, ``name@version`` (a name may itself hold '@'), or a
    name with ``version`` given. ``ModelNotFound`` (``Model not found: 'X'``; with
    ``hint``, close keys follow) otherwise."""
    if isinstance(ref, str) and ref:
        if version is not None:
            candidates = [(ref, version)]
        else:
            rows = dict_rows(conn.execute(_SELECT + " WHERE m.id = ?", (ref,)))
            if rows:
                return _version(rows[0])
            candidates = []
            at = ref.rfind("@")
            while at > 0:
                candidates.append((ref[:at], ref[at + 1 :]))
                at = ref.rfind("@", 0, at)
        for name, ver in candidates:
            rows = dict_rows(
                conn.execute(_SELECT + " WHERE m.name = ? AND m.version = ?", (name, ver))
            )
            if rows:
                return _version(rows[0])
    key = ref if version is None else f"{ref}@{version}"
    similar = ""
    if hint:
        known = [f"{n}@{v}" for n, v in conn.execute("SELECT name, version FROM models")]
        close = difflib.get_close_matches(str(key), known, n=3, cutoff=0.6)
        similar = f"; similar: {', '.join(close)}" if close else ""
    raise ModelNotFound(f"Model not found: {shown(key)}{similar}")
