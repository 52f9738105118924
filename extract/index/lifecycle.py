"""Sealing a run and recovering crashed ones: objects first, then the index, then the journal goes."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from extract.errors import ExtractError
from extract.index.build import Indexer
from extract.store import journal
from extract.store.seal import Sealed, load_journal, seal


def seal_journal(indexer: Indexer, path: Path) -> Sealed:
    """Turn a journal into sealed objects, index them, and remove the journal."""
    # One write transaction: the journal names the run's objects until the staged entries
    # that replace it are durable, and gc must not slip in between.
    with indexer.repo.writing():
        state, _ = load_journal(path)
        sealed = seal(indexer.repo, state, path)
        indexer.sealed(sealed.run_oid, sealed.record, sealed.curves, sealed.events)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return sealed


def recover_orphans(indexer: Indexer) -> list[str]:
    """Seal, as failed, every run whose process died; returns their ids.

    A live run's process holds its journal's lock; a journal nobody holds is an
    orphan. We take the lock ourselves while sealing, so two processes opening
    the store at once never seal the same run twice.
    """
    recovered = []
    for path in sorted(indexer.repo.journal_dir.glob("*.journal")):
        if not journal.is_orphan(path):
            continue
        with journal.claimed(path) as ok:
            if not ok or not path.exists():
                continue
            try:
                sealed = seal_journal(indexer, path)
            except (ExtractError, OSError, ValueError, TypeError, KeyError, IndexError):
                # a damaged journal must not stop every open of the store: fsck reports it
                continue
            recovered.append(sealed.record.id)
    return recovered
