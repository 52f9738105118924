"""`extract hooks`: git hooks that tie runs to commits and push history with code."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from extract import sync
from extract.errors import ExtractError, StoreNotFound
from extract.git import hooks as hookmod
from extract.git.stamp import (
    add_trailer,
    git_config_bool,
    resolve_rev,
    runs_with_tree,
    staged_tree,
    stamp,
    write_wanted,
)
from extract.index.access import open_index
from extract.store.history import commit_staged
from extract.store.repo import Repository, locate_store
from extract.sync import ops
from extract.sync.remotes import resolve_remote
from extract.sync.transport import open_transport

from ._common import JsonOpt, handle_errors, print_json

hooks_app = typer.Typer(
    help="Git hooks: stamp runs with the commits that captured their code, push history with code.",
    no_args_is_help=True,
)

ProjectOpt = Annotated[
    Path, typer.Option("--project", "-C", help="The code repository (default: this directory).")
]


def _report(states: list[hookmod.HookState], json_out: bool) -> None:
    if json_out:
        print_json(
            [
                {
                    "hook": s.name,
                    "path": str(s.path),
                    "installed": s.installed,
                    "chained": s.chained,
                    "foreign": s.foreign,
                }
                for s in states
            ]
        )
        return
    for s in states:
        state = (
            "installed"
            if s.installed
            else ("someone else's hook" if s.foreign else "not installed")
        )
        chained = " (runs the previous hook first)" if s.chained and s.installed else ""
        typer.echo(f"{s.name:<12} {state}{chained}  {s.path}")


@hooks_app.command("install")
@handle_errors
def install(project: ProjectOpt = Path("."), json_out: JsonOpt = False) -> None:
    """Install post-commit, commit-msg and pre-push shims into the repository's hooks directory.

    Honours core.hooksPath. A hook already there is kept and run first.

    Example: extract hooks install
    """
    states = hookmod.install(project.resolve(), sys.executable)
    store = _store_for(project.resolve())
    if store is not None:
        write_wanted(store)  # runs started before these hooks are owed stamps too
    _report(states, json_out)


@hooks_app.command("uninstall")
@handle_errors
def uninstall(project: ProjectOpt = Path("."), json_out: JsonOpt = False) -> None:
    """Remove extract's hooks and restore any hook they were chained to."""
    _report(hookmod.uninstall(project.resolve()), json_out)


@hooks_app.command("status")
@handle_errors
def status(project: ProjectOpt = Path("."), json_out: JsonOpt = False) -> None:
    """Show which hooks are installed where."""
    _report(hookmod.status(project.resolve()), json_out)


def _store_for(project: Path) -> Repository | None:
    try:
        return Repository(locate_store(start=project))
    except StoreNotFound:
        return None


@hooks_app.command("run", hidden=True)
def run(
    name: Annotated[str, typer.Argument(help="post-commit, commit-msg or pre-push.")],
    args: Annotated[list[str] | None, typer.Argument(help="What git passed to the hook.")] = None,
) -> None:
    """What the shims call. Never fails a commit over extract's own trouble."""
    project = Path.cwd()
    args = args or []
    try:
        store = _store_for(project)
        if store is None:
            return
        if name == "post-commit":
            rev = resolve_rev(project, "HEAD")
            stamped = stamp(store, rev)
            if stamped:
                typer.echo(f"extract: stamped {len(stamped)} run(s) with this commit", err=True)
                if store.config.auto_commit:  # as the SDK commits its runs: stamps travel too
                    commit_staged(
                        store, f"stamp {len(stamped)} run(s) with code commit {rev.sha[:12]}"
                    )
        elif name == "commit-msg":
            if args and git_config_bool(project, "extract.trailer"):
                with open_index(store, refresh=False) as index:
                    indexer = index.writer()
                    indexer.refresh()
                    run_ids = runs_with_tree(indexer, staged_tree(project))
                if run_ids:
                    add_trailer(project, Path(args[0]), run_ids)
        elif name == "pre-push":
            # git passes the remote's name; the pre-commit framework sets it in the environment
            remote_arg = args[0] if args else os.environ.get("PRE_COMMIT_REMOTE_NAME")
            if git_config_bool(project, "extract.pushHistory") and remote_arg:
                # history goes with its stamps and sealed runs, not without them
                sync.commit_pending(store, "git pre-push")
                remote_name, url = resolve_remote(store, remote_arg)
                with open_transport(url, create=True, store=store.root) as t:
                    r = ops.push(store, t, remote_name)
                typer.echo(
                    f"extract: pushed experiment history ({r.objects} objects) to {remote_name}",
                    err=True,
                )
        else:
            typer.echo(f"extract: unknown hook {name!r}", err=True)
    except ExtractError as e:
        typer.echo(f"extract ({name} hook): {e}", err=True)
        if name == "pre-push":
            raise typer.Exit(1) from None  # history the user asked to push did not go: say so
    except Exception as e:  # a hook must not turn a commit into a traceback
        typer.echo(f"extract ({name} hook): unexpected error: {e}", err=True)
        if name == "pre-push":
            raise typer.Exit(1) from None
