"""``extract purge``: remove runs and model versions for good, and free their space."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from extract.errors import InvalidInput
from extract.index import read
from extract.index.access import open_index
from extract.objects import ObjectId, to_hex
from extract.store.purge import PurgePlan, plan_purge, purge

from ._common import JsonOpt, StoreOpt, handle_errors, human_bytes, open_store, print_json


@handle_errors
def purge_cmd(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            help="Runs (id, unique id prefix, or name) and model versions (NAME@VERSION).",
            metavar="RUN|NAME@VERSION",
            show_default=False,
        ),
    ] = None,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Purge without asking (needed when not on a terminal)."),
    ] = False,
    keep_models: Annotated[
        bool,
        typer.Option("--keep-models", help="Keep the model versions the purged runs registered."),
    ] = False,
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="Message of the purge commit.")
    ] = None,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Remove runs and model versions for good, and free the space only they used.

    A purged run takes the model versions it registered with it (--keep-models keeps
    them) and the tags, notes and TODOs made on it. The purge is a commit: it reaches
    other stores by push, fetch and merge, and they drop the same entries. The objects
    it removes are deleted at once; what is shared with anything kept (a chunk of
    another checkpoint) stays. It cannot be undone: only a copy made before it (another
    store, a bundle) still has the data. Without --yes it lists what would go and asks;
    off a terminal it changes nothing.

    Example: extract purge 01JGXK5W7E3Q lr-sweep-3 resnet50@v2 --yes
    """
    if not targets:
        raise InvalidInput(
            "nothing to purge: name runs (id, id prefix or name) and model versions "
            "(NAME@VERSION), e.g. `extract purge RUN resnet50@v2 --yes`"
        )
    repo = open_store(store, writes="`extract purge`")
    with open_index(repo) as index:
        runs, models = read.resolve_targets(index.reader(), targets)
    plan = plan_purge(repo, runs, models, keep_models=keep_models)
    if not plan.held:
        _report(plan, None, json_out, done=True)
        return
    if not yes:
        if json_out or not sys.stdin.isatty():
            raise InvalidInput(
                f"purge would remove {_counts(plan)} for good; nothing was changed: pass "
                "--yes to purge"
            )
        _report(plan, None, False, done=False)
        if not typer.confirm("Purge them for good?", default=False):
            typer.echo("nothing was changed", err=True)
            raise typer.Exit(1)
    result = purge(repo, plan, message)
    open_index(repo).close()  # the index drops the purged rows now, not at the next command
    if result.not_freed:
        typer.echo(f"warning: the purge is recorded; space not freed: {result.not_freed}", err=True)
    freed = result.freed.bytes_removed if result.freed else 0
    _report(plan, freed, json_out, done=True, commit=result.commit)


def _counts(plan: PurgePlan) -> str:
    parts = []
    if plan.runs:
        parts.append(f"{len(plan.runs)} run{'s' if len(plan.runs) != 1 else ''}")
    if plan.models:
        parts.append(f"{len(plan.models)} model version{'s' if len(plan.models) != 1 else ''}")
    return f"{' and '.join(parts)} ({human_bytes(plan.bytes)} in {plan.objects} objects)"


def _report(
    plan: PurgePlan,
    freed: int | None,
    json_out: bool,
    *,
    done: bool,
    commit: ObjectId | None = None,
) -> None:
    if json_out:
        print_json(
            {
                "runs": plan.runs,
                "models": plan.models,
                "already_purged": plan.already,
                "objects": plan.objects,
                "bytes": plan.bytes,
                "bytes_freed": freed,
                "commit": None if commit is None else to_hex(commit),
            }
        )
        return
    verb = "purged" if done else "would purge"
    for what in plan.already:
        typer.echo(f"{what}: already purged")
    for rid in plan.runs:
        typer.echo(f"{verb} run {rid}")
    for key in plan.models:
        typer.echo(f"{verb} model {key}")
    if not plan.held:
        return
    if done:
        typer.echo(f"freed {human_bytes(freed or 0)} ({_counts(plan)} purged)")
    else:
        typer.echo(f"would free {human_bytes(plan.bytes)} ({plan.objects} objects)")
