"""How lineage nodes read: ``path#name`` for runs, the path for experiments,
``name@version`` for models, even a model this store has never seen."""

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


def recorded_labels(
    conn: sqlite3.Connection, nodes: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """(type, id) -> ``name@version`` for model parents this store does not have, from
    the name and version ``derived_from(model=, version=)`` keeps in the edge's metadata.

    The edge's parent is the model's id (a hash of name and version) so that it reaches
    the model once it is fetched; until then the id alone names nothing a person knows."""
    ids = [i for t, i in nodes if t == "model"]
    cond, args = among("parent_id", ids)
    out: dict[tuple[str, str], str] = {}
    for mid, name, version in conn.execute(
        "SELECT parent_id, json_extract(metadata, '$.name'), json_extract(metadata, '$.version') "
        f"FROM lineage WHERE parent_type = 'model' AND {cond} AND json_valid(metadata) "
        "ORDER BY id",
        args,
    ):
        if isinstance(name, str) and isinstance(version, str):
            out.setdefault(("model", mid), f"{name}@{version}")
    return out


def named(
    conn: sqlite3.Connection, nodes: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, bool]]:
    """(type, id) -> (label, whether this store knows the node) for every node: a known
    node as :func:`labels` names it, an unknown model by its recorded ``name@version``,
    anything else by its id."""
    known = labels(conn, nodes)
    recorded = recorded_labels(conn, [n for n in nodes if n not in known])
    return {n: (known[n], True) if n in known else (recorded.get(n, n[1]), False) for n in nodes}
