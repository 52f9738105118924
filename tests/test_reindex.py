"""Reindex equivalence: index.db is a cache that can always be rebuilt (DESIGN.md "Index").

A random sequence of SDK operations builds a store: experiments at every depth, runs
with curves (NaN, +-Inf, duplicate steps), headline values and params, tags, notes,
todos at every scope, tables, texts, models, lineage, runs finished as completed or
failed or left live, and commits at random points, leaving some runs sealed but
uncommitted. The index the SDK kept up to date (caught up with ``refresh()``, as every
reader does) must equal, table by table, the one ``Indexer.rebuild()`` makes from the
objects, staged entries and journals alone, and the one a fresh ``Indexer`` makes by
itself when ``index.db`` was deleted. Surrogate integer counters
(``schema.SURROGATE_COLUMNS``) are left out of the comparison; ``metric_names`` and
``meta`` are internal bookkeeping.
"""

from __future__ import annotations

import fcntl
import math
import os
import shutil
import sqlite3
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from extract.index import schema
from extract.index.build import Indexer
from extract.index.db import INDEX_FILE
from extract.sdk import Experiment, Run, Store
from extract.store import journal
from extract.store.history import commit_staged
from extract.store.repo import Repository
from tests.stores import table_rows

HIERARCHY = ("sweep", "trial")
COMPARED = (*schema.TABLES, "events", "commits")

SWEEPS = ("a", "b c", "é")
TRIALS = ("x", "y")
METRICS = ("loss", "acc", "val/loss")
LOG_NAMES = ("best", "lr", "opt")
TAGS = ("t1", "t2", "baseline")
MODEL_NAMES = ("net", "enc/dec")
#: Annotations made after the fact (the events a CLI or another machine adds), applied
#: through the store's event path to any run, live or sealed, or to any todo.
EVENT_KINDS = (
    "tag",
    "untag",
    "note",
    "delete",
    "restore",
    "stamp",
    "lineage",
    "todo_done",
    "todo_reopen",
)
SLOTS = 8  # op arguments pick runs, models and experiments by index modulo how many exist

Op = tuple[Any, ...]

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**53), 2**53),
)
paths = st.tuples(st.sampled_from(SWEEPS), st.none() | st.sampled_from(TRIALS))
slot = st.integers(0, SLOTS - 1)
names = st.text(min_size=1, max_size=6).filter(lambda s: bool(s.strip()))
configs = st.none() | st.dictionaries(
    st.sampled_from(("lr", "bs", "opt")),
    st.none() | st.booleans() | st.integers(-10, 10) | st.floats() | st.text(max_size=4),
    max_size=3,
)

starts = st.tuples(
    st.just("start"),
    paths,
    configs,
    st.none() | st.sampled_from(("r1", "r2")),
    st.none() | st.integers(1, 100),
)
curves = st.tuples(
    st.just("curve"),
    slot,
    st.integers(-2, 12),
    st.dictionaries(st.sampled_from(METRICS), numbers, min_size=1),
)
# Runs and curves are drawn more often than the rest; an op on a run when none is open
# starts one first (in experiment "a"), so few draws are wasted.
ops: st.SearchStrategy[Op] = st.one_of(
    starts,
    curves,
    curves,
    st.tuples(st.just("exp"), paths),
    st.tuples(
        st.just("log"),
        slot,
        st.dictionaries(
            st.sampled_from(LOG_NAMES), numbers | st.booleans() | st.text(max_size=5), min_size=1
        ),
    ),
    st.tuples(st.just("tag"), slot, st.lists(st.sampled_from(TAGS), min_size=1, max_size=2)),
    st.tuples(st.just("note"), slot, st.text(max_size=8)),
    st.tuples(
        st.just("todo"),
        st.sampled_from(("run", "experiment", "global")),
        slot,
        names,
        st.integers(0, 2),
    ),
    st.tuples(
        st.just("table"),
        slot,
        st.integers(1, 3),
        st.integers(1, 3),
        st.none() | st.integers(0, 5),
        st.sampled_from(("<f8", "<i4", "|u1")),
    ),
    st.tuples(st.just("text"), slot, st.sampled_from(("readme", "log")), st.text(max_size=12)),
    st.tuples(st.just("model"), slot, st.sampled_from(MODEL_NAMES), st.binary(max_size=48)),
    st.tuples(
        st.just("lineage"),
        slot,
        st.sampled_from(("derived_run", "derived_model", "branched_exp", "branched_run")),
        slot,
    ),
    st.tuples(st.just("finish"), slot, st.sampled_from(("completed", "failed"))),
    st.tuples(st.just("flush"), slot),
    st.tuples(st.just("crash"), slot),
    st.tuples(st.just("commit")),
    st.tuples(st.just("refresh")),
    st.tuples(st.just("other"), paths, names),
    st.tuples(
        st.just("event"),
        st.sampled_from(EVENT_KINDS),
        slot,
        st.lists(st.sampled_from(TAGS), min_size=1, max_size=2),
    ),
)


@dataclass
class World:
    """The store under test and what the operations made so far."""

    store: Store
    repo: Repository
    files: Path
    open: list[Run] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    models: list[tuple[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    commits: int = 0

    def experiment(self, path: tuple[str, str | None]) -> Experiment:
        sweep, trial = path
        spec = {"sweep": sweep} if trial is None else {"sweep": sweep, "trial": trial}
        exp = self.store.experiment(spec)
        if exp.path not in self.paths:
            self.paths.append(exp.path)
        return exp

    def run(self, i: int) -> Run:
        if not self.open:
            self.apply(("start", ("a", None), None, None, None))
        return self.open[i % len(self.open)]

    def apply(self, op: Op) -> None:
        kind, args = op[0], op[1:]
        if kind == "exp":
            self.experiment(args[0])
        elif kind == "start":
            path, config, name, total = args
            r = self.experiment(path).run(config, name=name, total_steps=total)
            self.open.append(r)
            self.runs.append(r.id)
        elif kind == "todo":
            scope, i, content, priority = args
            if scope == "global":
                self.store.todo(content, priority)
            elif scope == "experiment":
                if self.paths:
                    path = self.paths[i % len(self.paths)].split("/")
                    self.experiment((path[0], path[1] if len(path) > 1 else None)).todo(
                        content, priority
                    )
            else:
                self.run(i).todo(content, priority)
        elif kind == "commit":
            commit_staged(self.repo, f"commit {self.commits}")
            self.commits += 1
        elif kind == "refresh":
            self.store._indexer.refresh()
        elif kind == "other":
            self.other_process(*args)
        elif kind == "event":
            self.event(*args)
        else:
            self.run_op(self.run(args[0]), kind, args[1:])

    def run_op(self, r: Run, kind: str, args: tuple[Any, ...]) -> None:
        if kind == "curve":
            step, metrics = args
            r.curve(step, **metrics)
        elif kind == "log":
            r.log(**args[0])
        elif kind == "tag":
            r.tag(*args[0])
        elif kind == "note":
            r.note(args[0])
        elif kind == "table":
            rows, cols, step, dtype = args
            r.log_table("m", np.arange(rows * cols).reshape(rows, cols).astype(dtype), step=step)
        elif kind == "text":
            r.log_text(*args)
        elif kind == "model":
            name, data = args
            version = f"v{len(self.models)}"
            f = self.files / f"model-{len(self.models)}.bin"
            f.write_bytes(data)
            r.register_model(name, version, f, metadata={"bytes": len(data)}, framework="numpy")
            self.models.append((name, version))
        elif kind == "lineage":
            how, j = args
            if how == "derived_run":
                r.derived_from(run=self.runs[j % len(self.runs)])
            elif how == "branched_run":
                r.branched_from(run=self.runs[j % len(self.runs)])
            elif how == "branched_exp":
                r.branched_from(experiment=self.paths[j % len(self.paths)])
            elif self.models:
                name, version = self.models[j % len(self.models)]
                r.derived_from(model=name, version=version)
        elif kind == "finish":
            r.finish(args[0])
            self.open.remove(r)
        elif kind == "flush":
            r.flush()
        elif kind == "crash":
            crash(r)
            self.open.remove(r)
        else:
            raise AssertionError(f"unknown op {kind}")

    def event(self, op: str, i: int, tags: list[str]) -> None:
        if op in ("todo_done", "todo_reopen"):
            ids = [row[0] for row in self.store._conn.execute("SELECT id FROM todos ORDER BY id")]
            if ids:
                self.store._event(op, f"todo:{ids[i % len(ids)]}", {})
            return
        if not self.runs:
            self.run(i)
        target = f"run:{self.runs[i % len(self.runs)]}"
        data: dict[str, Any] = {}
        if op in ("tag", "untag"):
            data = {"tags": tags}
        elif op == "note":
            data = {"content": f"later {tags[0]}"}
        elif op == "stamp":
            data = {"sha": f"{i:040x}"}
        elif op == "lineage":
            data = {
                "relation": "derived_from",
                "type": "run",
                "id": self.runs[(i + 1) % len(self.runs)],
                "metadata": None,
                "created_at": "2024-06-12T00:00:00.000Z",
            }
        self.store._event(op, target, data)

    def other_process(self, path: tuple[str, str | None], content: str) -> None:
        """A second Store on the same directory, as another process would open it."""
        with Store(self.store.root) as other:
            sweep, trial = path
            spec = {"sweep": sweep} if trial is None else {"sweep": sweep, "trial": trial}
            exp = other.experiment(spec)
            exp.todo(content)
            with exp.run({"other": True}, name="other") as r:
                r.curve(0, loss=0.5)
                r.log(best=0.5)
            self.runs.append(r.id)
            if exp.path not in self.paths:
                self.paths.append(exp.path)


def crash(r: Run) -> None:
    """Abandon a run as a SIGKILL would: what was flushed stays in its journal, whose lock
    is released; the next Store() opened on the directory seals it as failed."""
    with r._lock:
        r._finished = True  # the SDK's timer thread leaves it alone from now on
        r._flush_locked()
    r._journal.close()


def hold(path: Path) -> int:
    """Lock a journal as its live writer does; the descriptor releases it."""
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def snapshot(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t: table_rows(conn, t, exclude=tuple(schema.SURROGATE_COLUMNS.get(t, ()))) for t in COMPARED
    }


def assert_same(
    before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]], how: str
) -> None:
    problems = []
    for table in COMPARED:
        b, a = before[table], after[table]
        if b != a:
            lost = Counter(b) - Counter(a)
            new = Counter(a) - Counter(b)
            problems.append(
                f"{table}: {len(b)} rows before, {len(a)} after {how}\n"
                f"  only before: {sorted(lost.elements(), key=repr)[:5]}\n"
                f"  only after:  {sorted(new.elements(), key=repr)[:5]}"
            )
    assert not problems, "\n".join(problems)


def delete_index(root: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        p = root / (INDEX_FILE + suffix)
        if p.exists():
            os.unlink(p)


def build_store(tmp: Path, op_list: list[Op], finish_rest: bool) -> tuple[Path, World]:
    root = tmp / ".extract"
    repo = Repository.init(root, HIERARCHY)
    files = tmp / "files"
    files.mkdir()
    store = Store(root)
    world = World(store, repo, files)
    try:
        for op in op_list:
            world.apply(op)
        for r in list(world.open):
            if finish_rest:
                r.finish("completed")
                world.open.remove(r)
            else:
                r.flush()  # live runs stay live: the rebuild reads their journals
    except BaseException:
        store.close()
        raise
    return root, world


def check_reindex(op_list: list[Op], finish_rest: bool, by_itself: bool) -> None:
    """Build a store from ``op_list``; compare its index with one rebuilt from scratch.

    ``by_itself``: the rebuilt index is whatever ``Indexer(repo)`` makes of a store with
    no index.db; otherwise ``Indexer(repo).rebuild()`` is called explicitly.
    """
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        root, world = build_store(tmp, op_list, finish_rest)
        try:
            world.store._indexer.refresh()
            before = snapshot(world.store._indexer.conn)
            # The store as `rm index.db` leaves it: a copy, so that this process's live
            # runs keep their journals (and locks) in the original.
            bare = tmp / "bare"
            shutil.copytree(root, bare, ignore=shutil.ignore_patterns(f"{INDEX_FILE}*"))
            # ... and their writers hold the copies' journals as they hold the originals
            # (a journal nobody holds is a dead writer's, which every reader shows failed)
            held = [
                hold(bare / "journal" / p.name)
                for p in sorted((root / "journal").glob("*.journal"))
                if not journal.is_orphan(p)
            ]
            ix = Indexer(Repository(bare))
            try:
                if not by_itself:
                    ix.rebuild()
                how = "Indexer() on a deleted index.db" if by_itself else "Indexer.rebuild()"
                assert_same(before, snapshot(ix.conn), how)
            finally:
                ix.close()
                for fd in held:
                    os.close(fd)
        finally:
            for r in world.open:  # release live runs' journals (locks, descriptors)
                crash(r)
            world.store.close()


NAN, INF = math.nan, math.inf

EXAMPLE: list[Op] = [
    ("exp", ("a", None)),
    ("start", ("a", "x"), {"lr": 0.1, "opt": "adam"}, "r1", 10),
    ("curve", 0, 0, {"loss": 1.0, "acc": NAN}),
    ("curve", 0, 1, {"loss": INF, "val/loss": -INF}),
    ("curve", 0, 1, {"loss": 0.5}),  # duplicate step: the latest wins
    ("log", 0, {"best": NAN, "opt": "sgd", "lr": 3}),
    ("tag", 0, ["t1", "baseline"]),
    ("note", 0, "first"),
    ("todo", "run", 0, "check", 2),
    ("todo", "experiment", 0, "sweep more", 1),
    ("todo", "global", 0, "write up", 0),
    ("table", 0, 2, 3, 1, "<f8"),
    ("text", 0, "readme", "# hello"),
    ("model", 0, "net", b"weights"),
    ("commit",),
    ("start", ("b c", None), None, None, None),
    ("lineage", 0, "derived_model", 0),
    ("lineage", 0, "derived_run", 0),
    ("lineage", 0, "branched_exp", 0),
    ("curve", 0, 3, {"loss": 2}),
    ("finish", 0, "failed"),  # the first run (slots wrap over open runs)
    ("refresh",),
    ("other", ("é", "y"), "from elsewhere"),
    ("commit",),
    # annotations after the fact, on the sealed runs (0 and 2; 1 is live) and on todos
    ("event", "tag", 0, ["t2"]),
    ("event", "untag", 0, ["t1"]),
    ("event", "note", 2, ["t1"]),
    ("event", "stamp", 0, ["t1"]),
    ("event", "delete", 2, ["t1"]),
    ("event", "lineage", 2, ["t1"]),
    ("event", "todo_done", 0, ["t1"]),
    ("event", "todo_done", 1, ["t1"]),
    ("event", "todo_reopen", 1, ["t1"]),
    ("start", ("a", "x"), None, "r2", None),
    ("curve", 1, 0, {"loss": 0.25}),
    ("finish", 0, "completed"),  # sealed, never committed
    ("start", ("a", None), None, None, 5),
    ("curve", 0, 2, {"acc": 1.0}),  # left live: only its journal holds it
]


#: A tag added after the fact to a run that is still live (bug: the rebuild drops it).
LIVE_EVENT: list[Op] = [
    ("start", ("a", None), None, None, None),
    ("curve", 0, 0, {"loss": 1.0}),
    ("event", "tag", 0, ["t1"]),
]
#: A lineage event on a live run that is then sealed (bug: sealing drops the edge).
LINEAGE_THEN_SEAL: list[Op] = [
    ("start", ("a", None), None, None, None),
    ("start", ("a", None), None, None, None),
    ("event", "lineage", 0, ["t1"]),
    ("finish", 0, "completed"),
]

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
OP_LISTS = st.lists(ops, min_size=8, max_size=50)


@PROPERTY
@given(op_list=OP_LISTS, finish_rest=st.booleans())
@example(op_list=EXAMPLE, finish_rest=False)
@example(op_list=EXAMPLE, finish_rest=True)
@example(op_list=[], finish_rest=True)
@example(op_list=LIVE_EVENT, finish_rest=False)
@example(op_list=LINEAGE_THEN_SEAL, finish_rest=True)
def test_rebuilt_index_equals_incremental_index(op_list: list[Op], finish_rest: bool) -> None:
    check_reindex(op_list, finish_rest, by_itself=False)


@PROPERTY
@given(op_list=OP_LISTS, finish_rest=st.booleans())
@example(op_list=EXAMPLE, finish_rest=False)
@example(op_list=[], finish_rest=True)
def test_indexer_on_a_deleted_index_equals_incremental_index(
    op_list: list[Op], finish_rest: bool
) -> None:
    check_reindex(op_list, finish_rest, by_itself=True)


def test_indexer_rebuilds_a_deleted_index_by_itself(tmp_path: Path) -> None:
    """``Indexer(repo)`` on a store whose index.db was deleted holds every run at once."""
    root = tmp_path / ".extract"
    Repository.init(root, HIERARCHY)
    with Store(root) as store:
        with store.experiment({"sweep": "a"}).run(name="r") as r:
            r.curve(0, loss=1.0)
        commit_staged(store._repo, "one run")
    delete_index(root)
    ix = Indexer(Repository(root))
    try:
        rows = ix.conn.execute("SELECT id, status, commit_id IS NOT NULL FROM runs").fetchall()
        assert rows == [(r.id, "completed", 1)]
    finally:
        ix.close()
