"""What the write path hands to the index, and the small interface the index offers it.

Sealing, orphan recovery and events live below the index in the layer order (the index
is a cache built from what they write), yet each must update the index in the same step
as it writes, in the store's order: objects durable, then staged entries, then the
index, then the journal goes. They reach the index through ``RunSink``, which
``extract.index.build.Indexer`` implements; nothing here imports the index.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from extract.objects import Event, ObjectId, RunRecord, Segment
from extract.store.curves import Curves
from extract.store.repo import Repository
from extract.tracking.fold import RunState


@dataclass(frozen=True)
class Sealed:
    """A run just sealed: its objects, and the journal they were made from."""

    run_oid: ObjectId  # the run record's id, or the segment's for a continuation
    record: RunRecord | Segment
    curves: Curves  # the curve set's columns, so the index need not read them back
    events: tuple[tuple[ObjectId, Event], ...]  # the run's TODOs, as events
    journal: Path
    journal_end: int  # the offset just past the last journal record sealed
    tail: RunState  # the records from ``tail_from`` to ``journal_end``, folded
    tail_from: int  # where the index said it had read the journal up to

    @property
    def run_id(self) -> str:
        """The run sealed, or continued (a segment's id is its own)."""
        return self.record.run if isinstance(self.record, Segment) else self.record.id


class RunSink(Protocol):
    """The index, as the write path sees it."""

    @property
    def repo(self) -> Repository: ...

    def journal_offset(self, run_id: str) -> int:
        """How far into the live run's journal the index has read (0: not at all)."""

    def run_sealed(self, sealed: Sealed) -> None:
        """Index a run sealed from ``sealed.journal`` (called before the journal goes).

        The index adds ``sealed.tail`` if it has read the journal exactly up to
        ``sealed.tail_from``, or reads on from where it is; curve points it already
        holds from that journal are not written again."""

    def event_recorded(self, oid: ObjectId, event: Event) -> None:
        """Index an event that is durable and staged."""
