"""What the browser UI asks of a store, answered through the one read layer as JSON-ready data.

A :class:`Source` opens the index the way every front end does (``open_index``: heals a
damaged file, indexes a read-only store in the user's cache), holds one reader
connection, and turns the read layer's typed answers (``extract.index.models``) into
plain dicts and lists for the pages. It writes nothing to the store: ``refresh`` only
brings the index (a cache) up to date with live journals, exactly as the TUI does. A
lock serialises calls, so the server's thread pool may share one Source.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from extract.display.fields import FieldFilter
from extract.display.settings import TuiConfig, tui_config
from extract.errors import InvalidInput, NotFound
from extract.index import read
from extract.index.access import Index, open_index
from extract.index.models import Artifact, CurvePoints, RunRow
from extract.objects import from_hex
from extract.store import chunking
from extract.store.arrays import ArrayReader
from extract.store.config import metric_direction
from extract.store.repo import Repository

#: Points per curve a run page asks for. A chart is at most a couple of thousand pixels
#: wide; the read layer's envelope keeps the lowest and highest point of each of 1,000
#: step ranges and both ends, so a spike survives and a 10M-point curve costs one scan
#: in SQLite rather than 10M points in JSON.
CHART_POINTS = 2000
#: Points across all curves of a compare view (the read layer's ``curve_budget`` idea,
#: the same figure the MCP server uses): each curve gets an equal share, envelope-kept.
CURVE_BUDGET = 8000
#: Rows of the runs table per page, at most.
MAX_PAGE = 500
#: Runs a sweep view draws at most.
SWEEP_RUNS = 5000
#: Cells of a logged table sent to the heatmap at most (rows x cols of its leading window).
TABLE_WINDOW = 200
SQL_ROWS = 1000


def clean(value: Any) -> Any:
    """A value JSON can carry: NaN and infinities become None (the charts draw a gap),
    numpy values become Python ones, tuples lists."""
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return [clean(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: clean(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def run_json(row: RunRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "short": row.short,
        "name": row.name,
        "experiment": row.experiment_path,
        "status": row.status,
        "started": row.started_at,
        "ended": row.ended_at,
        "tags": list(row.tags),
        "total_steps": row.total_steps,
        "committed": row.commit_id is not None,
    }


def packed(values: np.ndarray[Any, Any]) -> str:
    """An array as base64 of little-endian float64, which the page reads straight into a
    Float64Array for plotly (NaN stays NaN: a gap). Encoding 100,000 floats as JSON
    numbers costs more than reading them from SQLite; this costs a copy."""
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode()


def curve_json(c: CurvePoints) -> dict[str, Any]:
    """A curve for a chart: steps, values and wall times (seconds since the epoch) packed."""
    return {
        "name": c.name,
        "points": len(c.steps),
        "steps": packed(c.steps),
        "values": packed(c.values),
        "walls": None if c.wall_times is None else packed(c.wall_times),
        "total": c.total,
    }


def _artifact_json(a: Artifact) -> dict[str, Any]:
    return {
        "name": a.name,
        "kind": a.kind,
        "step": a.step,
        "shape": None if a.shape is None else list(a.shape),
        "dtype": a.dtype,
        "object_id": a.object_id,
    }


class Source:
    """One store as the browser UI sees it. Thread-safe; every method may block."""

    def __init__(self, root: Path, warn: Callable[[str], None] | None = None) -> None:
        self.repo = Repository(Path(root))
        self.config: TuiConfig = tui_config(self.repo.config)
        self._filter = FieldFilter(self.config.info.fields)
        self._lock = threading.RLock()
        self.warnings: list[str] = []
        self._warn = warn or self.warnings.append
        self._index: Index = open_index(self.repo, warn=self._warn)
        self._conn: sqlite3.Connection = self._index.reader()
        self._marker = read.change_marker(self._conn)
        #: Bumped each time ``refresh`` finds the index changed; pages poll it through SSE.
        self.version = 0
        self._columns: dict[str, tuple[int, dict[str, Any]]] = {}

    def close(self) -> None:
        with self._lock:
            self._index.close()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def refresh(self) -> bool:
        """Pick up new journal points, runs, commits and events; whether anything changed."""
        with self._lock:
            self._index.refresh()
            self._conn = self._index.reader()  # a new one if a damaged file was rebuilt
            marker = read.change_marker(self._conn)
            changed = marker != self._marker
            self._marker = marker
            if changed:
                self.version += 1
            return changed

    def direction(self, metric: str) -> str:
        return metric_direction(metric, self.config.store)

    # the runs table ----------------------------------------------------------------
    def columns(self, scope: str = "") -> dict[str, Any]:
        """The columns the runs table can show for ``scope``, and the experiments. Kept
        until the index changes: every runs page asks, and on 10,000 runs finding every
        config key costs a scan of their configs."""
        with self._reading() as conn:
            cached = self._columns.get(scope)
            if cached is not None and cached[0] == self.version:
                return cached[1]
            cols = read.table_columns(conn, scope)
            tree = read.experiment_tree(conn)
            out = {
                "columns": [{"kind": c.kind, "name": c.name} for c in cols],
                "experiments": [{"path": n.path, "runs": n.n_total} for n in tree],
            }
            if len(self._columns) > 64:
                self._columns.clear()
            self._columns[scope] = (self.version, out)
            return out

    def runs(
        self,
        scope: str = "",
        columns: Sequence[str] = (),
        *,
        sort: str | None = None,
        descending: bool | None = None,
        filters: Sequence[str] = (),
        query: str = "",
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be 1..{MAX_PAGE} (got {limit})")
        with self._reading() as conn:
            t = read.runs_table(
                conn,
                scope,
                columns,
                sort=sort,
                descending=descending,
                filters=filters,
                query=query,
                limit=limit,
                offset=max(0, offset),
                config=self.config.store,
            )
        return {
            "columns": [{"kind": c.kind, "name": c.name} for c in t.columns],
            "rows": [
                {"run": run_json(r), "values": clean(list(v))}
                for r, v in zip(t.rows, t.values, strict=True)
            ],
            "total": t.total,
            "sort": t.sort,
            "descending": t.descending,
            "directions": dict(t.directions),
            "best": dict(t.best),
        }

    # one run --------------------------------------------------------------------
    def run(self, text: str, points: int = CHART_POINTS) -> dict[str, Any]:
        with self._reading() as conn:
            info = read.get_run(conn, text, odb=self.repo.objects)
            data = read.curves(
                conn, info.id, max_points=points, mode="envelope", odb=self.repo.objects
            )
        row = info.run
        flat = read.flatten_config(info.config)
        config = {k: v for k, v in flat.items() if self._filter(k)}
        code = info.code
        return {
            "run": run_json(row),
            "notes": info.notes,
            "hostname": row.hostname,
            "config": clean(config),
            "config_hidden": len(flat) - len(config),
            "metrics": clean(dict(info.metrics)),
            "directions": {m: self.direction(m) for m in (*info.metrics, *data)},
            "params": dict(info.params),
            "code": clean(code),
            "diff": self._diff_text(code.git_diff_id),
            "curves": [curve_json(c) for c in data.values()],
            "stats": clean(dict(info.curves)),
            "artifacts": [_artifact_json(a) for a in info.artifacts],
            "todos": clean(list(info.todos)),
            "models": clean(list(info.models)),
            "lineage": clean(list(info.lineage)),
            "group": clean(info.group) if info.group is not None else None,
        }

    def curves(self, text: str, points: int = CHART_POINTS) -> dict[str, Any]:
        """Just a run's curves and status: what a live page polls."""
        with self._reading() as conn:
            rid = read.resolve_run(conn, text)
            row = read.list_runs(conn, ids=[rid]).items[0]
            data = read.curves(conn, rid, max_points=points, mode="envelope", odb=self.repo.objects)
        return {"run": run_json(row), "curves": [curve_json(c) for c in data.values()]}

    def _diff_text(self, diff_id: str | None) -> str | None:
        if not diff_id:
            return None
        data = chunking.read_bytes(self.repo.objects, from_hex(diff_id))
        return data.decode("utf-8", "replace")

    def artifact(self, run: str, name: str, step: int | None = None) -> tuple[Artifact, bytes]:
        """An artifact of a run by its exact name (and step): looked up in the index, read
        from its object. Anything else (a path, ``..``) is simply not found."""
        with self._reading() as conn:
            rid = read.resolve_run(conn, run)
            a = read.pick_artifact(read.artifacts(conn, [rid])[rid], name, step=step)
        if a is None or a.object_id is None:
            raise NotFound(f"run {run} has no artifact {name!r}")
        if a.kind == "matrix":
            raise InvalidInput(f"{name!r} is a table: ask for it as a table")
        return a, chunking.read_bytes(self.repo.objects, from_hex(a.object_id))

    def table(self, run: str, name: str, step: int | None = None) -> dict[str, Any]:
        """The leading window of a logged table (at most TABLE_WINDOW square), for a
        heatmap, with the store's ``[[tables.highlight]]`` rules."""
        with self._reading() as conn:
            rid = read.resolve_run(conn, run)
            a = read.pick_artifact(read.artifacts(conn, [rid])[rid], name, "matrix", step)
        if a is None or a.object_id is None:
            raise NotFound(f"run {run} has no table {name!r}")
        with self._lock:
            r = ArrayReader(self.repo.objects, from_hex(a.object_id))
            shape = r.shape
            if len(shape) == 0:
                data = np.asarray(r[...]).reshape(1, 1)
            elif len(shape) == 1:
                data = np.asarray(r[:TABLE_WINDOW]).reshape(1, -1)
            else:
                lead = (0,) * (len(shape) - 2)
                data = np.asarray(r[(*lead, slice(0, TABLE_WINDOW), slice(0, TABLE_WINDOW))])
        rules = [dataclasses.asdict(h) for h in self.config.tables.highlight]
        return {
            "name": a.name,
            "step": a.step,
            "shape": list(shape),
            "window": list(data.shape),
            "values": clean(data.astype(np.float64) if data.dtype.kind in "biuf" else data),
            "highlight": clean(rules),
        }

    # several runs ------------------------------------------------------------------
    def compare(self, ids: Sequence[str], budget: int = CURVE_BUDGET) -> dict[str, Any]:
        if len(ids) < 2:
            raise InvalidInput(f"compare needs at least 2 runs (got {len(ids)})")
        with self._reading() as conn:
            cmp = read.compare(conn, ids, self.config.store)
            run_ids = [r.id for r in cmp.runs]
            names = {rid: read.curve_names(conn, rid) for rid in run_ids}
            series = sum(len(n) for n in names.values())
            per_curve = max(2, min(CHART_POINTS, budget // max(1, series)))
            curves = {
                rid: read.curves(
                    conn, rid, max_points=per_curve, mode="envelope", odb=self.repo.objects
                )
                for rid in run_ids
            }
        order: list[str] = []
        for rid in run_ids:
            order.extend(n for n in names[rid] if n not in order)
        return {
            "runs": [run_json(r) for r in cmp.runs],
            "metrics": clean(list(cmp.metrics)),
            "config": clean(dict(cmp.config)),
            "config_diffs": [k for k in cmp.config_diffs if self._filter(k)],
            "params": clean(dict(cmp.params)),
            "param_diffs": list(cmp.param_diffs),
            "per_curve": per_curve,
            "charts": [
                {
                    "name": n,
                    "direction": self.direction(n),
                    "series": [
                        {"run": rid, **curve_json(curves[rid][n])}
                        for rid in run_ids
                        if n in curves[rid]
                    ],
                }
                for n in order
            ],
        }

    def sweep(self, scope: str, keys: Sequence[str], metric: str | None) -> dict[str, Any]:
        """Runs of ``scope`` with the chosen config keys and metric: one line each."""
        cols = [*keys, *([metric] if metric else [])]
        t = self.runs(scope, cols, sort=metric, limit=MAX_PAGE) if cols else None
        rows: list[dict[str, Any]] = []
        total = 0
        if t is not None:
            total = t["total"]
            rows = t["rows"]
            offset = len(rows)
            while offset < min(total, SWEEP_RUNS):
                more = self.runs(scope, cols, sort=metric, limit=MAX_PAGE, offset=offset)
                rows += more["rows"]
                offset += len(more["rows"]) or total
        return {
            "columns": cols,
            "metric": metric,
            "direction": self.direction(metric) if metric else None,
            "rows": rows,
            "total": total,
        }

    # the rest of the store -----------------------------------------------------------
    def lineage(self, node_type: str, node_id: str, depth: int = 2) -> dict[str, Any]:
        with self._reading() as conn:
            g = read.lineage(conn, node_type, node_id, "both", depth)
        return clean(g)  # type: ignore[no-any-return]

    def models(self) -> list[Any]:
        with self._reading() as conn:
            return clean(list(read.list_models(conn).items))  # type: ignore[no-any-return]

    def todos(self) -> list[Any]:
        with self._reading() as conn:
            items = read.list_todos(conn, None, include_done=True).items
        return clean(list(items))  # type: ignore[no-any-return]

    def overview(self) -> dict[str, Any]:
        with self._reading() as conn:
            return clean(read.overview(conn))  # type: ignore[no-any-return]

    def sql(self, query: str) -> dict[str, Any]:
        """The read-only query path with the CLI's time limit (``read.DEFAULT_SECONDS``)."""
        with self._reading() as conn:
            r = read.run_sql(conn, query, limit=SQL_ROWS, seconds=read.DEFAULT_SECONDS)
        return {
            "columns": list(r.columns),
            "rows": clean([list(row) for row in r.rows]),
            "truncated": r.truncated,
        }
