"""The runs table: runs with the columns a person picks (headline metrics, config keys,
params, run fields), sorted by any of them and filtered on each, in SQL, one page at a time;
and the columns it can show for an experiment (what a column picker offers).

Columns are named as people type them:

- a run field: ``name``, ``status``, ``experiment``, ``started``, ``ended``, ``steps``, ``id``;
- ``config.<dotted key>`` (``config.opt.lr``): a config value, nested keys joined by dots;
- ``param.<name>``: a string logged with ``run.log``;
- ``metric.<name>``, or a bare name that is not a run field: a headline metric.

A filter is ``COLUMN OP VALUE`` with OP one of ``= != < <= > >= ~`` (``~``: contains, any
case); the value is a number when it reads as one. Several filters all apply. NaN metric
values sort and filter as missing (SQLite holds NaN as NULL).
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from extract.errors import InvalidInput
from extract.index.models import Column, Direction, RunTable
from extract.index.read._common import RUN_FULL, dict_rows, run_row, shown, subtree
from extract.index.read._experiments import get_experiment
from extract.index.read._groups import get_group
from extract.index.read._runs import headline, metric_names, search_condition
from extract.store.config import Config, metric_direction

FIELDS = {
    "name": "r.name",
    "status": "r.status",
    "experiment": "r.experiment_path",
    "started": "r.started_at",
    "ended": "r.ended_at",
    "steps": "r.total_steps",
    "id": "r.id",
}
OPS = ("<=", ">=", "!=", "=", "<", ">", "~")
_FILTER = re.compile(r"^\s*(?P<col>[^<>=!~]+?)\s*(?P<op><=|>=|!=|=|<|>|~)\s*(?P<value>.*?)\s*$")


def column(text: str) -> Column:
    """A column from how a person names it (see the module docstring)."""
    t = text.strip() if isinstance(text, str) else ""
    if not t:
        raise InvalidInput(f"empty column name (got {shown(text)})")
    for prefix, kind in (("config.", "config"), ("param.", "param"), ("metric.", "metric")):
        if t.startswith(prefix) and len(t) > len(prefix):
            return Column(kind, t)  # type: ignore[arg-type]
    if t in FIELDS:
        return Column("field", t)
    return Column("metric", t)


def _key(col: Column) -> str:
    """The metric, config key or param name a column stands for."""
    if col.kind != "field" and col.name.startswith(("config.", "param.", "metric.")):
        return col.name.split(".", 1)[1]
    return col.name


def _json_path(key: str) -> str:
    return "$" + "".join(f'."{part}"' for part in key.split("."))


#: A param's or a headline metric's value of run ``r``: a subquery that seeks the run's rows.
_LOGGED = {
    "param": "(SELECT p.value FROM run_params p WHERE p.run_id = r.id AND p.name = ?)",
    "metric": "(SELECT s.value FROM scalar_metrics s WHERE s.run_id = r.id AND s.name = ?)",
}


def _expr(col: Column) -> tuple[str, list[Any]]:
    """SQL for a column's value of run ``r``, and its arguments."""
    if col.kind == "field":
        return FIELDS[col.name], []
    if col.kind == "config":
        return "json_extract(r.config, ?)", [_json_path(_key(col))]
    return _LOGGED[col.kind], [_key(col)]


def _value(text: str) -> Any:
    try:
        v = json.loads(text)
    except ValueError:
        return text
    return v if isinstance(v, int | float | str) and not isinstance(v, bool) else text


def _parse_filter(text: str) -> tuple[Column, str, Any]:
    m = _FILTER.match(text) if isinstance(text, str) else None
    if m is None:
        raise InvalidInput(
            f"bad filter {shown(text)}: write COLUMN OP VALUE with OP one of {' '.join(OPS)}, "
            "e.g. val_acc>0.9, config.opt.lr=0.01, status=completed, name~sweep"
        )
    return column(m["col"]), m["op"], _value(m["value"])


def runs_table(
    conn: sqlite3.Connection,
    scope: str = "",
    columns: Sequence[str] = (),
    *,
    sort: str | None = None,
    descending: bool | None = None,
    filters: Sequence[str] = (),
    query: str = "",
    search: Mapping[str, Any] | None = None,
    group: str | None = None,
    limit: int | None = 50,
    offset: int = 0,
    config: Config | None = None,
) -> RunTable:
    """One page of the runs in the experiment ``scope`` and below, with ``columns``, sorted
    by ``sort`` (a column; by default newest first) and filtered by ``filters`` (see the
    module docstring), ``query`` and ``search`` (the search rule and filters of
    ``list_runs``), and to the ranks of the job ``group`` (then by rank unless sorted).
    A metric column sorts best first unless ``descending`` says otherwise; any other
    column ascending. The best value of each metric column among all
    the matching runs is marked by run id."""
    cols = tuple(column(c) for c in columns)
    # The search conditions name the runs table's columns unqualified: in this query they
    # can only mean run r's (the metric and param subqueries qualify their own).
    where, args = search_condition(conn, query, search)
    where.append("r.deleted = 0")
    if scope:
        cond, more = subtree(get_experiment(conn, scope).path, "r.experiment_path")
        where.append(cond)
        args += more
    for text in filters:
        col, op, value = _parse_filter(text)
        expr, more = _expr(col)
        if op == "~":
            where.append(f"instr(lower(CAST({expr} AS TEXT)), lower(?)) > 0")
        else:
            where.append(f"{expr} {op} ?")
        args += [*more, value]
    order = "r.started_at DESC, r.id DESC"
    if group is not None:
        get_group(conn, group)  # Group not found: 'X' (exit 3), with a near name
        where.append("r.id IN (SELECT run_id FROM run_params WHERE name = 'group' AND value = ?)")
        args.append(group)
        rank = "(SELECT value FROM run_params WHERE run_id = r.id AND name = 'rank')"
        order = f"CAST({rank} AS INTEGER) ASC, r.id ASC"
    cond = " AND ".join(where)
    total = int(conn.execute(f"SELECT COUNT(*) FROM runs r WHERE {cond}", args).fetchone()[0])
    directions: dict[str, Direction] = {
        c.name: metric_direction(_key(c), config) for c in cols if c.kind == "metric"
    }
    desc = bool(descending)
    order_args: list[Any] = []
    if sort is not None:
        scol = column(sort)
        expr, order_args = _expr(scol)
        if descending is None:
            desc = scol.kind == "metric" and metric_direction(_key(scol), config) == "max"
        order = f"{expr} IS NULL, {expr} {'DESC' if desc else 'ASC'}, r.started_at DESC, r.id DESC"
        order_args = order_args * 2
    selects, select_args = [], []
    for c in cols:
        expr, more = _expr(c)
        selects.append(expr)
        select_args += more
    extra = "".join(f", {s} AS c{i}" for i, s in enumerate(selects))
    sql = f"SELECT {RUN_FULL}{extra} FROM runs r WHERE {cond} ORDER BY {order}"
    page_args = [*select_args, *args, *order_args]
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        page_args += [int(limit), int(offset)]
    rows = dict_rows(conn.execute(sql, page_args))
    runs = tuple(run_row(r) for r in rows)
    heads = headline(conn, [r.id for r in runs])
    values = tuple(
        tuple(_cell(c, r[f"c{i}"], heads[run.id]) for i, c in enumerate(cols))
        for r, run in zip(rows, runs, strict=True)
    )
    best = {
        c.name: rid
        for c in cols
        if c.kind == "metric" and (rid := _best(conn, cond, args, c, directions[c.name]))
    }
    return RunTable(cols, runs, values, total, sort, desc, directions, best)


def _cell(col: Column, raw: Any, heads: Mapping[str, float]) -> Any:
    if col.kind == "metric":
        return heads.get(_key(col))  # NaN where NaN was logged, None where not logged
    if col.kind == "config" and isinstance(raw, str) and raw[:1] in "[{":
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _best(
    conn: sqlite3.Connection, cond: str, args: list[Any], col: Column, direction: Direction
) -> str | None:
    expr, more = _expr(col)
    row = conn.execute(
        f"SELECT r.id FROM runs r WHERE {cond} AND {expr} IS NOT NULL "
        f"ORDER BY {expr} {'ASC' if direction == 'min' else 'DESC'}, r.id LIMIT 1",
        [*args, *more, *more],
    ).fetchone()
    return None if row is None else str(row[0])


def cell_text(value: Any) -> str:
    """A table cell as text: NaN named, lists and dicts as JSON, nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


# the columns it can show ------------------------------------------------------------

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


def _config_keys(conn: sqlite3.Connection, path: str) -> list[str]:
    """The flattened (dotted) config keys that runs in the experiment ``path`` and below
    hold, sorted: the leaves ``flatten_config`` makes. Deleted runs are left out. SQLite
    walks the configs; only distinct paths reach Python."""
    cond, args = subtree(path, "r.experiment_path")
    rows = conn.execute(
        "SELECT DISTINCT j.fullkey FROM runs r, json_tree(r.config) j "
        f"WHERE r.deleted = 0 AND r.config IS NOT NULL AND json_valid(r.config) AND {cond} "
        "AND j.fullkey != '$' AND (j.type != 'object' OR j.value = '{}')",
        args,
    ).fetchall()
    return sorted({key for (fullkey,) in rows if (key := _dotted(str(fullkey))) is not None})


def _param_names(conn: sqlite3.Connection, path: str) -> list[str]:
    """The params (``run.log`` strings) that runs in ``path`` and below hold, sorted."""
    cond, args = subtree(path, "r.experiment_path")
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
        *(Column("config", f"config.{k}") for k in _config_keys(conn, path)),
        *(Column("param", f"param.{p}") for p in _param_names(conn, path)),
    )
