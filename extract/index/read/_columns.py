"""The columns a runs table can show for an experiment: what a column picker offers."""

from __future__ import annotations

import json
import re
import sqlite3

from extract.index.models import Column
from extract.index.read._common import subtree
from extract.index.read._experiments import get_experiment
from extract.index.read._runs import metric_names
from extract.index.read._table import FIELDS

#: One step of a JSON path as SQLite's json_tree writes it: ``.key``, ``."quoted.key"`` or
#: ``[index]`` (a list element: lists are values, not paths, as ``flatten_config`` has it).
_STEP = re.compile(r'\.(?:"((?:[^"\\]|\\.)*)"|([^.\["]+))|\[(\d+)\]')


def _dotted(fullkey: str) -> str | None:
    """``$.opt."a.b"`` -> ``opt.a.b`` (a quoted key keeps its JSON escapes in the path:
    they are decoded); None for a path into a list, or for the root."""
    parts: list[str] = []
    pos = 1  # after "$"
    while pos < len(fullkey):
        m = _STEP.match(fullkey, pos)
        if m is None or m.group(3) is not None:
            return None
        quoted = m.group(1)
        parts.append(json.loads(f'"{quoted}"') if quoted is not None else m.group(2))
        pos = m.end()
    return ".".join(parts) or None


def config_keys(conn: sqlite3.Connection, scope: str = "") -> list[str]:
    """The flattened (dotted) config keys that runs in the experiment ``scope`` (an id or
    path; "" for the store) and below it hold, sorted: the leaves ``flatten_config`` makes.
    Deleted runs are left out. SQLite walks the configs; only distinct paths reach Python."""
    cond, args = subtree(get_experiment(conn, scope).path if scope else "", "r.experiment_path")
    rows = conn.execute(
        "SELECT DISTINCT j.fullkey FROM runs r, json_tree(r.config) j "
        f"WHERE r.deleted = 0 AND r.config IS NOT NULL AND json_valid(r.config) AND {cond} "
        "AND j.fullkey != '$' AND (j.type != 'object' OR j.value = '{}')",
        args,
    ).fetchall()
    return sorted({key for (fullkey,) in rows if (key := _dotted(str(fullkey))) is not None})


def param_names(conn: sqlite3.Connection, scope: str = "") -> list[str]:
    """The params (``run.log`` strings) that runs in ``scope`` and below hold, sorted."""
    cond, args = subtree(get_experiment(conn, scope).path if scope else "", "r.experiment_path")
    return [
        str(r[0])
        for r in conn.execute(
            "SELECT DISTINCT p.name FROM run_params p JOIN runs r ON r.id = p.run_id "
            f"WHERE r.deleted = 0 AND {cond} ORDER BY p.name",
            args,
        )
    ]


def table_columns(conn: sqlite3.Connection, scope: str = "") -> tuple[Column, ...]:
    """Every column ``runs_table`` can show for the runs in ``scope`` and below, named as
    it takes them: the run fields, then the headline metrics (``metric.<name>`` where a
    name is also a run field's), the config keys (``config.<key>``) and the params
    (``param.<name>``), each group sorted."""
    path = get_experiment(conn, scope).path if scope else ""
    metrics = [
        Column("metric", f"metric.{m}" if m in FIELDS else m) for m in metric_names(conn, path)
    ]
    return (
        *(Column("field", f) for f in FIELDS),
        *metrics,
        *(Column("config", f"config.{k}") for k in config_keys(conn, path)),
        *(Column("param", f"param.{p}") for p in param_names(conn, path)),
    )
