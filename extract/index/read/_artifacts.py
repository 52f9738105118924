"""Artifacts: what runs logged besides curves and headline values (tables, texts, images)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from extract.index.models import Artifact
from extract.index.read._common import by_ids, loads

_COLUMNS = "run_id, id, name, kind, step, shape, dtype, metadata, created_at, object_id, rel_path"


def artifact(row: Mapping[str, Any]) -> Artifact:
    """An ``Artifact`` from a row of the artifacts table."""
    return Artifact(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        step=row["step"],
        shape=tuple(loads(row["shape"])) if row["shape"] else None,
        dtype=row["dtype"],
        metadata=loads(row["metadata"]),
        created_at=row["created_at"],
        object_id=row["object_id"],
        rel_path=row["rel_path"],
    )


def artifacts(
    conn: sqlite3.Connection, run_ids: Sequence[str], kind: str | None = None
) -> dict[str, tuple[Artifact, ...]]:
    """The artifacts of the given runs (only those of ``kind``, "matrix" or "text" say, if
    given), by run id, each run's by name then step; a run without any maps to ``()``."""
    names = _COLUMNS.split(", ")
    sql = f"SELECT {_COLUMNS} FROM artifacts WHERE run_id IN ({{ids}})"
    extra: list[Any] = []
    if kind is not None:
        sql += " AND kind = ?"
        extra.append(kind)
    found: dict[str, list[Artifact]] = {rid: [] for rid in run_ids}
    for row in by_ids(conn, sql + " ORDER BY run_id, name, step", run_ids, extra):
        values = dict(zip(names, row, strict=True))
        found[values["run_id"]].append(artifact(values))
    return {rid: tuple(items) for rid, items in found.items()}
