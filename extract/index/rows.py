"""What a run, an event or a model version looks like as rows of index.db.

``Rows`` writes, inside the caller's transaction, the rows of one thing at a time:
a live run's new journal records (folded by ``tracking.fold`` into a ``RunState``
piece), a sealed run record, an event, a model version. ``Indexer`` (build.py) decides
what to write and when; this module is the only one that knows how.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from extract.index import resumed
from extract.index.ids import experiment_id, model_id
from extract.objects import Event, Link, ModelVersion, ObjectId, RunRecord, Value, to_hex
from extract.objects.kinds import cast
from extract.store.curves import Column, Curves, read_curves
from extract.store.history import split_model_key
from extract.store.repo import Repository
from extract.tracking.fold import RunState
from extract.tracking.records import Artifact, Lineage, Start


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


#: Rows per curve-point INSERT. One statement binds many rows and runs them in SQLite with
#: the GIL released: a training loop in another thread of the process then loses the GIL
#: once per statement, not once per row (executemany releases it for every row, and
#: under a busy loop each row waited out Python's 5 ms switch interval). A curve's
#: points take full statements of the first size, then one of the smallest size that
#: holds the rest, padded with copies of its last row (an INSERT OR REPLACE of the same
#: row again changes nothing): at most two GIL hand-overs a curve, and few statements in
#: the connection's cache (about 5 MiB of them).
POINT_BATCHES = (4096, 1024, 256, 64, 16)


def _points_sql(rows: int) -> str:
    values = ",".join(["(?,?,?)"] * rows)
    return (
        "INSERT OR REPLACE INTO curve_data(run_key, metric_id, step, value, wall_time) "
        f"SELECT ?1, ?2, column1, column2, column3 FROM (VALUES {values})"
    )


_POINTS_SQL = {n: _points_sql(n) for n in POINT_BATCHES}


class Rows:
    """Row writers for one index connection (the caller holds the write transaction)."""

    def __init__(self, conn: sqlite3.Connection, repo: Repository) -> None:
        self.conn = conn
        self.repo = repo
        self._metric_ids: dict[str, int] = {}

    def forget_metric_ids(self) -> None:
        """After a rollback (ids made inside it are gone) and at each transaction's start
        (another process may have rebuilt the table since)."""
        self._metric_ids.clear()

    def metric_id(self, name: str) -> int:
        mid = self._metric_ids.get(name)
        if mid is None:
            row = self.conn.execute("SELECT id FROM metric_names WHERE name=?", (name,)).fetchone()
            if row is None:
                cur = self.conn.execute("INSERT INTO metric_names(name) VALUES (?)", (name,))
                mid = int(cur.lastrowid or 0)
            else:
                mid = int(row[0])
            self._metric_ids[name] = mid
        return mid

    def sync_hierarchy(self) -> None:
        levels = self.repo.config.hierarchy or ()
        current = [
            r[0] for r in self.conn.execute("SELECT level_name FROM hierarchy ORDER BY level_order")
        ]
        has_catalog = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='view' AND name='catalog'"
        ).fetchone()
        if current != list(levels) or has_catalog is None:
            self.conn.execute("DELETE FROM hierarchy")
            self.conn.executemany(
                "INSERT INTO hierarchy(level_order, level_name) VALUES (?, ?)",
                list(enumerate(levels)),
            )
            self.conn.execute("DROP VIEW IF EXISTS catalog")
            self.conn.execute(catalog_view(levels))

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

    def run_key(self, run_id: str) -> int:
        row = self.conn.execute("SELECT key FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is not None:
            return int(row[0])
        return int(self.conn.execute("SELECT COALESCE(MAX(key), 0) + 1 FROM runs").fetchone()[0])

    def same_run(self, run_id: str, oid: ObjectId, commit: str | None) -> bool:
        """Whether the run's row already holds sealed record ``oid``; if so the only news
        is the commit that holds it, recorded where none was."""
        row = self.conn.execute("SELECT record_id FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None or row[0] != to_hex(oid):
            return False
        if commit:
            self.conn.execute(
                "UPDATE runs SET commit_id=COALESCE(commit_id, ?) WHERE id=?", (commit, run_id)
            )
        return True

    # live runs ---------------------------------------------------------------------
    def upsert_live_row(self, start: Start) -> int:
        """The run's row as its start record describes it (kept if it exists); its key."""
        exp = self.ensure_experiment(start.experiment, start.started_at)
        code = start.code or {}
        key = self.run_key(start.id)
        diff = code.get("diff")
        self.conn.execute(
            "INSERT OR IGNORE INTO runs(id, experiment_id, name, config, started_at, ended_at, status, "
            "hostname, git_sha, tags, notes, total_steps, key, object_id, commit_id, deleted, git_branch, "
            "git_dirty, git_tree, git_diff_id, git_stamp, experiment_path, base_tags, base_notes) "
            "VALUES (?, ?, ?, ?, ?, NULL, 'running', ?, ?, '[]', '', ?, ?, NULL, NULL, 0, ?, ?, ?, ?, NULL, ?, '[]', '')",
            (
                start.id,
                exp,
                start.name,
                to_json(start.config),
                start.started_at,
                start.host,
                code.get("sha"),
                start.total_steps,
                key,
                code.get("branch"),
                None if code.get("dirty") is None else int(bool(code.get("dirty"))),
                code.get("tree"),
                to_hex(diff.id) if isinstance(diff, Link) else None,
                start.experiment,
            ),
        )
        return key

    def apply_live(self, run_id: str, state: RunState) -> None:
        """Add a piece of a live run's journal (records folded in order) to its rows."""
        key = self.run_key(run_id)
        for name, (steps, values, walls) in state.curves().items():
            self.insert_points(key, self.metric_id(name), steps, values, walls)
        for name, (value, wall) in state.metrics.items():
            self.set_scalar(run_id, name, value, wall)
        if state.config is not None:  # keys set after the start: merged as sealing merges them
            (text,) = self.conn.execute("SELECT config FROM runs WHERE id=?", (run_id,)).fetchone()
            config = json.loads(text) if text else None
            merged = {**(config if isinstance(config, dict) else {}), **_jsonable(state.config)}
            self.conn.execute(
                "UPDATE runs SET config=? WHERE id=?",
                (json.dumps(merged, sort_keys=True, ensure_ascii=False), run_id),
            )
        self.conn.executemany(
            "INSERT OR REPLACE INTO run_params(run_id, name, value) VALUES (?, ?, ?)",
            [(run_id, k, v) for k, v in state.params.items()],
        )
        if state.tags or state.notes:
            tags_text, notes = self.conn.execute(
                "SELECT base_tags, base_notes FROM runs WHERE id=?", (run_id,)
            ).fetchone()
            tags: list[str] = json.loads(tags_text)
            tags.extend(t for t in state.tags if t not in tags)
            notes = "\n".join([notes, *state.notes] if notes else state.notes)
            self.conn.execute(
                "UPDATE runs SET base_tags=?, base_notes=? WHERE id=?",
                (json.dumps(tags), notes, run_id),
            )
            self.fold_run_events(run_id)
        for todo in state.todos:
            self.insert_todo(todo.id, "run", run_id, todo.content, todo.priority, todo.created_at)
        for a in state.artifacts:
            self.insert_artifact(run_id, a)
        for m in state.models:
            self.insert_model_row(m.key, m.object, None)
        for e in state.lineage:
            self.insert_lineage(run_id, e.to_value())
        if state.end is not None:
            self.conn.execute(
                "UPDATE runs SET status=?, ended_at=? WHERE id=? AND object_id IS NULL",
                (state.end.status, state.end.ended_at, run_id),
            )

    def insert_points(
        self, key: int, mid: int, steps: Column, values: Column, walls: Column
    ) -> None:
        """One metric's points, one row a step (a step's row replaces an older one). NaN
        values bind as NULL: SQLite has no NaN."""
        n = int(steps.size)
        flat: list[Any] = [None] * (3 * n)
        flat[0::3] = steps.tolist()
        flat[1::3] = values.tolist()
        flat[2::3] = walls.tolist()
        head = [key, mid]
        big = POINT_BATCHES[0]
        done = 0
        while n - done >= big:
            self.conn.execute(_POINTS_SQL[big], head + flat[3 * done : 3 * (done + big)])
            done += big
        if done < n:
            rest = n - done
            size = min(s for s in POINT_BATCHES if s >= rest)
            pad = flat[-3:] * (size - rest)
            self.conn.execute(_POINTS_SQL[size], head + flat[3 * done :] + pad)

    def set_scalar(self, run_id: str, name: str, value: float, wall: float | None) -> None:
        self.conn.execute("DELETE FROM scalar_metrics WHERE run_id=? AND name=?", (run_id, name))
        self.conn.execute(
            "INSERT INTO scalar_metrics(run_id, step, name, value, wall_time) VALUES (?, NULL, ?, ?, ?)",
            (run_id, name, value, wall),  # a NaN binds as NULL
        )

    def insert_todo(
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
        self.fold_todo(tid)

    def insert_artifact(self, run_id: str, a: Artifact) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO artifacts(id, run_id, name, kind, step, rel_path, shape, dtype, metadata, "
            "created_at, object_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                a.id,
                run_id,
                a.name,
                a.kind,
                a.step,
                # No file holds an artifact's own bytes (they are objects: chunked, maybe
                # packed), so no path is given; object_id names them (docs/tracking.md).
                None,
                to_json(None if a.shape is None else list(a.shape)),
                a.dtype,
                to_json(a.metadata),
                a.created_at,
                to_hex(a.object),
            ),
        )

    def insert_lineage(self, child_run: str, e: Mapping[str, Any]) -> None:
        """An edge from a run record or journal (``Lineage.to_value()``) or an event's data."""
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

    def insert_model_row(self, key: str, oid: ObjectId, commit: str | None) -> None:
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

    def fold_run_events(self, run_id: str) -> None:
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

    def fold_todo(self, todo_id: str) -> None:
        done, completed = 0, None
        for op, time in self.conn.execute(
            "SELECT op, time FROM events WHERE target=? ORDER BY id", (f"todo:{todo_id}",)
        ):
            done, completed = (1, time) if op == "todo_done" else (0, None)
        self.conn.execute(
            "UPDATE todos SET done=?, completed_at=? WHERE id=?", (done, completed, todo_id)
        )

    # sealed runs, events, models ------------------------------------------------------
    def apply_run(
        self,
        oid: ObjectId,
        record: RunRecord,
        curves: Curves | None,
        commit: str | None,
        points_indexed: bool = False,
    ) -> None:
        """Replace whatever the index holds for the run with its sealed record.

        ``points_indexed``: the run's curve points are already in ``curve_data``, read
        from the journal this record was sealed from; they are left as they are.
        Otherwise they are replaced by ``curves`` (read from the record's curve set when
        None)."""
        self.sync_hierarchy()
        if self.same_run(record.id, oid, commit):
            return
        if resumed.has_segments(self, record.id):
            # continued since it was sealed: the row is the fold of record and segments
            resumed.refold(self, record.id, oid, commit, curves=True)
            return
        self.write_record(oid, record, curves, commit, points_indexed)

    def write_record(
        self,
        oid: ObjectId,
        record: RunRecord,
        curves: Curves | None,
        commit: str | None,
        points_indexed: bool = False,
    ) -> None:
        """The run's rows as ``record`` says (the run's own, or the fold of a resumed run's
        pieces, ``resumed.refold``); ``oid`` is its run record's id."""
        if curves is None and not points_indexed:
            curves = read_curves(self.repo.objects, record.curves)
        start = Start(
            id=record.id,
            experiment=record.experiment,
            name=record.name,
            config=record.config,
            total_steps=record.total_steps,
            started_at=record.started_at,
            host=record.host,
            code=record.code,
        )
        key = self.upsert_live_row(start)
        rid = record.id
        for table in ("scalar_metrics", "run_params", "artifacts"):
            self.conn.execute(f"DELETE FROM {table} WHERE run_id=?", (rid,))
        self.conn.execute("DELETE FROM lineage WHERE child_type='run' AND child_id=?", (rid,))
        self.conn.execute("DELETE FROM journals WHERE run_id=?", (rid,))
        code = record.code or {}
        self.conn.execute(
            "UPDATE runs SET name=?, config=?, ended_at=?, status=?, object_id=?, commit_id=?, "
            "base_tags=?, base_notes=?, git_sha=?, git_branch=?, git_dirty=?, git_tree=?, "
            "record_id=?, total_steps=? WHERE id=?",
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
                to_hex(oid),
                record.total_steps,
                rid,
            ),
        )
        for name, m in sorted(record.metrics.items()):
            # the spec lets a metric's map hold anything (kinds.md, run.metrics); what is
            # not extract's {"value": number, ...} has no headline value to index
            value = m.get("value") if isinstance(m, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                wall = m.get("wall_time")
                ok = isinstance(wall, int | float) and not isinstance(wall, bool)
                self.set_scalar(rid, name, float(value), float(wall) if ok else None)
        self.conn.executemany(
            "INSERT INTO run_params(run_id, name, value) VALUES (?, ?, ?)",
            [(rid, k, v) for k, v in sorted(record.params.items())],
        )
        for a in record.artifacts:
            self.insert_artifact(rid, Artifact.from_value(dict(a), exact=False))
        for e in record.lineage:
            self.insert_lineage(rid, Lineage.from_value(dict(e), exact=False).to_value())
        for (data,) in self.conn.execute(  # lineage added by events survives the reseal
            "SELECT data FROM events WHERE op='lineage' AND target=? ORDER BY id", (f"run:{rid}",)
        ).fetchall():
            self.insert_lineage(rid, json.loads(data or "{}"))
        if curves is not None:
            self.conn.execute("DELETE FROM curve_data WHERE run_key=?", (key,))
            for name, (steps, values, walls) in curves.items():
                self.insert_points(key, self.metric_id(name), steps, values, walls)
        self.fold_run_events(rid)

    def apply_event(self, oid: ObjectId, ev: Event, commit: str | None) -> None:
        # an event's id names its content: one already indexed is only credited to a commit
        if self.conn.execute("SELECT 1 FROM events WHERE id=?", (ev.id,)).fetchone() is not None:
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
            self.insert_todo(
                ev.id,
                str(data.get("scope_type", "global")),
                data.get("scope_id"),
                str(data.get("content", "")),
                int(data.get("priority", 0)),
                ev.time,
            )
        elif ev.op in ("todo_done", "todo_reopen"):
            self.fold_todo(target)
        elif ev.op == "experiment":
            self.ensure_experiment(target, ev.time)
        elif ev.op == "lineage" and kind == "run":
            self.insert_lineage(target, data)
        elif kind == "run":
            self.fold_run_events(target)

    def forget_purged(self, key: str) -> None:
        """Drop every row of a purged run (with its annotations) or model version; the
        entries of it the index could not read are no longer worth retrying."""
        if "@" in key:
            name, version = split_model_key(key)
            self.conn.execute("DELETE FROM models WHERE name=? AND version=?", (name, version))
            self.conn.execute("DELETE FROM skipped WHERE section='models' AND key=?", (key,))
            return
        row = self.conn.execute("SELECT key FROM runs WHERE id=?", (key,)).fetchone()
        if row is not None:
            self.conn.execute("DELETE FROM curve_data WHERE run_key=?", (row[0],))
        for table in ("scalar_metrics", "run_params", "artifacts", "journals"):
            self.conn.execute(f"DELETE FROM {table} WHERE run_id=?", (key,))
        self.conn.execute("DELETE FROM lineage WHERE child_type='run' AND child_id=?", (key,))
        self.conn.execute("DELETE FROM todos WHERE scope_type='run' AND scope_id=?", (key,))
        self.conn.execute("DELETE FROM events WHERE target=?", (f"run:{key}",))
        self.conn.execute("DELETE FROM runs WHERE id=?", (key,))
        # its continuations (resumed segments), or the key is one of them
        self.conn.execute("DELETE FROM segments WHERE run_id=? OR id=?", (key, key))
        self.conn.execute("DELETE FROM skipped WHERE section='runs' AND key=?", (key,))

    def apply_model(self, key: str, oid: ObjectId, commit: str | None) -> None:
        name, version = split_model_key(key)
        row = self.conn.execute(
            "SELECT object_id FROM models WHERE name=? AND version=?", (name, version)
        ).fetchone()
        if row is not None and row[0] != to_hex(oid):
            # the committed version wins over a local staged one (merge reports conflicts)
            self.conn.execute("DELETE FROM models WHERE name=? AND version=?", (name, version))
        self.insert_model_row(key, oid, commit)
