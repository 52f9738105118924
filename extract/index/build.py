"""Building index.db from objects and journals, from scratch or incrementally.

Every path into the index goes through the same few functions: a live run's
journal records (``ingest_journal``), a sealed run (``Rows.apply_run``), an event
(``Rows.apply_event``), a model version (``Rows.apply_model``); ``rows.py`` knows
what each looks like as rows. ``rebuild`` replays history oldest commit first, then
staged entries, then live journals; ``refresh`` does the same for whatever arrived
since the last refresh. Either way the rows are the same, which the reindex property
test checks.

A live run's curve points reach SQLite once: the index reads them from its journal
(a refresh, or the writer process's own background ingest), and when the run is
sealed (``run_sealed``) it catches up on the journal's tail and marks the row sealed
without writing the points again. Only a run the index never saw live (another
machine's, a rebuild) has its points inserted from its curve set.

An object that cannot be read (missing, damaged) costs only what needs it: the
entry, commit or state tree is recorded in ``skipped`` and tried again on every
refresh (``skips``). Where to open the index, and what to do when it cannot be
opened, is decided once, in ``access.open_index``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from graphlib import TopologicalSorter
from pathlib import Path

from extract.errors import ExtractError
from extract.index import files, resumed, skips
from extract.index.db import INDEX_FILE, open_writer, schema_version, write
from extract.index.diff import diff_states
from extract.index.rows import Rows
from extract.index.schema import SCHEMA_VERSION
from extract.objects import (
    Commit,
    Event,
    ModelVersion,
    ObjectId,
    RunRecord,
    Segment,
    from_hex,
    to_hex,
)
from extract.objects.kinds import cast
from extract.store import journal as journalmod
from extract.store.history import list_staged, model_key
from extract.store.repo import MAIN, Repository
from extract.tracking.fold import RunState, fold_journal
from extract.tracking.records import Start
from extract.tracking.sink import Sealed

#: Bytes of journal one ingest transaction reads at most: a long journal is taken in
#: pieces, so no transaction holds the write lock for long.
INGEST_BYTES = 1 << 20


class Indexer:
    """The one writer of index.db for a store."""

    def __init__(self, repo: Repository, path: Path | None = None) -> None:
        """The index at ``path`` (default: the store's own index.db; ``access.open_index``
        decides where it lives and heals one SQLite cannot read)."""
        self.repo = repo
        self.path = path if path is not None else repo.root / INDEX_FILE
        self.conn = open_writer(self.path)
        self.rows = Rows(self.conn, repo)
        self._skips = False  # whether ``skipped`` has rows (set at each refresh)
        try:
            if schema_version(self.conn) != SCHEMA_VERSION:
                self.rebuild()
            elif self._meta("staged") is None:
                # A new, empty index (deleted by hand): catch up in place. Not rebuild(),
                # which replaces the file under any other process that has it open.
                self.refresh()
        except BaseException:
            self.conn.close()
            raise

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def _savepoint(self) -> Iterator[None]:
        """One entry's writes, undone alone when one of its objects cannot be read."""
        self.conn.execute("SAVEPOINT entry")
        try:
            yield
        except BaseException:
            self.rows.forget_metric_ids()  # ids made inside were rolled back too
            if self.conn.in_transaction:  # (SQLite may have rolled back all: a full disk)
                self.conn.execute("ROLLBACK TO entry")
                self.conn.execute("RELEASE entry")
            raise
        self.conn.execute("RELEASE entry")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction. Metric ids are looked up afresh in each: another process
        may have rebuilt the table, and a rollback forgets the ids it made."""
        self.rows.forget_metric_ids()
        try:
            with write(self.conn) as conn:
                yield conn
        except BaseException:
            self.rows.forget_metric_ids()
            raise

    # small helpers -----------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str | None) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # live runs -----------------------------------------------------------------
    def run_started(self, start: Start, offset: int) -> None:
        """Make a live run visible at once, before any reader refreshes from its journal
        (whose start record ends at ``offset``: the index has read that far)."""
        with self.transaction():
            self.rows.sync_hierarchy()
            self.rows.upsert_live_row(start)
            self.conn.execute(
                "INSERT OR IGNORE INTO journals(run_id, offset) VALUES (?, ?)", (start.id, offset)
            )

    def run_resumed(self, start: Start, offset: int) -> None:
        """A continuation of sealed run ``start.id`` began (its journal's first records end
        at ``offset``): the run shows as live again, on top of what is sealed."""
        with self.transaction():
            resumed.mark_resumed(self.rows, start.id, start.total_steps)
            self._set_offset(start.id, offset)

    def ingest_folded(self, run_id: str, state: RunState, start: int, end: int) -> bool:
        """Index records this process wrote to a live run's journal from ``start`` to
        ``end``, folded as they were written instead of read back. False, changing
        nothing, if the index has not read exactly up to ``start`` (a reader's refresh
        read on meanwhile): then read the journal instead."""
        with self.transaction():
            if self.journal_offset(run_id) != start:
                return False
            self.rows.apply_live(run_id, state)
            self._set_offset(run_id, end)
            return True

    def ingest_journal(self, path: Path, max_bytes: int | None = None) -> bool:
        """Catch up on one live journal from where the index last stopped reading it, in
        transactions of at most ``INGEST_BYTES`` of journal each; with ``max_bytes``, stop
        after about that many. Returns whether it may hold more."""
        run_id = path.name.split(".")[0]
        left = max_bytes
        while left is None or left > 0:
            if not self._journal_grew(path, run_id):
                return False  # asked without taking the write lock: readers refresh often
            piece = INGEST_BYTES if left is None else min(left, INGEST_BYTES)
            with self.transaction():
                read = self._ingest_piece(path, run_id, piece)
            if read == 0:
                return False
            if left is not None:
                left -= read
        return True

    def _journal_grew(self, path: Path, run_id: str) -> bool:
        row = self.conn.execute("SELECT offset FROM journals WHERE run_id=?", (run_id,)).fetchone()
        try:
            return path.stat().st_size > (0 if row is None else int(row[0]))
        except FileNotFoundError:
            return False

    def _ingest_piece(self, path: Path, run_id: str, limit: int | None) -> int:
        """Inside a transaction: fold the journal from the index's offset (about ``limit``
        bytes) into the run's rows. Returns the bytes read (0: nothing new)."""
        row = self.conn.execute(
            "SELECT r.object_id IS NOT NULL, j.offset FROM (SELECT ? AS id) q "
            "LEFT JOIN runs r ON r.id = q.id LEFT JOIN journals j ON j.run_id = q.id",
            (run_id,),
        ).fetchone()
        offset = int(row[1] or 0)
        if row[0]:
            if not resumed.continues(self.rows, path):
                # sealed and indexed from its objects: the journal is about to go
                self.conn.execute("DELETE FROM journals WHERE run_id=?", (run_id,))
                return 0
            offset = 0  # a continuation of the sealed run began: read its journal whole
        try:
            if path.stat().st_size <= offset:
                return 0
        except FileNotFoundError:
            return 0
        state, end = fold_journal(path, offset, limit)
        if end == offset:
            return 0
        if state.start is not None:
            self.rows.sync_hierarchy()
            self.rows.upsert_live_row(state.start)
            self.rows.fold_run_events(run_id)  # events about it may have been indexed first
            if state.resume is not None:
                resumed.mark_resumed(self.rows, run_id, state.start.total_steps)
        self.rows.apply_live(run_id, state)
        self._set_offset(run_id, end)
        return end - offset

    # the write path's interface (tracking.sink.RunSink) ----------------------------------
    def journal_offset(self, run_id: str) -> int:
        row = self.conn.execute(
            "SELECT j.offset FROM journals j JOIN runs r ON r.id = j.run_id "
            "WHERE j.run_id=? AND r.object_id IS NULL",
            (run_id,),
        ).fetchone()
        return 0 if row is None else int(row[0])

    def run_sealed(self, sealed: Sealed) -> None:
        """Index a run its own process (or an orphan's recoverer) just sealed.

        The index adds the journal's records it had not read (the seal folded them as
        ``sealed.tail``), so it then holds exactly the sealed journal's points: they stay
        where they are, and only the run's other rows are rewritten from the record."""
        record = sealed.record
        run_id = sealed.run_id
        with self.transaction():
            offset = self.journal_offset(run_id)
            if offset == sealed.tail_from and offset < sealed.journal_end:
                tail = sealed.tail
                if tail.start is not None:
                    self.rows.sync_hierarchy()
                    self.rows.upsert_live_row(tail.start)
                    self.rows.fold_run_events(run_id)
                    if tail.resume is not None:
                        resumed.mark_resumed(self.rows, run_id, tail.start.total_steps)
                self.rows.apply_live(run_id, tail)
                self._set_offset(run_id, sealed.journal_end)
            elif offset < sealed.journal_end:  # read on since the seal asked: catch up
                self._ingest_piece(sealed.journal, run_id, sealed.journal_end - offset)
            caught_up = self.journal_offset(run_id) == sealed.journal_end
            if isinstance(record, Segment):
                resumed.apply_segment(
                    self.rows, sealed.run_oid, record, None, sealing=True, points_indexed=caught_up
                )
            else:
                self.rows.apply_run(
                    sealed.run_oid,
                    record,
                    None if caught_up else sealed.curves,
                    None,
                    points_indexed=caught_up,
                )
            for oid, ev in sealed.events:
                self.rows.apply_event(oid, ev, None)
            for key, oid in self._model_keys(record):
                self.rows.apply_model(key, oid, None)

    def _set_offset(self, run_id: str, offset: int) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO journals(run_id, offset) VALUES (?, ?)", (run_id, offset)
        )

    def _model_keys(self, record: RunRecord | Segment) -> list[tuple[str, ObjectId]]:
        out = []
        for m in record.models:
            mv = cast(self.repo.objects.get(m), ModelVersion)
            out.append((model_key(mv.name, mv.version), m))
        return out

    def event_recorded(self, oid: ObjectId, event: Event) -> None:
        with self.transaction():
            self.rows.apply_event(oid, event, None)

    # questions the SDK asks before it writes --------------------------------------------
    def has_experiment(self, path: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM experiments WHERE path=?", (path,)).fetchone()
        return row is not None

    def model_holder(self, name: str, version: str) -> str | None:
        """The run that registered model ``name@version``, if any run did."""
        row = self.conn.execute(
            "SELECT run_id FROM models WHERE name=? AND version=?", (name, version)
        ).fetchone()
        return None if row is None else str(row[0])

    def claim_model(self, name: str, version: str, oid: ObjectId) -> str | None:
        """Reserve ``name@version`` for model version ``oid`` at once, so that a second
        registration fails in any process before its run is sealed. Returns None when the
        name is ours, else the run that holds it with other content."""
        with self.transaction():
            row = self.conn.execute(
                "SELECT object_id, run_id FROM models WHERE name=? AND version=?", (name, version)
            ).fetchone()
            if row is None:
                self.rows.insert_model_row(model_key(name, version), oid, None)
            elif row[0] != to_hex(oid):
                return str(row[1])
        return None

    def apply_entries(
        self, entries: Iterable[tuple[str, str, ObjectId]], commit: str | None
    ) -> None:
        """Runs first, then models, then events in id order, so events find their targets;
        purges last, so what they removed goes whatever else the commit brought."""
        order = {"runs": 0, "models": 1, "events": 2, "purged": 3}
        items = sorted(entries, key=lambda e: (order[e[0]], e[1]))
        for section, key, oid in items:
            try:
                with self._savepoint():
                    self._apply_entry(section, key, oid, commit)
            except skips.UNREADABLE as e:
                # this entry needs an object that is missing or damaged: index the rest
                skips.record(self.conn, section, key, to_hex(oid), commit, e)
                self._skips = True
            else:
                if self._skips:
                    skips.forget(self.conn, section, key, to_hex(oid))

    def _apply_entry(self, section: str, key: str, oid: ObjectId, commit: str | None) -> None:
        odb = self.repo.objects
        if section == "runs":
            # a run record, or a segment (a continuation of one) under its own ULID
            if self.rows.same_run(key, oid, commit) or resumed.same_segment(
                self.rows, key, oid, commit
            ):
                return  # known: checked before reading the object
            obj = odb.get(oid)
            if isinstance(obj, Segment):
                resumed.apply_segment(self.rows, oid, obj, commit)
            else:
                self.rows.apply_run(oid, cast(obj, RunRecord), None, commit)
        elif section == "models":
            self.rows.apply_model(key, oid, commit)
        elif section == "purged":
            self.rows.forget_purged(key)
        else:
            self.rows.apply_event(oid, cast(odb.get(oid), Event), commit)

    def _apply_commit_range(self, head: ObjectId | None) -> None:
        """Index every commit reachable from ``head`` that is not indexed yet, parents first.

        The walk stops at indexed commits (their ancestors are indexed too), so after a
        merge it visits exactly the commits the other side brought. Each commit applies
        only the state entries that differ from its first parent's state.

        A commit that cannot be read is recorded as skipped and its ancestors are not
        reached through it; its children then apply their whole state (diffed against
        nothing), so the index still holds everything the reachable states name.
        """
        indexed = self._meta("head")
        if head is None or indexed == to_hex(head):
            return
        odb = self.repo.objects
        new: dict[ObjectId, Commit] = {}
        stack: list[tuple[ObjectId, ObjectId | None]] = [(head, None)]
        descends = indexed is None  # from the indexed head: only then can rows be added
        while stack:
            oid, child = stack.pop()
            if oid in new:
                continue
            if self._commit_known(oid):
                descends = descends or to_hex(oid) == indexed
                continue
            c = self._read_history(oid, child)
            if c is None:
                continue
            new[oid] = c
            stack.extend((p, oid) for p in c.parents)
        if not descends:
            # main moved back or sideways (extract reset), or history between the heads
            # cannot be read: the indexed commits are those the old head reaches, and rows
            # of the ones main no longer holds must go. An incremental pass cannot tell
            # which rows those are (a run's tags fold events of many commits), so empty the
            # index in place and index the new head whole: the file stays, so other
            # processes' connections stay valid.
            self._forget_everything()
            self.rows.sync_hierarchy()
            self._apply_commit_range(head)
            return
        # parents first; among commits that do not depend on each other, oldest first
        graph = TopologicalSorter[ObjectId]()
        for oid in sorted(new, key=lambda o: (new[o].time, o)):
            graph.add(oid, *(p for p in new[oid].parents if p in new))
        order = list(graph.static_order())
        for oid in order:
            c = new[oid]
            parents: list[ObjectId | None] = [
                new[p].state if p in new else self._state_of(p) for p in c.parents
            ] or [None]
            commit = to_hex(oid)

            def unreadable_tree(tree: ObjectId, e: ExtractError, commit: str = commit) -> None:
                skips.record(self.conn, skips.HISTORY, to_hex(tree), to_hex(tree), commit, e)
                self._skips = True

            # A merge is diffed against every parent: where it resolved a conflict for one
            # side (--ours), the other parent's version, indexed before, is replaced.
            for parent_state in parents:
                self.apply_entries(diff_states(odb, parent_state, c.state, unreadable_tree), commit)
            self._insert_commit(oid, c)
        self._set_meta("head", to_hex(head))

    def _forget_everything(self) -> None:
        """Delete every row but the schema version, inside the caller's transaction."""
        tables = [
            r[0]
            for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            if table == "meta":
                self.conn.execute("DELETE FROM meta WHERE key != 'schema'")
            else:
                self.conn.execute(f'DELETE FROM "{table}"')
        self.rows.forget_metric_ids()

    def _read_history(self, oid: ObjectId, child: ObjectId | None) -> Commit | None:
        """A commit of the walk, or None (recorded as skipped) if it cannot be read."""
        try:
            return cast(self.repo.objects.get(oid), Commit)
        except skips.UNREADABLE as e:
            commit = to_hex(child) if child is not None else None
            skips.record(self.conn, skips.HISTORY, to_hex(oid), to_hex(oid), commit, e)
            self._skips = True
            return None

    def _state_of(self, commit: ObjectId) -> ObjectId | None:
        """An indexed or readable commit's state; None (diff against nothing) otherwise."""
        row = self.conn.execute("SELECT state FROM commits WHERE id=?", (to_hex(commit),))
        found = row.fetchone()
        if found is not None and found[0]:
            return from_hex(found[0])
        try:
            return cast(self.repo.objects.get(commit), Commit).state
        except skips.UNREADABLE:
            return None  # recorded where the walk met it

    def _commit_known(self, oid: ObjectId) -> bool:
        return (
            self.conn.execute("SELECT 1 FROM commits WHERE id=?", (to_hex(oid),)).fetchone()
            is not None
        )

    def _insert_commit(self, oid: ObjectId, c: Commit) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO commits(id, parents, state, author, host, time, message) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                to_hex(oid),
                json.dumps([to_hex(p) for p in c.parents]),
                to_hex(c.state),
                c.author,
                c.host,
                c.time,
                c.message,
            ),
        )

    def refresh(self, replay: bool = False) -> None:
        """Catch up with the store: new commits, staged entries and live journal records.

        ``replay``: first forget every row, in the same transaction (readers never see an
        empty index), and index the store whole, in place: for ``extract reset``, after
        which rows of what main left (committed, or indexed while still staged) cannot be
        told apart incrementally. Unlike rebuild() the file stays, so the connections of
        other processes (live runs, a TUI) stay valid."""
        head = self.repo.refs.read(MAIN)
        staged_mark = _dir_mark(self.repo.staged_dir)
        with self.transaction():
            if replay:
                self._forget_everything()
            self._skips = skips.any_skipped(self.conn)
            self.rows.sync_hierarchy()
            if self._skips:
                self._retry_history(head)
            self._apply_commit_range(head)
            if self._meta("staged") != staged_mark:
                if self._skips:
                    skips.forget_staged(self.conn)
                self.apply_entries(
                    ((s.section, s.key, s.oid) for s in list_staged(self.repo)), None
                )
                self._set_meta("staged", staged_mark)
            if self._skips:
                self._retry_entries()
        for path in sorted(self.repo.journal_dir.glob("*.journal")):
            try:
                self.ingest_journal(path)
            except (ExtractError, FileNotFoundError):
                # a journal sealed and removed while we read it, or a malformed one
                # (DecodeError): never a reason to fail every reader of the store
                continue
        self._mark_dead_writers()

    def _mark_dead_writers(self) -> None:
        """A live run whose journal lock nobody holds lost its process (SIGKILL, the OOM
        killer, a lost node): every reader shows it as failed at once, ended when its
        journal last grew. A reader does not seal it (that writes the store, which may be
        read-only); the next writing command or ``Store()`` does, and the sealed record
        then replaces this row."""
        rows = self.conn.execute(
            "SELECT id FROM runs WHERE object_id IS NULL AND status = 'running'"
        ).fetchall()
        for (run_id,) in rows:
            path = self.repo.journal_dir / f"{run_id}.journal"
            if not journalmod.is_orphan(path):
                continue
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue  # sealed by another process this moment
            ended = dt.datetime.fromtimestamp(mtime, tz=dt.UTC)
            with self.transaction():
                self.conn.execute(
                    "UPDATE runs SET status = 'failed', ended_at = ? "
                    "WHERE id = ? AND object_id IS NULL AND status = 'running'",
                    (ended.isoformat(timespec="milliseconds").replace("+00:00", "Z"), run_id),
                )

    def _retry_entries(self) -> None:
        """Apply again every skipped entry whose missing object may be back."""
        odb = self.repo.objects
        for s in skips.listed(self.conn, history=False):
            missing = s.bad_object is not None and s.reason.startswith("no object")
            if missing and not odb.has(from_hex(s.bad_object or "")):
                continue  # still absent: nothing to try
            self.apply_entries([(s.section, s.key, from_hex(s.object_id))], s.commit_id)

    def _retry_history(self, head: ObjectId | None) -> None:
        """Once a skipped commit or state tree reads again, replay history in place, oldest
        first, so every run, model and event is credited to the commit that added it."""
        rows = skips.listed(self.conn, history=True)
        if not rows or not any(self._readable(from_hex(s.object_id)) for s in rows):
            return
        self.conn.execute("DELETE FROM skipped WHERE section = ?", (skips.HISTORY,))
        for table in ("runs", "segments", "models", "events"):
            self.conn.execute(f"UPDATE {table} SET commit_id = NULL")
        self.conn.execute("DELETE FROM commits")
        self.conn.execute("DELETE FROM meta WHERE key = 'head'")
        self._apply_commit_range(head)

    def _readable(self, oid: ObjectId) -> bool:
        try:
            self.repo.objects.get_raw(oid)
        except skips.UNREADABLE:
            return False
        return True

    def rebuild(self) -> None:
        """Build a new index beside this one from the store alone, then swap it in: until
        the swap the old one keeps answering, and a build that fails (a full disk) leaves
        it as it was."""
        tmp = self.path.with_name(f".{self.path.name}.new-{os.getpid()}-{os.urandom(4).hex()}")
        try:
            fresh = Indexer(self.repo, tmp)  # a new file builds itself (refresh)
            try:
                fresh.conn.execute("ANALYZE")
                fresh.conn.execute("PRAGMA journal_mode=DELETE")  # fold its log into the file
            finally:
                fresh.close()
        except BaseException:
            files.remove(tmp)
            raise
        self.conn.close()
        try:
            files.install(self.path, tmp)
        finally:
            self.conn = open_writer(self.path)
            self.rows = Rows(self.conn, self.repo)


def _dir_mark(path: Path) -> str:
    try:
        st = path.stat()
    except FileNotFoundError:
        return "absent"
    return f"{st.st_mtime_ns}:{st.st_ino}:{len(os.listdir(path))}"
