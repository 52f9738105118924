"""``python -m extract.mcp [--store PATH]``: serve a store to an MCP host over stdio.

argparse, not typer: the host starts this process for every session, and the
server should answer its first request within a second.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from extract.errors import ExtractError
from extract.store.repo import locate_store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m extract.mcp",
        description="Serve an extract store, read-only, to an MCP host over stdio.",
    )
    parser.add_argument(
        "--store",
        "--root",
        type=Path,
        default=None,
        metavar="PATH",
        help="Store directory (default: $EXTRACT_STORE, else .extract here or in a parent).",
    )
    args = parser.parse_args(argv)
    try:
        root = locate_store(args.store)
        from extract.mcp.server import serve

        serve(root)
    except ExtractError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
