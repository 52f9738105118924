"""How lineage nodes read: ``path#name`` for runs, the path for experiments,
``name@version`` for models."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from extract.index.models import run_label
from extract.index.read._common import among

NODE_TYPES = ("experiment", "run", "model")


def labels(
    conn: sqlite3.Connection, nodes: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """(type, id) -> label for the nodes this store knows; unknown ones are left out.

    A model parent may be named ``name@version`` (an edge recorded before the model was
    here): it is known if this store has that version, and labelled so either way."""
    by_type: dict[str, list[str]] = {"run": [], "experiment": [], "model": []}
    for t, i in nodes:
        by_type.setdefault(t, []).append(i)
    out: dict[tuple[str, str], str] = {}
    cond, args = among("id", by_type["run"])
    for rid, path, name in conn.execute(
        f"SELECT id, experiment_path, name FROM runs WHERE {cond}", args
    ):
        out[("run", rid)] = run_label(path, name, rid)
    for column in ("id", "path"):  # an experiment lineage row may name it either way
        cond, args = among(column, by_type["experiment"])
        for ref, path in conn.execute(f"SELECT {column}, path FROM experiments WHERE {cond}", args):
            out[("experiment", ref)] = path
    cond, args = among("id", by_type["model"])
    for mid, name, version in conn.execute(
        f"SELECT id, name, version FROM models WHERE {cond}", args
    ):
        out[("model", mid)] = f"{name}@{version}"
    for ref in by_type["model"]:
        if ("model", ref) not in out and "@" in ref:
            name, _, version = ref.rpartition("@")
            row = conn.execute(
                "SELECT 1 FROM models WHERE name = ? AND version = ?", (name, version)
            ).fetchone()
            if row:
                out[("model", ref)] = ref
    return out
