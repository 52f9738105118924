"""Tracking history: status, commit, log, show, diff, sql, reindex, checkout."""

from __future__ import annotations

import csv
import json
import math
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from extract.errors import (
    ExtractError,
    IndexHealed,
    InvalidInput,
    ModelNotFound,
    NotFound,
    RunNotFound,
)
from extract.git.stamp import resolve_rev, runs_of_commit
from extract.index import models, read
from extract.index.access import open_index, rebuild_index
from extract.index.db import is_corrupt
from extract.index.models import ABSENT
from extract.objects import Commit, ObjectId, from_hex, short, to_hex
from extract.objects.kinds import cast
from extract.store import chunking
from extract.store.checkout import checkout as checkout_content
from extract.store.gc import parse_duration
from extract.store.history import commit_staged, list_staged, reset_main, walk_commits
from extract.store.repo import MAIN, Repository

from ._common import JsonOpt, StoreOpt, handle_errors, open_store, print_json, refresh_index


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


@handle_errors
def status(store: StoreOpt = None, json_out: JsonOpt = False) -> None:
    """Show live runs, sealed runs not yet committed, and what main holds.

    Example: extract status
    """
    with reader(store) as (repo, conn):
        counts = read.status_counts(conn)
        live = read.list_runs(conn, state="live", order="oldest").items
        pending = read.list_runs(conn, state="uncommitted", order="oldest").items
        staged = list_staged(repo)
        head = repo.refs.read(MAIN)
        skipped = read.skipped_count(conn)
        if json_out:
            print_json(
                {
                    "head": to_hex(head) if head else None,
                    **asdict(counts),
                    "staged_entries": len(staged),
                    "live_runs": [r.id for r in live],
                    "uncommitted_runs": [r.id for r in pending],
                    "skipped_entries": skipped,
                }
            )
            return
        typer.echo(f"on main: {short(head) if head else '(no commits yet)'}")
        typer.echo(
            f"{counts.live} live, {counts.uncommitted} sealed but uncommitted, {counts.committed} committed"
        )
        if skipped:
            typer.echo(
                f"index: {skipped} entries skipped, their objects missing or damaged: "
                "`extract fsck` names them and how to get them back"
            )
        for title, rows in (("live", live), ("uncommitted", pending)):
            if rows:
                typer.echo(f"\n{title} runs:")
                for r in rows[:20]:
                    typer.echo(f"  {r.id}  {r.status:<9} {r.label}")
                if len(rows) > 20:
                    typer.echo(f"  ... and {len(rows) - 20} more")
        others = len(staged) - counts.uncommitted
        if staged:
            typer.echo(
                f"\n{len(staged)} staged entries ({max(others, 0)} models and events); `extract commit -m MSG` records them"
            )


@handle_errors
def commit(
    message: Annotated[str, typer.Option("--message", "-m", help="What this commit records.")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Record every sealed run, model and event since the last commit on main.

    Example: extract commit -m "lr sweep, 8 runs"
    """
    repo = open_store(store, writes="`extract commit`")
    result = commit_staged(repo, message)
    if result.commit is not None:
        refresh_index(repo)
    if json_out:
        print_json(
            {"commit": to_hex(result.commit) if result.commit else None, "added": result.added}
        )
        return
    if result.commit is None:
        typer.echo("nothing to commit")
        return
    a = result.added
    typer.echo(f"[main {short(result.commit)}] {message.splitlines()[0]}")
    typer.echo(f" {a['runs']} runs, {a['models']} models, {a['events']} events")


@handle_errors
def reset(
    rev: Annotated[
        str,
        typer.Argument(
            metavar="REV",
            help="A commit: an id or unique prefix (8+ hex digits), a ref (main, "
            "refs/remotes/NAME/main), or a reflog position (main@{1}: where main was before "
            "its last move).",
        ),
    ],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Move main to an earlier commit (undo a bad merge, pull or commit).

    Only refs/heads/main moves, by compare-and-swap, with its own reflog line: the
    commits it leaves stay in the reflog (gc keeps them) and `extract reset main@{1}`
    undoes the reset. Uncommitted work is never dropped: sealed runs, models and
    events waiting in staged/ (`extract status` lists them) and live runs are not
    touched, and the next commit puts them on top of REV. The index is brought up to
    date for the new main (moving back means reindexing in place: as long as
    `extract reindex`). Refuses anything but a commit.

    Example: extract reset main@{1}
    """
    repo = open_store(store, writes="`extract reset`")
    target = repo.resolve(rev)
    result = reset_main(repo, target, rev)
    with open_index(repo, refresh=False) as index:
        index.writer().refresh(replay=result.old != result.new)
    live = sum(1 for _ in repo.journal_dir.glob("*.journal"))
    if json_out:
        print_json(
            {
                "old": to_hex(result.old) if result.old else None,
                "new": to_hex(result.new),
                "moved": result.old != result.new,
                "removed": result.removed,
                "added": result.added,
                "staged_entries": result.staged,
                "live_runs": live,
            }
        )
        return
    if result.old == result.new:
        typer.echo(f"main is already at {short(result.new)}: nothing moved")
        return
    typer.echo(f"main: {short(result.old) if result.old else '(none)'} -> {short(result.new)}")
    for label, counts in (("no longer holds", result.removed), ("now holds", result.added)):
        if any(counts.values()):
            shown = ", ".join(
                f"{n} {section if n != 1 else section[:-1]}" for section, n in counts.items() if n
            )
            typer.echo(f"  main {label} {shown}")
    if result.old is not None:
        typer.echo(f"  undo with: extract reset {short(result.old)}  (or main@{{1}})")
    if result.staged or live:
        typer.echo(
            f"  untouched: {result.staged} staged entries, {live} live runs "
            "(the next commit puts them on top)"
        )


def _graph_lines(order: Sequence[tuple[str, list[str]]]) -> Iterator[tuple[str, str]]:
    """(graph prefix, commit id) per commit: one lane per line of descent, as `git log --graph` draws."""
    lanes: list[str | None] = []
    for oid, parents in order:
        if oid not in lanes:
            lanes.append(oid)
        col = lanes.index(oid)
        yield (
            " ".join("*" if i == col else ("|" if lane else " ") for i, lane in enumerate(lanes)),
            oid,
        )
        lanes[col] = parents[0] if parents else None
        for p in parents[1:]:
            if p not in lanes:
                lanes.append(p)
        # lanes converging on one commit merge into the leftmost
        seen: set[str] = set()
        for i, lane in enumerate(lanes):
            if lane is not None and lane in seen:
                lanes[i] = None
            elif lane is not None:
                seen.add(lane)
        while lanes and lanes[-1] is None:
            lanes.pop()


@handle_errors
def log(
    store: StoreOpt = None,
    graph: Annotated[bool, typer.Option("--graph", help="Draw the parent edges.")] = False,
    max_count: Annotated[
        int | None, typer.Option("--max-count", "-n", help="Show at most N commits.")
    ] = None,
    code: Annotated[
        str | None,
        typer.Option(
            "--code", metavar="REV", help="Instead: the runs that ran exactly this code commit."
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Show the history of main, newest first, with the runs each commit added.

    With --code REV, list the runs that ran exactly that commit of your code
    repository: started clean at it, or stamped with it by the post-commit hook.

    Example: extract log --graph -n 20 ; extract log --code HEAD~1
    """
    if code is not None:
        _log_code(store, code, json_out)
        return
    with reader(store) as (repo, conn):
        head = repo.refs.read(MAIN)
        if head is None:
            if json_out:
                print_json([])
            else:
                typer.echo("no commits yet: `extract commit -m MSG` records sealed runs")
            return
        entries: list[tuple[str, Commit]] = []
        unreadable: list[str] = []

        def lost(oid: ObjectId, e: ExtractError) -> None:
            unreadable.append(
                f"commit {to_hex(oid)} cannot be read ({e}): history before it is not shown; `extract fsck` says how to recover it"
            )

        for oid, c in walk_commits(repo.objects, head, lost):
            entries.append((to_hex(oid), c))
            if max_count is not None and len(entries) >= max_count:
                break
        for line in unreadable:
            typer.echo(f"warning: {line}", err=True)
        if json_out:
            print_json(
                [
                    {
                        "id": h,
                        "parents": [to_hex(p) for p in c.parents],
                        "author": c.author,
                        "host": c.host,
                        "time": c.time,
                        "message": c.message,
                        "runs": [
                            r.id
                            for r in read.list_runs(
                                conn, commit=h, include_deleted=True, order="id"
                            ).items
                        ],
                    }
                    for h, c in entries
                ]
            )
            return
        commits = dict(entries)
        order = [(h, [to_hex(p) for p in c.parents]) for h, c in entries]
        prefixes = dict((oid, g) for g, oid in _graph_lines(order)) if graph else {}
        for h, _ in order:
            c = commits[h]
            runs = [
                r.id for r in read.list_runs(conn, commit=h, include_deleted=True, order="id").items
            ]
            lead = f"{prefixes[h]} " if graph else ""
            merge = " (merge)" if len(c.parents) > 1 else ""
            typer.echo(
                f"{lead}{h[:12]} {c.time[:19].replace('T', ' ')} {c.author}{merge}  {c.message.splitlines()[0]}"
            )
            if runs and not graph:
                typer.echo(
                    f"    {len(runs)} runs: {', '.join(runs[:4])}{' ...' if len(runs) > 4 else ''}"
                )


def _fmt(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return "" if value is None else str(value)


@handle_errors
def show(
    target: Annotated[
        str,
        typer.Argument(help="A run (id, id prefix or unique name) or a commit (ref or id prefix)."),
    ],
    store: StoreOpt = None,
    code: Annotated[
        bool, typer.Option("--code", help="How to get back the exact code the run ran.")
    ] = False,
    patch: Annotated[
        bool, typer.Option("--patch", help="Print only the run's uncommitted diff (for git apply).")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Show a run (config, metrics, params, curves, artifacts, provenance) or a commit.

    --code prints the commit a run ran and, for a dirty tree, the commands and the stored
    diff that rebuild its exact working tree; --patch prints only the diff.

    Example: extract show 01HZX4 ; extract show main ; extract show 01HZX4 --code
    """
    with reader(store) as (repo, conn):
        try:
            run_id: str | None = read.resolve_run(conn, target)
        except RunNotFound:
            run_id = None
        if run_id is not None:
            detail = read.get_run(conn, run_id, repo.objects)
            if code or patch:
                _print_code(repo, detail, patch, json_out)
            elif json_out:
                print_json(_jsonable(detail_json(detail)))
            else:
                _print_run(detail)
            return
        try:
            oid = repo.resolve(target)
        except (InvalidInput, NotFound):
            read.resolve_run(conn, target, hint=True)  # says "Run not found", with close names
            raise
        c = cast(repo.objects.get(oid), Commit)
        runs = read.list_runs(conn, commit=to_hex(oid), include_deleted=True, order="id").items
        if json_out:
            print_json(
                {
                    "id": to_hex(oid),
                    "parents": [to_hex(p) for p in c.parents],
                    "state": to_hex(c.state),
                    "author": c.author,
                    "host": c.host,
                    "time": c.time,
                    "message": c.message,
                    "runs": [r.id for r in runs],
                }
            )
            return
        typer.echo(f"commit {to_hex(oid)}")
        for p in c.parents:
            typer.echo(f"parent {to_hex(p)}")
        typer.echo(f"author {c.author} on {c.host}\ndate   {c.time}\n\n    {c.message}\n")
        for r in runs:
            typer.echo(f"  + {r.id}  {r.status:<9} {r.label}")


def detail_json(d: models.RunDetail) -> dict[str, Any]:
    """``extract show --json`` of a run: the runs table's columns, then its details."""
    r, code = d.run, d.code
    return {
        "id": r.id,
        "experiment_id": r.experiment_id,
        "experiment_path": r.experiment_path,
        "name": r.name,
        "label": r.label,
        "config": d.config,
        "started_at": r.started_at,
        "ended_at": r.ended_at,
        "status": r.status,
        "hostname": r.hostname,
        "tags": list(r.tags),
        "notes": d.notes,
        "total_steps": r.total_steps,
        "object_id": r.object_id,
        "commit_id": r.commit_id,
        "deleted": r.deleted,
        **asdict(code),
        "metrics": dict(d.metrics),
        "params": dict(d.params),
        "artifacts": [asdict(a) for a in d.artifacts],
        "curves": sorted(d.curves),
        "curve_stats": {n: asdict(c) for n, c in d.curves.items()},
        "todos": [asdict(t) for t in d.todos],
        "models": [asdict(m) for m in d.models],
        "lineage": [asdict(e) for e in d.lineage],
    }


def _print_code(repo: Repository, d: models.RunDetail, patch_only: bool, json_out: bool) -> None:
    code, rid = d.code, d.id
    diff = (
        chunking.read_bytes(repo.objects, from_hex(code.git_diff_id)) if code.git_diff_id else b""
    )
    if patch_only:
        sys.stdout.buffer.write(diff)
        sys.stdout.flush()
        return
    sha, stamp = code.git_sha, code.git_stamp
    if json_out:
        print_json(
            {
                "run": rid,
                "sha": sha,
                "branch": code.git_branch,
                "dirty": code.git_dirty,
                "tree": code.git_tree,
                "stamp": stamp,
                "diff_id": code.git_diff_id,
                "diff": diff.decode("utf-8", "replace"),
            }
        )
        return
    if not sha:
        typer.echo(f"run {rid} recorded no git commit (not started inside a git repository?)")
        return
    where = f"../run-{rid[-6:].lower()}"
    typer.echo(f"run {rid} ran commit {sha} on {code.git_branch or '(detached)'}")
    if stamp:
        typer.echo(f"its exact working tree was later committed as {stamp}:")
        typer.echo(f"  git worktree add {where} {stamp}")
    elif code.git_dirty:
        typer.echo("with uncommitted changes; to rebuild its exact working tree:")
        typer.echo(f"  git worktree add {where} {sha}")
        typer.echo(f"  cd {where} && extract show {rid} --patch --store {repo.root} | git apply")
        typer.echo(f"\n{diff.decode('utf-8', 'replace')}")
    else:
        typer.echo(f"with a clean working tree:\n  git worktree add {where} {sha}")


def _log_code(store: Path | None, rev: str, json_out: bool) -> None:
    with reader(store) as (_repo, conn):
        code = resolve_rev(Path.cwd(), rev)
        ids = runs_of_commit(conn, code)
        details = [read.get_run(conn, i) for i in ids]
    if json_out:
        print_json([_jsonable(detail_json(d)) for d in details])
        return
    if not details:
        typer.echo(f"no run ran exactly {code.sha[:12]}")
    for d in details:
        how = "stamped" if d.code.git_stamp == code.sha else "clean"
        typer.echo(f"{d.id}  {d.run.status:<9} {how:<7} {d.run.label}")


def _print_run(d: models.RunDetail) -> None:
    r, code = d.run, d.code
    typer.echo(f"run {r.id}  {r.label}")
    typer.echo(f"status   {r.status}{'  (deleted)' if r.deleted else ''}")
    typer.echo(f"started  {r.started_at}   ended {r.ended_at or '-'}")
    typer.echo(f"host     {r.hostname}")
    if code.git_sha or code.git_branch:
        dirty = " (dirty)" if code.git_dirty else ""
        stamp = f"  stamped {code.git_stamp[:12]}" if code.git_stamp else ""
        typer.echo(
            f"code     {(code.git_sha or '-')[:12]} on {code.git_branch or '-'}{dirty}{stamp}"
        )
    typer.echo(f"object   {r.object_id or '(live)'}   commit {r.commit_id or '-'}")
    if r.tags:
        typer.echo(f"tags     {', '.join(r.tags)}")
    if d.config:
        typer.echo("config")
        for k, v in read.flatten_config(d.config).items():
            typer.echo(f"  {k} = {_fmt(v)}")
    for title, mapping in (("metrics", d.metrics), ("params", d.params)):
        if mapping:
            typer.echo(title)
            for k, v in mapping.items():
                typer.echo(f"  {k} = {_fmt(v)}")
    if d.curves:
        typer.echo(f"curves   {', '.join(sorted(d.curves))}")
    for a in d.artifacts:
        step = f" step {a.step}" if a.step is not None else ""
        shape = f" {list(a.shape)} {a.dtype}" if a.shape else ""
        typer.echo(f"artifact {a.kind:<6} {a.name}{step}{shape}  {(a.object_id or '')[:12]}")
    for m in d.models:
        typer.echo(f"model    {m.key}  {m.size} bytes  {(m.content_id or '')[:12]}")
    for e in d.lineage:
        typer.echo(f"lineage  {e.relation} {e.parent_type} {e.label}")
    for t in d.todos:
        typer.echo(f"todo     [{'x' if t.done else ' '}] {t.content}")
    if d.notes:
        typer.echo("notes")
        for line in d.notes.splitlines():
            typer.echo(f"  {line}")


@handle_errors
def diff(
    run_a: Annotated[str, typer.Argument(help="First run.")],
    run_b: Annotated[str, typer.Argument(help="Second run.")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Compare two runs: config keys that differ, headline metrics, params and code.

    Example: extract diff 01HZX4 01HZX9
    """
    with reader(store) as (repo, conn):
        d = read.diff(conn, run_a, run_b, repo.config)
    if json_out:
        print_json(
            _jsonable(
                {
                    "a": d.a.id,
                    "b": d.b.id,
                    "config": {c.key: [_plain(c.a), _plain(c.b)] for c in d.config},
                    "metrics": {
                        m.name: {"a": m.a, "b": m.b, "direction": m.direction, "better": m.better}
                        for m in d.metrics
                    },
                    "params": {c.key: [_plain(c.a), _plain(c.b)] for c in d.params},
                    "code": {c.key: [_plain(c.a), _plain(c.b)] for c in d.code},
                }
            )
        )
        return
    typer.echo(f"a: {d.a.id} {d.a.label}")
    typer.echo(f"b: {d.b.id} {d.b.label}")
    typer.echo("\nconfig" + ("" if d.config else ": identical"))
    for c in d.config:
        typer.echo(f"  {c.key}: {_fmt(c.a)} -> {_fmt(c.b)}")
    typer.echo("\nmetrics" + ("" if d.metrics else ": none"))
    for m in d.metrics:
        mark = {"a": "  (a better)", "b": "  (b better)", None: ""}[m.better]
        arrow = "lower is better" if m.direction == "min" else "higher is better"
        typer.echo(f"  {m.name}: {_fmt(m.a)} -> {_fmt(m.b)}{mark}  [{arrow}]")
    if d.params:
        typer.echo("\nparams")
        for c in d.params:
            typer.echo(f"  {c.key}: {_fmt(c.a)} -> {_fmt(c.b)}")
    typer.echo("\ncode" + ("" if d.code else ": same"))
    for c in d.code:
        typer.echo(f"  {c.key}: {_fmt(c.a)} -> {_fmt(c.b)}")


def _plain(value: Any) -> Any:
    """A diffed value for JSON: a key one run lacks is null there."""
    return None if value is ABSENT else value


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
