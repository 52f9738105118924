"""The TUI's only writes: annotations (tags, notes, TODOs, deleting a run), recorded as
events by ``extract.index.annotate``, the one place the SDK and the CLI record them
too. Nothing is destroyed: a deleted run is hidden by its ``delete`` event, and only
``extract purge`` removes its objects.
"""

from __future__ import annotations

from typing import Any

from extract.index.annotate import (
    PRIORITIES,
    add_todo,
    delete_run,
    note,
    set_todo_done,
    tag,
    untag,
)
from extract.index.build import Indexer
from extract.tracking.events import record_event

__all__ = [
    "PRIORITIES",
    "Writer",
    "add_todo",
    "delete_run",
    "note",
    "record",
    "set_todo_done",
    "tag",
    "untag",
]

#: What the writes go through: the open store's index writer (``Index.writer()``).
Writer = Indexer


def record(indexer: Indexer, op: str, target: str, data: dict[str, Any]) -> str:
    """Write, sync, stage and index one event (the store's one write path for events)."""
    return record_event(indexer, op, target, data)
