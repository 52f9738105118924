"""``python -m extract.tui [--store PATH]``: the UI without the CLI (what ``--web`` serves)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from extract.errors import ExtractError
from extract.store.repo import locate_store
from extract.tui import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m extract.tui")
    parser.add_argument("--store", type=Path, default=None, help="store directory")
    args = parser.parse_args(argv)
    try:
        run(locate_store(args.store))
    except ExtractError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
