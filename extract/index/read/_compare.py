"""Runs side by side: one equality rule for config values, one "better" rule for metrics.

Every front end compares through here, so the CLI's ``diff``, the TUI's compare and diff
views, MCP's ``compare_runs`` and the browser UI agree on which keys differ and which run
is best:

- **Equal** config values: ``1`` and ``1.0`` agree, NaN equals NaN, key order in a nested
  dict does not matter, and a key one run lacks (``ABSENT``) differs from ``None``.
- **Better** metric values: by the metric's direction (config.toml ``[metrics]``, then the
  name heuristics in ``store.config.metric_direction``); NaN is worse than any number; a
  run without the metric is not ranked.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from extract.errors import InvalidInput
from extract.index.models import (
    ABSENT,
    Change,
    Comparison,
    CurveComparison,
    Direction,
    MetricChange,
    MetricComparison,
    RunDiff,
    RunRow,
)
from extract.index.read import _curves as curve_reader
from extract.index.read._common import RUN_FULL, dict_rows, flatten_config, num, run_row, subtree
from extract.index.read._runs import headline, resolve_run
from extract.store.config import Config, metric_direction
from extract.store.odb import ObjectStore

#: Code provenance fields a diff compares, then the host.
CODE_FIELDS = ("git_sha", "git_branch", "git_dirty", "git_stamp", "git_tree", "git_diff_id")


def _norm(v: Any) -> Any:
    if isinstance(v, float):
        if math.isnan(v):
            return "\x00nan"
        if v.is_integer():
            return int(v)
    if isinstance(v, Mapping):
        return {str(k): _norm(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_norm(x) for x in v]
    return v


def value_key(value: Any) -> str:
    """A form of a config value under which equal values (the module's rule) are equal."""
    if value is ABSENT:
        return "\x00absent"
    return json.dumps(_norm(value), sort_keys=True, default=str)


def same_value(a: Any, b: Any) -> bool:
    return value_key(a) == value_key(b)


def rank(values: Mapping[str, float | None], direction: Direction) -> list[str]:
    """Run ids best to worst. NaN ranks last; runs without the metric are left out."""
    present = [(rid, v) for rid, v in values.items() if v is not None]
    finite = [(rid, v) for rid, v in present if not math.isnan(v)]
    nans = [rid for rid, v in present if math.isnan(v)]
    finite.sort(key=lambda p: p[1], reverse=direction == "max")
    return [rid for rid, _ in finite] + nans


def better(a: float | None, b: float | None, direction: Direction) -> Literal["a", "b"] | None:
    """Which of two values is better; None when equal or when either is missing. NaN is
    worse than any number."""
    if a is None or b is None:
        return None
    if math.isnan(a) or math.isnan(b):
        if math.isnan(a) and math.isnan(b):
            return None
        return "b" if math.isnan(a) else "a"
    if a == b:
        return None
    return "a" if (a < b) == (direction == "min") else "b"


def best_of(values: Mapping[str, float | None], direction: Direction) -> tuple[str, ...]:
    """The run ids holding the best finite value (several on a tie)."""
    have = [(v, rid) for rid, v in values.items() if v is not None and not math.isnan(v)]
    if not have:
        return ()
    pick = min if direction == "min" else max
    target = pick(v for v, _ in have)
    return tuple(rid for v, rid in have if v == target)


def _details(conn: sqlite3.Connection, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for rid in run_ids:
        rows = dict_rows(
            conn.execute(
                f"SELECT {RUN_FULL}, key FROM runs WHERE id = ?",
                (rid,),
            )
        )
        out.append(rows[0])
    return out


def _params(conn: sqlite3.Connection, rid: str) -> dict[str, str]:
    return dict(
        conn.execute("SELECT name, value FROM run_params WHERE run_id = ? ORDER BY name", (rid,))
    )


def _differing(maps: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    keys: dict[str, None] = {}
    for m in maps:
        keys.update(dict.fromkeys(m))
    return tuple(k for k in keys if len({value_key(m.get(k, ABSENT)) for m in maps}) > 1)


def compare(
    conn: sqlite3.Connection,
    runs: Sequence[str],
    config: Config | None = None,
    *,
    include_curves: bool = False,
    curve_names: Sequence[str] | None = None,
    max_points: int = 200,
    curve_budget: int | None = None,
    odb: ObjectStore | None = None,
) -> Comparison:
    """Runs side by side (each as ``resolve_run`` takes it): every headline metric any
    of them has with its direction, values, ranking and best runs; the flattened config
    keys and the params where at least two differ; and, if asked, their curves.

    Curves are downsampled (evenly spaced steps, ends kept) to ``max_points`` each, or
    fewer when ``curve_budget`` (points across all returned curves) requires it: the
    result states the per-curve bound used."""
    ids = [resolve_run(conn, r) for r in runs]
    if len(set(ids)) != len(ids):
        raise InvalidInput("compare got the same run twice")
    rows = _details(conn, ids)
    runs_out = tuple(run_row({k: r[k] for k in r if k not in _EXTRA}) for r in rows)
    values = headline(conn, ids)
    names = sorted({m for v in values.values() for m in v})
    metrics = []
    for name in names:
        direction = metric_direction(name, config)
        per_run = {rid: values[rid].get(name) for rid in ids}
        metrics.append(
            MetricComparison(
                name,
                direction,
                per_run,
                tuple(rank(per_run, direction)),
                best_of(per_run, direction),
            )
        )
    flat = {r.id: flatten_config(r.config) for r in runs_out}
    params = {rid: _params(conn, rid) for rid in ids}
    out = Comparison(
        runs=runs_out,
        metrics=tuple(metrics),
        config=flat,
        config_diffs=_differing(list(flat.values())),
        params=params,
        param_diffs=_differing(list(params.values())),
    )
    if not include_curves:
        return out
    return _with_curves(conn, out, rows, curve_names, max_points, curve_budget, odb)


_EXTRA = ("key",)


def _with_curves(
    conn: sqlite3.Connection,
    base: Comparison,
    rows: Sequence[Mapping[str, Any]],
    names: Sequence[str] | None,
    max_points: int,
    budget: int | None,
    odb: ObjectStore | None,
) -> Comparison:
    wanted = None if names is None else set(names)
    series: list[tuple[str, str, int, int]] = []  # (curve, run id, run key, metric id)
    for r in rows:
        for name, mid in curve_reader.run_metrics(conn, int(r["key"])):
            if wanted is None or name in wanted:
                series.append((name, r["id"], int(r["key"]), mid))
    per_curve = max_points
    if budget is not None and series:
        per_curve = max(2, min(max_points, budget // len(series)))
    totals = {r["id"]: curve_reader.sealed_point_counts(odb, r["object_id"]) for r in rows}
    by_name: dict[str, dict[str, Any]] = {}
    for name, rid, key, mid in series:
        by_name.setdefault(name, {})[rid] = curve_reader._read(
            conn, key, mid, name, per_curve, "sample", totals[rid].get(name)
        )
    curves = tuple(CurveComparison(n, by_name[n]) for n in sorted(by_name))
    return Comparison(
        **{f: getattr(base, f) for f in ("runs", "metrics", "config", "config_diffs", "params")},
        param_diffs=base.param_diffs,
        curves=curves,
        max_points=per_curve,
        curve_budget=budget,
    )


def diff(conn: sqlite3.Connection, a: str, b: str, config: Config | None = None) -> RunDiff:
    """Two runs (as ``resolve_run`` takes them): the config keys, params and code fields
    that differ (in the order the first run has them), and every headline metric either
    has, with which run is better."""
    ra, rb = _details(conn, [resolve_run(conn, a), resolve_run(conn, b)])
    fa, fb = flatten_config(_config(ra)), flatten_config(_config(rb))
    cfg = tuple(Change(k, fa.get(k, ABSENT), fb.get(k, ABSENT)) for k in _differing([fa, fb]))
    va, vb = headline(conn, [ra["id"], rb["id"]]).values()
    metrics = []
    for name in sorted(set(va) | set(vb)):
        direction = metric_direction(name, config)
        x, y = va.get(name), vb.get(name)
        metrics.append(MetricChange(name, x, y, direction, better(x, y, direction)))
    pa, pb = _params(conn, ra["id"]), _params(conn, rb["id"])
    params = tuple(Change(k, pa.get(k, ABSENT), pb.get(k, ABSENT)) for k in _differing([pa, pb]))
    code = tuple(
        Change(k, _code(ra, k), _code(rb, k))
        for k in (*CODE_FIELDS, "hostname")
        if not same_value(_code(ra, k), _code(rb, k))
    )
    run_a = run_row({k: ra[k] for k in ra if k not in _EXTRA})
    run_b = run_row({k: rb[k] for k in rb if k not in _EXTRA})
    return RunDiff(run_a, run_b, cfg, tuple(metrics), params, code, (run_a.tags, run_b.tags))


def _config(row: Mapping[str, Any]) -> Mapping[str, Any] | None:
    cfg = json.loads(row["config"]) if row["config"] else None
    return cfg if isinstance(cfg, Mapping) else None


def _code(row: Mapping[str, Any], key: str) -> Any:
    v = row[key]
    return bool(v) if key == "git_dirty" and v is not None else v


def leaders(
    conn: sqlite3.Connection, scope: str, metric: str, direction: Direction, limit: int = 3
) -> tuple[list[tuple[RunRow, float]], list[tuple[str, float]]]:
    """A headline metric under the experiment ``scope``, best first by the one rule: the
    best ``limit`` runs, and the best value of each experiment path holding one. NaN and
    runs without the metric are left out."""
    cond, args = subtree(scope, "r.experiment_path")
    where = f"s.name = ? AND s.value IS NOT NULL AND r.deleted = 0 AND {cond}"
    order = "ASC" if direction == "min" else "DESC"
    cols = ", ".join(f"r.{c.strip()}" for c in RUN_FULL.split(","))
    best = dict_rows(
        conn.execute(
            f"SELECT {cols}, s.value AS metric_value FROM scalar_metrics s JOIN runs r "
            f"ON r.id = s.run_id WHERE {where} ORDER BY s.value {order}, r.id LIMIT ?",
            [metric, *args, int(limit)],
        )
    )
    agg = "MIN" if direction == "min" else "MAX"
    per_path = conn.execute(
        f"SELECT r.experiment_path, {agg}(s.value) FROM scalar_metrics s JOIN runs r "
        f"ON r.id = s.run_id WHERE {where} GROUP BY r.experiment_path",
        [metric, *args],
    ).fetchall()
    return (
        [
            (run_row({k: v for k, v in r.items() if k != "metric_value"}), num(r["metric_value"]))
            for r in best
        ],
        [(str(p), float(v)) for p, v in per_path],
    )
