"""Looking at one thing: `show` (a run, its code, or a commit) and `diff` of two runs."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Annotated, Any

import typer

from extract.errors import InvalidInput, NotFound, RunNotFound
from extract.index import models, read
from extract.index.models import ABSENT
from extract.objects import Commit, from_hex, to_hex
from extract.objects.kinds import cast
from extract.store import chunking
from extract.store.repo import Repository

from ._common import JsonOpt, StoreOpt, _fmt, _jsonable, handle_errors, print_json, reader


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
        "group": asdict(d.group) if d.group is not None else None,
        "continuations": [asdict(c) for c in d.continuations],
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


def _print_group(g: models.RunGroup, this: str) -> None:
    size = f", world size {g.world_size}" if g.world_size is not None else ""
    typer.echo(f"group    {g.name}  ({len(g.members)} runs{size})")
    for m in g.members:
        rank = "-" if m.rank is None else str(m.rank)
        mark = "  <- this run" if m.run_id == this else ""
        typer.echo(f"  rank {rank:>3}  {m.run_id}  {m.status}{mark}")


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
    if d.group is not None:
        _print_group(d.group, d.id)
    for c in d.continuations:
        typer.echo(f"resumed  {c.started_at} on {c.hostname or '-'}: {c.status or 'running'}")
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
