"""The connection half of the TUI core: one store's index, opened and kept fresh.

A :class:`Session` holds the repository, the TUI's config, the reader connection
and the lock that serialises every read, and knows whether another process
changed the index since the last look. ``panels.Panels`` and ``core.Browser``
build on it; the screens use it only through a ``Browser``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from extract.display.fields import FieldFilter
from extract.display.settings import TuiConfig, tui_config
from extract.index import read
from extract.index.access import Index, open_index
from extract.index.models import (
    Direction,
)
from extract.store.arrays import ArrayReader
from extract.store.config import metric_direction
from extract.store.repo import Repository
from extract.store.writable import require_writable
from extract.tui import actions


class Session:
    """One store's index as the TUI core reads it. Thread-safe; every method may block."""

    def __init__(
        self,
        root: Path,
        *,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.repo = Repository(Path(root))
        #: The store's config and the TUI's sections of it, checked as the TUI opens.
        self.config: TuiConfig = tui_config(self.repo.config)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._index: Index | None = None
        #: What opening or refreshing the index worked around (a damaged file moved aside,
        #: a read-only store, a full disk), for the UI to show once: ``take_warnings()``.
        self.warnings: list[str] = []
        self._marker: tuple[Any, ...] | None = None
        self._filter = FieldFilter(self.config.info.fields)
        self._readers: dict[str, ArrayReader] = {}
        self._thumbs: dict[str, np.ndarray[Any, Any] | None] = {}  # image previews by object

    # connection and refresh ---------------------------------------------------
    @property
    def root(self) -> Path:
        return self.repo.root

    def shown_root(self) -> str:
        """The store path as a person reads it: relative to the working directory if inside it."""
        try:
            return str(self.repo.root.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(self.repo.root)

    def open(self) -> None:
        """Bring the index up to date (creating it if absent) and open the reader."""
        with self._lock:
            if self._conn is not None:
                return
            self._index = open_index(self.repo, warn=self.warnings.append)
            self._conn = self._index.reader()
            self._marker = read.change_marker(self._conn)

    def close(self) -> None:
        with self._lock:
            self._conn = None
            if self._index is not None:
                self._index.close()  # its reader too
                self._index = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self.open()
        assert self._conn is not None
        return self._conn

    @property
    def indexer(self) -> actions.Writer:
        """The index writer, for the UI's own writes (events); the store must be writable."""
        require_writable(self.repo.root, "this change")
        if self._index is None:
            self.open()
        assert self._index is not None
        return self._index.writer()

    def take_warnings(self) -> list[str]:
        """Warnings not yet shown, once each."""
        with self._lock:
            out, self.warnings[:] = list(self.warnings), []
            return out

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self.conn

    def refresh(self) -> bool:
        """Pick up new journal points, runs, commits and events; whether anything changed."""
        with self._lock:
            if self._index is None:
                self.open()
            assert self._index is not None
            self._index.refresh()
            self._conn = self._index.reader()  # a new one if a damaged file was rebuilt
            marker = read.change_marker(self.conn)
            changed = marker != self._marker
            self._marker = marker
            return changed

    def changed(self) -> bool:
        """Whether the index changed (another process wrote) since the last look."""
        with self._lock:
            marker = read.change_marker(self.conn)
            changed = marker != self._marker
            self._marker = marker
            return changed

    def direction(self, metric: str) -> Direction:
        return metric_direction(metric, self.config.store)

    def now(self) -> dt.datetime:
        return self.clock()
