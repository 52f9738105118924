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

import dataclasses
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
from extract.index.read._runs import headline, list_runs, params, resolve_run
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


def _value_key(value: Any) -> str:
    """A form of a config value under which equal values (the module's rule) are equal."""
    if value is ABSENT:
        return "\x00absent"
    return json.dumps(_norm(value), sort_keys=True, default=str)


def rank(values: Mapping[str, float | None], direction: Direction) -> list[str]:
    """Run ids best to worst. NaN ranks last; runs without the metric are left out."""
    present = [(rid, v) for rid, v in values.items() if v is not None]
    finite = [(rid, v) for rid, v in present if not math.isnan(v)]
    nans = [rid for rid, v in present if math.isnan(v)]
    finite.sort(key=lambda p: p[1], reverse=direction == "max")
    return [rid for rid, _ in finite] + nans


def best_of(values: Mapping[str, float | None], direction: Direction) -> tuple[str, ...]:
    """The run ids holding the best finite value (several on a tie): the head of ``rank``."""
    ranked = rank(values, direction)
    top = values[ranked[0]] if ranked else None
    if top is None or math.isnan(top):
        return ()
    return tuple(rid for rid in ranked if values[rid] == top)


def _better(a: float | None, b: float | None, direction: Direction) -> Literal["a", "b"] | None:
    """Which of two values is better by ``best_of``; None when equal or when either is
    missing (NaN is worse than any number)."""
    best = best_of({"a": a, "b": b}, direction) if a is not None and b is not None else ()
    return "a" if best == ("a",) else "b" if best == ("b",) else None


def _rows(conn: sqlite3.Connection, runs: Sequence[str]) -> list[RunRow]:
    """Full rows of the runs (as ``resolve_run`` takes them), in the order given."""
    ids = [resolve_run(conn, r) for r in runs]
    found = {r.id: r for r in list_runs(conn, ids=ids, include_deleted=True, full=True).items}
    return [found[i] for i in ids]


def _differing(maps: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    keys: dict[str, None] = {}
    for m in maps:
        keys.update(dict.fromkeys(m))
    return tuple(k for k in keys if len({_value_key(m.get(k, ABSENT)) for m in maps}) > 1)


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
    rows = _rows(conn, runs)
    ids = [r.id for r in rows]
    if len(set(ids)) != len(ids):
        raise InvalidInput("compare got the same run twice")
    values = headline(conn, ids)
    metrics = []
    for name in sorted({m for v in values.values() for m in v}):
        direction = metric_direction(name, config)
        per_run = {rid: values[rid].get(name) for rid in ids}
        ranking = tuple(rank(per_run, direction))
        metrics.append(
            MetricComparison(name, direction, per_run, ranking, best_of(per_run, direction))
        )
    flat = {r.id: flatten_config(r.config) for r in rows}
    logged = {rid: params(conn, rid) for rid in ids}
    out = Comparison(
        runs=tuple(rows),
        metrics=tuple(metrics),
        config=flat,
        config_diffs=_differing(list(flat.values())),
        params=logged,
        param_diffs=_differing(list(logged.values())),
    )
    if not include_curves:
        return out
    return _with_curves(conn, out, curve_names, max_points, curve_budget, odb)


def _with_curves(
    conn: sqlite3.Connection,
    base: Comparison,
    names: Sequence[str] | None,
    max_points: int,
    budget: int | None,
    odb: ObjectStore | None,
) -> Comparison:
    wanted = None if names is None else set(names)
    series: list[tuple[str, str, int, int]] = []  # (curve, run id, run key, metric id)
    for r in base.runs:
        key = curve_reader.run_key(conn, r.id)
        for name, mid in curve_reader.run_metrics(conn, key):
            if wanted is None or name in wanted:
                series.append((name, r.id, key, mid))
    per_curve = max_points
    if budget is not None and series:
        per_curve = max(2, min(max_points, budget // len(series)))
    totals = {
        r.id: curve_reader.sealed_point_counts(odb, curve_reader.single_record(conn, r.id))
        for r in base.runs
    }
    by_name: dict[str, dict[str, Any]] = {}
    for name, rid, key, mid in series:
        by_name.setdefault(name, {})[rid] = curve_reader.read_curve(
            conn, key, mid, name, per_curve, "sample", totals[rid].get(name)
        )
    curves = tuple(CurveComparison(n, by_name[n]) for n in sorted(by_name))
    return dataclasses.replace(base, curves=curves, max_points=per_curve, curve_budget=budget)


def diff(conn: sqlite3.Connection, a: str, b: str, config: Config | None = None) -> RunDiff:
    """Two runs (as ``resolve_run`` takes them): the config keys, params and code fields
    that differ (in the order the first run has them), and every headline metric either
    has, with which run is better."""
    ra, rb = _rows(conn, [a, b])
    fa, fb = flatten_config(ra.config), flatten_config(rb.config)
    cfg = tuple(Change(k, fa.get(k, ABSENT), fb.get(k, ABSENT)) for k in _differing([fa, fb]))
    va, vb = headline(conn, [ra.id, rb.id]).values()
    metrics = []
    for name in sorted(set(va) | set(vb)):
        direction = metric_direction(name, config)
        x, y = va.get(name), vb.get(name)
        metrics.append(MetricChange(name, x, y, direction, _better(x, y, direction)))
    pa, pb = params(conn, ra.id), params(conn, rb.id)
    logged = tuple(Change(k, pa.get(k, ABSENT), pb.get(k, ABSENT)) for k in _differing([pa, pb]))
    code = tuple(
        Change(k, _code(ra, k), _code(rb, k))
        for k in (*CODE_FIELDS, "hostname")
        if _value_key(_code(ra, k)) != _value_key(_code(rb, k))
    )
    return RunDiff(ra, rb, cfg, tuple(metrics), logged, code, (ra.tags, rb.tags))


def _code(run: RunRow, key: str) -> Any:
    return run.hostname if key == "hostname" else getattr(run.code, key)


def leaders(
    conn: sqlite3.Connection, scope: str, metric: str, direction: Direction, limit: int = 3
) -> tuple[list[tuple[RunRow, float]], list[tuple[str, float]]]:
    """A headline metric under the experiment ``scope``, best first by the one rule: the
    best ``limit`` runs, and the best value of each experiment path holding one. NaN and
    runs without the metric are left out."""
    cond, args = subtree(scope, "r.experiment_path")
    where = f"s.name = ? AND s.value IS NOT NULL AND r.deleted = 0 AND {cond}"
    order = "ASC" if direction == "min" else "DESC"
    best = dict_rows(
        conn.execute(
            f"SELECT {RUN_FULL}, s.value AS metric_value FROM scalar_metrics s JOIN runs r "
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
        [(run_row(r), num(r["metric_value"])) for r in best],
        [(str(p), float(v)) for p, v in per_path],
    )
