"""The tools as plain functions: a StoreView and arguments in, a typed model out.

Each checks what only the MCP contract defines (limits and the hard cap,
compare_runs' run count), asks the shared read-only layer
(``extract.index.explore``) and turns its dicts into models, naming non-finite
numbers on the way. Bad input raises ``InvalidInput`` (an ``ExtractError``)
whose message is exactly what the agent should read; ``server`` delivers it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from extract.errors import InvalidInput
from extract.index import explore
from extract.index import query as queries
from extract.index.explore import shown
from extract.mcp.encode import jsonable, num, opt_num
from extract.mcp.models import (
    Artifact,
    Comparison,
    ConfigSummary,
    CurveInfo,
    CurveStats,
    Experiment,
    ExperimentList,
    Lineage,
    LineageEdge,
    LineageNode,
    MetricComparison,
    Model,
    ModelList,
    RunDetail,
    RunItem,
    RunList,
    SqlResult,
    Todo,
    TodoList,
)
from extract.mcp.view import StoreView

#: Listing tools return at most this many items; a larger limit is lowered, not refused.
HARD_LIMIT = 500
DEFAULT_LIMIT = 50
MIN_COMPARE, MAX_COMPARE = 2, 10
DEFAULT_MAX_POINTS, MAX_POINTS = 200, 5000
#: An agent's SQL query is stopped after this long.
SQL_SECONDS = 5.0


def clamp_limit(limit: int) -> tuple[int, bool]:
    """(limit to apply, whether it was lowered to the hard cap). Negative is an error."""
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidInput(f"limit must be an integer (got {shown(limit)})")
    if limit < 0:
        raise InvalidInput(f"limit must be 0 or more (got {shown(limit)})")
    if limit > HARD_LIMIT:
        return HARD_LIMIT, True
    return limit, False


def _page(total: int, n_items: int, limit: int, clamped: bool) -> dict[str, Any]:
    return {"total": total, "truncated": n_items < total, "limit": limit, "limit_clamped": clamped}


def _run_item(row: Mapping[str, Any]) -> RunItem:
    return RunItem(
        id=row["id"],
        label=row["label"],
        experiment_id=row["experiment_id"],
        experiment_path=row["experiment_path"],
        name=row["name"],
        status=row["status"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        tags=list(row["tags"]),
        git_sha=row["git_sha"],
        hostname=row["hostname"],
        config_summary=ConfigSummary(**row["config_summary"]),
    )


def _model(row: Mapping[str, Any]) -> Model:
    return Model(
        id=row["id"],
        name=row["name"],
        version=row["version"],
        run_id=row["run_id"],
        framework=row["framework"],
        artifact_path=row["artifact_path"],
        metadata=jsonable(row["metadata"]) if isinstance(row["metadata"], dict) else None,
        created_at=row["created_at"],
        object_id=row["object_id"],
        content_id=row["content_id"],
        size=row["size"],
    )


def _todo(row: Mapping[str, Any]) -> Todo:
    return Todo(**{k: row[k] for k in Todo.model_fields})


# the eight tools of the reference -------------------------------------------------------


def list_experiments(
    view: StoreView, prefix: str = "", limit: int = DEFAULT_LIMIT
) -> ExperimentList:
    lim, clamped = clamp_limit(limit)
    with view.reading() as conn:
        rows, total = explore.experiments(conn, prefix, lim)
    return ExperimentList(
        items=[Experiment(**{k: r[k] for k in Experiment.model_fields}) for r in rows],
        **_page(total, len(rows), lim, clamped),
    )


def list_runs(
    view: StoreView, experiment_id: str | None = None, limit: int = DEFAULT_LIMIT
) -> RunList:
    lim, clamped = clamp_limit(limit)
    with view.reading() as conn:
        rows, total = explore.runs(conn, experiment_id=experiment_id, limit=lim)
    return RunList(items=[_run_item(r) for r in rows], **_page(total, len(rows), lim, clamped))


def search(
    view: StoreView,
    query: str = "",
    filters: Mapping[str, Any] | None = None,
    limit: int = DEFAULT_LIMIT,
) -> RunList:
    lim, clamped = clamp_limit(limit)
    with view.reading() as conn:
        rows, total = explore.runs(conn, query=query, filters=filters, limit=lim)
    return RunList(items=[_run_item(r) for r in rows], **_page(total, len(rows), lim, clamped))


def get_run(view: StoreView, run_id: str) -> RunDetail:
    with view.reading() as conn:
        d = explore.run_detail(conn, run_id, view.repo.objects)
    return RunDetail(
        **{
            k: d[k]
            for k in (
                "id",
                "experiment_id",
                "experiment_path",
                "name",
                "label",
                "status",
                "started_at",
                "ended_at",
                "hostname",
                "git_sha",
                "tags",
                "notes",
                "metrics_available",
                "run_params",
                "total_steps",
                "live",
                "deleted",
                "object_id",
                "commit_id",
                "git_stamp",
                "git_branch",
                "git_dirty",
                "git_tree",
                "git_diff_id",
            )
        },
        config=jsonable(d["config"]) if isinstance(d["config"], dict) else None,
        metrics_final={k: num(v) for k, v in d["metrics_final"].items()},
        artifacts=[
            Artifact(
                **{k: a[k] for k in Artifact.model_fields if k not in ("metadata", "shape")},
                shape=a["shape"] if isinstance(a["shape"], list) else None,
                metadata=jsonable(a["metadata"]) if isinstance(a["metadata"], dict) else None,
            )
            for a in d["artifacts"]
        ],
        todos=[_todo(t) for t in d["todos"]],
        curves={
            name: CurveStats(
                points=c["points"],
                first_step=c["first_step"],
                last_step=c["last_step"],
                last_value=num(c["last_value"]),
                min=opt_num(c["min"]),
                max=opt_num(c["max"]),
                nan=c["nan"],
            )
            for name, c in d["curves"].items()
        },
        models=[_model(m) for m in d["models"]],
    )


def compare_runs(
    view: StoreView,
    run_ids: Sequence[str],
    include_curves: bool = False,
    curve_names: Sequence[str] | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> Comparison:
    n = len(run_ids)
    if n < MIN_COMPARE:
        raise InvalidInput(f"compare_runs requires at least {MIN_COMPARE} run_ids (got {n})")
    if n > MAX_COMPARE:
        raise InvalidInput(f"compare_runs accepts at most {MAX_COMPARE} run_ids (got {n})")
    seen: set[str] = set()
    for rid in run_ids:
        if rid.strip().upper() in seen:
            raise InvalidInput(f"compare_runs got the same run_id twice: {shown(rid)}")
        seen.add(rid.strip().upper())
    if isinstance(max_points, bool) or not 2 <= max_points <= MAX_POINTS:
        raise InvalidInput(
            f"max_points must be between 2 and {MAX_POINTS} (got {shown(max_points)})"
        )
    with view.reading() as conn:
        c = explore.compare(
            conn,
            run_ids,
            view.config,
            include_curves=include_curves,
            curve_names=curve_names,
            max_points=max_points,
            odb=view.repo.objects,
        )
    curves = c.get("curves")
    info = c.get("curves_info")
    return Comparison(
        runs=[_run_item(r) for r in c["runs"]],
        metrics={
            name: MetricComparison(
                direction=m["direction"],
                values={rid: opt_num(v) for rid, v in m["values"].items()},
                ranking=m["ranking"],
            )
            for name, m in c["metrics"].items()
        },
        config_diffs=jsonable(c["config_diffs"]),
        curves=None
        if curves is None
        else {
            name: {rid: [(int(s), num(v)) for s, v in pts] for rid, pts in per_run.items()}
            for name, per_run in curves.items()
        },
        curves_info=None
        if info is None
        else {
            name: {rid: CurveInfo(**i) for rid, i in per_run.items()}
            for name, per_run in info.items()
        },
    )


def list_todos(
    view: StoreView,
    scope_type: str = "global",
    scope_id: str | None = None,
    include_done: bool = False,
    limit: int = DEFAULT_LIMIT,
) -> TodoList:
    lim, clamped = clamp_limit(limit)
    with view.reading() as conn:
        rows, total = explore.todos(
            conn, scope_type, scope_id, include_done=include_done, limit=lim
        )
    return TodoList(items=[_todo(r) for r in rows], **_page(total, len(rows), lim, clamped))


def get_lineage(
    view: StoreView, node_type: str, node_id: str, direction: str = "both", depth: int = 2
) -> Lineage:
    with view.reading() as conn:
        g = explore.lineage(conn, node_type, node_id, direction, depth)
    nodes = [LineageNode(**n) for n in g["nodes"]]
    return Lineage(
        root=nodes[0],
        nodes=nodes,
        edges=[LineageEdge(**e) for e in g["edges"]],
        direction=g["direction"],
        depth=g["depth"],
        truncated=g["truncated"],
    )


def list_models(view: StoreView, name_prefix: str = "", limit: int = DEFAULT_LIMIT) -> ModelList:
    lim, clamped = clamp_limit(limit)
    with view.reading() as conn:
        rows, total = explore.models(conn, name_prefix, limit=lim)
    return ModelList(items=[_model(r) for r in rows], **_page(total, len(rows), lim, clamped))


# beyond the reference --------------------------------------------------------------------


def sql(view: StoreView, query: str, limit: int = DEFAULT_LIMIT) -> SqlResult:
    lim, clamped = clamp_limit(limit)
    if not query.strip():
        raise InvalidInput("query is empty: give one SELECT (or WITH ... SELECT) statement")
    with view.reading() as conn:
        cols, rows, more = queries.sql_page(conn, query, lim, SQL_SECONDS)
    return SqlResult(
        columns=cols,
        rows=[jsonable(list(r)) for r in rows],
        truncated=more,
        limit=lim,
        limit_clamped=clamped,
    )
