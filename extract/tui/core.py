"""The headless core of the terminal UI: every question the screens ask, as plain data.

The UI talks to a :class:`Browser` and to nothing else in extract. A Browser
reads through the read-only query layer (``extract.index.query`` and
``extract.index.browse``) on one reader connection, refreshes the index from live
journals through ``extract.index.access.open_index`` (which also heals a damaged
index and indexes a read-only store in the user's cache), loads big data
(tables) lazily from objects, and writes only events, through ``actions``.
Methods block; the UI calls them from thread workers. A lock serialises them,
so one Browser is safe to share between workers.

Importing this module loads neither textual nor rich (a test checks it), so the
core can be driven and measured on its own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from extract.errors import InvalidInput
from extract.index import browse, query
from extract.index.access import Index, open_index
from extract.index.build import Indexer
from extract.objects import from_hex
from extract.objects.png import decode_png
from extract.store import chunking
from extract.store.arrays import ArrayReader
from extract.store.config import Config, Direction, metric_direction
from extract.store.fieldglob import FieldFilter, flatten_config
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


def parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


# ---------------------------------------------------------------------------
# What the core hands to the UI
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeNode:
    path: str
    name: str
    node_type: str | None
    depth: int
    n_runs: int
    n_total: int
    n_live: int
    id: str


@dataclass(frozen=True)
class RunRow:
    id: str
    name: str | None
    status: str
    started_at: str | None
    ended_at: str | None
    experiment_path: str
    tags: tuple[str, ...]
    total_steps: int | None
    live: bool
    committed: bool
    deleted: bool = False

    @property
    def label(self) -> str:
        return self.name or self.id[:10]

    @property
    def full_label(self) -> str:
        return f"{self.experiment_path}#{self.label}"

    @classmethod
    def of(cls, row: dict[str, Any]) -> RunRow:
        return cls(
            id=row["id"],
            name=row.get("name"),
            status=row.get("status") or "?",
            started_at=row.get("started_at"),
            ended_at=row.get("ended_at"),
            experiment_path=row.get("experiment_path") or "",
            tags=tuple(row.get("tags") or ()),
            total_steps=row.get("total_steps"),
            live=row.get("object_id") is None,
            committed=row.get("commit_id") is not None,
            deleted=bool(row.get("deleted")),
        )


@dataclass(frozen=True)
class Series:
    """One line of a chart: a run's curve (or one of several runs' curves)."""

    label: str
    steps: Array
    values: Array
    slot: int = 0  # colour slot


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
    """Everything the detail panel shows for one run."""

    row: RunRow
    info: dict[str, Any]  # query.run(): config, metrics, params, artifacts, todos, models, lineage
    directions: dict[str, Direction]
    config: dict[str, Any]  # flattened and filtered by [info] fields
    config_hidden: int  # keys the filter left out
    curve_stats: dict[str, dict[str, Any]]
    charts: tuple[Chart, ...]
    tables: tuple[TableRef, ...]
    texts: tuple[dict[str, Any], ...]
    points: int
    duration: float | None
    images: tuple[ImageRef, ...] = ()


@dataclass(frozen=True)
class Ranking:
    metric: str
    direction: Direction
    best: tuple[tuple[str, float], ...]  # (run label, value) best first
    branches: tuple[tuple[str, float], ...]  # (child experiment, its best value) best first


@dataclass(frozen=True)
class NodeSummary:
    """The detail panel for an experiment (or the whole store, path "")."""

    path: str
    node: TreeNode | None
    total: int
    live: int
    runs: tuple[RunRow, ...]
    headline: dict[str, dict[str, float | None]]
    metrics: tuple[str, ...]
    best: dict[str, str]  # metric -> run id holding the best value among ``runs``
    directions: dict[str, Direction]
    rankings: tuple[Ranking, ...]
    charts: tuple[Chart, ...]
    todos: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Dashboard:
    overview: dict[str, Any]
    live: tuple[tuple[RunRow, int], ...]  # running runs with their curve points
    recent: tuple[RunRow, ...]
    top: tuple[TreeNode, ...]
    models: tuple[dict[str, Any], ...]
    todos: tuple[dict[str, Any], ...]
    store: str
    head: str | None


@dataclass(frozen=True)
class CompareData:
    runs: tuple[RunRow, ...]
    metrics: tuple[str, ...]
    values: dict[str, dict[str, float | None]]  # run id -> metric -> value
    directions: dict[str, Direction]
    best: dict[str, tuple[str, ...]]  # metric -> run ids holding the best value
    config_keys: tuple[str, ...]  # flattened keys where at least two runs differ (filtered)
    config: dict[str, dict[str, Any]]  # run id -> flattened config
    params: dict[str, dict[str, str]]
    tables: tuple[tuple[str, tuple[TableRef, ...]], ...]  # table name -> one per run having it
    charts: tuple[Chart, ...]


_MISSING = object()


@dataclass(frozen=True)
class DiffData:
    a: RunRow
    b: RunRow
    config: tuple[tuple[str, Any, Any], ...]  # key, a, b (filtered by [info] fields)
    metrics: tuple[tuple[str, float | None, float | None, Direction, str | None], ...]
    params: tuple[tuple[str, Any, Any], ...]
    code: tuple[tuple[str, Any, Any], ...]
    tags: tuple[tuple[str, ...], tuple[str, ...]]


@dataclass(frozen=True)
class LineageData:
    root: tuple[str, str]
    root_label: str
    nodes: tuple[dict[str, Any], ...]
    edges: tuple[dict[str, Any], ...]
    depth: int
    direction: str


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
        self.config: Config = self.repo.config
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
            self._marker = browse.change_marker(self._conn)

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
    def indexer(self) -> Indexer:
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
            marker = browse.change_marker(self.conn)
            changed = marker != self._marker
            self._marker = marker
            return changed

    def changed(self) -> bool:
        """Whether the index changed (another process wrote) since the last look."""
        with self._lock:
            marker = browse.change_marker(self.conn)
            changed = marker != self._marker
            self._marker = marker
            return changed

    def direction(self, metric: str) -> Direction:
        return metric_direction(metric, self.config)

    def now(self) -> dt.datetime:
        return self.clock()

    # navigator -----------------------------------------------------------------
    def tree(self) -> list[TreeNode]:
        with self._reading() as conn:
            rows = browse.experiment_tree(conn)
        return [
            TreeNode(
                path=r["path"],
                name=r["name"],
                node_type=r["node_type"],
                depth=r["path"].count("/"),
                n_runs=r["n_runs"],
                n_total=r["n_total"],
                n_live=r["n_live"],
                id=r["id"],
            )
            for r in rows
        ]

    def runs(
        self,
        path: str = "",
        *,
        exact: bool = False,
        order: str = "newest",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RunRow]:
        with self._reading() as conn:
            rows = browse.run_rows(conn, path, exact=exact, order=order, limit=limit, offset=offset)
        return [RunRow.of(r) for r in rows]

    def runs_by_id(self, ids: Sequence[str]) -> dict[str, RunRow]:
        with self._reading() as conn:
            rows = browse.runs_by_id(conn, ids)
        return {k: RunRow.of(v) for k, v in rows.items()}

    def headline(self, ids: Sequence[str]) -> dict[str, dict[str, float | None]]:
        with self._reading() as conn:
            return browse.headline(conn, ids)

    def metric_names(self, path: str = "") -> list[str]:
        with self._reading() as conn:
            return browse.metric_names(conn, path)

    def counts(self) -> tuple[int, int]:
        """(runs, running runs), deleted ones left out."""
        with self._reading() as conn:
            over = browse.overview(conn)
        return int(over["runs"]), int(over["status"].get("running", 0))

    def search(self, text: str, limit: int = 200) -> list[RunRow]:
        """Free text (name, tags, notes, id prefix) plus ``status:``, ``tag:`` and ``exp:``
        terms, e.g. ``lr status:running exp:imagenet/``."""
        words, filters = [], {}
        names = {"status": "status", "tag": "tag", "exp": "experiment_prefix"}
        for word in text.split():
            key, sep, value = word.partition(":")
            if sep and key in names and value:
                filters[names[key]] = value
            else:
                words.append(word)
        with self._reading() as conn:
            rows = browse.search(conn, " ".join(words), filters, limit)
        return [RunRow.of(r) for r in rows]

    # one run ---------------------------------------------------------------
    def run_detail(self, run_id: str) -> RunDetail:
        with self._reading() as conn:
            info = query.run(conn, run_id)
            stats = browse.curve_summary(conn, run_id)
            data = browse.curves(conn, run_id)
        row = RunRow.of(info)
        flat = flatten_config(info["config"] or {})
        shown = {k: v for k, v in flat.items() if self._filter(k)}
        total = info.get("total_steps")
        charts = tuple(
            Chart(
                name,
                (Series(row.label, steps, values, 0),),
                total - 1 if total else None,
                self.direction(name),
            )
            for name, (steps, values) in data.items()
        )
        tables = tuple(self._table_refs(row, info["artifacts"]))
        texts = tuple(a for a in info["artifacts"] if a["kind"] == "text")
        return RunDetail(
            row=row,
            info=info,
            directions={m: self.direction(m) for m in info["metrics"]},
            config=shown,
            config_hidden=len(flat) - len(shown),
            curve_stats=stats,
            charts=charts,
            tables=tables,
            texts=texts,
            points=sum(s["points"] for s in stats.values()),
            duration=self.duration(row),
            images=self._image_refs(info["artifacts"]),
        )

    def duration(self, row: RunRow) -> float | None:
        start = parse_time(row.started_at)
        if start is None:
            return None
        end = parse_time(row.ended_at) if row.ended_at else None
        if end is None:
            end = self.now() if row.status == "running" else None
        return None if end is None else max(0.0, (end - start).total_seconds())

    def _image_refs(self, artifacts: Sequence[dict[str, Any]]) -> tuple[ImageRef, ...]:
        import json

        latest: dict[str, dict[str, Any]] = {}
        for a in artifacts:
            if a["kind"] == "image" and a.get("object_id"):
                latest[a["name"]] = a  # artifacts come ordered by name, then step
        return tuple(
            ImageRef(
                name=name,
                step=a.get("step"),
                shape=tuple(json.loads(a["shape"])) if a.get("shape") else (),
                object_id=a["object_id"],
                thumbnail=self.thumbnail(a["object_id"]),
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
    def _table_refs(row: RunRow, artifacts: Sequence[dict[str, Any]]) -> Iterator[TableRef]:
        import json

        for a in artifacts:
            if a["kind"] != "matrix" or not a.get("object_id"):
                continue
            meta = json.loads(a["metadata"]) if a.get("metadata") else None
            shape = tuple(json.loads(a["shape"])) if a.get("shape") else ()
            yield TableRef(
                run_id=row.id,
                run_label=row.label,
                name=a["name"],
                step=a.get("step"),
                shape=tuple(int(s) for s in shape),
                dtype=a.get("dtype") or "",
                object_id=a["object_id"],
                axes=(meta or {}).get("axes") if isinstance(meta, dict) else None,
            )

    def text(self, object_id: str) -> str:
        with self._lock:
            return chunking.read_bytes(self.repo.objects, from_hex(object_id)).decode(
                "utf-8", "replace"
            )

    # an experiment --------------------------------------------------------------
    def node_summary(self, path: str) -> NodeSummary:
        with self._reading() as conn:
            nodes = {n["path"]: n for n in browse.experiment_tree(conn)}
            total = browse.count_runs(conn, path)
            rows = [RunRow.of(r) for r in browse.run_rows(conn, path, limit=NODE_RUN_LIMIT)]
            heads = browse.headline(conn, [r.id for r in rows])
            names = tuple(browse.metric_names(conn, path))
            rankings = tuple(self._rankings(conn, path, names, nodes))
            todos = tuple(
                t
                for t in browse.all_todos(conn, include_done=False)
                if path
                and t["scope_type"] == "experiment"
                and t["scope_label"] is not None
                and (t["scope_label"] == path or t["scope_label"].startswith(path + "/"))
            )
            overlay = rows[:NODE_CURVE_RUNS]
            curves = {r.id: browse.curves(conn, r.id) for r in overlay}
        directions = {m: self.direction(m) for m in names}
        best = {}
        for m in names:
            vals = [
                (v, r.id)
                for r in rows
                if (v := heads[r.id].get(m)) is not None and not math.isnan(v)
            ]
            if vals:
                pick = min if directions[m] == "min" else max
                best[m] = pick(vals)[1]
        metric_order: list[str] = []
        for r in overlay:
            for m in curves[r.id]:
                if m not in metric_order:
                    metric_order.append(m)
        charts = []
        for m in metric_order[:MAX_CHARTS]:
            series = tuple(
                Series(r.label, *curves[r.id][m], i)
                for i, r in enumerate(overlay)
                if m in curves[r.id]
            )
            x_max = _pin([r.total_steps for r in overlay if m in curves[r.id]])
            charts.append(Chart(m, series, x_max, self.direction(m)))
        node = nodes.get(path)
        return NodeSummary(
            path=path,
            node=None
            if node is None
            else TreeNode(
                node["path"],
                node["name"],
                node["node_type"],
                node["path"].count("/"),
                node["n_runs"],
                node["n_total"],
                node["n_live"],
                node["id"],
            ),
            total=total,
            live=sum(1 for r in rows if r.status == "running") if node is None else node["n_live"],
            runs=tuple(rows),
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
        nodes: dict[str, dict[str, Any]],
    ) -> Iterator[Ranking]:
        """Per metric: the best runs under ``path``, and its child branches by their best run."""
        depth = 0 if not path else path.count("/") + 1
        children = [
            p for p in nodes if p.count("/") == depth and (not path or p.startswith(path + "/"))
        ]
        for m in names[:MAX_CHARTS]:
            d = self.direction(m)
            best, per_path = browse.best_values(conn, path, m, d)
            branch: dict[str, float] = {}
            for p, v in per_path:
                for c in children:
                    if p == c or p.startswith(c + "/"):
                        old = branch.get(c)
                        if old is None or (v < old if d == "min" else v > old):
                            branch[c] = float(v)
            ranked = sorted(branch.items(), key=lambda kv: kv[1], reverse=d == "max")
            yield Ranking(
                m,
                d,
                tuple((str(n), float(v)) for _, n, v in best),
                tuple((c.rsplit("/", 1)[-1], v) for c, v in ranked),
            )

    # the store -------------------------------------------------------------------
    def dashboard(self) -> Dashboard:
        with self._reading() as conn:
            over = browse.overview(conn)
            live = [RunRow.of(r) for r in browse.search(conn, "", {"status": "running"}, limit=20)]
            counts = browse.point_counts(conn, [r.id for r in live])
            recent = [RunRow.of(r) for r in browse.run_rows(conn, "", limit=8)]
            models = query.models(conn)[:5]
            todos = browse.all_todos(conn, include_done=False)[:5]
        top = tuple(n for n in self.tree() if n.depth == 0)
        head = self.repo.head()
        return Dashboard(
            overview=over,
            live=tuple((r, counts.get(r.id, 0)) for r in live),
            recent=tuple(recent),
            top=top,
            models=tuple(models),
            todos=tuple(todos),
            store=self.shown_root(),
            head=None if head is None else head.hex(),
        )

    # compare and diff -------------------------------------------------------------
    def compare(self, run_ids: Sequence[str]) -> CompareData:
        if len(run_ids) < 2:
            raise InvalidInput(f"compare needs at least 2 runs (got {len(run_ids)})")
        with self._reading() as conn:
            infos = [query.run(conn, rid) for rid in run_ids]
            curves = {rid: browse.curves(conn, rid) for rid in run_ids}
        rows = tuple(RunRow.of(i) for i in infos)
        metrics: list[str] = []
        for i in infos:
            metrics.extend(m for m in i["metrics"] if m not in metrics)
        values = {
            i["id"]: {
                m: (None if (v := i["metrics"].get(m)) is None or math.isnan(v) else v)
                for m in metrics
            }
            for i in infos
        }
        directions = {m: self.direction(m) for m in metrics}
        best: dict[str, tuple[str, ...]] = {}
        for m in metrics:
            have = [(v, rid) for rid, vals in values.items() if (v := vals.get(m)) is not None]
            if have:
                target = (min if directions[m] == "min" else max)(v for v, _ in have)
                best[m] = tuple(rid for v, rid in have if v == target)
        flat = {i["id"]: flatten_config(i["config"] or {}) for i in infos}
        keys: list[str] = []
        for f in flat.values():
            keys.extend(k for k in f if k not in keys)
        differ = tuple(
            k
            for k in keys
            if self._filter(k) and len({_key(f.get(k, _MISSING)) for f in flat.values()}) > 1
        )
        tables: dict[str, list[TableRef]] = {}
        for row, i in zip(rows, infos, strict=True):
            for t in self._table_refs(row, i["artifacts"]):
                tables.setdefault(t.name, [])
                if all(x.run_id != row.id for x in tables[t.name]):
                    tables[t.name].append(t)
        curve_names: list[str] = []
        for rid in run_ids:
            curve_names.extend(m for m in curves[rid] if m not in curve_names)
        charts = []
        for m in curve_names:
            series = tuple(
                Series(row.label, *curves[row.id][m], slot)
                for slot, row in enumerate(rows)
                if m in curves[row.id]
            )
            x_max = _pin([row.total_steps for row in rows if m in curves[row.id]])
            charts.append(Chart(m, series, x_max, self.direction(m)))
        return CompareData(
            runs=rows,
            metrics=tuple(metrics),
            values=values,
            directions=directions,
            best=best,
            config_keys=differ,
            config=flat,
            params={i["id"]: dict(i["params"]) for i in infos},
            tables=tuple((name, tuple(refs)) for name, refs in tables.items()),
            charts=tuple(charts),
        )

    def diff(self, a_id: str, b_id: str) -> DiffData:
        with self._reading() as conn:
            a = query.run(conn, a_id)
            b = query.run(conn, b_id)
        fa, fb = flatten_config(a["config"] or {}), flatten_config(b["config"] or {})
        keys = list(fa) + [k for k in fb if k not in fa]
        config = tuple(
            (k, fa.get(k, _MISSING), fb.get(k, _MISSING))
            for k in keys
            if self._filter(k) and _key(fa.get(k, _MISSING)) != _key(fb.get(k, _MISSING))
        )
        metrics = []
        for m in sorted(set(a["metrics"]) | set(b["metrics"])):
            va, vb = _num(a["metrics"].get(m)), _num(b["metrics"].get(m))
            d = self.direction(m)
            better = None
            if va is not None and vb is not None and va != vb:
                better = "b" if (vb < va) == (d == "min") else "a"
            metrics.append((m, va, vb, d, better))
        params = tuple(
            (k, a["params"].get(k), b["params"].get(k))
            for k in sorted(set(a["params"]) | set(b["params"]))
            if a["params"].get(k) != b["params"].get(k)
        )
        code = tuple(
            (k, a.get(k), b.get(k))
            for k in (
                "git_sha",
                "git_branch",
                "git_dirty",
                "git_stamp",
                "git_tree",
                "git_diff_id",
                "hostname",
            )
            if a.get(k) != b.get(k)
        )
        return DiffData(
            a=RunRow.of(a),
            b=RunRow.of(b),
            config=config,
            metrics=tuple(metrics),
            params=params,
            code=code,
            tags=(tuple(a["tags"]), tuple(b["tags"])),
        )

    # registry, lineage, todos ---------------------------------------------------
    def models(self) -> list[dict[str, Any]]:
        with self._reading() as conn:
            rows = query.models(conn)
            labels = browse.runs_by_id(conn, [r["run_id"] for r in rows if r.get("run_id")])
        for r in rows:
            run = labels.get(r.get("run_id") or "")
            r["run_label"] = None if run is None else RunRow.of(run).full_label
        return rows

    def lineage(
        self, node_type: str, node_id: str, depth: int = 2, direction: str = "both"
    ) -> LineageData:
        with self._reading() as conn:
            g = browse.lineage(conn, node_type, node_id, direction, depth)
            label = browse.node_label(conn, node_type, node_id) or f"{node_type}:{node_id}"
        return LineageData(
            root=(node_type, node_id),
            root_label=label,
            nodes=tuple(g["nodes"]),
            edges=tuple(g["edges"]),
            depth=depth,
            direction=direction,
        )

    def todos(self, include_done: bool = True) -> list[dict[str, Any]]:
        with self._reading() as conn:
            return browse.all_todos(conn, include_done)

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


def _key(value: Any) -> str:
    """A comparable form of a config value (lists and dicts included)."""
    if value is _MISSING:
        return "\x00missing"
    return repr(value)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    v = float(value)
    return None if math.isnan(v) else v


def missing(value: Any) -> bool:
    return value is _MISSING
