"""init, fsck and gc: creating a store and keeping it sound."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from extract.errors import InvalidHierarchy, InvalidInput, StoreExists
from extract.index.access import IndexState, inspect_index, open_checked
from extract.objects import to_hex
from extract.store import config as configmod
from extract.store import restore
from extract.store.fsck import FsckReport, fsck
from extract.store.gc import DEFAULT_GRACE_SECONDS, DEFAULT_WAIT_SECONDS, gc, parse_duration
from extract.store.repo import DEFAULT_DIR, Repository
from extract.sync.remotes import resolve_remote
from extract.sync.repair import repair_objects
from extract.sync.transport import open_transport, parse_url
from extract.tracking.seal import recover_orphans

if TYPE_CHECKING:  # (imported where used: boto3 loads with it)
    from extract.sync.transport.s3 import S3Transport

from ._common import (
    JsonOpt,
    StoreOpt,
    handle_errors,
    human_bytes,
    open_store,
    print_json,
    refresh_index,
)


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


#: Rounds of repair: a restored object may reveal children that were lost with it.
REPAIR_ROUNDS = 8


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
        bool,
        typer.Option(
            "--repair",
            help="Seal runs whose process died (as failed runs), move aside a damaged loose "
            "object that has a sound packed copy, and rebuild a damaged index.",
        ),
    ] = False,
    remote: Annotated[
        str | None,
        typer.Option(
            "--remote",
            metavar="NAME",
            help="Check an s3:// remote (a bucket) instead of this store.",
        ),
    ] = None,
    from_remote: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="REMOTE",
            help="With --repair: fetch missing and damaged objects again from REMOTE "
            "(a remote name, path or URL). Damaged files are moved to damaged/, not deleted.",
        ),
    ] = None,
) -> None:
    """Check the store: every object well formed and matching its id, every reachable object present.

    Each bad object is named with what needs it (runs, models, events, commits). Exit code
    0 when sound, 1 when any error was found. The index is checked too (damage there is a
    warning: the index is a cache, rebuilt from the store).

    Example: extract fsck --read-data ; extract fsck --repair --from origin
    """
    if from_remote is not None and not repair:
        raise InvalidInput("--from REMOTE goes with --repair: extract fsck --repair --from origin")
    if remote is not None:
        if repair:
            raise InvalidInput("--repair works on this store, not on --remote")
        _fsck_remote(open_store(store), remote, read_data, json_out)
        return
    repo = open_store(store, writes="`extract fsck --repair`" if repair else None, seal=False)

    def say(line: str) -> None:
        if not json_out:
            typer.echo(line)

    if repair:
        with open_checked(repo) as index:
            for run_id in recover_orphans(index.writer()):
                say(f"recovered run {run_id} as failed")
    rep = fsck(repo, read_data=read_data)
    if repair:
        rep = _repair(repo, rep, from_remote, read_data, say)
        refresh_index(repo)  # entries skipped for want of the restored objects come back
    state = inspect_index(repo)
    evidence = _evidence(repo)
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
                "bad_objects": [
                    {
                        "id": to_hex(o),
                        "state": "damaged" if o in rep.damaged else "missing",
                        "needed_by": rep.needed_by.get(o, []),
                    }
                    for o in rep.damaged + rep.missing
                ],
                "index": {
                    "path": str(state.path),
                    "problem": state.problem,
                    "skipped": [asdict(s) for s in state.skipped],
                    "kept_aside": [str(p) for p in state.kept_aside],
                },
                "damaged_kept": [str(p) for p in evidence],
            }
        )
    else:
        for p in rep.problems:
            typer.echo(str(p), err=p.severity == "error")
        _print_index_state(state, evidence)
        if verbose:
            for oid in rep.dangling:
                typer.echo(f"dangling {to_hex(oid)}")
        mode = "all data re-hashed" if read_data else "blob data not re-hashed; --read-data does"
        where = f", {rep.packed} of them in {rep.packs} packs" if rep.packs else ""
        typer.echo(
            f"checked {rep.objects} objects ({rep.blobs} blobs{where}; {mode}): "
            f"{rep.reachable} reachable, {len(rep.dangling)} dangling, {len(rep.errors)} errors"
        )
        if rep.damaged or rep.missing:
            typer.echo(
                f"to recover the {len(rep.damaged) + len(rep.missing)} missing or damaged "
                "object(s): `extract fsck --repair --from REMOTE` fetches them again from a "
                "store that has them (a remote you pushed to or fetched from, a copy of this "
                "store); damaged files are kept in damaged/. If no store has them, only what "
                "needs them is lost: everything else reads and indexes as usual",
                err=True,
            )
        typer.echo("ok" if rep.ok else "store has errors")
    if not rep.ok:
        raise typer.Exit(1)


def _repair(
    repo: Repository,
    rep: FsckReport,
    from_remote: str | None,
    read_data: bool,
    say: Callable[[str], None],
) -> FsckReport:
    """Put back what ``rep`` found bad: locally where a sound packed copy exists, else from
    ``from_remote``; then check again, until nothing more comes back."""
    for _ in range(REPAIR_ROUNDS):
        if not rep.damaged and not rep.missing:
            break
        progress = False
        for oid in rep.damaged:
            aside = restore.use_packed_copy(repo, oid)
            if aside is not None:
                say(f"moved damaged {to_hex(oid)} aside to {aside}: its packed copy is sound")
                progress = True
        if from_remote is not None:
            name, url = resolve_remote(repo, from_remote)
            with open_transport(url, store=repo.root) as t:
                r = repair_objects(repo, t, rep.damaged + rep.missing)
            for path in r.moved_aside:
                say(f"moved damaged {path.name.split('.')[0]} aside to {path}")
            for oid in r.not_on_remote:
                say(f"{name} does not have {to_hex(oid)} either")
            for oid, why in r.bad_on_remote:
                say(f"{name}'s copy of {to_hex(oid)} is damaged too: {why}")
            if r.restored:
                say(f"restored {len(r.restored)} object(s) from {name}")
                progress = True
        if not progress:
            break
        rep = fsck(repo, read_data=read_data)
    return rep


def _evidence(repo: Repository) -> list[Path]:
    folder = repo.root / restore.DAMAGED_DIR
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _print_index_state(state: IndexState, evidence: list[Path]) -> None:
    if state.problem is not None:
        typer.echo(
            f"warning: index {state.path} is damaged ({state.problem}): the next command "
            "(or `extract fsck --repair`) moves it aside and rebuilds it; the store itself "
            "is not affected",
            err=True,
        )
    if state.skipped:
        typer.echo(
            f"warning: index: {len(state.skipped)} entries skipped because objects they need "
            "are missing or damaged (above); they are indexed as soon as those are restored",
            err=True,
        )
    for path in state.kept_aside:
        typer.echo(
            f"warning: {path} is a damaged index moved aside earlier; delete it (and its "
            "-wal, -shm) when you no longer need it",
            err=True,
        )
    if evidence:
        typer.echo(
            f"note: {len(evidence)} damaged object file(s) kept in {evidence[0].parent} as "
            "evidence; delete them when you no longer need them",
            err=True,
        )


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
    remote: Annotated[
        str | None,
        typer.Option(
            "--remote",
            metavar="NAME",
            help="Clean an s3:// remote (a bucket) instead of this store: packs no ref "
            "reaches, condemned by one gc and deleted by a later one after --grace.",
        ),
    ] = None,
) -> None:
    """Remove objects that no ref, reflog entry, staged item or live journal reaches.

    Safe while training runs, commits and fetches write to the store, whatever the grace
    period: gc sweeps only once no write is half done (it waits for running ones, and new
    ones pause while it deletes). The grace period is an extra margin. Deleted runs stay
    reachable from history; `extract purge` removes them for good (docs/storage.md).

    Example: extract gc --dry-run ; extract gc --remote team
    """
    if remote is not None:
        _gc_remote(open_store(store), remote, grace, dry_run, json_out)
        return
    repo = open_store(store, writes=None if dry_run else "`extract gc`")
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
                "problems": rep.problems,
            }
        )
        return
    for problem in rep.problems:
        typer.echo(f"warning: {problem}", err=True)
    if dry_run:
        for oid, size in rep.removed:
            typer.echo(f"{verb} {to_hex(oid)} ({human_bytes(size)})")
    typer.echo(
        f"{verb} {len(rep.removed)} objects ({human_bytes(rep.bytes_removed)}) and "
        f"{len(rep.tmp_removed)} temporary files; kept {rep.reachable} reachable and "
        f"{rep.kept_young} younger than {grace}"
    )


def _bucket(repo: Repository, remote: str) -> S3Transport:
    """The s3:// remote ``remote`` names, opened; anything else is refused."""
    name, url = resolve_remote(repo, remote)
    if parse_url(url).kind != "s3":
        raise InvalidInput(
            f"--remote works on s3:// remotes; {name} is {url}, a store of its own: run "
            "extract gc or fsck there (--store PATH, or on the ssh host)"
        )
    from extract.sync.transport.s3 import S3Transport

    t = open_transport(url, store=repo.root)
    assert isinstance(t, S3Transport)
    return t


def _gc_remote(repo: Repository, remote: str, grace: str, dry_run: bool, json_out: bool) -> None:
    from extract.sync.transport.s3 import remote_gc

    t = _bucket(repo, remote)
    try:
        rep = remote_gc(t, parse_duration(grace), dry_run=dry_run)
    finally:
        t.close()
    if json_out:
        print_json({"dry_run": dry_run, **asdict(rep)})
        return
    verb = "would delete" if dry_run else "deleted"
    for pack, size in rep.deleted:
        typer.echo(f"{verb} pack {pack} ({human_bytes(size)})")
    for rel in rep.orphans:
        typer.echo(f"{verb} {rel}: a pack without an index, left by a push that died")
    typer.echo(
        f"{verb} {len(rep.deleted) + len(rep.orphans)} packs "
        f"({human_bytes(rep.bytes_removed)}), {rep.uploads_aborted} unfinished uploads and "
        f"{rep.probes_removed} probe keys; condemned {len(rep.condemned)} unreached packs "
        f"(a gc after {grace} deletes them if still unreached; {rep.waiting} condemned "
        f"earlier still wait); {rep.reachable} objects reachable in {rep.packs} packs"
    )


def _fsck_remote(repo: Repository, remote: str, read_data: bool, json_out: bool) -> None:
    from extract.sync.transport.s3 import remote_fsck

    t = _bucket(repo, remote)
    try:
        rep = remote_fsck(t, read_data=read_data)
    finally:
        t.close()
    if json_out:
        print_json(
            {
                "ok": rep.ok,
                "refs": {k: to_hex(v) for k, v in rep.refs.items()},
                "packs": rep.packs,
                "objects": rep.objects,
                "reachable": rep.reachable,
                "verified": rep.verified,
                "unreachable_packs": rep.unreachable_packs,
                "problems": rep.problems,
            }
        )
    else:
        for p in rep.problems:
            typer.echo(f"error: {p}", err=True)
        mode = "all data re-hashed" if read_data else "blob data not re-hashed; --read-data does"
        typer.echo(
            f"checked {rep.objects} objects in {rep.packs} packs ({mode}): {rep.reachable} "
            f"reachable, {rep.verified} verified, {rep.unreachable_packs} packs unreached, "
            f"{len(rep.problems)} errors"
        )
        typer.echo("ok" if rep.ok else "remote has errors")
    if not rep.ok:
        raise typer.Exit(1)
