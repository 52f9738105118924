"""Every ``extract`` command: its name, the function or sub-app that implements it, the
panel ``extract --help`` lists it under, and its one-line summary.

The entry point (``extract.cli.main``) imports a command's module only when that
command runs, so ``extract status`` does not pay for the sync transports, the TUI or
the web UI, and ``extract --help`` for none of them. That is why the summaries are
written here and not read from the commands: a test checks each one against the first
line of its command's own help. This module imports nothing of extract's.
"""

from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    name: str
    module: str  # in extract.cli
    attr: str  # a command function, or a typer.Typer of subcommands
    panel: str
    summary: str


COMMANDS: tuple[Entry, ...] = (
    Entry("init", "store_cmds", "init", "Commands", "Create a store and set its experiment hierarchy."),
    Entry("status", "track_cmds", "status", "Commands", "Show live runs, sealed runs not yet committed, and what main holds."),
    Entry("runs", "runs_cmd", "runs", "Commands", "A table of runs with chosen metrics, config keys and params, sorted by any of them."),
    Entry("commit", "track_cmds", "commit", "Commands", "Record every sealed run, model and event since the last commit on main."),
    Entry("reset", "track_cmds", "reset", "Commands", "Move main to an earlier commit (undo a bad merge, pull or commit)."),
    Entry("log", "track_cmds", "log", "Commands", "Show the history of main, newest first, with the runs each commit added."),
    Entry("show", "show_cmds", "show", "Commands", "Show a run (config, metrics, params, curves, artifacts, provenance) or a commit."),
    Entry("diff", "show_cmds", "diff", "Commands", "Compare two runs: config keys that differ, headline metrics, params and code."),
    Entry("checkout", "query_cmds", "checkout", "Commands", "Write a registered model's files to a path, verified against their hashes."),
    Entry("sql", "query_cmds", "sql", "Commands", "Run a read-only SQL query over the index (tables: runs, scalar_metrics, curve_points, ...)."),
    Entry("tag", "annotate_cmds", "tag", "Annotate", "Add tags to a run, finished or live, here or fetched."),
    Entry("untag", "annotate_cmds", "untag", "Annotate", "Remove tags from a run (a tag it does not have is no error)."),
    Entry("note", "annotate_cmds", "note", "Annotate", "Append a note to a run's notes."),
    Entry("todo", "annotate_cmds", "todo_app", "Annotate", "TODOs: add, list, and mark done, global or on a run or experiment."),
    Entry("remote", "sync_cmds", "remote_app", "Sync", "Manage named remotes (stored in config.toml)."),
    Entry("fetch", "sync_cmds", "fetch", "Sync", "Copy what the remote has and this store lacks, then move refs/remotes/REMOTE/main."),
    Entry("merge", "sync_cmds", "merge", "Sync", "Three-way merge another line of history into main (union of runs, models and events)."),
    Entry("pull", "sync_cmds", "pull", "Sync", "Fetch, then merge."),
    Entry("push", "sync_cmds", "push", "Sync", "Send main: objects first, then the remote's main, only if it did not move meanwhile."),
    Entry("export", "sync_cmds", "export", "Sync", "Write main's history to one bundle file, for a machine with no network to this one."),
    Entry("import", "sync_cmds", "import_", "Sync", "Verify every object of a bundle, store them, and merge its history into main."),
    Entry("sync", "sync_cmds", "sync_app", "Sync", "The reference API's sync commands, on top of fetch, merge, push and bundles."),
    Entry("hooks", "git_cmds", "hooks_app", "Git", "Git hooks: stamp runs with the commits that captured their code, push history with code."),
    Entry("tui", "tui_cmd", "tui", "Browse", "Browse experiments, runs, curves, tables, models, lineage and TODOs; live while runs run."),
    Entry("mcp", "mcp_cmd", "mcp", "Browse", "Serve the store, read-only, to an MCP host (Claude Code, ...) over stdio."),
    Entry("ui", "ui_cmd", "ui", "Browse", "Serve a read-only web UI of the store: runs, curves, compare, sweep, lineage, models, TODOs and SQL."),
    Entry("reindex", "query_cmds", "reindex", "Maintenance", "Rebuild index.db from objects and journals (it is a cache; nothing else is touched)."),
    Entry("fsck", "store_cmds", "fsck_cmd", "Maintenance", "Check the store: every object well formed and matching its id, every reachable object present."),
    Entry("gc", "store_cmds", "gc_cmd", "Maintenance", "Remove objects that no ref, reflog entry, staged item or live journal reaches."),
    Entry("purge", "purge_cmd", "purge_cmd", "Maintenance", "Remove runs and model versions for good, and free the space only they used."),
    Entry("serve", "sync_cmds", "serve_cmd", "Plumbing", "Answer the sync protocol on stdin/stdout (what ssh remotes run on the far side)."),
    Entry("cat-object", "plumbing", "cat_object", "Plumbing", 'Print an object: its kind, version and fields as JSON (links as {"$link": id}).'),
    Entry("hash-object", "plumbing", "hash_object", "Plumbing", "Print the id a file's content gets (a blob, or a chunk list for large files)."),
    Entry("rev-parse", "plumbing", "rev_parse", "Plumbing", "Print the full object id a ref name or abbreviated id stands for."),
    Entry("show-ref", "plumbing", "show_ref", "Plumbing", "List every ref and the object it points at."),
    Entry("reflog", "plumbing", "reflog", "Plumbing", "Show every move of a ref, newest first: nothing a bad merge does is lost."),
)  # fmt: skip

BY_NAME = {e.name: e for e in COMMANDS}
