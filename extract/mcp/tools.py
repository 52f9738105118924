"""The tools as plain functions: a StoreView and arguments in, a typed model out.

Each checks what only the MCP contract defines (limits and the hard cap,
compare_runs' run count), asks the shared read-only layer
(``extract.index.read``) and turns its dicts into models, naming non-finite
numbers on the way. Bad input raises ``InvalidInput`` (an ``ExtractError``)
whose message is exactly what the agent should read; ``server`` delivers it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from extract.errors import InvalidInput
from extract.index import models, read
from extract.index.read import shown
from extract.mcp.encode import jsonable, num, opt_num
from extract.mcp.models import (
    Artifact,
    Comparison,
    ConfigSummary,
    Continuation,
    CurveInfo,
    CurveStats,
    Experiment,
    ExperimentList,
    Group,
    GroupMember,
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
#: Curve points compare_runs returns in all: more runs or curves mean coarser curves (the
#: result says the per-curve bound it used), so 8 runs x 15 curves stay a few tens of KB.
CURVE_BUDGET = 8000
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


def _run_item(row: models.RunRow) -> RunItem:
    summary = read.config_summary(row.config)
    return RunItem(
        id=row.id,
        label=row.label,
        experiment_id=row.experiment_id,
        experiment_path=row.experiment_path,
        name=row.name,
        status=row.status,
        started_at=row.started_at,
        ended_at=row.ended_at,
        tags=list(row.tags),
        git_sha=row.git_sha,
        hostname=row.hostname,
        config_summary=ConfigSummary(
            n_keys=summary.n_keys, top_level_keys=list(summary.top_level_keys)
        ),
    )


def _model(m: models.ModelVersion) -> Model:
    return Model(
        id=m.id,
        name=m.name,
        version=m.version,
        run_id=m.run_id,
        framework=m.framework,
        artifact_path=m.artifact_path,
        metadata=jsonable(dict(m.metadata)) if isinstance(m.metadata, Mapping) else None,
        created_at=m.created_at,
        object_id=m.object_id,
        content_id=m.content_id,
        size=m.size,
    )


def _todo(t: models.Todo) -> Todo:
    return Todo(**{k: getattr(t, k) for k in Todo.model_fields})


def _stats(c: models.CurveStats) -> CurveStats:
    return CurveStats(
        points=c.points,
        first_step=c.first_step,
        last_step=c.last_step,
        last_value=num(c.last_value),
        min=opt_num(c.min),
        max=opt_num(c.max),
        nan=c.nan,
    )


# the eight tools of the reference -------------------------------------------------------


def list_experiments(
    view: StoreView, prefix: str = "", limit: int = DEFAULT_LIMIT
) -> ExperimentList:
    lim, clamped = clamp_limit(limit)
    with view.reading() as conn:
        page = read.list_experiments(conn, prefix, lim)
    return ExperimentList(
        items=[
            Experiment(
                id=e.id,
                path=e.path,
                name=e.name,
                node_type=e.node_type,
                parent_id=e.parent_id,
                n_runs=e.n_runs,
                n_runs_total=e.n_total,
                created_at=e.created_at,
            )
            for e in page.items
        ],
        **_page(page.total, len(page.items), lim, clamped),
    )


def list_runs(
    view: StoreView, experiment_id: str | None = None, limit: int = DEFAULT_LIMIT
) -> RunList:
    lim, clamped = clamp_limit(limit)
    with view.reading() as conn:
        page = read.list_runs(conn, experiment_id or "", limit=lim, full=True)
    return RunList(
        items=[_run_item(r) for r in page.items],
        **_page(page.total, len(page.items), lim, clamped),
    )


def search(
    view: StoreView,
    query: str = "",
    filters: Mapping[str, Any] | None = None,
    limit: int = DEFAULT_LIMIT,
) -> RunList:
    lim, clamped = clamp_limit(limit)
    with view.reading() as conn:
        page = read.list_runs(conn, query=query, filters=filters, limit=lim, full=True)
    return RunList(
        items=[_run_item(r) for r in page.items],
        **_page(page.total, len(page.items), lim, clamped),
    )


def get_run(view: StoreView, run_id: str) -> RunDetail:
    with view.reading() as conn:
        d = read.get_run(conn, run_id, view.repo.objects)
    r = d.run
    return RunDetail(
        id=r.id,
        experiment_id=r.experiment_id,
        experiment_path=r.experiment_path,
        name=r.name,
        label=r.label,
        status=r.status,
        started_at=r.started_at,
        ended_at=r.ended_at,
        hostname=r.hostname,
        git_sha=r.git_sha,
        tags=list(r.tags),
        notes=d.notes,
        config=jsonable(dict(d.config)) if isinstance(d.config, Mapping) else None,
        metrics_final={k: num(v) for k, v in d.metrics.items()},
        metrics_available=sorted(d.curves),
        run_params=dict(d.params),
        artifacts=[
            Artifact(
                id=a.id,
                name=a.name,
                kind=a.kind,
                step=a.step,
                shape=list(a.shape) if a.shape is not None else None,
                dtype=a.dtype,
                metadata=jsonable(dict(a.metadata)) if isinstance(a.metadata, Mapping) else None,
                created_at=a.created_at,
                object_id=a.object_id,
                rel_path=a.rel_path,
            )
            for a in d.artifacts
        ],
        todos=[_todo(t) for t in d.todos],
        total_steps=r.total_steps,
        live=r.live,
        deleted=r.deleted,
        object_id=r.object_id,
        commit_id=r.commit_id,
        git_stamp=d.code.git_stamp,
        git_branch=d.code.git_branch,
        git_dirty=d.code.git_dirty,
        git_tree=d.code.git_tree,
        git_diff_id=d.code.git_diff_id,
        curves={name: _stats(c) for name, c in d.curves.items()},
        models=[_model(m) for m in d.models],
        group=None
        if d.group is None
        else Group(
            name=d.group.name,
            world_size=d.group.world_size,
            members=[GroupMember(**asdict(m)) for m in d.group.members],
        ),
        continuations=[Continuation(**asdict(c)) for c in d.continuations],
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
        c = read.compare(
            conn,
            run_ids,
            view.config,
            include_curves=include_curves,
            curve_names=curve_names,
            max_points=max_points,
            curve_budget=CURVE_BUDGET,
            odb=view.repo.objects,
        )
    return Comparison(
        runs=[_run_item(r) for r in c.runs],
        metrics={
            m.name: MetricComparison(
                direction=m.direction,
                values={rid: opt_num(v) for rid, v in m.values.items()},
                ranking=list(m.ranking),
            )
            for m in c.metrics
        },
        config_diffs={
            key: {rid: jsonable(c.config[rid].get(key)) for rid in c.config}
            for key in c.config_diffs
        },
        curves=None
        if c.curves is None
        else {
            cc.name: {
                rid: [(int(s), num(float(v))) for s, v in zip(p.steps, p.values, strict=True)]
                for rid, p in cc.points.items()
            }
            for cc in c.curves
        },
        curves_info=None
        if c.curves is None
        else {
            cc.name: {
                rid: CurveInfo(points=p.total, returned=len(p.steps))
                for rid, p in cc.points.items()
            }
            for cc in c.curves
        },
        max_points=c.max_points,
        curve_budget=c.curve_budget,
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
        page = read.list_todos(conn, scope_type, scope_id, include_done=include_done, limit=lim)
    return TodoList(
        items=[_todo(t) for t in page.items], **_page(page.total, len(page.items), lim, clamped)
    )


def get_lineage(
    view: StoreView, node_type: str, node_id: str, direction: str = "both", depth: int = 2
) -> Lineage:
    with view.reading() as conn:
        g = read.lineage(conn, node_type, node_id, direction, depth)
    nodes = [
        LineageNode(
            id=n.id,
            type=n.type,  # type: ignore[arg-type]  # one of NODE_TYPES
            label=n.label,
            distance=n.distance,
            side=n.side,
            found=n.found,
        )
        for n in g.nodes
    ]
    return Lineage(
        root=nodes[0],
        nodes=nodes,
        edges=[
            LineageEdge(
                parent=e.parent_id,
                parent_type=e.parent_type,
                child=e.child_id,
                child_type=e.child_type,
                relation=e.relation,
            )
            for e in g.edges
        ],
        direction=g.direction,
        depth=g.depth,
        truncated=g.truncated,
    )


def list_models(view: StoreView, name_prefix: str = "", limit: int = DEFAULT_LIMIT) -> ModelList:
    lim, clamped = clamp_limit(limit)
    with view.reading() as conn:
        page = read.list_models(conn, name_prefix, limit=lim)
    return ModelList(
        items=[_model(m) for m in page.items],
        **_page(page.total, len(page.items), lim, clamped),
    )


# beyond the reference --------------------------------------------------------------------


def sql(view: StoreView, query: str, limit: int = DEFAULT_LIMIT) -> SqlResult:
    lim, clamped = clamp_limit(limit)
    if not query.strip():
        raise InvalidInput("query is empty: give one SELECT (or WITH ... SELECT) statement")
    with view.reading() as conn:
        res = read.run_sql(conn, query, limit=lim, seconds=SQL_SECONDS)
    return SqlResult(
        columns=list(res.columns),
        rows=[jsonable(list(r)) for r in res.rows],
        truncated=res.truncated,
        limit=lim,
        limit_clamped=clamped,
    )
