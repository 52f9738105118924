"""The detail panels of the TUI core: a run, an experiment, the store, compare, diff.

Each method asks the read layer once, under the session's lock, and turns its
answer into what a panel shows (``data.RunDetail``, ``NodeSummary``, ``Dashboard``,
``CompareData``, ``DiffData``): config narrowed by ``[info] fields``, charts of
curves downsampled to ``CHART_POINTS`` and overlaid per metric, table references.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from extract.errors import InvalidInput
from extract.index import read
from extract.index.models import (
    Artifact,
    CurvePoints,
    ExperimentNode,
    RunRow,
)
from extract.objects import from_hex
from extract.objects.png import decode_png
from extract.store import chunking
from extract.tui.data import (
    CHART_POINTS,
    MAX_CHARTS,
    NODE_CURVE_RUNS,
    NODE_RUN_LIMIT,
    THUMB_COLS,
    THUMB_ROWS,
    Chart,
    CompareData,
    Dashboard,
    DiffData,
    ImageRef,
    NodeSummary,
    Ranking,
    RunDetail,
    Series,
    TableRef,
    parse_time,
)
from extract.tui.session import Session


class Panels(Session):
    """What the detail panels show, built from the read layer's answers."""

    # one run ---------------------------------------------------------------
    def run_detail(self, run_id: str) -> RunDetail:
        with self._reading() as conn:
            info = read.get_run(conn, run_id)
            data = read.curves(conn, info.id, max_points=CHART_POINTS, mode="envelope")
        row = info.run
        flat = read.flatten_config(info.config)
        shown = {k: v for k, v in flat.items() if self._filter(k)}
        total = row.total_steps
        charts = tuple(
            Chart(
                name, (_series(row.short, c),), total - 1 if total else None, self.direction(name)
            )
            for name, c in data.items()
        )
        return RunDetail(
            info=info,
            directions={m: self.direction(m) for m in info.metrics},
            config=shown,
            config_hidden=len(flat) - len(shown),
            charts=charts,
            tables=tuple(self._table_refs(row, info.artifacts)),
            texts=tuple(a for a in info.artifacts if a.kind == "text"),
            images=self._image_refs(info.artifacts),
            duration=self.duration(row),
        )

    def _image_refs(self, artifacts: Sequence[Artifact]) -> tuple[ImageRef, ...]:
        latest: dict[str, Artifact] = {}
        for a in artifacts:
            if a.kind == "image" and a.object_id:
                latest[a.name] = a  # artifacts come ordered by name, then step
        return tuple(
            ImageRef(
                name=name,
                step=a.step,
                shape=a.shape or (),
                object_id=a.object_id or "",
                thumbnail=self.thumbnail(a.object_id or ""),
            )
            for name, a in latest.items()
        )

    def thumbnail(
        self, object_id: str, cols: int = THUMB_COLS, rows: int = THUMB_ROWS
    ) -> np.ndarray[Any, Any] | None:
        """An image object scaled (nearest pixel) to fit ``cols`` x ``2 * rows`` pixels,
        as RGB; None for a PNG extract did not write or a missing object."""
        with self._lock:
            if object_id in self._thumbs:
                return self._thumbs[object_id]
        try:
            pixels = decode_png(chunking.read_bytes(self.repo.objects, from_hex(object_id)))
        except Exception:  # a damaged or foreign image must not break the detail panel
            thumb = None
        else:
            h, w, c = pixels.shape
            scale = min(1.0, cols / w, 2 * rows / h)
            th, tw = max(2, round(h * scale) // 2 * 2), max(1, round(w * scale))
            ys = np.minimum((np.arange(th) * h / th).astype(int), h - 1)
            xs = np.minimum((np.arange(tw) * w / tw).astype(int), w - 1)
            small = pixels[ys][:, xs]
            rgb = small[:, :, :3] if c >= 3 else np.repeat(small[:, :, :1], 3, axis=2)
            thumb = np.ascontiguousarray(rgb)
        with self._lock:
            self._thumbs[object_id] = thumb
        return thumb

    def duration(self, row: RunRow) -> float | None:
        start = parse_time(row.started_at)
        if start is None:
            return None
        end = parse_time(row.ended_at) if row.ended_at else None
        if end is None:
            end = self.now() if row.status == "running" else None
        return None if end is None else max(0.0, (end - start).total_seconds())

    @staticmethod
    def _table_refs(row: RunRow, artifacts: Sequence[Artifact]) -> Iterator[TableRef]:
        for a in artifacts:
            if a.kind != "matrix" or not a.object_id:
                continue
            meta = a.metadata
            axes = meta.get("axes") if isinstance(meta, Mapping) else None
            yield TableRef(
                run_id=row.id,
                run_label=row.short,
                name=a.name,
                step=a.step,
                shape=tuple(int(s) for s in a.shape or ()),
                dtype=a.dtype or "",
                object_id=a.object_id,
                axes=dict(axes) if isinstance(axes, Mapping) else None,
            )

    def text(self, object_id: str) -> str:
        with self._lock:
            return chunking.read_bytes(self.repo.objects, from_hex(object_id)).decode(
                "utf-8", "replace"
            )

    # an experiment --------------------------------------------------------------
    def node_summary(self, path: str) -> NodeSummary:
        with self._reading() as conn:
            nodes = {n.path: n for n in read.experiment_tree(conn)}
            page = read.list_runs(conn, path, limit=NODE_RUN_LIMIT)
            rows = page.items
            heads = read.headline(conn, [r.id for r in rows])
            names = tuple(read.metric_names(conn, path))
            rankings = tuple(self._rankings(conn, path, names, nodes))
            todos = tuple(
                t
                for t in read.list_todos(conn, None).items
                if path
                and t.scope_type == "experiment"
                and t.scope_label is not None
                and (t.scope_label == path or t.scope_label.startswith(path + "/"))
            )
            overlay = rows[:NODE_CURVE_RUNS]
            curves = {
                r.id: read.curves(conn, r.id, max_points=CHART_POINTS, mode="envelope")
                for r in overlay
            }
        directions = {m: self.direction(m) for m in names}
        best = {
            m: ids
            for m in names
            if (ids := read.best_of({r.id: heads[r.id].get(m) for r in rows}, directions[m]))
        }
        charts = self._overlay(overlay, curves, MAX_CHARTS)
        node = nodes.get(path)
        live = (
            node.n_live
            if node is not None
            else sum(n.n_live for n in nodes.values() if n.depth == 0)
        )
        return NodeSummary(
            path=path,
            node=node,
            total=page.total,
            live=live,
            runs=rows,
            headline=heads,
            metrics=names,
            best=best,
            directions=directions,
            rankings=rankings,
            charts=charts,
            todos=todos,
        )

    def _rankings(
        self,
        conn: sqlite3.Connection,
        path: str,
        names: Sequence[str],
        nodes: Mapping[str, ExperimentNode],
    ) -> Iterator[Ranking]:
        """Per metric: the best runs under ``path``, and its child branches by their best
        run, both by the read layer's one "better" rule."""
        depth = 0 if not path else path.count("/") + 1
        children = [
            p for p in nodes if p.count("/") == depth and (not path or p.startswith(path + "/"))
        ]
        for m in names[:MAX_CHARTS]:
            d = self.direction(m)
            best, per_path = read.leaders(conn, path, m, d)
            under: dict[str, dict[str, float]] = {c: {} for c in children}
            for p, v in per_path:  # each path's best value, filed under its child branch
                branch_of = under.get("/".join(p.split("/")[: depth + 1]))
                if branch_of is not None:
                    branch_of[p] = v
            branch = {
                c: vals[top[0]] for c, vals in under.items() if (top := read.best_of(vals, d))
            }
            yield Ranking(
                m,
                d,
                tuple((r.short, v) for r, v in best),
                tuple((c.rsplit("/", 1)[-1], branch[c]) for c in read.rank(dict(branch), d)),
            )

    # the store -------------------------------------------------------------------
    def dashboard(self) -> Dashboard:
        with self._reading() as conn:
            over = read.overview(conn)
            live = read.list_runs(conn, filters={"status": "running"}, limit=20).items
            counts = read.point_counts(conn, [r.id for r in live])
            recent = read.list_runs(conn, limit=8).items
            latest = read.list_models(conn, limit=5).items
            todos = read.list_todos(conn, None, limit=5).items
            top = tuple(n for n in read.experiment_tree(conn) if n.depth == 0)
        head = self.repo.head()
        return Dashboard(
            overview=over,
            live=tuple((r, counts.get(r.id, 0)) for r in live),
            recent=recent,
            top=top,
            models=latest,
            todos=todos,
            store=self.shown_root(),
            head=None if head is None else head.hex(),
        )

    # compare and diff -------------------------------------------------------------
    def compare(self, run_ids: Sequence[str]) -> CompareData:
        """``read.compare`` of the runs, plus their tables and curves for the view."""
        if len(run_ids) < 2:
            raise InvalidInput(f"compare needs at least 2 runs (got {len(run_ids)})")
        with self._reading() as conn:
            cmp = read.compare(conn, run_ids, self.config.store)
            ids = [r.id for r in cmp.runs]
            matrices = read.artifacts(conn, ids, kind="matrix")
            curves = {
                rid: read.curves(conn, rid, max_points=CHART_POINTS, mode="envelope") for rid in ids
            }
        shown = tuple(k for k in cmp.config_diffs if self._filter(k))
        tables: dict[str, list[TableRef]] = {}
        for row in cmp.runs:
            for t in self._table_refs(row, matrices[row.id]):
                refs = tables.setdefault(t.name, [])
                if all(x.run_id != row.id for x in refs):
                    refs.append(t)
        charts = self._overlay(cmp.runs, curves)
        return CompareData(
            comparison=cmp,
            config_keys=shown,
            config_hidden=len(cmp.config_diffs) - len(shown),
            tables=tuple((name, tuple(refs)) for name, refs in tables.items()),
            charts=charts,
        )

    def diff(self, a_id: str, b_id: str) -> DiffData:
        """``read.diff`` of two runs, its config changes narrowed to what ``[info] fields``
        shows."""
        with self._reading() as conn:
            d = read.diff(conn, a_id, b_id, self.config.store)
        shown = tuple(c for c in d.config if self._filter(c.key))
        return DiffData(d, shown, len(d.config) - len(shown))

    def _overlay(
        self,
        rows: Sequence[RunRow],
        curves: Mapping[str, Mapping[str, CurvePoints]],
        limit: int | None = None,
    ) -> tuple[Chart, ...]:
        """One chart per metric (in the order the runs first log them, ``limit`` at most)
        with a line per run that has it, each run keeping its colour slot across charts;
        the x axis pinned when every run on a chart declared ``total_steps``."""
        names: list[str] = []
        for r in rows:
            names.extend(m for m in curves[r.id] if m not in names)
        charts = []
        for m in names[:limit]:
            series = tuple(
                _series(r.short, curves[r.id][m], slot)
                for slot, r in enumerate(rows)
                if m in curves[r.id]
            )
            x_max = _pin([r.total_steps for r in rows if m in curves[r.id]])
            charts.append(Chart(m, series, x_max, self.direction(m)))
        return tuple(charts)


def _series(label: str, curve: CurvePoints, slot: int = 0) -> Series:
    return Series(label, curve.steps, curve.values, slot, curve.total)


def _pin(totals: Sequence[int | None]) -> int | None:
    """The x-axis pin of overlaid curves: when every run declared total_steps, the longest."""
    declared = [t for t in totals if t]
    if not totals or len(declared) != len(totals):
        return None
    return max(declared) - 1
