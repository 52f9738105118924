"""How lineage nodes read: ``path#name`` for runs, the path for experiments,
``name@version`` for models."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from extract.index.models import run_label
from extract.index.read._common import by_ids

NODE_TYPES = ("experiment", "run", "model")


def labels(
    conn: sqlite3.Connection, nodes: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """(type, id) -> label for the nodes this store knows; unknown ones are left out.

    A model parent may be named ``name@version`` (an edge recorded before the model was
    here): it is known if this store has that version, and labelled so either way."""
    by_type: dict[str, list[str]] = {}
    for t, i in nodes:
        by_type.setdefault(t, []).append(i)
    out: dict[tuple[str, str], str] = {}
    runs = by_type.get("run", [])
    for rid, path, name in by_ids(
        conn, "SELECT id, experiment_path, name FROM runs WHERE id IN ({ids})", runs
    ):
        out[("run", rid)] = run_label(path, name, rid)
    exps = by_type.get("experiment", [])
    for eid, path in by_ids(conn, "SELECT id, path FROM experiments WHERE id IN ({ids})", exps):
        out[("experiment", eid)] = path
    for eid, path in by_ids(conn, "SELECT path, path FROM experiments WHERE path IN ({ids})", exps):
        out[("experiment", eid)] = path
    models = by_type.get("model", [])
    for mid, name, version in by_ids(
        conn, "SELECT id, name, version FROM models WHERE id IN ({ids})", models
    ):
        out[("model", mid)] = f"{name}@{version}"
    for ref in models:
        if ("model", ref) not in out and "@" in ref:
            name, _, version = ref.rpartition("@")
            row = conn.execute(
                "SELECT 1 FROM models WHERE name = ? AND version = ?", (name, version)
            ).fetchone()
            if row:
                out[("model", ref)] = ref
    return out
