"""Writing a live run's journal: the one way records get into it.

A ``RecordWriter`` frames records (``records.frame``), hands them to the kernel in one
write, and keeps the journal offset they end at. A listener (the SDK's background
indexer) may be told what was written, so it can index the records without reading
them back: a record reaches the listener only once it is in the file, with the offsets
it occupies there, so the index's "read up to offset N" stays true of the file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from extract.store.journal import JournalWriter
from extract.tracking.records import Record, frame

#: Told (records, start offset, end offset) after each write.
Listener = Callable[[Sequence[Record], int, int], None]


class RecordWriter:
    def __init__(self, journal: JournalWriter, offset: int) -> None:
        self.journal = journal
        self.offset = offset  # bytes of the journal written so far
        self.listener: Listener | None = None

    def write(self, recs: Sequence[Record], durable: bool = False) -> None:
        """Append ``recs`` (handed to the kernel, so they survive SIGKILL; fsynced when
        ``durable``)."""
        data = b"".join([frame(r) for r in recs])
        start = self.offset
        try:
            self.journal.write(data, durable=durable)
        except BaseException:
            # Part of it may be in the file: from here on only reading the file tells
            # what is there, so nobody is told of records any more.
            self.listener = None
            raise
        self.offset = start + len(data)
        if self.listener is not None:
            self.listener(recs, start, self.offset)
