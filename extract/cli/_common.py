"""What every command shares: options defined once, the error mapping, the store and its
index opened for reading, output helpers."""

from __future__ import annotations

import errno
import functools
import json
import math
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from extract.errors import ExtractError, IndexHealed
from extract.index import access
from extract.index.access import open_index
from extract.index.db import (
    SQLITE_CANTOPEN,
    SQLITE_FULL,
    SQLITE_IOERR,
    SQLITE_READONLY,
    is_corrupt,
    sqlite_code,
)
from extract.index.models import ABSENT
from extract.store.repo import Repository, locate_store
from extract.store.writable import require_writable

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


#: Exit codes of errors the system raises rather than extract (README, docs/cli.md):
#: the disk is full (or over quota, or failed a write), and a write to a read-only store.
EXIT_DISK = 6
EXIT_READ_ONLY = 2
EXIT_DAMAGED = 5

_NOTHING_LOST = "nothing already stored was lost or changed"


def system_error(e: BaseException) -> tuple[str, int] | None:
    """The one-line message and exit code for a refusal by the system (a full disk, a
    read-only filesystem, an index SQLite cannot read), or None for anything else."""
    if isinstance(e, OSError):
        where = f" ({e.filename})" if e.filename else ""
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            what = "the disk is full" if e.errno == errno.ENOSPC else "the disk quota is exceeded"
            return (
                f"{what}{where}: {_NOTHING_LOST}, and what this command had not finished "
                "was left undone; free some space and run it again",
                EXIT_DISK,
            )
        if e.errno == errno.EROFS:
            return (
                f"read-only filesystem{where}: nothing was changed; read commands (log, "
                "show, sql, status, diff) still work on a read-only store",
                EXIT_READ_ONLY,
            )
        if e.errno == errno.EIO:
            return (
                f"disk I/O error{where}: the command stopped; writes are crash-safe, so run "
                "`extract fsck --read-data` once the disk is healthy to see whether anything "
                "already stored was hurt",
                EXIT_DISK,
            )
        return None
    if not isinstance(e, sqlite3.Error):
        return None
    code = sqlite_code(e)
    if code == SQLITE_FULL:
        return (
            f"the disk is full ({e}): {_NOTHING_LOST} (the index is a cache); free some "
            "space and run the command again",
            EXIT_DISK,
        )
    if code in (SQLITE_IOERR, SQLITE_CANTOPEN):
        return (
            f"cannot write the index ({e}; is the disk full?): {_NOTHING_LOST} (the index "
            "is a cache); free some space and run the command again",
            EXIT_DISK,
        )
    if code == SQLITE_READONLY:
        return (f"the index is read-only ({e}): nothing was changed", EXIT_READ_ONLY)
    if is_corrupt(e):
        return (
            f"the index is damaged ({e}): nothing in the store is; the next command moves "
            "it aside and rebuilds it, or run `extract reindex` now",
            EXIT_DAMAGED,
        )
    return None


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
        except (OSError, sqlite3.Error) as e:
            known = system_error(e)
            if known is None:
                raise
            typer.echo(f"error: {known[0]}", err=True)
            raise typer.Exit(known[1]) from None

    return wrapper


def open_store(store: Path | None, writes: str | None = None, seal: bool = True) -> Repository:
    """The store a command works on. ``writes`` names a command that writes to it (e.g.
    "`extract commit`"): on a read-only store it is refused before anything changes, and
    (unless ``seal`` is False) runs whose process died are sealed first, as ``Store()``
    seals them, so a commit or a push carries them."""
    repo = Repository(locate_store(store))
    if writes is not None:
        require_writable(repo.root, writes)
        if seal:
            seal_crashed(repo)
    return repo


def seal_crashed(repo: Repository) -> list[str]:
    """Seal, as failed, every run whose process died before finish(); say so on stderr."""
    ids = access.seal_crashed(repo)
    for run_id in ids:
        typer.echo(f"sealed run {run_id} as failed: its process died before finish()", err=True)
    return ids


def refresh_index(repo: Repository) -> None:
    """Bring the index up to date with the store (new commits, staged entries, live
    journals); where it cannot be written now, say so in one line and go on."""
    open_index(repo).close()


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=True, allow_nan=False, default=str)
    sys.stdout.write("\n")


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


@contextmanager
def reader(store: Path | None) -> Iterator[tuple[Repository, sqlite3.Connection]]:
    """The store, its index brought up to date where it can be, and a read-only connection
    to it (``access.open_index`` decides where the index lives and heals a damaged one)."""
    repo = open_store(store)
    with open_index(repo) as index:
        try:
            yield repo, index.reader()
        except sqlite3.DatabaseError as e:
            if not is_corrupt(e):
                raise
            # damage deep in the file, met only by this query: heal it for the next command
            index.heal(e)
            raise IndexHealed(
                f"the index was damaged ({e}); it was moved aside and rebuilt from the "
                "store: run the command again"
            ) from None


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _fmt(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return "" if value is None else str(value)
