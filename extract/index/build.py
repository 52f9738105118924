"""Building index.db from objects and journals, from scratch or incrementally.

Every path into the index goes through the same few functions: a live run's
journal records (``ingest``), a sealed run (``apply_run``), an event
(``apply_event``), a model version (``apply_model``). ``rebuild`` replays history
oldest commit first, then staged entries, then live journals; ``refresh`` does
the same for whatever arrived since the last refresh. Either way the rows are
the same, which the reindex property test checks.

An object that cannot be read (missing, damaged) costs only what needs it: the
entry, commit or state tree is recorded in ``skipped`` and tried again on every
refresh (``skips``). Where to open the index, and what to do when it cannot be
opened, is decided once, in ``access.open_index``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from extract.errors import ExtractError
from extract.index import files, skips
from extract.index.db import INDEX_FILE, open_writer, schema_version, write
from extract.index.ids import experiment_id, model_id
from extract.index.schema import SCHEMA_VERSION
from extract.objects import (
    Commit,
    Event,
    Link,
    ModelVersion,
    ObjectId,
    RunRecord,
    Tree,
    Value,
    from_hex,
    to_hex,
)
from extract.objects.kinds import cast
from extract.store import journal as journalmod
from extract.store.curves import Curves, read_curves
from extract.store.history import SECTIONS, list_staged, model_key, split_model_key
from extract.store.odb import ObjectStore
from extract.store.repo import MAIN, Repository


def to_json(value: Value) -> str | None:
    if value is None:
        return None
    return json.dumps(_jsonable(value), sort_keys=True, ensure_ascii=False)


def _jsonable(value: Value) -> Any:
    if isinstance(value, Link):
        return to_hex(value.id)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def object_rel_path(oid: ObjectId) -> str:
    h = to_hex(oid)
    return f"objects/{h[:2]}/{h[2:]}"


CATALOG_FIXED = ("specimen_id", "created", "run_name", "status", "tags", "experiment_path")


def catalog_view(levels: Sequence[str]) -> str:
    """One row per run with a column per hierarchy level: cross-experiment queries
    read like the Specimen Vault's catalog (``WHERE domain = 'interpretability'``)."""
    cols = [
        "r.id AS specimen_id",
        "r.started_at AS created",
        "r.name AS run_name",
        "r.status AS status",
        "r.tags AS tags",
        "r.experiment_path AS experiment_path",
    ]
    for level in levels:  # level names are checked identifiers: letters, digits, _ and -
        column = f"{level}_level" if level in CATALOG_FIXED else level
        cols.append(
            f"(SELECT e.name FROM experiments e WHERE e.node_type = '{level}' AND "
            f"(r.experiment_path = e.path OR substr(r.experiment_path, 1, length(e.path) + 1) = e.path || '/')) "
            f'AS "{column}"'
        )
    return f"CREATE VIEW catalog AS SELECT {', '.join(cols)} FROM runs r WHERE r.deleted = 0"


def diff_states(
    odb: ObjectStore,
    old: ObjectId | None,
    new: ObjectId,
    on_error: Callable[[ObjectId, ExtractError], None] | None = None,
) -> list[tuple[str, str, ObjectId]]:
    """(section, key, object) of every entry of ``new`` that ``old`` lacks or holds
    differently; unchanged sections and buckets are skipped by id without being read.

    With ``on_error``, a tree of ``new`` that cannot be read is reported to it and left
    out (the rest of the state still counts), and one of ``old`` counts as empty (its
    entries are then applied again, which changes nothing)."""
    if old == new:
        return []

    def entries(oid: ObjectId | None, reported: bool) -> dict[str, ObjectId] | None:
        if oid is None:
            return {}
        try:
            return dict(cast(odb.get(oid), Tree).entries)
        except skips.UNREADABLE as e:
            if on_error is None:
                raise
            if not reported:
                return {}
            on_error(oid, e)
            return None

    old_root = entries(old, False) or {}
    new_root = entries(new, True) or {}
    out = []
    for section in SECTIONS:
        sec = new_root.get(section)
        if sec is None or sec == old_root.get(section):
            continue
        old_buckets = entries(old_root.get(section), False) or {}
        for name, bucket in (entries(sec, True) or {}).items():
            if old_buckets.get(name) == bucket:
                continue
            old_entries = entries(old_buckets.get(name), False) or {}
            for key, oid in (entries(bucket, True) or {}).items():
                if old_entries.get(key) != oid:
                    out.append((section, key, oid))
    return out


_SLICE = 65536


class Indexer:
    """The one writer of index.db for a store."""

    def __init__(self, repo: Repository, path: Path | None = None) -> None:
        """The index at ``path`` (default: the store's own index.db; ``access.open_index``
        decides where it lives and heals one SQLite cannot read)."""
        self.repo = repo
        self.path = path if path is not None else repo.root / INDEX_FILE
        self.conn = open_writer(self.path)
        self._metric_ids: dict[str, int] = {}
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
            self._metric_ids.clear()  # ids made inside were rolled back too
            if self.conn.in_transaction:  # (SQLite may have rolled back all: a full disk)
                self.conn.execute("ROLLBACK TO entry")
                self.conn.execute("RELEASE entry")
            raise
        self.conn.execute("RELEASE entry")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; on rollback, forget metric ids it may have created."""
        try:
            with write(self.conn) as conn:
                yield conn
        except BaseException:
            self._metric_ids.clear()
            raise

    # small helpers -----------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str | None) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def _metric_id(self, name: str) -> int:
        mid = self._metric_ids.get(name)
        if mid is None:
            row = self.conn.execute("SELECT id FROM metric_names WHERE name=?", (name,)).fetchone()
            if row is None:
                mid = int(
                    self.conn.execute(
                        "INSERT INTO metric_names(name) VALUES (?)", (name,)
                    ).lastrowid
                    or 0
                )
            else:
                mid = int(row[0])
            self._metric_ids[name] = mid
        return mid

    def _sync_hierarchy(self) -> None:
        levels = self.repo.config.hierarchy or ()
        current = [
            r[0] for r in self.conn.execute("SELECT level_name FROM hierarchy ORDER BY level_order")
        ]
        if current != list(levels) or not self._has_catalog():
            self.conn.execute("DELETE FROM hierarchy")
            self.conn.executemany(
                "INSERT INTO hierarchy(level_order, level_name) VALUES (?, ?)",
                list(enumerate(levels)),
            )
            self.conn.execute("DROP VIEW IF EXISTS catalog")
            self.conn.execute(catalog_view(levels))

    def _has_catalog(self) -> bool:
        row = self.conn.execute("SELECT 1 FROM sqlite_master WHERE type='view' AND name='catalog'")
        return row.fetchone() is not None

    def ensure_experiment(self, path: str, created_at: str | None) -> str:
        """The experiment row for ``path`` and every prefix; returns its id."""
        levels = self.repo.config.hierarchy or ()
        parts = path.split("/")
        parent = None
        for depth in range(1, len(parts) + 1):
            sub = "/".join(parts[:depth])
            eid = experiment_id(sub)
            node_type = levels[depth - 1] if depth - 1 < len(levels) else None
            self.conn.execute(
                "INSERT INTO experiments(id, path, name, parent_id, created_at, metadata, status, node_type) "
                "VALUES (?, ?, ?, ?, ?, NULL, 'created', ?) "
                "ON CONFLICT(path) DO UPDATE SET created_at = CASE "
                "WHEN excluded.created_at IS NULL THEN created_at "
                "WHEN created_at IS NULL OR excluded.created_at < created_at THEN excluded.created_at "
                "ELSE created_at END",
                (eid, sub, parts[depth - 1], parent, created_at, node_type),
            )
            parent = eid
        return experiment_id(path)

    def _run_key(self, run_id: str) -> int:
        row = self.conn.execute("SELECT key FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is not None:
            return int(row[0])
        return int(self.conn.execute("SELECT COALESCE(MAX(key), 0) + 1 FROM runs").fetchone()[0])

    # live runs -----------------------------------------------------------------
    def run_started(self, start: dict[str, Any]) -> None:
        """Make a live run visible at once, before any reader refreshes from its journal."""
        with self.transaction():
            self._sync_hierarchy()
            self._upsert_live_row(start)
            self.conn.execute(
                "INSERT OR IGNORE INTO journals(run_id, offset) VALUES (?, 0)", (start["id"],)
            )

    def _upsert_live_row(self, start: dict[str, Any]) -> int:
        exp = self.ensure_experiment(start["experiment"], start["started_at"])
        code = start.get("code") or {}
        key = self._run_key(start["id"])
        self.conn.execute(
            "INSERT OR IGNORE INTO runs(id, experiment_id, name, config, started_at, ended_at, status, "
            "hostname, git_sha, tags, notes, total_steps, key, object_id, commit_id, deleted, git_branch, "
            "git_dirty, git_tree, git_diff_id, git_stamp, experiment_path, base_tags, base_notes) "
            "VALUES (?, ?, ?, ?, ?, NULL, 'running', ?, ?, '[]', '', ?, ?, NULL, NULL, 0, ?, ?, ?, ?, NULL, ?, '[]', '')",
            (
                start["id"],
                exp,
                start.get("name"),
                to_json(start.get("config")),
                start["started_at"],
                start.get("host"),
                code.get("sha"),
                start.get("total_steps"),
                key,
                code.get("branch"),
                None if code.get("dirty") is None else int(bool(code.get("dirty"))),
                code.get("tree"),
                to_hex(code["diff"].id) if isinstance(code.get("diff"), Link) else None,
                start["experiment"],
            ),
        )
        return key

    def ingest_journal(self, path: Path) -> None:
        """Catch up on one live journal from where the index last stopped reading it."""
        run_id = path.name.split(".")[0]
        with self.transaction():
            row = self.conn.execute(
                "SELECT offset FROM journals WHERE run_id=?", (run_id,)
            ).fetchone()
            sealed = self.conn.execute(
                "SELECT 1 FROM runs WHERE id=? AND object_id IS NOT NULL", (run_id,)
            ).fetchone()
            if sealed:
                self.conn.execute("DELETE FROM journals WHERE run_id=?", (run_id,))
                return
            offset = int(row[0]) if row else 0
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                return
            if size <= offset:
                return
            read = journalmod.read(path, offset)
            records = read.records
            if offset == 0:
                if not records or records[0][0] != "start":
                    return
                self._sync_hierarchy()
                self._upsert_live_row(records[0][1])
                self._fold_run_events(run_id)  # events about it may have been indexed first
                records = records[1:]
            self._ingest_records(run_id, records)
            self.conn.execute(
                "INSERT OR REPLACE INTO journals(run_id, offset) VALUES (?, ?)",
                (run_id, read.valid_bytes),
            )

    def _ingest_records(self, run_id: str, records: Iterable[Value]) -> None:
        key = self._run_key(run_id)
        points: list[tuple[Any, ...]] = []
        for rec in records:
            tag, payload = rec[0], rec[1]
            if tag == "C":
                steps, walls = rec[1], rec[2]
                for name, values in rec[3].items():
                    mid = self._metric_id(name)
                    points.extend(
                        (key, mid, s, None if v != v else float(v), w)
                        for s, v, w in zip(steps, values, walls, strict=True)
                    )
            elif tag == "c":
                for step, wall, point in payload:
                    for name, value in point.items():
                        v = float(value)
                        points.append(
                            (key, self._metric_id(name), step, None if math.isnan(v) else v, wall)
                        )
            elif tag == "l":
                for name, value, wall in payload:
                    if isinstance(value, str):
                        self.conn.execute(
                            "INSERT OR REPLACE INTO run_params(run_id, name, value) VALUES (?, ?, ?)",
                            (run_id, name, value),
                        )
                    else:
                        self._set_scalar(run_id, name, float(value), wall)
            elif tag == "tag":
                tags = json.loads(
                    self.conn.execute(
                        "SELECT base_tags FROM runs WHERE id=?", (run_id,)
                    ).fetchone()[0]
                )
                tags.extend(t for t in payload if t not in tags)
                self.conn.execute(
                    "UPDATE runs SET base_tags=? WHERE id=?", (json.dumps(tags), run_id)
                )
                self._fold_run_events(run_id)
            elif tag == "note":
                notes = self.conn.execute(
                    "SELECT base_notes FROM runs WHERE id=?", (run_id,)
                ).fetchone()[0]
                notes = f"{notes}\n{payload}" if notes else payload
                self.conn.execute("UPDATE runs SET base_notes=? WHERE id=?", (notes, run_id))
                self._fold_run_events(run_id)
            elif tag == "todo":
                self._insert_todo(
                    payload["id"],
                    "run",
                    run_id,
                    payload["content"],
                    payload["priority"],
                    payload["created_at"],
                )
            elif tag == "artifact":
                self._insert_artifact(run_id, payload)
            elif tag == "model":
                self._insert_model_row(payload["key"], payload["object"].id, None)
            elif tag == "lineage":
                self._insert_lineage(run_id, payload)
            elif tag == "end":
                self.conn.execute(
                    "UPDATE runs SET status=?, ended_at=? WHERE id=? AND object_id IS NULL",
                    (payload["status"], payload["ended_at"], run_id),
                )
        if points:
            self.conn.executemany(
                "INSERT OR REPLACE INTO curve_data(run_key, metric_id, step, value, wall_time) VALUES (?, ?, ?, ?, ?)",
                points,
            )

    def _set_scalar(self, run_id: str, name: str, value: float, wall: float | None) -> None:
        self.conn.execute("DELETE FROM scalar_metrics WHERE run_id=? AND name=?", (run_id, name))
        self.conn.execute(
            "INSERT INTO scalar_metrics(run_id, step, name, value, wall_time) VALUES (?, NULL, ?, ?, ?)",
            (run_id, name, None if math.isnan(value) else value, wall),
        )

    def _insert_todo(
        self,
        tid: str,
        scope_type: str,
        scope_id: str | None,
        content: str,
        priority: int,
        created: str,
    ) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO todos(id, scope_type, scope_id, content, done, priority, created_at, completed_at) "
            "VALUES (?, ?, ?, ?, 0, ?, ?, NULL)",
            (tid, scope_type, scope_id, content, priority, created),
        )
        self._fold_todo(tid)

    def _insert_artifact(self, run_id: str, a: dict[str, Any]) -> None:
        oid = a["object"].id
        self.conn.execute(
            "INSERT OR REPLACE INTO artifacts(id, run_id, name, kind, step, rel_path, shape, dtype, metadata, "
            "created_at, object_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                a["id"],
                run_id,
                a["name"],
                a["kind"],
                a.get("step"),
                object_rel_path(oid),
                to_json(a.get("shape")),
                a.get("dtype"),
                to_json(a.get("metadata")),
                a["created_at"],
                to_hex(oid),
            ),
        )

    def _insert_lineage(self, child_run: str, e: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO lineage(parent_type, parent_id, child_type, child_id, relation, metadata, created_at) "
            "VALUES (?, ?, 'run', ?, ?, ?, ?)",
            (
                e["type"],
                e["id"],
                child_run,
                e["relation"],
                to_json(e.get("metadata")),
                e.get("created_at"),
            ),
        )

    def _insert_model_row(self, key: str, oid: ObjectId, commit: str | None) -> None:
        mv = cast(self.repo.objects.get(oid), ModelVersion)
        name, version = split_model_key(key)
        meta = mv.metadata if isinstance(mv.metadata, dict) else {"value": mv.metadata}
        source = meta.get("source_path") if isinstance(meta, dict) else None
        self.conn.execute(
            "INSERT INTO models(id, name, version, run_id, artifact_path, framework, metadata, created_at, "
            "object_id, content_id, size, commit_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET commit_id = COALESCE(models.commit_id, excluded.commit_id)",
            (
                model_id(name, version),
                name,
                version,
                mv.run,
                source,
                mv.framework,
                to_json({k: v for k, v in meta.items() if k != "source_path"} or None),
                mv.created_at,
                to_hex(oid),
                to_hex(mv.content),
                mv.size,
                commit,
            ),
        )

    # sealed runs ---------------------------------------------------------------
    def apply_run(
        self, oid: ObjectId, record: RunRecord, curves: Curves | None, commit: str | None
    ) -> None:
        """Replace whatever the index holds for the run with its sealed record."""
        if curves is None:
            curves = read_curves(self.repo.objects, record.curves)
        self._sync_hierarchy()
        existing = self.conn.execute(
            "SELECT object_id FROM runs WHERE id=?", (record.id,)
        ).fetchone()
        if existing is not None and existing[0] == to_hex(oid):
            if commit:
                self.conn.execute(
                    "UPDATE runs SET commit_id=COALESCE(commit_id, ?) WHERE id=?",
                    (commit, record.id),
                )
            return
        start = {
            "id": record.id,
            "experiment": record.experiment,
            "name": record.name,
            "config": record.config,
            "started_at": record.started_at,
            "host": record.host,
            "code": record.code,
            "total_steps": record.total_steps,
        }
        key = self._upsert_live_row(start)
        rid = record.id
        for table in ("scalar_metrics", "run_params", "artifacts"):
            self.conn.execute(f"DELETE FROM {table} WHERE run_id=?", (rid,))
        self.conn.execute("DELETE FROM lineage WHERE child_type='run' AND child_id=?", (rid,))
        self.conn.execute("DELETE FROM curve_data WHERE run_key=?", (key,))
        self.conn.execute("DELETE FROM journals WHERE run_id=?", (rid,))
        code = record.code or {}
        self.conn.execute(
            "UPDATE runs SET name=?, config=?, ended_at=?, status=?, object_id=?, commit_id=?, "
            "base_tags=?, base_notes=?, git_sha=?, git_branch=?, git_dirty=?, git_tree=? WHERE id=?",
            (
                record.name,
                to_json(record.config),
                record.ended_at,
                record.status,
                to_hex(oid),
                commit,
                json.dumps(list(record.tags)),
                "\n".join(record.notes),
                code.get("sha"),
                code.get("branch"),
                None if code.get("dirty") is None else int(bool(code.get("dirty"))),
                code.get("tree"),
                rid,
            ),
        )
        for name, m in sorted(record.metrics.items()):
            self._set_scalar(rid, name, float(m["value"]), m.get("wall_time"))
        self.conn.executemany(
            "INSERT INTO run_params(run_id, name, value) VALUES (?, ?, ?)",
            [(rid, k, v) for k, v in sorted(record.params.items())],
        )
        for a in record.artifacts:
            self._insert_artifact(rid, dict(a))
        for e in record.lineage:
            self._insert_lineage(rid, dict(e))
        for (data,) in self.conn.execute(  # lineage added by events survives the reseal
            "SELECT data FROM events WHERE op='lineage' AND target=? ORDER BY id", (f"run:{rid}",)
        ).fetchall():
            self._insert_lineage(rid, json.loads(data or "{}"))
        for name, (steps, values, walls) in curves.items():
            self._insert_curve(key, self._metric_id(name), steps, values, walls)
        self._fold_run_events(rid)

    def _insert_curve(
        self,
        key: int,
        mid: int,
        steps: np.ndarray[Any, Any],
        values: np.ndarray[Any, Any],
        walls: np.ndarray[Any, Any],
    ) -> None:
        has_nan = bool(np.isnan(values).any())
        for lo in range(
            0, len(steps), _SLICE
        ):  # slices: a 1M-step run never needs 1M tuples at once
            hi = lo + _SLICE
            vals: Sequence[Any] = values[lo:hi].tolist()
            if has_nan:
                vals = [None if v != v else v for v in vals]
            self.conn.executemany(  # the run's old points were deleted: plain INSERT is faster
                "INSERT INTO curve_data(run_key, metric_id, step, value, wall_time) VALUES (?, ?, ?, ?, ?)",
                zip(repeat(key), repeat(mid), steps[lo:hi].tolist(), vals, walls[lo:hi].tolist()),
            )

    # events ----------------------------------------------------------------------
    def apply_event(self, oid: ObjectId, ev: Event, commit: str | None) -> None:
        row = self.conn.execute("SELECT object_id FROM events WHERE id=?", (ev.id,)).fetchone()
        if row is not None:
            if commit:
                self.conn.execute(
                    "UPDATE events SET commit_id=COALESCE(commit_id, ?) WHERE id=?", (commit, ev.id)
                )
            return
        self.conn.execute(
            "INSERT INTO events(id, op, target, time, data, object_id, commit_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (ev.id, ev.op, ev.target, ev.time, to_json(dict(ev.data)), to_hex(oid), commit),
        )
        kind, _, target = ev.target.partition(":")
        data = dict(ev.data)
        if ev.op == "todo":
            self._insert_todo(
                ev.id,
                str(data.get("scope_type", "global")),
                data.get("scope_id"),
                str(data.get("content", "")),
                int(data.get("priority", 0)),
                ev.time,
            )
        elif ev.op in ("todo_done", "todo_reopen"):
            self._fold_todo(target)
        elif ev.op == "experiment":
            self.ensure_experiment(target, ev.time)
        elif ev.op == "lineage" and kind == "run":
            self._insert_lineage(target, data)
        elif kind == "run":
            self._fold_run_events(target)

    def _fold_run_events(self, run_id: str) -> None:
        """Tags, notes, deletion and code stamps of a run: its record, then its events in id order."""
        row = self.conn.execute(
            "SELECT base_tags, base_notes FROM runs WHERE id=?", (run_id,)
        ).fetchone()
        if row is None:
            return
        tags: list[str] = json.loads(row[0] or "[]")
        notes = [row[1]] if row[1] else []
        deleted = 0
        stamp = None
        for op, data in self.conn.execute(
            "SELECT op, data FROM events WHERE target=? ORDER BY id", (f"run:{run_id}",)
        ):
            d = json.loads(data or "{}")
            if op == "tag":
                tags.extend(t for t in d.get("tags", []) if t not in tags)
            elif op == "untag":
                tags = [t for t in tags if t not in d.get("tags", [])]
            elif op == "note":
                notes.append(str(d.get("content", "")))
            elif op == "delete":
                deleted = 1
            elif op == "restore":
                deleted = 0
            elif op == "stamp":
                stamp = d.get("sha")
        self.conn.execute(
            "UPDATE runs SET tags=?, notes=?, deleted=?, git_stamp=? WHERE id=?",
            (json.dumps(tags), "\n".join(notes), deleted, stamp, run_id),
        )

    def _fold_todo(self, todo_id: str) -> None:
        done, completed = 0, None
        for op, time in self.conn.execute(
            "SELECT op, time FROM events WHERE target=? ORDER BY id", (f"todo:{todo_id}",)
        ):
            done, completed = (1, time) if op == "todo_done" else (0, None)
        self.conn.execute(
            "UPDATE todos SET done=?, completed_at=? WHERE id=?", (done, completed, todo_id)
        )

    def apply_model(self, key: str, oid: ObjectId, commit: str | None) -> None:
        name, version = split_model_key(key)
        row = self.conn.execute(
            "SELECT object_id FROM models WHERE name=? AND version=?", (name, version)
        ).fetchone()
        if row is not None and row[0] != to_hex(oid):
            # the committed version wins over a local staged one (merge reports conflicts)
            self.conn.execute("DELETE FROM models WHERE name=? AND version=?", (name, version))
        self._insert_model_row(key, oid, commit)

    # whole-store passes --------------------------------------------------------
    def apply_entries(
        self, entries: Iterable[tuple[str, str, ObjectId]], commit: str | None
    ) -> None:
        """Runs first, then models, then events in id order, so events find their targets."""
        items = sorted(entries, key=lambda e: ({"runs": 0, "models": 1, "events": 2}[e[0]], e[1]))
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
            existing = self.conn.execute("SELECT object_id FROM runs WHERE id=?", (key,)).fetchone()
            if existing is not None and existing[0] == to_hex(oid):
                if commit:
                    self.conn.execute(
                        "UPDATE runs SET commit_id=COALESCE(commit_id, ?) WHERE id=?",
                        (commit, key),
                    )
                return
            self.apply_run(oid, cast(odb.get(oid), RunRecord), None, commit)
        elif section == "models":
            self.apply_model(key, oid, commit)
        else:
            self.apply_event(oid, cast(odb.get(oid), Event), commit)

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
            self._sync_hierarchy()
            self._apply_commit_range(head)
            return
        order: list[ObjectId] = []
        placed: set[ObjectId] = set()
        for start in sorted(new, key=lambda o: (new[o].time, o)):
            walk = [(start, False)]
            while walk:
                oid, expanded = walk.pop()
                if expanded:
                    if oid not in placed:
                        placed.add(oid)
                        order.append(oid)
                    continue
                if oid in placed:
                    continue
                walk.append((oid, True))
                walk.extend((p, False) for p in new[oid].parents if p in new and p not in placed)
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
        self._metric_ids.clear()

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
            self._sync_hierarchy()
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
            except (ExtractError, KeyError, TypeError, IndexError, ValueError):
                # a journal being created or recovered right now, or a damaged one (fsck
                # reports it): never a reason to fail every reader of the store
                continue

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
        for table in ("runs", "models", "events"):
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
            self._metric_ids = {}

    def sealed(
        self,
        run_oid: ObjectId,
        record: RunRecord,
        curves: Curves,
        events: Sequence[tuple[ObjectId, Event]],
    ) -> None:
        """Index a run its own process just sealed (no need to read the objects back)."""
        with self.transaction():
            self.apply_run(run_oid, record, curves, None)
            for oid, ev in events:
                self.apply_event(oid, ev, None)
            for m in record.models:
                mv = cast(self.repo.objects.get(m), ModelVersion)
                self.apply_model(model_key(mv.name, mv.version), m, None)


def _dir_mark(path: Path) -> str:
    try:
        st = path.stat()
    except FileNotFoundError:
        return "absent"
    return f"{st.st_mtime_ns}:{st.st_ino}:{len(os.listdir(path))}"
