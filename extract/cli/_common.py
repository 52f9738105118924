"""What every command shares: options defined once, the error mapping, output helpers."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from extract.errors import ExtractError
from extract.index.build import Indexer
from extract.store.repo import Repository, find_store

P = ParamSpec("P")
R = TypeVar("R")

StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        "--root",
        help="Store directory (default: $EXTRACT_STORE, else .extract here or in a parent).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document for scripts.")]


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """The one place library errors become a one-line message and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ExtractError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(e.exit_code) from None
        except BrokenPipeError:  # `extract ... | head`
            raise typer.Exit(0) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper


def open_store(store: Path | None) -> Repository:
    return Repository(store if store is not None else find_store())


def refresh_index(repo: Repository) -> None:
    """Bring index.db up to date with the store (new commits, staged entries, live journals)."""
    indexer = Indexer(repo)
    try:
        indexer.refresh()
    finally:
        indexer.close()


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=True, allow_nan=False, default=str)
    sys.stdout.write("\n")


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
