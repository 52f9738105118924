"""What the read layer answers with: typed, frozen values, the same for every front end.

The CLI, the TUI, the MCP server, the SDK and the browser UI all receive these from
``extract.index.read`` and only format them. A value that the index holds as NULL
because it was NaN (SQLite keeps NaN as NULL) comes back as ``float("nan")``; a value
that is not there at all is ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

if TYPE_CHECKING:  # arrays only in annotations: listing runs never loads numpy
    import numpy as np

T = TypeVar("T")
Direction = Literal["min", "max"]
Side = Literal["root", "ancestor", "descendant"]
#: Run states as the index knows them.
STATUSES = ("running", "completed", "failed")


class _Absent:
    """A config key or param one run has and the other lacks (not the same as None)."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()


def run_label(experiment_path: str, name: str | None, run_id: str) -> str:
    """``path#name``, as the reference documents label runs; the id when unnamed."""
    return f"{experiment_path}#{name if name else run_id}"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a longer list: the items and how many there are in all."""

    items: tuple[T, ...]
    total: int

    @property
    def truncated(self) -> bool:
        return len(self.items) < self.total


@dataclass(frozen=True)
class ExperimentNode:
    """A node of the experiment hierarchy with its run counts (deleted runs left out)."""

    id: str
    path: str
    name: str
    node_type: str | None
    parent_id: str | None
    created_at: str | None
    status: str | None
    n_runs: int  # directly in this node
    n_total: int  # in this node and below
    n_live: int  # running, in this node and below

    @property
    def depth(self) -> int:
        return self.path.count("/")


@dataclass(frozen=True)
class ConfigSummary:
    n_keys: int  # flattened (dotted) keys: the leaves
    top_level_keys: tuple[str, ...]


@dataclass(frozen=True)
class Code:
    """Code provenance of a run."""

    git_sha: str | None
    git_branch: str | None
    git_dirty: bool | None
    git_tree: str | None
    git_diff_id: str | None
    git_stamp: str | None


@dataclass(frozen=True)
class RunRow:
    """A run as a list shows it. ``config``, ``notes`` and ``code`` are None unless the
    caller asked for full rows (a list of 10,000 runs should not carry every config)."""

    id: str
    name: str | None
    experiment_id: str
    experiment_path: str
    status: str
    started_at: str | None
    ended_at: str | None
    tags: tuple[str, ...]
    total_steps: int | None
    object_id: str | None  # the sealed run record; None while the run is live
    commit_id: str | None  # the commit that added it; None until committed
    deleted: bool
    git_sha: str | None
    hostname: str | None
    config: Mapping[str, Any] | None = None
    notes: str | None = None
    code: Code | None = None

    @property
    def live(self) -> bool:
        """Still being written: not sealed, and its process holds the journal lock (the
        index marks a run whose process died as failed)."""
        return self.object_id is None and self.status == "running"

    @property
    def label(self) -> str:
        """``path#name`` (the reference's run label)."""
        return run_label(self.experiment_path, self.name, self.id)

    @property
    def short(self) -> str:
        """The name, or the start of the id, for narrow columns."""
        return self.name or self.id[:10]


@dataclass(frozen=True)
class Artifact:
    id: str
    name: str
    kind: str  # "matrix", "text", "image", ...
    step: int | None
    shape: tuple[int, ...] | None
    dtype: str | None
    metadata: Mapping[str, Any] | None
    created_at: str | None
    object_id: str | None
    rel_path: str | None


@dataclass(frozen=True)
class CurveStats:
    """A curve summarised: min and max leave NaN out; None where not computed."""

    points: int
    first_step: int
    last_step: int
    last_value: float
    min: float | None
    max: float | None
    nan: int | None


@dataclass(frozen=True)
class CurvePoints:
    """One curve's points (all, or downsampled), NaN where NaN was logged."""

    name: str
    steps: np.ndarray[Any, np.dtype[np.int64]]
    values: np.ndarray[Any, np.dtype[np.float64]]
    total: int  # points the curve holds; more than ``len(steps)`` when downsampled
    wall_times: np.ndarray[Any, np.dtype[np.float64]] | None = None  # whole curves and envelopes


@dataclass(frozen=True)
class Todo:
    id: str
    scope_type: str  # "global", "experiment", "run"
    scope_id: str | None
    scope_label: str | None  # the experiment path or run label it belongs to
    content: str
    done: bool
    priority: int
    created_at: str
    completed_at: str | None


@dataclass(frozen=True)
class ModelVersion:
    id: str
    name: str
    version: str
    run_id: str | None
    run_label: str | None
    framework: str | None
    artifact_path: str | None
    metadata: Mapping[str, Any] | None
    created_at: str | None
    object_id: str
    content_id: str | None
    size: int | None
    commit_id: str | None

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class LineageRef:
    """A parent this run records: ``derived_from`` / ``branched_from`` a run, model or
    experiment, named by ``label`` (``name@version`` for a model even if unknown here)."""

    parent_type: str
    parent_id: str
    relation: str
    created_at: str | None
    label: str
    found: bool


@dataclass(frozen=True)
class Continuation:
    """One time the run was resumed (``exp.run(..., resume=RUN_ID)``): a segment of it."""

    id: str  # the segment's ULID
    started_at: str | None
    ended_at: str | None
    status: str | None
    hostname: str | None
    commit_id: str | None  # None until committed


@dataclass(frozen=True)
class GroupMember:
    """One run of a job's group: its rank (None where none was recorded)."""

    run_id: str
    name: str | None
    rank: int | None
    status: str
    live: bool


@dataclass(frozen=True)
class RunGroup:
    """The runs of one distributed job, as the SDK records it: the runs' params
    ``group``, ``rank`` and ``world_size`` (extract/sdk/jobs.py)."""

    name: str
    world_size: int | None  # what the ranks said; None if they disagree or did not say
    experiment_paths: tuple[str, ...]
    members: tuple[GroupMember, ...]  # by rank, then run id; deleted runs left out
    started_at: str | None  # the earliest member's


@dataclass(frozen=True)
class RunDetail:
    """Everything the index knows about one run; its curves summarised, not their points."""

    run: RunRow
    config: Mapping[str, Any] | None
    notes: str
    metrics: Mapping[str, float]  # headline values; NaN where NaN was logged
    params: Mapping[str, str]
    artifacts: tuple[Artifact, ...]
    curves: Mapping[str, CurveStats]
    todos: tuple[Todo, ...]
    models: tuple[ModelVersion, ...]
    lineage: tuple[LineageRef, ...]
    code: Code
    group: RunGroup | None = None  # the job the run is a rank of, if any
    continuations: tuple[Continuation, ...] = ()  # each resume, oldest first

    @property
    def id(self) -> str:
        return self.run.id


@dataclass(frozen=True)
class MetricComparison:
    name: str
    direction: Direction
    values: Mapping[str, float | None]  # run id -> value (NaN kept; None: the run lacks it)
    ranking: tuple[str, ...]  # run ids best to worst; NaN last, runs without it left out
    best: tuple[str, ...]  # run ids holding the best value


@dataclass(frozen=True)
class CurveComparison:
    """One curve of every compared run that has it, each downsampled to ``max_points``."""

    name: str
    points: Mapping[str, CurvePoints]  # run id -> points


@dataclass(frozen=True)
class Comparison:
    runs: tuple[RunRow, ...]
    metrics: tuple[MetricComparison, ...]
    config: Mapping[str, Mapping[str, Any]]  # run id -> flattened config
    config_diffs: tuple[str, ...]  # flattened keys where at least two runs differ
    params: Mapping[str, Mapping[str, str]]
    param_diffs: tuple[str, ...]
    curves: tuple[CurveComparison, ...] | None = None
    max_points: int | None = None  # the per-curve bound the curves were downsampled to
    curve_budget: int | None = None  # the total bound it was derived from, if any

    def metric(self, name: str) -> MetricComparison:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(name)


@dataclass(frozen=True)
class Change:
    """A key whose value differs between two runs; ``ABSENT`` where one lacks it."""

    key: str
    a: Any
    b: Any


@dataclass(frozen=True)
class MetricChange:
    name: str
    a: float | None
    b: float | None
    direction: Direction
    better: Literal["a", "b"] | None  # None: equal, or one side lacks a finite value


@dataclass(frozen=True)
class RunDiff:
    a: RunRow
    b: RunRow
    config: tuple[Change, ...]
    metrics: tuple[MetricChange, ...]
    params: tuple[Change, ...]
    code: tuple[Change, ...]
    tags: tuple[tuple[str, ...], tuple[str, ...]]


@dataclass(frozen=True)
class LineageNode:
    type: str  # "run", "model", "experiment"
    id: str
    label: str
    distance: int
    side: Side
    found: bool  # whether this store knows it (a parent may live elsewhere)

    @property
    def level(self) -> int:
        """Signed distance: negative for ancestors."""
        return -self.distance if self.side == "ancestor" else self.distance


@dataclass(frozen=True)
class LineageEdge:
    parent_type: str
    parent_id: str
    child_type: str
    child_id: str
    relation: str


@dataclass(frozen=True)
class LineageGraph:
    root: LineageNode
    nodes: tuple[LineageNode, ...]
    edges: tuple[LineageEdge, ...]
    direction: str
    depth: int
    truncated: bool


@dataclass(frozen=True)
class StatusCounts:
    live: int
    uncommitted: int
    committed: int
    crashed: int = 0  # their process died; sealed by the next writing command


@dataclass(frozen=True)
class Overview:
    """Counts for a dashboard."""

    runs: int
    by_status: Mapping[str, int]
    experiments: int
    models: int
    todos_open: int
    todos: int
    commits: int
    deleted: int
    uncommitted: int
    skipped: int


@dataclass(frozen=True)
class SqlResult:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool


@dataclass(frozen=True)
class Column:
    """A column of a runs table: a headline metric, a config key or a param."""

    kind: Literal["field", "metric", "config", "param"]
    name: str  # as the user names it: "val_acc", "config.opt.lr", "param.arch", "status"


@dataclass(frozen=True)
class RunTable:
    """Runs with chosen columns, sorted and filtered in SQL, one page of them."""

    columns: tuple[Column, ...]
    rows: tuple[RunRow, ...]
    values: tuple[tuple[Any, ...], ...]  # one tuple per row, one value per column
    total: int
    sort: str | None
    descending: bool
    directions: Mapping[str, Direction] = field(default_factory=dict)
    best: Mapping[str, str] = field(default_factory=dict)  # metric column -> best run id
