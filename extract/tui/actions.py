"""The TUI's only writes: annotations recorded as events (delete a run, add and toggle TODOs).

Each follows the store's order of writes: the event object is made durable,
staged for the next commit, then indexed. Nothing is destroyed: a deleted run is
hidden by its ``delete`` event until ``extract gc`` (after a commit) drops it,
and a ``restore`` event would bring it back.
"""

from __future__ import annotations

from typing import Any

from extract.errors import InvalidInput
from extract.index.build import Indexer
from extract.index.ids import experiment_id
from extract.tracking.events import record_event

PRIORITIES = {0: "low", 1: "mid", 2: "high"}
#: What the writes go through: the open store's index writer (``Index.writer()``).
Writer = Indexer


def record(indexer: Indexer, op: str, target: str, data: dict[str, Any]) -> str:
    """Write, sync, stage and index one event (the store's one write path for events)."""
    return record_event(indexer, op, target, data)


def delete_run(indexer: Indexer, run_id: str) -> str:
    """Hide a run: a ``delete`` event. Its objects stay until gc."""
    return record(indexer, "delete", f"run:{run_id}", {})


def add_todo(
    indexer: Indexer,
    content: str,
    priority: int = 0,
    scope_type: str = "global",
    scope: str | None = None,
) -> str:
    """A new TODO. ``scope`` is a run id for run TODOs, an experiment path for experiment ones."""
    if not isinstance(content, str) or not content.strip():
        raise InvalidInput("a TODO needs some text")
    if priority not in PRIORITIES:
        raise InvalidInput(f"priority must be 0 (low), 1 (mid) or 2 (high), got {priority!r}")
    if scope_type == "global":
        target, scope_id = "global", None
    elif scope_type == "run" and scope:
        target, scope_id = f"run:{scope}", scope
    elif scope_type == "experiment" and scope:
        target, scope_id = f"experiment:{scope}", experiment_id(scope)
    else:
        raise InvalidInput(
            f"scope_type must be 'global', 'run' or 'experiment' (with a scope), got {scope_type!r}"
        )
    return record(
        indexer,
        "todo",
        target,
        {
            "content": content.strip(),
            "priority": priority,
            "scope_type": scope_type,
            "scope_id": scope_id,
        },
    )


def set_todo_done(indexer: Indexer, todo_id: str, done: bool) -> str:
    return record(indexer, "todo_done" if done else "todo_reopen", f"todo:{todo_id}", {})
