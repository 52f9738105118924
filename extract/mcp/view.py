"""The server's hold on one store: a read-only connection, refreshed before each answer.

Before each tool answers, the index catches up with the store (new commits,
staged runs, records appended to live runs' journals) through the one index
writer, ``Indexer.refresh``: cheap when nothing changed. Answers are read only
through a connection from ``db.open_reader``, which cannot write, attach or
change the schema. The index is opened by ``access.open_index``, as every front
end does: a damaged index.db is moved aside and rebuilt, and a store on a
read-only disk is indexed in the user's cache. If the index cannot be refreshed
(another process holds its write lock for long, or the disk is full), the answer
comes from the index as it is.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from extract.errors import ExtractError
from extract.index.access import open_index
from extract.index.db import is_corrupt
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
        self._index = open_index(self.repo, warn=log.warning, refresh=False)
        if self._index.indexer is not None:
            self._index.indexer.conn.execute(f"PRAGMA busy_timeout={REFRESH_WAIT_MS}")
        self.conn = self._limited(self._index.reader())  # every answer refreshes first
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

    @staticmethod
    def _limited(conn: sqlite3.Connection) -> sqlite3.Connection:
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES)
        return conn

    def refresh(self) -> None:
        try:
            self._index.refresh()
        except (sqlite3.OperationalError, ExtractError, OSError) as e:
            log.info("index refresh skipped: %s", e)
        reader = self._index.reader()
        if reader is not self.conn:  # a damaged index was moved aside and rebuilt
            self.conn = self._limited(reader)

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The read-only connection, after the index caught up with the store."""
        with self._lock:
            self.refresh()
            try:
                yield self.conn
            except sqlite3.DatabaseError as e:
                if is_corrupt(e):  # damage only this query met: rebuilt for the next one
                    self._index.heal(e)
                raise

    def close(self) -> None:
        with self._lock:
            self._index.close()
