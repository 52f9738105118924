"""What the tools return: typed models, so every tool publishes an output schema.

Numbers that can be NaN or infinite are ``Num``: a float, or "NaN" / "Infinity"
/ "-Infinity" (see ``encode``). Listing tools share one envelope: ``items``,
``total`` (how many match, before the limit), ``truncated`` (items holds fewer
than total), ``limit`` (the limit applied) and ``limit_clamped`` (the limit
asked for was above the hard cap of 500 and was lowered to it).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    model_serializer,
)

# Nullable scalars published as JSON Schema type arrays (["string", "null"]) rather than
# pydantic's anyOf: the same meaning, and a client validating 500 items checks one
# keyword per field instead of two subschemas.
OptStr = Annotated[str | None, WithJsonSchema({"type": ["string", "null"]})]
OptInt = Annotated[int | None, WithJsonSchema({"type": ["integer", "null"]})]
OptBool = Annotated[bool | None, WithJsonSchema({"type": ["boolean", "null"]})]
#: A finite number, or "NaN" / "Infinity" / "-Infinity".
Num = Annotated[float | str, WithJsonSchema({"type": ["number", "string"]})]
OptNum = Annotated[float | str | None, WithJsonSchema({"type": ["number", "string", "null"]})]
#: Curve points: typed here, published shallow (name -> run_id -> array), so a client does
#: not validate thousands of [step, value] pairs one by one.
Curves = Annotated[
    dict[str, dict[str, list[tuple[int, float | str]]]],
    WithJsonSchema(
        {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": {"type": "array"},
            },
        }
    ),
]


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            return _inline(defs[ref.rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def array_of(model: type[BaseModel]) -> WithJsonSchema:
    """The schema of ``list[model]`` with the item schema written out in place, not as a
    ``$ref``: a client validating 500 items then resolves no reference per item."""
    schema = model.model_json_schema()
    return WithJsonSchema({"type": "array", "items": _inline(schema, schema.get("$defs", {}))})


class Page(BaseModel):
    total: int = Field(description="How many match in all, before the limit.")
    truncated: bool = Field(description="True when items holds fewer than total.")
    limit: int = Field(description="The limit applied (at most 500).")
    limit_clamped: bool = Field(
        default=False, description="True when the limit asked for was above 500 and was lowered."
    )


class Experiment(BaseModel):
    id: str
    path: str = Field(description="Slash-separated, e.g. imagenet/resnet50/v1.")
    name: str
    node_type: OptStr = Field(description="The hierarchy level, e.g. 'benchmark'.")
    parent_id: OptStr
    n_runs: int = Field(description="Runs directly in this experiment.")
    n_runs_total: int = Field(description="Runs in this experiment and every one below it.")
    created_at: OptStr


class ExperimentList(Page):
    items: Annotated[list[Experiment], array_of(Experiment)]


class ConfigSummary(BaseModel):
    n_keys: int = Field(description="Leaf keys of the config, nested keys flattened.")
    top_level_keys: list[str]


class RunItem(BaseModel):
    id: str = Field(description="The run's ULID: pass it verbatim to get_run and compare_runs.")
    label: str = Field(description="experiment_path#name")
    experiment_id: str
    experiment_path: str
    name: OptStr
    status: str = Field(description="running, completed or failed.")
    started_at: OptStr
    ended_at: OptStr
    tags: list[str]
    git_sha: OptStr
    hostname: OptStr
    config_summary: ConfigSummary


RunItems = Annotated[list[RunItem], array_of(RunItem)]


class RunList(Page):
    items: RunItems


class Artifact(BaseModel):
    id: str
    name: str
    kind: str = Field(description="matrix (a table), text, or image (a PNG; shape H x W x C).")
    step: OptInt
    shape: list[int] | None
    dtype: OptStr
    metadata: dict[str, Any] | None
    created_at: OptStr
    object_id: OptStr = Field(description="Content id (BLAKE3) of the stored object.")
    rel_path: OptStr = Field(description="Where the object lives, relative to the store.")


class Todo(BaseModel):
    id: str
    scope_type: str
    scope_id: OptStr
    content: str
    done: bool
    priority: int = Field(description="0 low, 1 mid, 2 high.")
    created_at: OptStr
    completed_at: OptStr


class TodoList(Page):
    items: Annotated[list[Todo], array_of(Todo)]


class Model(BaseModel):
    id: str
    name: str
    version: str
    run_id: OptStr = Field(description="The run that registered this version.")
    framework: OptStr
    artifact_path: OptStr = Field(description="The path the files were registered from.")
    metadata: dict[str, Any] | None
    created_at: OptStr
    object_id: OptStr = Field(description="Content id of the model-version object.")
    content_id: OptStr = Field(description="Content id of the model's files.")
    size: OptInt = Field(description="Bytes.")


class ModelList(Page):
    items: Annotated[list[Model], array_of(Model)]


class CurveStats(BaseModel):
    points: int
    first_step: int
    last_step: int
    last_value: Num
    min: OptNum = Field(description="Smallest value, NaN left out (null: not computed).")
    max: OptNum
    nan: OptInt = Field(
        description="How many points are NaN (null for a live curve over 100,000 points)."
    )


class GroupMember(BaseModel):
    run_id: str
    name: OptStr
    rank: OptInt = Field(description="The process's global rank in the job.")
    status: str
    live: bool


class Group(BaseModel):
    name: str = Field(description="The job: torchrun:<id>, slurm:<cluster>:<job>.<step>, or given.")
    world_size: OptInt
    members: list[GroupMember] = Field(description="Every run of the job, by rank.")


class Continuation(BaseModel):
    id: str = Field(description="The continuation's own id (a segment of the run).")
    started_at: OptStr
    ended_at: OptStr
    status: OptStr
    hostname: OptStr
    commit_id: OptStr


class RunDetail(BaseModel):
    id: str
    experiment_id: str
    experiment_path: str
    name: OptStr
    label: str
    status: str
    started_at: OptStr
    ended_at: OptStr
    hostname: OptStr
    git_sha: OptStr = Field(description="HEAD of the code repository when the run started.")
    tags: list[str]
    notes: str
    config: dict[str, Any] | None
    metrics_final: dict[str, Num] = Field(description="Headline value of each metric (run.log).")
    metrics_available: list[str] = Field(
        description="Names of the run's streaming curves (run.curve); compare_runs with "
        "include_curves=True returns their points."
    )
    run_params: dict[str, str]
    artifacts: list[Artifact]
    todos: list[Todo]
    total_steps: OptInt
    live: bool = Field(description="Still being written (not sealed): values may grow.")
    deleted: bool
    object_id: OptStr = Field(description="Content id of the sealed run record.")
    commit_id: OptStr = Field(description="The history commit that recorded the run.")
    git_stamp: OptStr = Field(
        description="The code commit stamped onto the run by the git hook, when there is one."
    )
    git_branch: OptStr
    git_dirty: OptBool
    git_tree: OptStr
    git_diff_id: OptStr = Field(description="Content id of the uncommitted diff.")
    curves: dict[str, CurveStats] = Field(description="A summary of each curve, not its points.")
    models: list[Model]
    group: Group | None = Field(
        description="The distributed job this run is a rank of (its group param), with "
        "every rank's run; null outside one."
    )
    continuations: list[Continuation] = Field(
        description="Each time the run was resumed after a failure or preemption, oldest "
        "first; its curves, metrics and status already include what they logged."
    )


class MetricComparison(BaseModel):
    direction: Literal["min", "max"]
    values: dict[str, OptNum] = Field(description="run_id -> headline value, null if absent.")
    ranking: list[str] = Field(description="run_ids best to worst; NaN last, absent left out.")


class CurveInfo(BaseModel):
    points: int = Field(description="Points the curve has.")
    returned: int = Field(description="Points returned after downsampling.")


class Comparison(BaseModel):
    runs: RunItems
    metrics: dict[str, MetricComparison]
    config_diffs: dict[str, dict[str, Any]] = Field(
        description="Flattened config key -> run_id -> value, for keys where runs differ."
    )
    curves: Curves | None = Field(
        default=None, description="name -> run_id -> [[step, value], ...] (include_curves)."
    )
    curves_info: dict[str, dict[str, CurveInfo]] | None = None
    max_points: OptInt = Field(
        default=None,
        description="Points per curve at most, as applied: the max_points asked for, or fewer "
        "when the curves together would pass curve_budget.",
    )
    curve_budget: OptInt = Field(
        default=None, description="Curve points returned in all at most (include_curves)."
    )

    @model_serializer(mode="wrap")
    def _omit_curves(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """``curves`` is present only when asked for, as the reference describes."""
        data: dict[str, Any] = handler(self)
        if self.curves is None:
            for key in ("curves", "curves_info", "max_points", "curve_budget"):
                data.pop(key, None)
        return data


class LineageNode(BaseModel):
    id: str
    type: Literal["experiment", "run", "model"]
    label: str = Field(description="path#name (runs), path (experiments), name@version (models).")
    distance: int = Field(description="Edges from the root.")
    side: Literal["root", "ancestor", "descendant"]
    found: bool = Field(description="False when the id is not in this store.")


class LineageEdge(BaseModel):
    parent: str
    parent_type: str
    child: str
    child_type: str
    relation: str = Field(description="derived_from, branched_from, or registered (run -> model).")


class Lineage(BaseModel):
    root: LineageNode
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    direction: str
    depth: int
    truncated: bool = Field(description="True when the walk stopped at 500 nodes.")


class SqlResult(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool = Field(description="True when the query had more rows than the limit.")
    limit: int
    limit_clamped: bool = False
