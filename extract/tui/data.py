"""What the TUI core hands to the screens, besides the read layer's own values.

Plain frozen dataclasses (a chart and its series, a table reference and a visible
window of it, and what the run, experiment, store, compare and diff panels show),
the limits the core reads with, and the small parsers the screens share (a
timestamp, a column name, the search box's ``status:``/``tag:``/``exp:`` terms).
Nothing here reads the store; ``panels`` and ``core`` fill these in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from extract.index import models, read
from extract.index.models import (
    Artifact,
    Change,
    Column,
    Comparison,
    CurveStats,
    Direction,
    ExperimentNode,
    ModelVersion,
    Overview,
    RunDiff,
    RunRow,
    Todo,
)

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


@dataclass(frozen=True)
class Chart:
    """One metric's chart: its lines and the x range to pin, if the runs declared one."""

    metric: str
    series: tuple[Series, ...]
    x_max: int | None  # total_steps - 1 when declared
    direction: Direction = "max"


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
