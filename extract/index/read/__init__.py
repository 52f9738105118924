"""The one read layer: every question the CLI, TUI, MCP server, SDK and browser UI ask of
the index, answered once, as the typed values of ``extract.index.models``.

Every function takes a connection: a reader from ``index.access.Index.reader()`` (which
cannot write, attach or change the schema). Nothing here writes. Front ends format what
comes back and never write SQL of their own, so the same question gets the same answer
from each of them (``tests/test_consistency.py`` asks them all). The names below are the
whole interface (``X as X`` marks a re-export); the private modules hold the rules.
"""

from extract.index.read._common import config_summary as config_summary
from extract.index.read._common import flatten_config as flatten_config
from extract.index.read._common import shown as shown
from extract.index.read._compare import best_of as best_of
from extract.index.read._compare import compare as compare
from extract.index.read._compare import diff as diff
from extract.index.read._compare import leaders as leaders
from extract.index.read._compare import rank as rank
from extract.index.read._curves import curve as curve
from extract.index.read._curves import curve_names as curve_names
from extract.index.read._curves import curves as curves
from extract.index.read._curves import point_counts as point_counts
from extract.index.read._curves import single_record as single_record
from extract.index.read._experiments import experiment_tree as experiment_tree
from extract.index.read._experiments import get_experiment as get_experiment
from extract.index.read._experiments import list_experiments as list_experiments
from extract.index.read._groups import get_group as get_group
from extract.index.read._groups import group_of as group_of
from extract.index.read._groups import list_groups as list_groups
from extract.index.read._lineage import MAX_DEPTH as MAX_DEPTH
from extract.index.read._lineage import lineage as lineage
from extract.index.read._overview import change_marker as change_marker
from extract.index.read._overview import overview as overview
from extract.index.read._overview import skipped as skipped
from extract.index.read._overview import skipped_count as skipped_count
from extract.index.read._overview import total_points as total_points
from extract.index.read._registry import get_model as get_model
from extract.index.read._registry import list_models as list_models
from extract.index.read._runs import artifacts as artifacts
from extract.index.read._runs import get_run as get_run
from extract.index.read._runs import headline as headline
from extract.index.read._runs import list_runs as list_runs
from extract.index.read._runs import metric_names as metric_names
from extract.index.read._runs import pick_artifact as pick_artifact
from extract.index.read._runs import resolve_run as resolve_run
from extract.index.read._runs import status_counts as status_counts
from extract.index.read._sql import DEFAULT_SECONDS as DEFAULT_SECONDS
from extract.index.read._sql import CtrlC as CtrlC
from extract.index.read._sql import run_sql as run_sql
from extract.index.read._table import cell_text as cell_text
from extract.index.read._table import column as column
from extract.index.read._table import runs_table as runs_table
from extract.index.read._table import table_columns as table_columns
from extract.index.read._targets import resolve_targets as resolve_targets
from extract.index.read._todos import list_todos as list_todos
from extract.index.read._todos import resolve_todo as resolve_todo
