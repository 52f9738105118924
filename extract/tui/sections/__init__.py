"""What each part of the detail panel, compare and diff views draws: rich renderables.

Pure functions of the core's data (and the [theme] colours); the widgets only
place them. Renderables that depend on the space they get (charts, side-by-side
tables) measure it when drawn, so a resize needs no reload.

One module per view: ``common`` (headings, cells, charts), ``run`` (a run's Summary),
``node`` (an experiment's Summary), ``compare`` (compare and diff), ``dashboard``.
The widgets call them as ``sections.<name>``, re-exported here.
"""

from __future__ import annotations

from .common import ARROW, Charts, heading, status, todo_text
from .compare import (
    SideBySide,
    compare_curves_section,
    compare_tables_section,
    config_section,
    diff_view,
    pivot_section,
)
from .dashboard import dashboard_view
from .node import NodeRuns, node_info_section, node_runs_section, rankings_section
from .run import Preview, curves_section, info_section, metrics_section, run_section, tables_section

__all__ = [
    "ARROW",
    "Charts",
    "NodeRuns",
    "Preview",
    "SideBySide",
    "compare_curves_section",
    "compare_tables_section",
    "config_section",
    "curves_section",
    "dashboard_view",
    "diff_view",
    "heading",
    "info_section",
    "metrics_section",
    "node_info_section",
    "node_runs_section",
    "pivot_section",
    "rankings_section",
    "run_section",
    "status",
    "tables_section",
    "todo_text",
]
