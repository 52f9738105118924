"""init, fsck and gc: creating a store and keeping it sound."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from extract.errors import InvalidHierarchy, InvalidInput, StoreExists
from extract.index.build import Indexer
from extract.index.lifecycle import recover_orphans
from extract.objects import to_hex
from extract.store import config as configmod
from extract.store.fsck import fsck
from extract.store.gc import DEFAULT_GRACE_SECONDS, DEFAULT_WAIT_SECONDS, gc, parse_duration
from extract.store.repo import DEFAULT_DIR, Repository

from ._common import JsonOpt, StoreOpt, handle_errors, human_bytes, open_store, print_json


def _store_dir(path: Path) -> Path:
    return path if path.name == DEFAULT_DIR else path / DEFAULT_DIR


def _add_gitignore(project: Path) -> bool:
    """Append '.extract/' to the project's .gitignore unless a line already covers it."""
    gi = project / ".gitignore"
    existing = gi.read_text("utf-8") if gi.exists() else ""
    if any(
        line.strip() in (".extract", ".extract/", "/.extract", "/.extract/")
        for line in existing.splitlines()
    ):
        return False
    sep = "" if not existing or existing.endswith("\n") else "\n"
    with open(gi, "a", encoding="utf-8") as f:
        f.write(
            f"{sep}# extract store (history travels with `extract push`, not with git add)\n.extract/\n"
        )
    return True


@handle_errors
def init(
    path: Annotated[
        Path, typer.Argument(help="Project directory (the store goes in PATH/.extract).")
    ] = Path("."),
    hierarchy: Annotated[
        str | None,
        typer.Option(
            "--hierarchy", help='Experiment levels, outermost first: "benchmark > model > variant".'
        ),
    ] = None,
    no_gitignore: Annotated[
        bool,
        typer.Option("--no-gitignore", help="Do not add .extract/ to the project's .gitignore."),
    ] = False,
    bare: Annotated[
        bool,
        typer.Option(
            "--bare", help="A store at PATH itself, to push to and fetch from (no hierarchy)."
        ),
    ] = False,
) -> None:
    """Create a store and set its experiment hierarchy.

    Asks for the hierarchy when --hierarchy is not given (use the option in scripts and CI).
    Refuses a store that is already configured.

    Example: extract init --hierarchy "benchmark > model > variant"
    """
    if bare:
        if hierarchy is not None:
            raise InvalidHierarchy("a bare store holds pushed history; it takes no --hierarchy")
        if (path / "FORMAT").exists():
            raise StoreExists(f"{path} is already an extract store")
        if path.exists() and any(path.iterdir()):
            raise InvalidInput(f"{path} exists and is not empty")
        Repository.create(path)
        typer.echo(f"Initialized bare extract store in {path}")
        return
    root = _store_dir(path)
    if hierarchy is None:
        if not sys.stdin.isatty():
            raise InvalidHierarchy(
                'no --hierarchy given and no terminal to ask on: pass --hierarchy "a > b > c"'
            )
        hierarchy = typer.prompt(
            "Experiment hierarchy, outermost level first (e.g. benchmark > model > variant)"
        )
    levels = configmod.parse_hierarchy(hierarchy)
    Repository.init(root, levels)
    typer.echo(
        f"Initialized extract store in {root} with hierarchy: {configmod.format_hierarchy(levels)}"
    )
    project = root.parent
    if not no_gitignore and _add_gitignore(project):
        typer.echo(f"Added .extract/ to {project / '.gitignore'}")


@handle_errors
def fsck_cmd(
    store: StoreOpt = None,
    read_data: Annotated[
        bool, typer.Option("--read-data", help="Re-hash every byte of every blob too.")
    ] = False,
    json_out: JsonOpt = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List dangling objects.")
    ] = False,
    repair: Annotated[
        bool, typer.Option("--repair", help="First seal runs whose process died, as failed runs.")
    ] = False,
) -> None:
    """Check the store: every object well formed and matching its id, every reachable object present.

    Exit code 0 when sound, 1 when any error was found (each names the bad object or file).

    Example: extract fsck --read-data
    """
    repo = open_store(store)
    if repair:
        indexer = Indexer(repo)
        try:
            for run_id in recover_orphans(indexer):
                typer.echo(f"recovered run {run_id} as failed")
        finally:
            indexer.close()
    rep = fsck(repo, read_data=read_data)
    if json_out:
        print_json(
            {
                "ok": rep.ok,
                "objects": rep.objects,
                "blobs": rep.blobs,
                "packs": rep.packs,
                "packed": rep.packed,
                "reachable": rep.reachable,
                "dangling": [to_hex(o) for o in rep.dangling],
                "problems": [
                    {"severity": p.severity, "subject": p.subject, "message": p.message}
                    for p in rep.problems
                ],
            }
        )
    else:
        for p in rep.problems:
            typer.echo(str(p), err=p.severity == "error")
        if verbose:
            for oid in rep.dangling:
                typer.echo(f"dangling {to_hex(oid)}")
        mode = "all data re-hashed" if read_data else "blob data not re-hashed; --read-data does"
        where = f", {rep.packed} of them in {rep.packs} packs" if rep.packs else ""
        typer.echo(
            f"checked {rep.objects} objects ({rep.blobs} blobs{where}; {mode}): "
            f"{rep.reachable} reachable, {len(rep.dangling)} dangling, {len(rep.errors)} errors"
        )
        typer.echo("ok" if rep.ok else "store has errors")
    if not rep.ok:
        raise typer.Exit(1)


@handle_errors
def gc_cmd(
    store: StoreOpt = None,
    grace: Annotated[
        str,
        typer.Option(
            "--grace", help="Keep unreachable objects younger than this (s, m, h, d, w; 0 = none)."
        ),
    ] = f"{DEFAULT_GRACE_SECONDS // 3600}h",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Only list what would be removed.")
    ] = False,
    wait: Annotated[
        str,
        typer.Option(
            "--wait",
            help="How long to wait for running fetches, pushes and imports to finish (s, m, h).",
        ),
    ] = f"{int(DEFAULT_WAIT_SECONDS // 60)}m",
    json_out: JsonOpt = False,
) -> None:
    """Remove objects that no ref, reflog entry, staged item or live journal reaches.

    Safe while training runs, commits and fetches write to the store, whatever the grace
    period: gc sweeps only once no write is half done (it waits for running ones, and new
    ones pause while it deletes). The grace period is an extra margin. Deleted runs stay
    reachable from history; see docs/storage.md.

    Example: extract gc --dry-run
    """
    repo = open_store(store)
    rep = gc(
        repo,
        grace_seconds=parse_duration(grace),
        dry_run=dry_run,
        wait_seconds=parse_duration(wait),
    )
    verb = "would remove" if dry_run else "removed"
    if json_out:
        print_json(
            {
                "dry_run": dry_run,
                "reachable": rep.reachable,
                "removed": [to_hex(o) for o, _ in rep.removed],
                "bytes_removed": rep.bytes_removed,
                "kept_young": rep.kept_young,
                "tmp_removed": [str(p) for p in rep.tmp_removed],
            }
        )
        return
    if dry_run:
        for oid, size in rep.removed:
            typer.echo(f"{verb} {to_hex(oid)} ({human_bytes(size)})")
    typer.echo(
        f"{verb} {len(rep.removed)} objects ({human_bytes(rep.bytes_removed)}) and "
        f"{len(rep.tmp_removed)} temporary files; kept {rep.reachable} reachable and "
        f"{rep.kept_young} younger than {grace}"
    )
