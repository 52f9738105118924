"""extract's MCP server: the store, read-only, for LLM agents (``python -m extract.mcp``).

Layout: ``tools`` (the tools as plain functions over a ``view.StoreView``),
``models`` (what they return), ``encode`` (NaN and Infinity as strings),
``server`` (``build_server()``: thin read-only MCP wrappers), ``__main__``.
Every answer comes from ``extract.index.read``, the read layer every front end shares.
Importing this package does not load the MCP SDK; ``server`` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["build_server", "serve"]

if TYPE_CHECKING:
    from extract.mcp.server import build_server, serve


def __getattr__(name: str) -> Any:
    if name in __all__:
        from extract.mcp import server

        return getattr(server, name)
    raise AttributeError(f"module 'extract.mcp' has no attribute {name!r}")
