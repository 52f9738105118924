"""``extract tag``, ``untag``, ``note`` and ``todo``: annotating any run at any time.

Each records an event (``extract.index.annotations``, as the SDK and the TUI do), so it
is committed with the next ``extract commit`` and travels with push and fetch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from extract.index import annotate, read
from extract.index.access import open_index
from extract.index.build import Indexer

from ._common import JsonOpt, StoreOpt, handle_errors, open_store, print_json

todo_app = typer.Typer(
    help="TODOs: add, list, and mark done, global or on a run or experiment.",
    no_args_is_help=True,
)

RunArg = Annotated[str, typer.Argument(help="A run: id, unique id prefix, or name.")]
PRIORITY = {"low": 0, "mid": 1, "high": 2, "0": 0, "1": 1, "2": 2}


@contextmanager
def _writer(store: StoreOpt, what: str) -> Iterator[Indexer]:
    repo = open_store(store, writes=f"`extract {what}`")
    with open_index(repo) as index:
        yield index.writer()


def _say(json_out: bool, value: dict[str, object], line: str) -> None:
    if json_out:
        print_json(value)
    else:
        typer.echo(line)


def _change_tags(
    op: Callable[[Indexer, object, list[str]], str],
    verb: str,
    run: str,
    tags: list[str],
    store: StoreOpt,
    json_out: bool,
) -> None:
    with _writer(store, verb) as w:
        rid = op(w, run, tags)
        now = read.get_run(w.conn, rid).run.tags
    _say(json_out, {"run": rid, "tags": list(now)}, f"{rid}: {', '.join(now) or '(no tags)'}")


@handle_errors
def tag(
    run: RunArg,
    tags: Annotated[list[str], typer.Argument(help="Tags to add.")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Add tags to a run, finished or live, here or fetched.

    Example: extract tag lr1e-3 baseline paper
    """
    _change_tags(annotate.tag, "tag", run, tags, store, json_out)


@handle_errors
def untag(
    run: RunArg,
    tags: Annotated[list[str], typer.Argument(help="Tags to remove.")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Remove tags from a run (a tag it does not have is no error).

    Example: extract untag lr1e-3 paper
    """
    _change_tags(annotate.untag, "untag", run, tags, store, json_out)


@handle_errors
def note(
    run: RunArg,
    text: Annotated[str, typer.Argument(help="The note (Markdown); appended to its notes.")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Append a note to a run's notes.

    Example: extract note lr1e-3 "diverged after warmup; see the loss spike at 4k"
    """
    with _writer(store, "note") as w:
        rid = annotate.note(w, run, text)
    _say(json_out, {"run": rid}, f"noted on {rid}")


def _priority(text: str) -> int:
    if text.lower() not in PRIORITY:
        raise typer.BadParameter(f"{text!r}: use low, mid or high (or 0, 1, 2)")
    return PRIORITY[text.lower()]


@todo_app.command("add")
@handle_errors
def todo_add(
    text: Annotated[str, typer.Argument(help="What to do.")],
    run: Annotated[
        str | None, typer.Option("--run", "-r", help="On this run (id, prefix, or name).")
    ] = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", "-e", help="On this experiment (path).")
    ] = None,
    priority: Annotated[
        str, typer.Option("--priority", "-p", help="low, mid or high (or 0, 1, 2).")
    ] = "low",
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a TODO: global, or on a run (--run) or an experiment (--experiment).

    Example: extract todo add "rerun with 3 seeds" --run lr1e-3 --priority high
    """
    if run is not None and experiment is not None:
        raise typer.BadParameter("give --run or --experiment, not both")
    scope_type, scope = (
        ("run", run)
        if run is not None
        else ("experiment", experiment)
        if experiment
        else ("global", None)
    )
    with _writer(store, "todo add") as w:
        tid = annotate.add_todo(w, text, _priority(priority), scope_type, scope)
    _say(json_out, {"id": tid}, f"added TODO {tid}")


@todo_app.command("list")
@handle_errors
def todo_list(
    run: Annotated[str | None, typer.Option("--run", "-r", help="Only this run's.")] = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", "-e", help="Only this experiment's.")
    ] = None,
    done: Annotated[bool, typer.Option("--done", help="Include done TODOs.")] = False,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List TODOs of every scope (or of one run or experiment), highest priority first.

    Example: extract todo list --run lr1e-3 --done
    """
    repo = open_store(store)
    with open_index(repo) as index:
        conn = index.reader()
        scope_type, scope = (
            ("run", run)
            if run is not None
            else ("experiment", experiment)
            if experiment
            else (None, None)
        )
        todos = read.list_todos(conn, scope_type, scope, include_done=done).items
    if json_out:
        print_json(
            [
                {
                    "id": t.id,
                    "content": t.content,
                    "priority": t.priority,
                    "done": t.done,
                    "scope_type": t.scope_type,
                    "scope": t.scope_label,
                    "created_at": t.created_at,
                }
                for t in todos
            ]
        )
        return
    if not todos:
        typer.echo("no TODOs")
    for t in todos:
        where = f"  ({t.scope_label})" if t.scope_label else ""
        mark = "x" if t.done else " "
        level = annotate.PRIORITIES[t.priority]
        typer.echo(f"[{mark}] {t.id[:10]}  {level:<4} {t.content}{where}")


@todo_app.command("done")
@handle_errors
def todo_done(
    todo: Annotated[str, typer.Argument(help="The TODO's id, or a unique prefix of it.")],
    reopen: Annotated[bool, typer.Option("--reopen", help="Mark it not done again.")] = False,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Mark a TODO done (or, with --reopen, not done).

    Example: extract todo done 01JH3K
    """
    with _writer(store, "todo done") as w:
        tid = annotate.set_todo_done(w, todo, not reopen)
    _say(json_out, {"id": tid, "done": not reopen}, f"{'reopened' if reopen else 'done'}: {tid}")
