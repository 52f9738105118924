"""Annotating runs at any time: tags, notes, TODOs and deletion, for the SDK, the CLI and
the TUI alike.

Each is an event (``events.record_event``): made durable, staged for the next commit,
then indexed. So an annotation on a run finished long ago, or fetched from another
machine, syncs and merges like every other event, and two machines that tag one run
converge. A run is named as everywhere else (``read.resolve_run``: id, unique prefix,
or name); what is wrong is refused before anything is written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from extract.errors import InvalidInput
from extract.index import read
from extract.index.build import Indexer
from extract.index.ids import experiment_id
from extract.tracking.events import record_event

#: TODO priorities, as the reference API numbers them.
PRIORITIES = {0: "low", 1: "mid", 2: "high"}
#: Longest tag or note kept (the codec's text limit is far higher; these are labels).
MAX_TAG = 200


def _text(what: str, value: object, limit: int | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} must be non-empty text, got {read.shown(value)}")
    if "\x00" in value:
        raise InvalidInput(f"{what} must not hold NUL characters")
    if limit is not None and len(value) > limit:
        raise InvalidInput(f"{what} is {len(value):,} characters; at most {limit} are allowed")
    return value.strip()


def _tags(tags: Iterable[object]) -> list[str]:
    out: list[str] = []
    for t in tags:
        tag = _text("a tag", t, MAX_TAG)
        if tag not in out:
            out.append(tag)
    if not out:
        raise InvalidInput("name at least one tag")
    return out


def _run(conn: sqlite3.Connection, run: object) -> str:
    return read.resolve_run(conn, run, hint=True)


def tag(indexer: Indexer, run: object, tags: Iterable[object]) -> str:
    """Add tags to a run (those it has already are kept once). Returns the run id."""
    rid = _run(indexer.conn, run)
    record_event(indexer, "tag", f"run:{rid}", {"tags": _tags(tags)})
    return rid


def untag(indexer: Indexer, run: object, tags: Iterable[object]) -> str:
    """Remove tags from a run (a tag it does not have is no error). Returns the run id."""
    rid = _run(indexer.conn, run)
    record_event(indexer, "untag", f"run:{rid}", {"tags": _tags(tags)})
    return rid


def note(indexer: Indexer, run: object, content: object) -> str:
    """Append a note to a run's notes. Returns the run id."""
    rid = _run(indexer.conn, run)
    record_event(indexer, "note", f"run:{rid}", {"content": _text("a note", content)})
    return rid


def delete_run(indexer: Indexer, run: object) -> str:
    """Hide a run: a ``delete`` event. Its objects stay until it is purged."""
    rid = _run(indexer.conn, run)
    record_event(indexer, "delete", f"run:{rid}", {})
    return rid


def add_todo(
    indexer: Indexer,
    content: object,
    priority: int = 0,
    scope_type: str = "global",
    scope: object = None,
) -> str:
    """A new TODO; returns its id. ``scope`` names the run (as ``resolve_run`` takes it)
    for a run TODO, the experiment path for an experiment one."""
    text = _text("a TODO", content)
    if priority not in PRIORITIES or isinstance(priority, bool):
        raise InvalidInput(
            f"priority must be 0 (low), 1 (mid) or 2 (high), got {read.shown(priority)}"
        )
    if scope_type == "global" and scope is None:
        target, scope_id = "global", None
    elif scope_type == "run" and scope is not None:
        scope_id = _run(indexer.conn, scope)
        target = f"run:{scope_id}"
    elif scope_type == "experiment" and isinstance(scope, str) and scope:
        path = read.get_experiment(indexer.conn, scope).path
        target, scope_id = f"experiment:{path}", experiment_id(path)
    else:
        raise InvalidInput(
            "scope_type must be 'global' (no scope), 'run' or 'experiment' (with a scope), "
            f"got {read.shown(scope_type)} with scope {read.shown(scope)}"
        )
    data = {"content": text, "priority": priority, "scope_type": scope_type, "scope_id": scope_id}
    return record_event(indexer, "todo", target, data)


def set_todo_done(indexer: Indexer, todo: object, done: bool = True) -> str:
    """Mark a TODO done (or open again); ``todo`` is its id or a unique prefix of it."""
    tid = read.resolve_todo(indexer.conn, todo)
    record_event(indexer, "todo_done" if done else "todo_reopen", f"todo:{tid}", {})
    return tid
