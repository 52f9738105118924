"""remote, fetch, merge, pull, push, export, import, serve, and the reference `sync` commands."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from extract import sync
from extract.errors import InvalidInput
from extract.objects import short, to_hex
from extract.store.history import is_continuation, list_staged
from extract.store.repo import Repository
from extract.sync import bundle, ops
from extract.sync.remotes import add_remote, list_remotes, remove_remote, resolve_remote
from extract.sync.transport import open_transport, parse_url

from . import serve as serve_main
from ._common import JsonOpt, StoreOpt, handle_errors, open_store, print_json, refresh_index

QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
RemoteArg = Annotated[
    str | None, typer.Argument(help="Remote name, path or ssh URL (default: origin).")
]

remote_app = typer.Typer(help="Manage named remotes (stored in config.toml).", no_args_is_help=True)
sync_app = typer.Typer(
    help="The reference API's sync commands, on top of fetch, merge, push and bundles.",
    no_args_is_help=True,
)


@contextmanager
def progress_bar(what: str, quiet: bool) -> Iterator[ops.Progress | None]:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    with Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("objects  {task.fields[mib]:.1f} MiB  {task.fields[rate]:.1f} MiB/s"),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(what, total=None, mib=0.0, rate=0.0)
        t0 = time.monotonic()

        def update(done: int, total: int, nbytes: int) -> None:
            mib = nbytes / 2**20
            rate = mib / max(time.monotonic() - t0, 1e-6)
            bar.update(task, completed=done, total=total, mib=mib, rate=rate)

        yield update


def _fetch(repo: Repository, remote: str | None, quiet: bool) -> tuple[str, ops.TransferResult]:
    name, url = resolve_remote(repo, remote)
    with open_transport(url, store=repo.root) as t, progress_bar("fetch", quiet) as bar:
        return name, ops.fetch(repo, t, name, bar)


@remote_app.command("add")
@handle_errors
def remote_add(
    name: Annotated[str, typer.Argument(help="Short name, e.g. origin or cluster.")],
    url: Annotated[
        str,
        typer.Argument(
            help="A path, ssh://[user@]host[:port]/path, [user@]host:path, git::<git url> "
            "or s3://bucket[/prefix]."
        ),
    ],
    store: StoreOpt = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(
            "--endpoint-url", help="s3:// only: the service's URL, for storage other than AWS."
        ),
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="s3:// only: the region.")] = None,
    addressing_style: Annotated[
        str | None,
        typer.Option("--addressing-style", help="s3:// only: auto, path or virtual."),
    ] = None,
) -> None:
    """Add a remote. Example: extract remote add cluster ssh://me@login.hpc/scratch/me/.extract

    An s3:// remote takes its credentials from the AWS chain (environment, ~/.aws
    profiles, instance roles), never from config.toml.
    Example: extract remote add team s3://bucket/results --endpoint-url https://minio.lab:9000
    """
    repo = open_store(store, writes="`extract remote add`")
    parse_url(url)
    options = {
        k: v
        for k, v in (
            ("endpoint_url", endpoint_url),
            ("region", region),
            ("addressing_style", addressing_style),
        )
        if v is not None
    }
    add_remote(repo, name, url, options)
    typer.echo(f"added remote {name} -> {url}")


@remote_app.command("remove")
@handle_errors
def remote_remove(
    name: Annotated[str, typer.Argument(help="The remote to remove.")], store: StoreOpt = None
) -> None:
    """Remove a remote and its tracking ref. Example: extract remote remove cluster"""
    remove_remote(open_store(store, writes="`extract remote remove`"), name)
    typer.echo(f"removed remote {name}")


@remote_app.command("list")
@handle_errors
def remote_list(store: StoreOpt = None, json_out: JsonOpt = False) -> None:
    """List remotes. Example: extract remote list"""
    remotes = list_remotes(open_store(store))
    if json_out:
        print_json(remotes)
        return
    for name, url in remotes.items():
        typer.echo(f"{name}\t{url}")


@handle_errors
def fetch(
    remote: RemoteArg = None,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Copy what the remote has and this store lacks, then move refs/remotes/REMOTE/main.

    Every object is verified before it is written; an interrupted fetch resumes where it stopped.

    Example: extract fetch cluster
    """
    repo = open_store(store, writes="`extract fetch`")
    name, r = _fetch(repo, remote, quiet or json_out)
    if json_out:
        print_json(
            {
                "remote": name,
                "head": to_hex(r.head) if r.head else None,
                "objects": r.objects,
                "bytes": r.bytes,
                "seconds": round(r.seconds, 3),
            }
        )
    elif not quiet:
        if r.head is None:
            typer.echo(f"{name} has no commits yet")
        else:
            typer.echo(
                f"fetched {r.objects} objects ({r.bytes} bytes) from {name}: "
                f"refs/remotes/{name}/main at {short(r.head)}"
            )


def _merge(repo: Repository, ref: str, strategy: str | None) -> ops.MergeResult:
    theirs = repo.resolve(ref)
    result = ops.merge(repo, theirs, strategy=strategy, message=f"merge {ref}")
    refresh_index(repo)
    return result


def _strategy(ours: bool, theirs: bool) -> str | None:
    if ours and theirs:
        raise InvalidInput("--ours and --theirs exclude each other")
    return "ours" if ours else "theirs" if theirs else None


OursOpt = Annotated[bool, typer.Option("--ours", help="In a conflict, keep this store's version.")]
TheirsOpt = Annotated[
    bool, typer.Option("--theirs", help="In a conflict, take the other side's version.")
]


def _report_merge(r: ops.MergeResult, json_out: bool) -> None:
    if json_out:
        print_json({"kind": r.kind, "head": to_hex(r.head) if r.head else None, "added": r.added})
    elif r.kind == "up-to-date":
        typer.echo("already up to date")
    elif r.kind == "fast-forward":
        typer.echo(f"fast-forward to {short(r.head) if r.head else '-'}")
    else:
        added = ", ".join(f"{n} {s}" for s, n in r.added.items() if n) or "nothing new"
        typer.echo(f"merged into {short(r.head) if r.head else '-'}: {added}")


@handle_errors
def merge(
    ref: Annotated[
        str,
        typer.Argument(help="What to merge: a remote name, refs/remotes/X/main or a commit id."),
    ],
    store: StoreOpt = None,
    ours: OursOpt = False,
    theirs: TheirsOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Three-way merge another line of history into main (union of runs, models and events).

    A real conflict (a model version with different content, different hierarchies) is
    named and nothing changes, unless --ours or --theirs picks a side.

    Example: extract merge cluster
    """
    repo = open_store(store, writes="`extract merge`")
    _report_merge(_merge(repo, ref, _strategy(ours, theirs)), json_out)


@handle_errors
def pull(
    remote: RemoteArg = None,
    store: StoreOpt = None,
    ours: OursOpt = False,
    theirs: TheirsOpt = False,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Fetch, then merge. Example: extract pull cluster"""
    repo = open_store(store, writes="`extract pull`")
    name, r = _fetch(repo, remote, quiet or json_out)
    if r.head is None:
        _report_merge(ops.MergeResult("up-to-date", repo.refs.read("refs/heads/main")), json_out)
        return
    result = ops.merge(repo, r.head, strategy=_strategy(ours, theirs), message=f"merge {name}")
    refresh_index(repo)
    if not quiet or json_out:
        _report_merge(result, json_out)


@handle_errors
def push(
    remote: RemoteArg = None,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Send main: objects first, then the remote's main, only if it did not move meanwhile.

    Pushing to a path that holds no store creates a bare one.

    Example: extract push origin
    """
    repo = open_store(store)
    name, url = resolve_remote(repo, remote)
    with (
        open_transport(url, create=True, store=repo.root) as t,
        progress_bar("push", quiet or json_out) as bar,
    ):
        r = ops.push(repo, t, name, bar)
    staged_runs = [e for e in list_staged(repo) if e.section == "runs"]
    continued = sum(1 for e in staged_runs if is_continuation(repo, e))
    waiting = len(staged_runs) - continued
    if json_out:
        print_json(
            {
                "remote": name,
                "head": to_hex(r.head) if r.head else None,
                "objects": r.objects,
                "bytes": r.bytes,
                "up_to_date": r.up_to_date,
                "seconds": round(r.seconds, 3),
                "uncommitted_runs": waiting,
                "uncommitted_continuations": continued,
            }
        )
        return
    if not quiet:
        typer.echo(
            "everything up to date"
            if r.up_to_date
            else f"pushed {r.objects} objects ({r.bytes} bytes) to {name}: main at {short(r.head) if r.head else '-'}"
        )
    if waiting or continued:
        what = [f"{waiting} sealed run{'s' if waiting != 1 else ''}"] if waiting else []
        if continued:
            what.append(f"{continued} continuation{'s' if continued != 1 else ''} of resumed runs")
        verb = "are" if waiting + continued != 1 else "is"
        typer.echo(
            f"{' and '.join(what)} {verb} not committed, so not "
            "sent: `extract commit -m ...` first (`extract sync push` commits for you)",
            err=True,
        )


@handle_errors
def export(
    file: Annotated[Path, typer.Argument(help="Bundle file to write.")],
    store: StoreOpt = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only what main added after this commit.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write main's history to one bundle file, for a machine with no network to this one.

    Example: extract export results.bundle
    """
    repo = open_store(store)
    info = bundle.export_bundle(repo, file, repo.resolve(since) if since else None)
    if json_out:
        print_json({"file": str(file), "objects": info.objects, "bytes": info.bytes})
    else:
        typer.echo(f"wrote {file}: {info.objects} objects, {info.bytes} bytes")


@handle_errors
def import_(
    file: Annotated[Path, typer.Argument(help="Bundle file made by `extract export`.")],
    store: StoreOpt = None,
    ours: OursOpt = False,
    theirs: TheirsOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Verify every object of a bundle, store them, and merge its history into main.

    Example: extract import results.bundle
    """
    repo = open_store(store, writes="`extract import`")
    info = bundle.import_bundle(repo, file)
    result = ops.merge(
        repo,
        info.refs["refs/heads/main"],
        strategy=_strategy(ours, theirs),
        message=f"import {file.name}",
    )
    refresh_index(repo)
    _report_merge(result, json_out)


@handle_errors
def serve_cmd(
    path: Annotated[Path, typer.Argument(help="The store to serve.")],
    create: Annotated[
        bool, typer.Option("--create", help="Create a bare store if none is there.")
    ] = False,
) -> None:
    """Answer the sync protocol on stdin/stdout (what ssh remotes run on the far side)."""
    code = serve_main.run(path, create)
    if code:
        raise typer.Exit(code)


# the reference API's `extract sync ...` ------------------------------------------------


@sync_app.command("push")
@handle_errors
def sync_push(
    remote: Annotated[str, typer.Argument(help="Remote name, path or ssh URL.")],
    store: StoreOpt = None,
) -> None:
    """Commit what is sealed, then push main to REMOTE (the reference API's sync).

    Example: extract sync push /mnt/backup/.extract
    """
    sync.push(open_store(store, writes="`extract sync push`").root, remote)
    typer.echo(f"pushed main to {remote}")


def _print_counts(counts: dict[str, int]) -> None:
    for table, n in counts.items():
        typer.echo(f"{table}: {n}")


@sync_app.command("pull")
@handle_errors
def sync_pull(
    remote: Annotated[str, typer.Argument(help="Remote name, path or ssh URL.")],
    store: StoreOpt = None,
) -> None:
    """Fetch and merge REMOTE; prints rows added per table. Example: extract sync pull cluster"""
    _print_counts(sync.pull(open_store(store, writes="`extract sync pull`").root, remote))


@sync_app.command("export")
@handle_errors
def sync_export(
    output: Annotated[Path, typer.Argument(help="Bundle file to write.")], store: StoreOpt = None
) -> None:
    """Commit what is sealed, then write main's history to a bundle.

    Example: extract sync export results.bundle
    """
    sync.export_archive(open_store(store, writes="`extract sync export`").root, output)
    typer.echo(f"wrote {output}")


@sync_app.command("import")
@handle_errors
def sync_import(
    archive: Annotated[Path, typer.Argument(help="Bundle made by export.")], store: StoreOpt = None
) -> None:
    """Import and merge a bundle; prints rows added per table. Example: extract sync import results.bundle"""
    _print_counts(
        sync.import_archive(archive, open_store(store, writes="`extract sync import`").root)
    )
