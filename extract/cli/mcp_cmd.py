"""``extract mcp``: the MCP server, as a command."""

from __future__ import annotations

from ._common import StoreOpt, handle_errors, open_store


@handle_errors
def mcp(store: StoreOpt = None) -> None:
    """Serve the store, read-only, to an MCP host (Claude Code, ...) over stdio.

    Eight read-only tools (list_experiments, list_runs, get_run, compare_runs,
    search, list_todos, get_lineage, list_models) and a read-only sql tool; see
    docs/mcp.md. Hosts usually start `python -m extract.mcp` themselves.

    Example: extract mcp --store .extract
    """
    from extract.mcp.server import serve  # the CLI loads the MCP SDK only when asked

    serve(open_store(store).root)
