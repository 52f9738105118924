"""Tracking history on main: status, commit, reset and log (with `log --code`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from extract.errors import ExtractError
from extract.index import read
from extract.index.access import open_index
from extract.objects import Commit, ObjectId, short, to_hex
from extract.store.history import commit_staged, list_staged, reset_main, walk_commits
from extract.store.repo import MAIN

from ._common import (
    JsonOpt,
    StoreOpt,
    _jsonable,
    handle_errors,
    open_store,
    print_json,
    reader,
    refresh_index,
)
from .show_cmds import detail_json


@handle_errors
def status(store: StoreOpt = None, json_out: JsonOpt = False) -> None:
    """Show live runs, sealed runs not yet committed, and what main holds.

    Example: extract status
    """
    with reader(store) as (repo, conn):
        counts = read.status_counts(conn)
        live = read.list_runs(conn, state="live", order="oldest").items
        crashed = read.list_runs(conn, state="crashed", order="oldest").items
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
                    "crashed_runs": [r.id for r in crashed],
                    "uncommitted_runs": [r.id for r in pending],
                    "skipped_entries": skipped,
                }
            )
            return
        typer.echo(f"on main: {short(head) if head else '(no commits yet)'}")
        typer.echo(
            f"{counts.live} live, {counts.uncommitted} sealed but uncommitted, {counts.committed} committed"
        )
        if crashed:
            typer.echo(
                f"{counts.crashed} crashed: their process died before finish(); the next "
                "writing command (commit, fetch, gc, or a script's Store()) seals them as failed"
            )
        if skipped:
            typer.echo(
                f"index: {skipped} entries skipped, their objects missing or damaged: "
                "`extract fsck` names them and how to get them back"
            )
        for title, rows in (("live", live), ("crashed", crashed), ("uncommitted", pending)):
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
    more = f", {a['continued']} continued" if a.get("continued") else ""
    typer.echo(f" {a['runs']} runs{more}, {a['models']} models, {a['events']} events")


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


def _log_code(store: Path | None, rev: str, json_out: bool) -> None:
    from extract.git.stamp import resolve_rev, runs_of_commit  # pygit2: only for --code

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
