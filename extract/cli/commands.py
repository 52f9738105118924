"""The ``extract`` command line: thin commands that parse, call the library and format."""

from __future__ import annotations

import typer

from extract import __version__

from . import (
    annotate_cmds,
    git_cmds,
    mcp_cmd,
    plumbing,
    purge_cmd,
    query_cmds,
    runs_cmd,
    show_cmds,
    store_cmds,
    sync_cmds,
    track_cmds,
    tui_cmd,
    ui_cmd,
)

app = typer.Typer(
    name="extract",
    help="Local-first experiment tracking on a content-addressed store with git-like history.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

app.command("init")(store_cmds.init)
app.command("status")(track_cmds.status)
app.command("runs")(runs_cmd.runs)
app.command("commit")(track_cmds.commit)
app.command("reset")(track_cmds.reset)
app.command("log")(track_cmds.log)
app.command("show")(show_cmds.show)
app.command("diff")(show_cmds.diff)
app.command("checkout")(query_cmds.checkout)
app.command("sql")(query_cmds.sql)
app.command("tag", rich_help_panel="Annotate")(annotate_cmds.tag)
app.command("untag", rich_help_panel="Annotate")(annotate_cmds.untag)
app.command("note", rich_help_panel="Annotate")(annotate_cmds.note)
app.add_typer(annotate_cmds.todo_app, name="todo", rich_help_panel="Annotate")
app.add_typer(sync_cmds.remote_app, name="remote", rich_help_panel="Sync")
app.command("fetch", rich_help_panel="Sync")(sync_cmds.fetch)
app.command("merge", rich_help_panel="Sync")(sync_cmds.merge)
app.command("pull", rich_help_panel="Sync")(sync_cmds.pull)
app.command("push", rich_help_panel="Sync")(sync_cmds.push)
app.command("export", rich_help_panel="Sync")(sync_cmds.export)
app.command("import", rich_help_panel="Sync")(sync_cmds.import_)
app.add_typer(sync_cmds.sync_app, name="sync", rich_help_panel="Sync")
app.command("serve", rich_help_panel="Plumbing")(sync_cmds.serve_cmd)
app.add_typer(git_cmds.hooks_app, name="hooks", rich_help_panel="Git")
app.command("tui", rich_help_panel="Browse")(tui_cmd.tui)
app.command("mcp", rich_help_panel="Browse")(mcp_cmd.mcp)
app.command("ui", rich_help_panel="Browse")(ui_cmd.ui)
app.command("reindex", rich_help_panel="Maintenance")(query_cmds.reindex)
app.command("fsck", rich_help_panel="Maintenance")(store_cmds.fsck_cmd)
app.command("gc", rich_help_panel="Maintenance")(store_cmds.gc_cmd)
app.command("purge", rich_help_panel="Maintenance")(purge_cmd.purge_cmd)
app.command("cat-object", rich_help_panel="Plumbing")(plumbing.cat_object)
app.command("hash-object", rich_help_panel="Plumbing")(plumbing.hash_object)
app.command("rev-parse", rich_help_panel="Plumbing")(plumbing.rev_parse)
app.command("show-ref", rich_help_panel="Plumbing")(plumbing.show_ref)
app.command("reflog", rich_help_panel="Plumbing")(plumbing.reflog)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"extract {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Local-first experiment tracking on a content-addressed store with git-like history."""
