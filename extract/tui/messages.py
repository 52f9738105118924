"""Messages between workers, widgets and screens: small dataclasses.

Workers (threads) finish by posting one of the ``...Loaded`` messages to the
widget that asked; user intents (go to a run, marks changed) bubble up to the
main screen, which routes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from extract.index.models import ExperimentNode, LineageGraph, RunRow, RunTable
from extract.tui.data import (
    CompareData,
    Dashboard,
    DiffData,
    NodeSummary,
    RunDetail,
    TableWindow,
)


@dataclass
class StoreChanged(Message):
    """The index changed (a refresh found new points, runs, events or commits)."""


@dataclass
class MarksChanged(Message):
    """Runs were marked or unmarked."""


@dataclass
class GoToRun(Message):
    """Show this run in the Runs view (navigator and detail)."""

    run_id: str


@dataclass
class NodeFocused(Message):
    """The navigator's cursor is on a run (``kind`` "run") or an experiment ("node")."""

    kind: str
    key: str


@dataclass
class TreeLoaded(Message):
    nodes: list[ExperimentNode]


@dataclass
class RunsLoaded(Message):
    path: str
    rows: list[RunRow]
    reveal: str | None = None


@dataclass
class DetailLoaded(Message):
    key: str
    data: RunDetail | NodeSummary


@dataclass
class DashboardLoaded(Message):
    data: Dashboard


@dataclass
class RowsLoaded(Message):
    """Rows for a list (search results, picker, browser, models, TODOs)."""

    token: str
    rows: list[Any]


@dataclass
class TablePageLoaded(Message):
    """One page of the run browser's table (``read.runs_table``), for the request ``token``."""

    token: object
    offset: int
    table: RunTable


@dataclass
class CompareLoaded(Message):
    data: CompareData


@dataclass
class DiffLoaded(Message):
    data: DiffData


@dataclass
class LineageLoaded(Message):
    data: LineageGraph


@dataclass
class TableLoaded(Message):
    window: TableWindow


@dataclass
class Failed(Message):
    """A worker failed; the text is shown as an error notification."""

    text: str
