"""The server's hold on one store: a read-only connection, refreshed before each answer.

Before each tool answers, the index catches up with the store (new commits,
staged runs, records appended to live runs' journals) through the one index
writer, ``Indexer.refresh``: cheap when nothing changed. Answers are read only
through a connection from ``db.open_reader``, which cannot write, attach or
change the schema. If the index cannot be refreshed (another process holds its
write lock for long, or the store is on a read-only disk), the answer comes from
the index as it is.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from extract.errors import ExtractError
from extract.index.build import Indexer
from extract.index.db import INDEX_FILE, open_reader
from extract.store import config as configmod
from extract.store.config import Config
from extract.store.repo import Repository

log = logging.getLogger("extract.mcp")

#: How long a refresh waits for another process's index write before answering without it.
REFRESH_WAIT_MS = 250
#: Longest string or blob a query may build: keeps zeroblob(1e9) and friends out of memory.
MAX_VALUE_BYTES = 16 * 1024 * 1024
#: Longest SQL statement an agent may send.
MAX_SQL_BYTES = 1024 * 1024


class StoreView:
    """One store, opened for reading. Thread-safe: one answer at a time."""

    def __init__(self, root: Path) -> None:
        self.repo = Repository(Path(root))
        self.root = self.repo.root
        self._indexer: Indexer | None
        try:
            self._indexer = Indexer(self.repo)
            self._indexer.conn.execute(f"PRAGMA busy_timeout={REFRESH_WAIT_MS}")
        except (sqlite3.Error, OSError) as e:  # e.g. a store on a read-only disk
            log.warning("index of %s cannot be refreshed (%s): answering from it as it is", root, e)
            self._indexer = None
        self.conn = open_reader(self.root / INDEX_FILE)
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES)
        self._lock = threading.Lock()
        self._config: Config | None = None
        self._config_mtime: int | None = None

    @property
    def config(self) -> Config:
        """config.toml, read again when it changed, so edited metric directions apply at once."""
        try:
            mtime = self.repo.config_path.stat().st_mtime_ns
        except OSError:
            mtime = None
        if self._config is None or mtime != self._config_mtime:
            try:
                self._config = configmod.load(self.repo.config_path)
            except ExtractError as e:  # a half-edited file: keep what we had
                log.warning("config.toml not reloaded: %s", e)
                if self._config is None:
                    self._config = Config()
            self._config_mtime = mtime
        return self._config

    def refresh(self) -> None:
        if self._indexer is None:
            return
        try:
            self._indexer.refresh()
        except (sqlite3.OperationalError, ExtractError, OSError) as e:
            log.info("index refresh skipped: %s", e)

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The read-only connection, after the index caught up with the store."""
        with self._lock:
            self.refresh()
            yield self.conn

    def close(self) -> None:
        with self._lock:
            self.conn.close()
            if self._indexer is not None:
                self._indexer.close()
