"""The MCP server: ``build_server()`` registers thin, read-only wrappers of ``tools``.

Each wrapper carries the tool's description and parameter documentation (what
the agent sees), is annotated ``read_only_hint=True``, and turns an
``ExtractError`` into the exact message the agent reads: the MCP SDK would put
"Error executing tool <name>: " in front of a ``ToolError``'s text; the server
takes it off again for our own errors, so "Run not found: 'X'" arrives as
written. Arguments that fail the input schema keep the SDK's wording.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from extract import __version__
from extract.errors import ExtractError, InvalidInput
from extract.mcp import tools
from extract.mcp.arguments import check_arguments
from extract.mcp.models import (
    Comparison,
    ExperimentList,
    Lineage,
    ModelList,
    RunDetail,
    RunList,
    SqlResult,
    TodoList,
)
from extract.mcp.view import StoreView

INSTRUCTIONS = """\
Read-only access to an extract experiment store (runs, metrics, configs, curves,
lineage, models, TODOs). Start with list_experiments or list_runs (newest first)
or search; pass the run ids they return verbatim to get_run and compare_runs.
Listing tools return {items, total, truncated, limit, limit_clamped}; limit is
capped at 500. NaN and infinite numbers arrive as the strings "NaN", "Infinity"
and "-Infinity". sql runs one read-only SELECT over the index (tables runs,
experiments, scalar_metrics, curve_points, run_params, artifacts, models,
lineage, todos, hierarchy, catalog)."""

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

Limit = Annotated[
    int, Field(description="Most items to return (default 50; above 500 is lowered to 500).")
]


class AgentError(ToolError):
    """A failure the agent caused and can fix: its message is delivered as written."""


class _Server(MCPServer[Any]):
    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        tool = self._tool_manager.get_tool(name)
        if tool is not None:
            try:
                check_arguments(tool.parameters, arguments or {})
            except InvalidInput as e:
                raise AgentError(str(e)) from e
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError:
            raise
        except ToolError as e:
            if isinstance(e.__cause__, AgentError):
                raise AgentError(str(e.__cause__)) from e.__cause__
            raise


def _result(model: BaseModel) -> CallToolResult:
    """The structured result, and the same JSON, compact, as the text agents read
    (the SDK's default indents it, which costs an agent's context a third more)."""
    text = model.model_dump_json()  # compact; non-finite numbers were named already
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=model.model_dump(mode="json"),
    )


@contextlib.contextmanager
def _agent_errors() -> Iterator[None]:
    """The one mapping from library errors to what the agent reads."""
    try:
        yield
    except ExtractError as e:
        raise AgentError(str(e)) from e


def build_server(store: StoreView | Path | str) -> MCPServer[Any]:
    """An MCP server over one store: the reference's eight read-only tools, and sql."""
    view = store if isinstance(store, StoreView) else StoreView(Path(store))
    server = _Server("extract", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")
    tool = server.tool

    @tool(annotations=READ_ONLY)
    def list_experiments(
        prefix: Annotated[
            str, Field(description="Only experiments whose path starts with this.")
        ] = "",
        limit: Limit = tools.DEFAULT_LIMIT,
    ) -> Annotated[CallToolResult, ExperimentList]:
        """List experiments (nodes of the store's hierarchy) in path order.

        Each item: {id, path, name, node_type, parent_id, n_runs, n_runs_total, created_at}.
        """
        with _agent_errors():
            return _result(tools.list_experiments(view, prefix, limit))

    @tool(annotations=READ_ONLY)
    def list_runs(
        experiment_id: Annotated[
            str | None,
            Field(
                description="An experiment id (or path): its runs and those of every "
                "experiment below it. Omit for all runs."
            ),
        ] = None,
        limit: Limit = tools.DEFAULT_LIMIT,
    ) -> Annotated[CallToolResult, RunList]:
        """List runs, newest first.

        Each item: {id, label, experiment_id, experiment_path, name, status, started_at,
        ended_at, tags, git_sha, hostname, config_summary}; config_summary is
        {n_keys, top_level_keys}: call get_run for the full config.
        """
        with _agent_errors():
            return _result(tools.list_runs(view, experiment_id, limit))

    @tool(annotations=READ_ONLY)
    def get_run(
        run_id: Annotated[str, Field(description="A run id from list_runs or search.")],
    ) -> Annotated[CallToolResult, RunDetail]:
        """Everything about one run: config, headline metrics (metrics_final), the names of
        its curves (metrics_available) with a summary of each (curves), params,
        artifacts, TODOs, models, code provenance (git_sha, git_branch, git_dirty,
        git_stamp) and content ids (object_id, commit_id). Curve points are not
        included: use compare_runs with include_curves=True.
        """
        with _agent_errors():
            return _result(tools.get_run(view, run_id))

    @tool(annotations=READ_ONLY)
    def compare_runs(
        run_ids: Annotated[list[str], Field(description="2 to 10 run ids.")],
        include_curves: Annotated[
            bool, Field(description="Add curves: {name: {run_id: [[step, value], ...]}}.")
        ] = False,
        curve_names: Annotated[
            list[str] | None, Field(description="Only these curves (default: all).")
        ] = None,
        max_points: Annotated[
            int,
            Field(
                description="Most points per curve (2 to 5000); longer curves are "
                "downsampled evenly by step, keeping the first and last points."
            ),
        ] = tools.DEFAULT_MAX_POINTS,
    ) -> Annotated[CallToolResult, Comparison]:
        """Compare 2-10 runs: {runs, metrics, config_diffs} (+ curves when asked).

        metrics: per headline metric, {direction ("min"/"max" from config.toml, then the
        name: loss, error, mse ... are minimised), values {run_id: value}, ranking
        (run ids best to worst)}. config_diffs: flattened config keys (method.lora_r)
        where at least two runs differ, {key: {run_id: value}}.
        """
        with _agent_errors():
            return _result(
                tools.compare_runs(view, run_ids, include_curves, curve_names, max_points)
            )

    @tool(annotations=READ_ONLY)
    def search(
        query: Annotated[
            str, Field(description="Case-insensitive substring of run name, tags or notes.")
        ] = "",
        filters: Annotated[
            dict[str, Any] | None,
            Field(
                description="AND-combined: tag, status (running|completed|failed), "
                "experiment_prefix, started_after, started_before (ISO 8601)."
            ),
        ] = None,
        limit: Limit = tools.DEFAULT_LIMIT,
    ) -> Annotated[CallToolResult, RunList]:
        """Search runs by text and filters; newest first, same items as list_runs."""
        with _agent_errors():
            return _result(tools.search(view, query, filters, limit))

    @tool(annotations=READ_ONLY)
    def list_todos(
        scope_type: Annotated[
            str, Field(description='"global", "experiment" or "run".')
        ] = "global",
        scope_id: Annotated[
            str | None,
            Field(description="The experiment or run id; must be omitted for global."),
        ] = None,
        include_done: bool = False,
        limit: Limit = tools.DEFAULT_LIMIT,
    ) -> Annotated[CallToolResult, TodoList]:
        """List TODOs of one scope, highest priority first (2 high, 1 mid, 0 low), then
        oldest first."""
        with _agent_errors():
            return _result(tools.list_todos(view, scope_type, scope_id, include_done, limit))

    @tool(annotations=READ_ONLY)
    def get_lineage(
        node_type: Annotated[str, Field(description='"experiment", "run" or "model".')],
        node_id: Annotated[
            str, Field(description="The id (a model may also be given as name@version).")
        ],
        direction: Annotated[
            str, Field(description='"ancestors", "descendants" or "both".')
        ] = "both",
        depth: Annotated[int, Field(description="1 to 5 edges from the node.")] = 2,
    ) -> Annotated[CallToolResult, Lineage]:
        """Walk the lineage DAG breadth-first: flat {root, nodes, edges}, each node once.

        Labels: path#name for runs, path for experiments, name@version for models.
        Edges go parent -> child: derived_from, branched_from, and registered (the run
        that registered a model).
        """
        with _agent_errors():
            return _result(tools.get_lineage(view, node_type, node_id, direction, depth))

    @tool(annotations=READ_ONLY)
    def list_models(
        name_prefix: Annotated[
            str, Field(description="Only models whose name starts with this.")
        ] = "",
        limit: Limit = tools.DEFAULT_LIMIT,
    ) -> Annotated[CallToolResult, ModelList]:
        """List registered model versions, newest first.

        Each item: {id, name, version, run_id, framework, artifact_path, metadata,
        created_at, object_id, content_id, size}.
        """
        with _agent_errors():
            return _result(tools.list_models(view, name_prefix, limit))

    @tool(annotations=READ_ONLY)
    def sql(
        query: Annotated[
            str, Field(description="One SELECT or WITH ... SELECT statement over index.db.")
        ],
        limit: Limit = tools.DEFAULT_LIMIT,
    ) -> Annotated[CallToolResult, SqlResult]:
        """Run one read-only SQL query on the store's index and return {columns, rows}.

        Tables follow the reference schema: experiments, runs, scalar_metrics,
        curve_points (run_id, name, step, value, wall_time), run_params, artifacts,
        models, lineage, todos, hierarchy, plus catalog (one row per run with a column
        per hierarchy level). Writes, ATTACH and PRAGMAs are refused; a query is
        stopped after 5 s. Example: SELECT r.name, m.value FROM runs r JOIN
        scalar_metrics m ON m.run_id = r.id WHERE m.name = 'final_acc'
        ORDER BY m.value DESC LIMIT 5
        """
        with _agent_errors():
            return _result(tools.sql(view, query, limit))

    return server


def serve(root: Path) -> None:
    """Serve the store at ``root`` over stdio until the host closes the pipe."""
    view = StoreView(root)
    try:
        build_server(view).run("stdio")
    finally:
        view.close()
