"""Plumbing for debugging and scripts: look at objects and refs as they are stored."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from extract.errors import InvalidInput
from extract.objects import Link, Value, decode, to_hex
from extract.store import chunking
from extract.store.odb import MemoryObjectStore
from extract.store.repo import MAIN

from ._common import JsonOpt, StoreOpt, handle_errors, open_store, print_json

_BYTES_SHOWN = 64


def to_jsonable(value: Value) -> Any:
    """A decoded object as JSON: links as {"$link": id}, bytes as {"$bytes": ...}."""
    if isinstance(value, Link):
        return {"$link": to_hex(value.id)}
    if isinstance(value, bytes):
        if len(value) <= _BYTES_SHOWN:
            return {"$bytes": value.hex()}
        return {"$bytes": value[:_BYTES_SHOWN].hex() + "...", "length": len(value)}
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return {"$float": repr(value)}
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_jsonable(v) for v in value]
    return value


@handle_errors
def cat_object(
    object_id: Annotated[
        str, typer.Argument(help="An object id, a unique prefix (8+ hex digits) or a ref.")
    ],
    store: StoreOpt = None,
    raw: Annotated[bool, typer.Option("--raw", help="Write the canonical bytes.")] = False,
    content: Annotated[
        bool, typer.Option("--content", help="Write the data of a blob or chunk list, reassembled.")
    ] = False,
) -> None:
    """Print an object: its kind, version and fields as JSON (links as {"$link": id}).

    Example: extract cat-object main
    """
    if raw and content:
        raise InvalidInput("--raw and --content exclude each other")
    repo = open_store(store)
    oid = repo.resolve(object_id)
    if raw:
        sys.stdout.buffer.write(repo.objects.get_raw(oid))
    elif content:
        chunking.read_into(repo.objects, oid, sys.stdout.buffer)
    else:
        print_json({"id": to_hex(oid), **to_jsonable(decode(repo.objects.get_raw(oid)))})
    sys.stdout.flush()


@handle_errors
def hash_object(
    path: Annotated[
        Path, typer.Argument(help="File to hash.", exists=True, dir_okay=False, readable=True)
    ],
    store: StoreOpt = None,
    write: Annotated[bool, typer.Option("--write", "-w", help="Store the content too.")] = False,
) -> None:
    """Print the id a file's content gets (a blob, or a chunk list for large files).

    Example: extract hash-object -w model.pt
    """
    if write:
        repo = open_store(store, writes="`extract hash-object -w`", seal=False)
        # Nothing names the object afterwards (as with git hash-object -w): gc collects it
        # once it is older than the grace period unless a run or model comes to use it.
        with repo.writing():
            oid = chunking.write_file(repo.objects, path, cache_dir=repo.cache_dir / "content")
            repo.objects.sync()
    else:
        oid = chunking.write_file(MemoryObjectStore(), path)
    typer.echo(to_hex(oid))


@handle_errors
def rev_parse(
    rev: Annotated[
        str, typer.Argument(help="A ref name (main, refs/remotes/x/main) or an id prefix.")
    ],
    store: StoreOpt = None,
) -> None:
    """Print the full object id a ref name or abbreviated id stands for.

    Example: extract rev-parse main
    """
    typer.echo(to_hex(open_store(store).resolve(rev)))


@handle_errors
def show_ref(store: StoreOpt = None, json_out: JsonOpt = False) -> None:
    """List every ref and the object it points at."""
    repo = open_store(store)
    refs = {name: repo.refs.read(name) for name in repo.refs.names()}
    if json_out:
        print_json({name: to_hex(oid) for name, oid in refs.items() if oid is not None})
        return
    for name, oid in refs.items():
        if oid is not None:
            typer.echo(f"{to_hex(oid)} {name}")


@handle_errors
def reflog(
    ref: Annotated[str, typer.Argument(help="Ref whose history to show.")] = MAIN,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show every move of a ref, newest first: nothing a bad merge does is lost.

    `extract reset main@{1}` moves main back to where it was before its last move.

    Example: extract reflog refs/heads/main
    """
    repo = open_store(store)
    name = ref if ref.startswith("refs/") or ref == "HEAD" else f"refs/heads/{ref}"
    entries = list(reversed(repo.refs.reflog(name)))
    damaged = repo.refs.reflog_damage(name)
    if damaged:  # what is shown is not all there was
        typer.echo(
            f"warning: the reflog of {name} is damaged ({len(damaged)} line(s) are not "
            "entries); only its readable entries are shown. `extract fsck` names the file",
            err=True,
        )
    if json_out:
        print_json(
            [
                {
                    "old": to_hex(e.old) if e.old else None,
                    "new": to_hex(e.new) if e.new else None,
                    "time_ms": e.time_ms,
                    "who": e.who,
                    "message": e.message,
                }
                for e in entries
            ]
        )
        return
    for e in entries:
        when = dt.datetime.fromtimestamp(e.time_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        new = to_hex(e.new)[:12] if e.new else "(deleted)"
        typer.echo(f"{new} {when} {e.who}: {e.message}")
