"""Recording an annotation: the one write path for tags, notes, TODOs, deletions and stamps.

The event object is made durable, then staged for the next commit, then indexed, in
that order, so a crash at any point leaves either nothing or an event that the next
commit and the next refresh pick up.
"""

from __future__ import annotations

from typing import Any

from extract.objects import Event, new_ulid
from extract.store.history import now_iso, stage
from extract.store.writable import require_writable
from extract.tracking.sink import RunSink


def record_event(sink: RunSink, op: str, target: str, data: dict[str, Any]) -> str:
    """Write, stage and index one event; returns its id."""
    repo = sink.repo
    require_writable(repo.root, f"recording a {op} event")
    ev = Event(new_ulid(), now_iso(), op, target, data)
    with repo.writing():  # the event object is unnamed until its staged entry exists
        oid = repo.objects.put(ev)
        repo.objects.sync()
        stage(repo, "events", ev.id, oid)
    sink.event_recorded(oid, ev)
    return ev.id
