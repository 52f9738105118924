"""The one read layer: every question the CLI, TUI, MCP server, SDK and browser UI ask of
the index, answered once, as the typed values of ``extract.index.models``.

Every function takes a connection: a reader from ``index.access.Index.reader()`` (which
cannot write, attach or change the schema). Nothing here writes. Front ends format what
comes back and never write SQL of their own, so the same question gets the same answer
from each of them (``tests/test_consistency.py`` asks them all).

=================  =====================================================================
runs               ``resolve_run`` (id, unique id prefix, name), ``list_runs`` (scope,
                   search, filters, order, paging), ``get_run``, ``runs_by_id``,
                   ``headline``, ``metric_names``, ``status_counts``, ``runs_by_state``,
                   ``artifacts``
table              ``runs_table``: chosen metric, config and param columns, sorted and
                   filtered in SQL; ``table_columns`` (with ``config_keys``,
                   ``param_names``): the columns it can show for an experiment
experiments        ``experiment_tree``, ``list_experiments``, ``get_experiment``
curves             ``curve``, ``curves`` (whole or downsampled), ``curve_stats``,
                   ``point_counts``
compare            ``compare``, ``diff``, ``rank``, ``better``, ``same_value``, ``leaders``
lineage            ``lineage``: one breadth-first walk
todos, registry    ``list_todos``; ``list_models``, ``get_model``
sql                ``run_sql``: read-only, bounded rows and time, stoppable
overview           ``overview``, ``change_marker``, ``commits``, ``skipped_count``
=================  =====================================================================
"""

from extract.index.read._artifacts import artifacts
from extract.index.read._columns import config_keys, param_names, table_columns
from extract.index.read._common import config_summary, flatten_config, shown
from extract.index.read._compare import (
    CODE_FIELDS,
    best_of,
    better,
    compare,
    diff,
    leaders,
    rank,
    same_value,
    value_key,
)
from extract.index.read._curves import (
    curve,
    curve_names,
    curve_stats,
    curves,
    point_counts,
    run_key,
)
from extract.index.read._experiments import experiment_tree, get_experiment, list_experiments
from extract.index.read._labels import NODE_TYPES, labels
from extract.index.read._lineage import DIRECTIONS, MAX_DEPTH, check_lineage_args, lineage
from extract.index.read._overview import (
    change_marker,
    commits,
    overview,
    skipped,
    skipped_count,
    total_points,
)
from extract.index.read._registry import get_model, list_models
from extract.index.read._runs import (
    FILTERS,
    ORDERS,
    check_filters,
    get_run,
    headline,
    list_runs,
    metric_names,
    resolve_run,
    runs_by_id,
    runs_by_state,
    runs_in_commit,
    status_counts,
)
from extract.index.read._sql import DEFAULT_SECONDS, CtrlC, run_sql
from extract.index.read._table import cell_text, column, parse_filter, runs_table
from extract.index.read._todos import SCOPE_TYPES, list_todos, resolve_todo

__all__ = [
    "CODE_FIELDS",
    "DEFAULT_SECONDS",
    "DIRECTIONS",
    "FILTERS",
    "MAX_DEPTH",
    "NODE_TYPES",
    "ORDERS",
    "SCOPE_TYPES",
    "CtrlC",
    "artifacts",
    "best_of",
    "better",
    "cell_text",
    "change_marker",
    "check_filters",
    "check_lineage_args",
    "column",
    "commits",
    "compare",
    "config_keys",
    "config_summary",
    "curve",
    "curve_names",
    "curve_stats",
    "curves",
    "diff",
    "experiment_tree",
    "flatten_config",
    "get_experiment",
    "get_model",
    "get_run",
    "headline",
    "labels",
    "leaders",
    "lineage",
    "list_experiments",
    "list_models",
    "list_runs",
    "list_todos",
    "metric_names",
    "overview",
    "param_names",
    "parse_filter",
    "point_counts",
    "rank",
    "resolve_run",
    "resolve_todo",
    "run_key",
    "run_sql",
    "runs_by_id",
    "runs_by_state",
    "runs_in_commit",
    "runs_table",
    "same_value",
    "shown",
    "skipped",
    "skipped_count",
    "status_counts",
    "table_columns",
    "total_points",
    "value_key",
]
