"""Lineage: one breadth-first walk of the DAG of runs, models and experiments."""

from __future__ import annotations

import sqlite3

from extract.errors import InvalidInput, ModelNotFound
from extract.index.ids import model_id
from extract.index.models import LineageEdge, LineageGraph, LineageNode, Side
from extract.index.read._common import among, shown
from extract.index.read._experiments import get_experiment
from extract.index.read._labels import NODE_TYPES, named
from extract.index.read._registry import get_model
from extract.index.read._runs import resolve_run

DIRECTIONS = ("ancestors", "descendants", "both")
MAX_DEPTH = 5
#: A walk stops adding nodes here and says it was truncated.
MAX_NODES = 500

Node = tuple[str, str]


def _check_args(node_type: object, direction: object, depth: object) -> None:
    if node_type not in NODE_TYPES:
        raise InvalidInput(
            f"Invalid node_type: {shown(node_type)}. Valid node types: {', '.join(NODE_TYPES)}"
        )
    if direction not in DIRECTIONS:
        raise InvalidInput(
            f"Invalid direction: {shown(direction)}. Valid directions: {', '.join(DIRECTIONS)}"
        )
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        raise InvalidInput(f"depth must be between 1 and {MAX_DEPTH} (got {shown(depth)})")


def root_of(conn: sqlite3.Connection, node_type: str, ref: str) -> Node:
    """The canonical (type, id) of a node as a person names it, or a not-found error."""
    if node_type == "run":
        return "run", resolve_run(conn, ref)
    if node_type == "experiment":
        return "experiment", get_experiment(conn, ref).id
    try:
        return "model", get_model(conn, ref).id
    except ModelNotFound:
        referenced = _referenced_model(conn, ref) if isinstance(ref, str) else None
        if referenced is None:
            raise
        return "model", referenced


def _referenced_model(conn: sqlite3.Connection, ref: str) -> str | None:
    """A model this store does not have but some run derives from: named by the id the
    edge records or by ``name@version`` (whose id is that hash), so its descendants can
    be walked before the model arrives."""
    ids = [ref]
    at = ref.rfind("@")
    while at > 0:  # a name may itself hold '@', as in get_model
        ids.append(model_id(ref[:at], ref[at + 1 :]))
        at = ref.rfind("@", 0, at)
    cond, args = among("parent_id", ids)
    row = conn.execute(
        f"SELECT parent_id FROM lineage WHERE parent_type = 'model' AND {cond} LIMIT 1", args
    ).fetchone()
    return str(row[0]) if row else None


def _aliases(conn: sqlite3.Connection, node: Node) -> list[str]:
    """The ids lineage rows may use for a node: experiments by id or path, models by id
    or ``name@version`` (an edge recorded before the model reached this store)."""
    t, i = node
    out = [i]
    if t == "experiment":
        row = conn.execute("SELECT path FROM experiments WHERE id = ?", (i,)).fetchone()
        if row:
            out.append(row[0])
    elif t == "model":
        row = conn.execute("SELECT name, version FROM models WHERE id = ?", (i,)).fetchone()
        if row:
            out.append(f"{row[0]}@{row[1]}")
    return out


def _canonical(conn: sqlite3.Connection, node_type: str, raw: str) -> str:
    if node_type == "experiment":
        row = conn.execute(
            "SELECT id FROM experiments WHERE id = ? OR path = ? LIMIT 1", (raw, raw)
        ).fetchone()
        return str(row[0]) if row else raw
    if node_type == "model" and "@" in raw:
        name, _, version = raw.rpartition("@")
        row = conn.execute(
            "SELECT id FROM models WHERE name = ? AND version = ?", (name, version)
        ).fetchone()
        return str(row[0]) if row else raw
    if node_type == "run":
        return raw.upper()
    return raw


def neighbours(conn: sqlite3.Connection, node: Node, up: bool) -> list[tuple[Node, str]]:
    """(neighbour, relation) one step up (parents) or down (children) from ``node``: the
    lineage table's edges, plus one per model: the run that registered it is its parent."""
    t, _ = node
    this, other = ("child", "parent") if up else ("parent", "child")
    cond, args = among(f"{this}_id", _aliases(conn, node))
    sql = (
        f"SELECT {other}_type, {other}_id, relation FROM lineage "
        f"WHERE {this}_type = ? AND {cond} ORDER BY id"
    )
    out = [
        ((ot, _canonical(conn, ot, oid)), rel)
        for ot, oid, rel in conn.execute(sql, [t, *args]).fetchall()
    ]
    if up and t == "model":
        row = conn.execute("SELECT run_id FROM models WHERE id = ?", (node[1],)).fetchone()
        if row and row[0]:
            out.append((("run", str(row[0])), "registered"))
    if not up and t == "run":
        for (mid,) in conn.execute(
            "SELECT id FROM models WHERE run_id = ? ORDER BY created_at, name, version", (node[1],)
        ).fetchall():
            out.append((("model", str(mid)), "registered"))
    return out


def lineage(
    conn: sqlite3.Connection,
    node_type: str,
    node_id: str,
    direction: str = "both",
    depth: int = 2,
) -> LineageGraph:
    """A breadth-first walk from one node: flat nodes (each once, at its shortest distance,
    with the side of the root it is on and whether this store knows it) and edges parent
    -> child. Stops at :data:`MAX_NODES` nodes and says ``truncated``."""
    _check_args(node_type, direction, depth)
    root = root_of(conn, node_type, node_id)
    seen: dict[Node, tuple[int, Side]] = {root: (0, "root")}
    edges: dict[tuple[str, str, str, str, str], None] = {}
    truncated = False
    for side in ("ancestors", "descendants"):
        if direction not in (side, "both"):
            continue
        up = side == "ancestors"
        frontier = [root]
        for distance in range(1, depth + 1):
            nxt: list[Node] = []
            for node in frontier:
                for other, relation in neighbours(conn, node, up):
                    parent, child = (other, node) if up else (node, other)
                    if other not in seen:
                        if len(seen) >= MAX_NODES:
                            truncated = True
                            continue
                        seen[other] = (distance, "ancestor" if up else "descendant")
                        nxt.append(other)
                    edges[(*parent, *child, relation)] = None
            frontier = nxt
            if not frontier:
                break
    names = named(conn, list(seen))
    nodes = tuple(
        LineageNode(t, i, names[(t, i)][0], dist, side, names[(t, i)][1])
        for (t, i), (dist, side) in seen.items()
    )
    return LineageGraph(
        root=nodes[0],
        nodes=nodes,
        edges=tuple(LineageEdge(*e) for e in edges),
        direction=direction,
        depth=depth,
        truncated=truncated,
    )
