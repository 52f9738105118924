"""The headless core of the terminal UI: every question the screens ask, as plain data.

The UI talks to a :class:`Browser` and to nothing else in extract. A Browser
reads through the one read layer, ``extract.index.read``, on one reader
connection, and hands the screens its typed, frozen answers
(``extract.index.models``: ``RunRow``, ``ExperimentNode``, ``RunDetail``,
``Comparison``, ``RunDiff``, ``LineageGraph``, ...), wrapped where the UI adds
something of its own (the config keys ``[info] fields`` shows, charts, table
references). So the TUI, the CLI and the MCP server agree on which runs a search
finds, which config values are equal and which run is best. It refreshes the
index from live journals through ``extract.index.access.open_index`` (which also
heals a damaged index and indexes a read-only store in the user's cache), loads
big data (tables) lazily from objects, and writes only events, through
``actions``. Methods block; the UI calls them from thread workers. A lock
serialises them, so one Browser is safe to share between workers.

Importing this module loads neither textual nor rich (a test checks it), so the
core can be driven and measured on its own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from extract.display.fields import FieldFilter
from extract.display.settings import TuiConfig, tui_config
from extract.errors import InvalidInput
from extract.index import models, read
from extract.index.access import Index, open_index
from extract.index.models import (
    Artifact,
    Change,
    Column,
    Comparison,
    CurvePoints,
    CurveStats,
    Direction,
    ExperimentNode,
    LineageGraph,
    ModelVersion,
    Overview,
    RunDiff,
    RunRow,
    RunTable,
    Todo,
)
from extract.objects import from_hex
from extract.objects.png import decode_png
from extract.store import chunking
from extract.store.arrays import ArrayReader
from extract.store.config import metric_direction
from extract.store.repo import Repository
from extract.store.writable import require_writable
from extract.tui import actions

Array = np.ndarray[Any, Any]
#: Runs listed under one experiment in the navigator before "more in the run browser".
TREE_RUN_LIMIT = 500
#: Runs shown in an experiment's Summary runs section and overlaid in its curves.
NODE_RUN_LIMIT = 20
NODE_CURVE_RUNS = 8
#: Curves drawn per chart panel at most (the rest are listed).
MAX_CHARTS = 8
#: Points per curve a chart asks the read layer for. A chart is at most a few hundred
#: braille columns (two pixels each) wide; the envelope keeps the lowest and highest
#: point of each of 1,000 step ranges and both ends, so a spike survives and a
#: 10M-point curve costs a scan in SQLite, not 10M points in Python.
CHART_POINTS = 2000
#: Generations the lineage view walks at most (the read layer's bound).
MAX_LINEAGE_DEPTH = read.MAX_DEPTH
#: Search terms that map to the read layer's filters: ``status:running tag:x exp:imagenet/``.
SEARCH_TERMS = {"status": "status", "tag": "tag", "exp": "experiment_prefix"}


def parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def column(name: str) -> Column:
    """A run browser column from how a person names it: a run field (``steps``), a
    headline metric (``val_acc``), ``config.<key>`` or ``param.<name>`` (``read.column``)."""
    return read.column(name)


def search_terms(text: str) -> tuple[str, dict[str, str]]:
    """Free text and filters from what a person types in the search box: ``status:``,
    ``tag:`` and ``exp:`` terms become filters, the other words one substring."""
    words, filters = [], {}
    for word in text.split():
        key, sep, value = word.partition(":")
        if sep and key in SEARCH_TERMS and value:
            filters[SEARCH_TERMS[key]] = value
        else:
            words.append(word)
    return " ".join(words), filters


# ---------------------------------------------------------------------------
# What the core hands to the UI (besides the read layer's own values)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One line of a chart: a run's curve (or one of several runs' curves)."""

    label: str
    steps: Array
    values: Array
    slot: int = 0  # colour slot
    total: int | None = None  # points the curve holds (more than drawn when downsampled)

    @property
    def points(self) -> int:
        return len(self.steps) if self.total is None else self.total


def _series(label: str, curve: CurvePoints, slot: int = 0) -> Series:
    return Series(label, curve.steps, curve.values, slot, curve.total)


@dataclass(frozen=True)
class Chart:
    """One metric's chart: its lines and the x range to pin, if the runs declared one."""

    metric: str
    series: tuple[Series, ...]
    x_max: int | None  # total_steps - 1 when declared
    direction: Direction = "max"


#: An image preview's size in terminal cells (each cell shows two pixel rows).
THUMB_COLS, THUMB_ROWS = 32, 8


@dataclass(frozen=True)
class ImageRef:
    """The latest image logged under a name, with a thumbnail the TUI draws in cells."""

    name: str
    step: int | None
    shape: tuple[int, ...]
    object_id: str
    thumbnail: np.ndarray[Any, Any] | None  # H x W x 3 uint8 (H even), None if unreadable


@dataclass(frozen=True)
class TableRef:
    run_id: str
    run_label: str
    name: str
    step: int | None
    shape: tuple[int, ...]
    dtype: str
    object_id: str
    axes: dict[str, Any] | None

    @property
    def title(self) -> str:
        step = "" if self.step is None else f" @ step {self.step}"
        return f"{self.name}{step}"


@dataclass(frozen=True)
class RunDetail:
    """Everything the detail panel shows for one run: the read layer's answer (``info``)
    and what the panel derives from it."""

    info: models.RunDetail
    directions: dict[str, Direction]
    config: dict[str, Any]  # flattened and filtered by [info] fields
    config_hidden: int  # keys the filter left out
    charts: tuple[Chart, ...]
    tables: tuple[TableRef, ...]
    texts: tuple[Artifact, ...]
    duration: float | None
    images: tuple[ImageRef, ...] = ()

    @property
    def row(self) -> RunRow:
        return self.info.run

    @property
    def curve_stats(self) -> Mapping[str, CurveStats]:
        return self.info.curves

    @property
    def points(self) -> int:
        return sum(s.points for s in self.info.curves.values())


@dataclass(frozen=True)
class Ranking:
    metric: str
    direction: Direction
    best: tuple[tuple[str, float], ...]  # (run name, value) best first
    branches: tuple[tuple[str, float], ...]  # (child experiment, its best value) best first


@dataclass(frozen=True)
class NodeSummary:
    """The detail panel for an experiment (or the whole store, path "")."""

    path: str
    node: ExperimentNode | None
    total: int
    live: int
    runs: tuple[RunRow, ...]
    headline: dict[str, dict[str, float]]  # run id -> metric -> value (NaN where logged)
    metrics: tuple[str, ...]
    best: dict[str, tuple[str, ...]]  # metric -> ids of the shown runs holding the best value
    directions: dict[str, Direction]
    rankings: tuple[Ranking, ...]
    charts: tuple[Chart, ...]
    todos: tuple[Todo, ...]


@dataclass(frozen=True)
class Dashboard:
    overview: Overview
    live: tuple[tuple[RunRow, int], ...]  # running runs with their curve points
    recent: tuple[RunRow, ...]
    top: tuple[ExperimentNode, ...]
    models: tuple[ModelVersion, ...]
    todos: tuple[Todo, ...]
    store: str
    head: str | None


@dataclass(frozen=True)
class CompareData:
    """Runs side by side: the read layer's comparison (its one equality rule says which
    config keys differ, its one "better" rule which runs are best), the differing keys
    that ``[info] fields`` shows, the runs' tables and their curves overlaid."""

    comparison: Comparison
    config_keys: tuple[str, ...]  # comparison.config_diffs that [info] fields shows
    config_hidden: int  # differing keys the filter left out
    tables: tuple[tuple[str, tuple[TableRef, ...]], ...]  # table name -> one per run having it
    charts: tuple[Chart, ...]

    @property
    def runs(self) -> tuple[RunRow, ...]:
        return self.comparison.runs


@dataclass(frozen=True)
class DiffData:
    """Two runs: the read layer's diff, with the differing config keys that ``[info]
    fields`` shows (the filter narrows what is shown, never what differs)."""

    diff: RunDiff
    config: tuple[Change, ...]
    config_hidden: int

    @property
    def a(self) -> RunRow:
        return self.diff.a

    @property
    def b(self) -> RunRow:
        return self.diff.b


@dataclass
class TableWindow:
    """A visible slice of a logged table, and how much was read to get it."""

    ref: TableRef
    lead: tuple[int, ...]  # fixed indices of the leading axes of an array with more than 2
    row0: int
    col0: int
    data: Array  # 2-D
    rows: int  # total rows / cols of the 2-D view
    cols: int
    chunks_read: int = 0
    kind: str = field(default="f")


# ---------------------------------------------------------------------------
# The browser
# ---------------------------------------------------------------------------


class Browser:
    """One store as the UI sees it. Thread-safe; every method may block."""

    def __init__(
        self,
        root: Path,
        *,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.repo = Repository(Path(root))
        #: The store's config and the TUI's sections of it, checked as the TUI opens.
        self.config: TuiConfig = tui_config(self.repo.config)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._index: Index | None = None
        #: What opening or refreshing the index worked around (a damaged file moved aside,
        #: a read-only store, a full disk), for the UI to show once: ``take_warnings()``.
        self.warnings: list[str] = []
        self._marker: tuple[Any, ...] | None = None
        self._filter = FieldFilter(self.config.info.fields)
        self._readers: dict[str, ArrayReader] = {}
        self._thumbs: dict[str, np.ndarray[Any, Any] | None] = {}

    # connection and refresh ---------------------------------------------------
    @property
    def root(self) -> Path:
        return self.repo.root

    def shown_root(self) -> str:
        """The store path as a person reads it: relative to the working directory if inside it."""
        try:
            return str(self.repo.root.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(self.repo.root)

    def open(self) -> None:
        """Bring the index up to date (creating it if absent) and open the reader."""
        with self._lock:
            if self._conn is not None:
                return
            self._index = open_index(self.repo, warn=self.warnings.append)
            self._conn = self._index.reader()
            self._marker = read.change_marker(self._conn)

    def close(self) -> None:
        with self._lock:
            self._conn = None
            if self._index is not None:
                self._index.close()  # its reader too
                self._index = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self.open()
        assert self._conn is not None
        return self._conn

    @property
    def indexer(self) -> actions.Writer:
        """The index writer, for the UI's own writes (events); the store must be writable."""
        require_writable(self.repo.root, "this change")
        if self._index is None:
            self.open()
        assert self._index is not None
        return self._index.writer()

    def take_warnings(self) -> list[str]:
        """Warnings not yet shown, once each."""
        with self._lock:
            out, self.warnings[:] = list(self.warnings), []
            return out

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self.conn

    def refresh(self) -> bool:
        """Pick up new journal points, runs, commits and events; whether anything changed."""
        with self._lock:
            if self._index is None:
                self.open()
            assert self._index is not None
            self._index.refresh()
            self._conn = self._index.reader()  # a new one if a damaged file was rebuilt
            marker = read.change_marker(self.conn)
            changed = marker != self._marker
            self._marker = marker
            return changed

    def changed(self) -> bool:
        """Whether the index changed (another process wrote) since the last look."""
        with self._lock:
            marker = read.change_marker(self.conn)
            changed = marker != self._marker
            self._marker = marker
            return changed

    def direction(self, metric: str) -> Direction:
        return metric_direction(metric, self.config.store)

    def now(self) -> dt.datetime:
        return self.clock()

    # navigator -----------------------------------------------------------------
    def tree(self) -> list[ExperimentNode]:
        with self._reading() as conn:
            return read.experiment_tree(conn)

    def runs(
        self,
        path: str = "",
        *,
        exact: bool = False,
        order: str = "newest",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RunRow]:
        """Runs in the experiment ``path`` and below (only in it if ``exact``)."""
        with self._reading() as conn:
            page = read.list_runs(conn, path, exact=exact, order=order, limit=limit, offset=offset)
        return list(page.items)

    def runs_by_id(self, ids: Sequence[str]) -> dict[str, RunRow]:
        with self._reading() as conn:
            page = read.list_runs(conn, ids=ids, include_deleted=True)
        return {r.id: r for r in page.items}

    def headline(self, ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """run id -> {metric: value}; NaN where NaN was logged."""
        with self._reading() as conn:
            return read.headline(conn, ids)

    def metric_names(self, path: str = "") -> list[str]:
        with self._reading() as conn:
            return read.metric_names(conn, path)

    def counts(self) -> tuple[int, int]:
        """(runs, running runs), deleted ones left out."""
        with self._reading() as conn:
            over = read.overview(conn)
        return over.runs, over.by_status.get("running", 0)

    def search(self, text: str, limit: int = 200) -> list[RunRow]:
        """The read layer's one search rule: free text is a case-insensitive substring of
        the name, a tag or the notes, or an id prefix; ``status:``, ``tag:`` and ``exp:``
        terms are its filters, e.g. ``lr status:running exp:imagenet/``. Newest first."""
        query, filters = search_terms(text)
        with self._reading() as conn:
            page = read.list_runs(conn, query=query, filters=filters, limit=limit)
        return list(page.items)

    # the run browser ---------------------------------------------------------------
    def run_table(
        self,
        path: str = "",
        columns: Sequence[str] = (),
        *,
        sort: str | None = None,
        descending: bool | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> RunTable:
        """The runs of ``path`` and below with the chosen columns (metrics, ``config.*``,
        ``param.*``, run fields), sorted in SQL by any of them: see ``read.runs_table``.
        A metric sorts best first unless ``descending`` says otherwise."""
        with self._reading() as conn:
            return read.runs_table(
                conn,
                path,
                columns,
                sort=sort,
                descending=descending,
                limit=limit,
                offset=offset,
                config=self.config.store,
            )

    def metric_columns(self, path: str = "") -> list[str]:
        """The headline metrics of ``path`` and below as run browser columns (a metric
        named like a run field is ``metric.<name>``)."""
        return [m if column(m).kind == "metric" else f"metric.{m}" for m in self.metric_names(path)]

    def table_columns(self, path: str = "") -> tuple[Column, ...]:
        """Every column the run browser can show and sort by, for ``path`` and below."""
        with self._reading() as conn:
            return read.table_columns(conn, path)

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
            duration=self.duration(row),
            images=self._image_refs(info.artifacts),
        )

    def duration(self, row: RunRow) -> float | None:
        start = parse_time(row.started_at)
        if start is None:
            return None
        end = parse_time(row.ended_at) if row.ended_at else None
        if end is None:
            end = self.now() if row.status == "running" else None
        return None if end is None else max(0.0, (end - start).total_seconds())

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
        metric_order: list[str] = []
        for r in overlay:
            metric_order.extend(m for m in curves[r.id] if m not in metric_order)
        charts = []
        for m in metric_order[:MAX_CHARTS]:
            series = tuple(
                _series(r.short, curves[r.id][m], i)
                for i, r in enumerate(overlay)
                if m in curves[r.id]
            )
            x_max = _pin([r.total_steps for r in overlay if m in curves[r.id]])
            charts.append(Chart(m, series, x_max, self.direction(m)))
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
            charts=tuple(charts),
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
        curve_names: list[str] = []
        for rid in ids:
            curve_names.extend(m for m in curves[rid] if m not in curve_names)
        charts = []
        for m in curve_names:
            series = tuple(
                _series(row.short, curves[row.id][m], slot)
                for slot, row in enumerate(cmp.runs)
                if m in curves[row.id]
            )
            x_max = _pin([row.total_steps for row in cmp.runs if m in curves[row.id]])
            charts.append(Chart(m, series, x_max, self.direction(m)))
        return CompareData(
            comparison=cmp,
            config_keys=shown,
            config_hidden=len(cmp.config_diffs) - len(shown),
            tables=tuple((name, tuple(refs)) for name, refs in tables.items()),
            charts=tuple(charts),
        )

    def diff(self, a_id: str, b_id: str) -> DiffData:
        """``read.diff`` of two runs, its config changes narrowed to what ``[info] fields``
        shows."""
        with self._reading() as conn:
            d = read.diff(conn, a_id, b_id, self.config.store)
        shown = tuple(c for c in d.config if self._filter(c.key))
        return DiffData(d, shown, len(d.config) - len(shown))

    # registry, lineage, todos ---------------------------------------------------
    def models(self) -> list[ModelVersion]:
        with self._reading() as conn:
            return list(read.list_models(conn).items)

    def lineage(
        self, node_type: str, node_id: str, depth: int = 2, direction: str = "both"
    ) -> LineageGraph:
        with self._reading() as conn:
            return read.lineage(conn, node_type, node_id, direction, depth)

    def todos(self, include_done: bool = True) -> list[Todo]:
        """Every TODO of every scope, highest priority first, then oldest."""
        with self._reading() as conn:
            return list(read.list_todos(conn, None, include_done=include_done).items)

    # tables ----------------------------------------------------------------------
    def reader(self, object_id: str) -> ArrayReader:
        with self._lock:
            r = self._readers.get(object_id)
            if r is None:
                r = ArrayReader(self.repo.objects, from_hex(object_id))
                self._readers[object_id] = r
            return r

    def table_window(
        self,
        ref: TableRef,
        row0: int,
        col0: int,
        nrows: int,
        ncols: int,
        lead: tuple[int, ...] = (),
    ) -> TableWindow:
        """The visible slice of a table; only the chunks under it are read."""
        with self._lock:
            r = self.reader(ref.object_id)
            before = r.chunks_read
            shape = r.shape
            if len(shape) == 0:
                data = np.asarray(r[...]).reshape(1, 1)
                rows, cols = 1, 1
            elif len(shape) == 1:
                rows, cols = 1, shape[0]
                col0 = max(0, min(col0, cols - ncols))
                data = np.asarray(r[col0 : col0 + ncols]).reshape(1, -1)
                row0 = 0
            else:
                lead = tuple(lead[: len(shape) - 2]) + (0,) * max(0, len(shape) - 2 - len(lead))
                lead = tuple(max(0, min(i, n - 1)) for i, n in zip(lead, shape[:-2], strict=True))
                rows, cols = shape[-2], shape[-1]
                row0 = max(0, min(row0, rows - nrows))  # a full window at the edges
                col0 = max(0, min(col0, cols - ncols))
                data = np.asarray(r[(*lead, slice(row0, row0 + nrows), slice(col0, col0 + ncols))])
            return TableWindow(
                ref=ref,
                lead=lead if len(shape) > 2 else (),
                row0=row0,
                col0=col0,
                data=data,
                rows=rows,
                cols=cols,
                chunks_read=r.chunks_read - before,
                kind=r.dtype.kind,
            )

    # writes (events) --------------------------------------------------------------
    def delete_run(self, run_id: str) -> None:
        with self._lock:
            actions.delete_run(self.indexer, run_id)

    def add_todo(
        self, content: str, priority: int, scope_type: str = "global", scope: str | None = None
    ) -> str:
        with self._lock:
            return actions.add_todo(self.indexer, content, priority, scope_type, scope)

    def set_todo_done(self, todo_id: str, done: bool) -> None:
        with self._lock:
            actions.set_todo_done(self.indexer, todo_id, done)


def _pin(totals: Sequence[int | None]) -> int | None:
    """The x-axis pin of overlaid curves: when every run declared total_steps, the longest."""
    declared = [t for t in totals if t]
    if not totals or len(declared) != len(totals):
        return None
    return max(declared) - 1
