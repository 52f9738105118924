"""index.db: the seed's tables and column names, plus what the object model needs.

Everything here is derived from objects and journals; ``extract reindex``
rebuilds it. ``curve_points`` is a view over ``curve_data``, which keys points
by small integers: 10M points take less than half the space of text keys and
load faster, while queries written against the seed's schema still work.
"""

from __future__ import annotations

#: Bumped whenever the schema changes; an index of another version is rebuilt.
SCHEMA_VERSION = 5

TABLES = (
    "experiments",
    "runs",
    "scalar_metrics",
    "curve_points",
    "artifacts",
    "models",
    "lineage",
    "run_params",
    "hierarchy",
    "todos",
)

DDL = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT
);
CREATE TABLE IF NOT EXISTS experiments (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    parent_id TEXT REFERENCES experiments(id),
    created_at TEXT,
    metadata TEXT,
    status TEXT DEFAULT 'created',
    node_type TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    experiment_id TEXT NOT NULL REFERENCES experiments(id),
    name TEXT,
    config TEXT,
    started_at TEXT,
    ended_at TEXT,
    status TEXT,
    hostname TEXT,
    git_sha TEXT,
    tags TEXT,
    notes TEXT,
    total_steps INTEGER,
    -- beyond the seed
    key INTEGER NOT NULL UNIQUE,
    object_id TEXT,
    commit_id TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    git_branch TEXT,
    git_dirty INTEGER,
    git_tree TEXT,
    git_diff_id TEXT,
    git_stamp TEXT,
    experiment_path TEXT NOT NULL,
    base_tags TEXT,
    base_notes TEXT,
    -- the sealed run record; object_id is NULL while a journal of the run is live,
    -- which includes a continuation (resume=) of a run sealed before
    record_id TEXT
);
CREATE INDEX IF NOT EXISTS runs_experiment ON runs(experiment_id, started_at);
CREATE INDEX IF NOT EXISTS runs_started ON runs(started_at);
CREATE TABLE IF NOT EXISTS scalar_metrics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT REFERENCES runs(id),
    step INTEGER,
    name TEXT,
    value REAL,
    wall_time REAL,
    UNIQUE (run_id, name, step)
);
CREATE INDEX IF NOT EXISTS scalar_metrics_run ON scalar_metrics(run_id);
CREATE TABLE IF NOT EXISTS metric_names (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS curve_data (
    run_key INTEGER NOT NULL,
    metric_id INTEGER NOT NULL,
    step INTEGER NOT NULL,
    value REAL,            -- NULL stands for NaN (SQLite has no NaN); +-Inf are kept
    wall_time REAL,
    PRIMARY KEY (run_key, metric_id, step)
) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS curve_points AS
    SELECT r.id AS run_id, m.name AS name, c.step AS step, c.value AS value,
           c.wall_time AS wall_time
    FROM curve_data c JOIN runs r ON r.key = c.run_key JOIN metric_names m ON m.id = c.metric_id;
-- One row per tag of a run: plain SQL (json_each), so outside readers (the sqlite3 CLI,
-- pandas, polars) can filter by tag without extract's array_contains().
CREATE VIEW IF NOT EXISTS run_tags AS
    SELECT r.id AS run_id, t.value AS tag FROM runs r, json_each(r.tags) t;
CREATE TABLE IF NOT EXISTS artifacts (
    id TEXT PRIMARY KEY,
    run_id TEXT REFERENCES runs(id),
    name TEXT,
    kind TEXT,
    step INTEGER,
    rel_path TEXT,
    shape TEXT,
    dtype TEXT,
    metadata TEXT,
    created_at TEXT,
    object_id TEXT
);
CREATE INDEX IF NOT EXISTS artifacts_run ON artifacts(run_id);
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY,
    name TEXT,
    version TEXT,
    run_id TEXT REFERENCES runs(id),
    artifact_path TEXT,
    framework TEXT,
    metadata TEXT,
    created_at TEXT,
    object_id TEXT,
    content_id TEXT,
    size INTEGER,
    commit_id TEXT,
    UNIQUE (name, version)
);
CREATE TABLE IF NOT EXISTS lineage (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_type TEXT,
    parent_id TEXT,
    child_type TEXT,
    child_id TEXT,
    relation TEXT,
    metadata TEXT,
    created_at TEXT,
    UNIQUE (parent_type, parent_id, child_type, child_id, relation)
);
CREATE TABLE IF NOT EXISTS run_params (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT REFERENCES runs(id),
    name TEXT,
    value TEXT,
    UNIQUE (run_id, name)
);
CREATE TABLE IF NOT EXISTS hierarchy (
    level_order INTEGER PRIMARY KEY,
    level_name TEXT UNIQUE
);
CREATE TABLE IF NOT EXISTS todos (
    id TEXT PRIMARY KEY,
    scope_type TEXT,
    scope_id TEXT,
    content TEXT,
    done INTEGER DEFAULT 0,
    priority INTEGER DEFAULT 0,
    created_at TEXT,
    completed_at TEXT
);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    op TEXT NOT NULL,
    target TEXT NOT NULL,
    time TEXT,
    data TEXT,
    object_id TEXT,
    commit_id TEXT
);
CREATE INDEX IF NOT EXISTS events_target ON events(target, id);
CREATE TABLE IF NOT EXISTS commits (
    id TEXT PRIMARY KEY,
    parents TEXT,
    state TEXT,
    author TEXT,
    host TEXT,
    time TEXT,
    message TEXT
);
-- Continuations of sealed runs (exp.run(..., resume=RUN_ID)), one row per sealed
-- segment object; the run's own rows are the fold of its record and these, in id order.
CREATE TABLE IF NOT EXISTS segments (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    object_id TEXT NOT NULL,
    commit_id TEXT,
    started_at TEXT,
    ended_at TEXT,
    status TEXT,
    hostname TEXT
);
CREATE INDEX IF NOT EXISTS segments_run ON segments(run_id, id);
CREATE TABLE IF NOT EXISTS journals (
    run_id TEXT PRIMARY KEY,
    offset INTEGER NOT NULL
);
-- What the index could not read: an entry of a state or a staged one (section runs,
-- models or events, keyed as in the state) or a piece of history itself (section
-- 'history': a commit or state tree, keyed by its id). Retried on every refresh, so
-- the index heals once the object is restored. Created on old indexes as they open.
CREATE TABLE IF NOT EXISTS skipped (
    section TEXT NOT NULL,
    key TEXT NOT NULL,
    object_id TEXT NOT NULL,
    commit_id TEXT,
    bad_object TEXT,
    reason TEXT NOT NULL,
    PRIMARY KEY (section, key, object_id)
);
"""

#: Columns that are surrogate counters: their values depend on insertion order, so
#: reindex equivalence compares every table without them.
SURROGATE_COLUMNS = {
    "runs": {"key"},
    "scalar_metrics": {"id"},
    "lineage": {"id"},
    "run_params": {"id"},
}
