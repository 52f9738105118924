"""The headless core of the terminal UI: every question the screens ask, as plain data.

The UI talks to a :class:`Browser` and to nothing else in extract. A Browser
reads through the one read layer, ``extract.index.read``, on one reader
connection, and hands the screens its typed, frozen answers
(``extract.index.models``: ``RunRow``, ``ExperimentNode``, ``RunDetail``,
``Comparison``, ``RunDiff``, ``LineageGraph``, ...), wrapped where the UI adds
something of its own (the config keys ``[info] fields`` shows, charts, table
references). So the TUI, the CLI and the MCP server agree on which runs a search
finds, which config values are equal and which run is best. It refreshes the
index from live journals through ``extract.index.access.open_index`` (which also
heals a damaged index and indexes a read-only store in the user's cache), loads
big data (tables) lazily from objects, and writes only events, through
``actions``. Methods block; the UI calls them from thread workers. A lock
serialises them, so one Browser is safe to share between workers.

The core is split to read in one sitting: ``data`` holds the values it hands out
(``RunDetail``, ``CompareData``, ``Chart``, ``TableRef``, ...) and its limits;
``session.Session`` the index connection, refresh and lock; ``panels.Panels`` the
detail panels (a run, an experiment, the store, compare, diff) and their charts;
this module the ``Browser`` itself: lists, the run browser, lineage, TODOs, table
windows and the UI's writes.

Importing this module loads neither textual nor rich (a test checks it), so the
core can be driven and measured on its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from extract.index import read
from extract.index.models import (
    Column,
    ExperimentNode,
    LineageGraph,
    ModelVersion,
    RunRow,
    RunTable,
    Todo,
)
from extract.objects import from_hex
from extract.store.arrays import ArrayReader
from extract.tui import actions
from extract.tui.data import (
    TableRef,
    TableWindow,
    column,
    search_terms,
)
from extract.tui.panels import Panels


class Browser(Panels):
    """One store as the UI sees it. Thread-safe; every method may block."""

    # navigator -----------------------------------------------------------------
    def tree(self) -> list[ExperimentNode]:
        with self._reading() as conn:
            return read.experiment_tree(conn)

    def runs(
        self,
        path: str = "",
        *,
        exact: bool = False,
        order: str = "newest",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RunRow]:
        """Runs in the experiment ``path`` and below (only in it if ``exact``)."""
        with self._reading() as conn:
            page = read.list_runs(conn, path, exact=exact, order=order, limit=limit, offset=offset)
        return list(page.items)

    def runs_by_id(self, ids: Sequence[str]) -> dict[str, RunRow]:
        with self._reading() as conn:
            page = read.list_runs(conn, ids=ids, include_deleted=True)
        return {r.id: r for r in page.items}

    def headline(self, ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """run id -> {metric: value}; NaN where NaN was logged."""
        with self._reading() as conn:
            return read.headline(conn, ids)

    def metric_names(self, path: str = "") -> list[str]:
        with self._reading() as conn:
            return read.metric_names(conn, path)

    def counts(self) -> tuple[int, int]:
        """(runs, running runs), deleted ones left out."""
        with self._reading() as conn:
            over = read.overview(conn)
        return over.runs, over.by_status.get("running", 0)

    def search(self, text: str, limit: int = 200) -> list[RunRow]:
        """The read layer's one search rule: free text is a case-insensitive substring of
        the name, a tag or the notes, or an id prefix; ``status:``, ``tag:`` and ``exp:``
        terms are its filters, e.g. ``lr status:running exp:imagenet/``. Newest first."""
        query, filters = search_terms(text)
        with self._reading() as conn:
            page = read.list_runs(conn, query=query, filters=filters, limit=limit)
        return list(page.items)

    # the run browser ---------------------------------------------------------------
    def run_table(
        self,
        path: str = "",
        columns: Sequence[str] = (),
        *,
        sort: str | None = None,
        descending: bool | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> RunTable:
        """The runs of ``path`` and below with the chosen columns (metrics, ``config.*``,
        ``param.*``, run fields), sorted in SQL by any of them: see ``read.runs_table``.
        A metric sorts best first unless ``descending`` says otherwise."""
        with self._reading() as conn:
            return read.runs_table(
                conn,
                path,
                columns,
                sort=sort,
                descending=descending,
                limit=limit,
                offset=offset,
                config=self.config.store,
            )

    def metric_columns(self, path: str = "") -> list[str]:
        """The headline metrics of ``path`` and below as run browser columns (a metric
        named like a run field is ``metric.<name>``)."""
        return [m if column(m).kind == "metric" else f"metric.{m}" for m in self.metric_names(path)]

    def table_columns(self, path: str = "") -> tuple[Column, ...]:
        """Every column the run browser can show and sort by, for ``path`` and below."""
        with self._reading() as conn:
            return read.table_columns(conn, path)

    # registry, lineage, todos ---------------------------------------------------
    def models(self) -> list[ModelVersion]:
        with self._reading() as conn:
            return list(read.list_models(conn).items)

    def lineage(
        self, node_type: str, node_id: str, depth: int = 2, direction: str = "both"
    ) -> LineageGraph:
        with self._reading() as conn:
            return read.lineage(conn, node_type, node_id, direction, depth)

    def todos(self, include_done: bool = True) -> list[Todo]:
        """Every TODO of every scope, highest priority first, then oldest."""
        with self._reading() as conn:
            return list(read.list_todos(conn, None, include_done=include_done).items)

    # tables ----------------------------------------------------------------------
    def reader(self, object_id: str) -> ArrayReader:
        with self._lock:
            r = self._readers.get(object_id)
            if r is None:
                r = ArrayReader(self.repo.objects, from_hex(object_id))
                self._readers[object_id] = r
            return r

    def table_window(
        self,
        ref: TableRef,
        row0: int,
        col0: int,
        nrows: int,
        ncols: int,
        lead: tuple[int, ...] = (),
    ) -> TableWindow:
        """The visible slice of a table; only the chunks under it are read."""
        with self._lock:
            r = self.reader(ref.object_id)
            before = r.chunks_read
            shape = r.shape
            if len(shape) == 0:
                data = np.asarray(r[...]).reshape(1, 1)
                rows, cols = 1, 1
            elif len(shape) == 1:
                rows, cols = 1, shape[0]
                col0 = max(0, min(col0, cols - ncols))
                data = np.asarray(r[col0 : col0 + ncols]).reshape(1, -1)
                row0 = 0
            else:
                lead = tuple(lead[: len(shape) - 2]) + (0,) * max(0, len(shape) - 2 - len(lead))
                lead = tuple(max(0, min(i, n - 1)) for i, n in zip(lead, shape[:-2], strict=True))
                rows, cols = shape[-2], shape[-1]
                row0 = max(0, min(row0, rows - nrows))  # a full window at the edges
                col0 = max(0, min(col0, cols - ncols))
                data = np.asarray(r[(*lead, slice(row0, row0 + nrows), slice(col0, col0 + ncols))])
            return TableWindow(
                ref=ref,
                lead=lead if len(shape) > 2 else (),
                row0=row0,
                col0=col0,
                data=data,
                rows=rows,
                cols=cols,
                chunks_read=r.chunks_read - before,
                kind=r.dtype.kind,
            )

    # writes (events) --------------------------------------------------------------
    def delete_run(self, run_id: str) -> None:
        with self._lock:
            actions.delete_run(self.indexer, run_id)

    def tag(self, run_id: str, tag: str) -> None:
        """Add one tag (``annotate.tag`` validates it, as for the SDK and the CLI)."""
        with self._lock:
            actions.tag(self.indexer, run_id, [tag])

    def untag(self, run_id: str, tag: str) -> None:
        with self._lock:
            actions.untag(self.indexer, run_id, [tag])

    def note(self, run_id: str, content: str) -> None:
        """Append a note to the run's notes."""
        with self._lock:
            actions.note(self.indexer, run_id, content)

    def add_todo(
        self, content: str, priority: int, scope_type: str = "global", scope: str | None = None
    ) -> str:
        with self._lock:
            return actions.add_todo(self.indexer, content, priority, scope_type, scope)

    def set_todo_done(self, todo_id: str, done: bool) -> None:
        with self._lock:
            actions.set_todo_done(self.indexer, todo_id, done)
