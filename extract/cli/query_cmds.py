"""Commands over the index itself and what it names: `sql` (read-only queries),
`reindex` (rebuild the cache) and `checkout` (a registered model's files, by NAME@VERSION)."""

from __future__ import annotations

import csv
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from extract.errors import InvalidInput, ModelNotFound
from extract.index import read
from extract.index.access import rebuild_index
from extract.objects import from_hex
from extract.store.checkout import checkout as checkout_content
from extract.store.gc import parse_duration

from ._common import (
    JsonOpt,
    StoreOpt,
    _fmt,
    _jsonable,
    handle_errors,
    open_store,
    print_json,
    reader,
)


@handle_errors
def sql(
    query_text: Annotated[
        str, typer.Argument(metavar="QUERY", help="A SELECT (or WITH ... SELECT) over index.db.")
    ],
    store: StoreOpt = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="table, csv (lines end in LF) or json.")
    ] = "table",
    limit: Annotated[int | None, typer.Option("--limit", help="Print at most N rows.")] = None,
    timeout: Annotated[
        str,
        typer.Option("--timeout", help="Stop the query after this long (s, m, h; 0 for no limit)."),
    ] = f"{read.DEFAULT_SECONDS:g}s",
    json_out: Annotated[bool, typer.Option("--json", help="The same as --format json.")] = False,
) -> None:
    """Run a read-only SQL query over the index (tables: runs, scalar_metrics, curve_points, ...).

    Writes, ATTACH and PRAGMAs that change anything are refused by an SQLite authorizer.
    A query stops after --timeout (30 s by default), and at once on Ctrl-C. The tables,
    views and functions are described in docs/tracking.md.

    Example: extract sql "SELECT name, value FROM scalar_metrics ORDER BY value DESC LIMIT 5"
    """
    if fmt not in ("table", "csv", "json"):
        raise InvalidInput(f"--format must be table, csv or json, got {fmt!r}")
    fmt = "json" if json_out else fmt
    seconds = parse_duration(timeout)
    with reader(store) as (_repo, conn), read.CtrlC() as pressed:
        res = read.run_sql(conn, query_text, limit=limit, seconds=seconds or None, stop=pressed)
    cols, rows = list(res.columns), list(res.rows)
    if fmt == "json":
        print_json([_jsonable(dict(zip(cols, r, strict=True))) for r in rows])
    elif fmt == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")  # not csv's \r\n: shell pipelines
        w.writerow(cols)
        w.writerows(rows)
    else:
        _print_table(cols, rows)


def _print_table(cols: list[str], rows: list[tuple[Any, ...]]) -> None:
    if not cols:
        typer.echo("(no result)")
        return
    cells = [[_fmt(v) for v in r] for r in rows]
    widths = [min(60, max([len(c)] + [len(r[i]) for r in cells])) for i, c in enumerate(cols)]
    typer.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    typer.echo("  ".join("-" * w for w in widths))
    for r in cells:
        typer.echo(
            "  ".join(
                (v if len(v) <= w else v[: w - 1] + "…").ljust(w)
                for v, w in zip(r, widths, strict=True)
            ).rstrip()
        )
    typer.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


@handle_errors
def reindex(store: StoreOpt = None, json_out: JsonOpt = False) -> None:
    """Rebuild index.db from objects and journals (it is a cache; nothing else is touched).

    Example: extract reindex
    """
    repo = open_store(store, writes="`extract reindex`")
    with rebuild_index(repo) as index:
        conn = index.reader()
        over = read.overview(conn)
        points = read.total_points(conn)
        skipped = [asdict(s) for s in read.skipped(conn)]
    runs = over.runs + over.deleted
    if json_out:
        print_json({"runs": runs, "curve_points": points, "skipped": skipped})
    else:
        typer.echo(f"reindexed {runs} runs, {points} curve points")
    for s in skipped:
        typer.echo(f"skipped {_skip_line(s)}", err=True)
    if skipped:
        typer.echo(
            f"{len(skipped)} entries could not be read: `extract fsck` names what is damaged "
            "and how to get it back; the index picks them up once they are restored",
            err=True,
        )


def _skip_line(s: dict[str, Any]) -> str:
    what = (
        f"{s['section'][:-1]} {s['key']}"
        if s["section"] != "history"
        else f"part of history {s['key'][:12]}"
    )
    return f"{what}: {s['reason']}"


@handle_errors
def checkout(
    model: Annotated[str, typer.Argument(help="A model as NAME@VERSION.")],
    dest: Annotated[
        Path,
        typer.Argument(help="Where to write it (a file, or a directory for directory models)."),
    ],
    store: StoreOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace DEST if it exists.")] = False,
) -> None:
    """Write a registered model's files to a path, verified against their hashes.

    Example: extract checkout resnet50@v1.0 weights.pt
    """
    if "@" not in model:
        raise InvalidInput(f"give the model as NAME@VERSION, got {model!r}")
    name, version = model.rsplit("@", 1)
    with reader(store) as (repo, conn):
        found = read.get_model(conn, name, version, hint=True)
        if found.content_id is None:
            raise ModelNotFound(f"Model not found: {found.key!r}: the index has no content for it")
        n = checkout_content(repo.objects, from_hex(found.content_id), dest, force=force)
    typer.echo(f"wrote {name}@{version} to {dest} ({n} bytes)")
