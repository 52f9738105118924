"""The tracking SDK against the reference API (seed 000, "Python SDK API"), on real stores.

Every test opens a real store in ``tmp_path`` and checks what reached the journal,
the objects and index.db; nothing is mocked. Where the reference text says what a
call does, the test names the rule it checks.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from extract.errors import StoreNotFound
from extract.index import read
from extract.index.build import Indexer
from extract.index.ids import model_id
from extract.objects import RunRecord, Tree, from_hex
from extract.objects.kinds import cast
from extract.objects.ulid import ulid_time_ms
from extract.sdk import Experiment, Run, Store
from extract.store import chunking, journal
from extract.store.arrays import ArrayReader
from extract.store.curves import read_curves
from extract.store.repo import Repository
from extract.tracking import records
from tests.stores import curve_arrays

REPO = Path(__file__).resolve().parent.parent
LEVELS = ("benchmark", "model", "variant")
SPEC = {"benchmark": "imagenet", "model": "resnet50", "variant": "v1"}
ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")

#: The seed's "Database Schema" section: every table and its columns.
SEED_SCHEMA: dict[str, tuple[str, ...]] = {
    "experiments": (
        "id",
        "path",
        "name",
        "parent_id",
        "created_at",
        "metadata",
        "status",
        "node_type",
    ),
    "runs": (
        "id",
        "experiment_id",
        "name",
        "config",
        "started_at",
        "ended_at",
        "status",
        "hostname",
        "git_sha",
        "tags",
        "notes",
        "total_steps",
    ),
    "scalar_metrics": ("id", "run_id", "step", "name", "value", "wall_time"),
    "curve_points": ("run_id", "name", "step", "value", "wall_time"),
    "artifacts": (
        "id",
        "run_id",
        "name",
        "kind",
        "step",
        "rel_path",
        "shape",
        "dtype",
        "metadata",
        "created_at",
    ),
    "models": (
        "id",
        "name",
        "version",
        "run_id",
        "artifact_path",
        "framework",
        "metadata",
        "created_at",
    ),
    "lineage": (
        "id",
        "parent_type",
        "parent_id",
        "child_type",
        "child_id",
        "relation",
        "metadata",
        "created_at",
    ),
    "run_params": ("id", "run_id", "name", "value"),
    "hierarchy": ("level_order", "level_name"),
    "todos": (
        "id",
        "scope_type",
        "scope_id",
        "content",
        "done",
        "priority",
        "created_at",
        "completed_at",
    ),
}
SEED_RUN_COLUMNS = SEED_SCHEMA["runs"]
SEED_TODO_COLUMNS = SEED_SCHEMA["todos"]


# fixtures and helpers ---------------------------------------------------------------


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs capture the code provenance of the cwd: keep it out of this repository's state."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    Repository.init(tmp_path / ".extract", LEVELS)
    return tmp_path / ".extract"


@pytest.fixture
def store(root: Path) -> Iterator[Store]:
    s = Store(root)
    yield s
    s.close()


@pytest.fixture
def exp(store: Store) -> Experiment:
    return store.experiment(SPEC)


def rows(root: Path, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows of index.db as dicts, through a fresh connection (what any reader sees)."""
    conn = sqlite3.connect(root / "index.db")
    try:
        cur = conn.execute(sql, args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        conn.close()


def run_row(root: Path, run_id: str) -> dict[str, Any]:
    found = rows(root, "SELECT * FROM runs WHERE id=?", run_id)
    assert len(found) == 1, f"run {run_id} has {len(found)} rows in the index"
    return found[0]


def sealed_record(root: Path, run_id: str) -> RunRecord:
    """The run record object the index says the run was sealed into."""
    oid = run_row(root, run_id)["object_id"]
    assert oid, f"run {run_id} is not sealed"
    return cast(Repository(root).objects.get(from_hex(oid)), RunRecord)


def object_files(root: Path) -> int:
    return sum(
        1
        for d in (root / "objects").iterdir()
        if d.name != "tmp"
        for f in d.iterdir()
        if f.is_file()
    )


def journal_tags(run: Run) -> list[str]:
    """The tag of every intact record in a live run's journal, in order."""
    return [rec[0] for rec in journal.read(run.journal_path).records]


def journal_payloads(run: Run, tag: str) -> list[Any]:
    return [rec[1] for rec in journal.read(run.journal_path).records if rec[0] == tag]


def curve_batches(run: Run) -> list[list[tuple[int, dict[str, float]]]]:
    """Each curve record in the journal as [(step, {metric: value})], whichever form it took."""
    out = []
    for value in journal.read(run.journal_path).records:
        rec = records.decode(value)
        if isinstance(rec, records.Points):
            cols = rec.values
            out.append([(s, {k: v[i] for k, v in cols.items()}) for i, s in enumerate(rec.steps)])
        elif isinstance(rec, records.PointRows):
            out.append([(step, dict(point)) for step, _, point in rec.rows])
    return out


def refreshed_indexer(root: Path) -> Indexer:
    """An indexer of its own, caught up with the store, as another process would have."""
    idx = Indexer(Repository(root))
    idx.refresh()
    return idx


def subprocess_env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("EXTRACT_STORE", None)
    return env


# Store ----------------------------------------------------------------------------------


def test_store_default_root_is_dot_extract_in_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    s = Store()
    try:
        assert (tmp_path / ".extract" / "FORMAT").is_file()
        assert Path(s.root).resolve() == (tmp_path / ".extract").resolve()
    finally:
        s.close()
    # `extract init` gives the SDK-created store its hierarchy; Store() then uses it.
    Repository.init(tmp_path / ".extract", LEVELS)
    with Store() as s2:
        assert s2.experiment({"benchmark": "b"}).path == "b"


def test_store_created_if_absent(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b" / ".extract"
    s = Store(root)
    try:
        assert (root / "FORMAT").is_file()
        assert (root / "objects").is_dir() and (root / "journal").is_dir()
        # a store with no hierarchy yet cannot name experiments; the error says how to fix it
        with pytest.raises(ValueError, match="extract init"):
            s.experiment({"benchmark": "x"})
    finally:
        s.close()


def test_store_refuses_a_directory_that_is_not_a_store(tmp_path: Path) -> None:
    d = tmp_path / "data"
    d.mkdir()
    (d / "keep.txt").write_text("mine")
    with pytest.raises(StoreNotFound, match="not an extract store"):
        Store(d)
    assert sorted(p.name for p in d.iterdir()) == ["keep.txt"]


def test_experiment_levels_in_order_create_intermediate_nodes(store: Store, root: Path) -> None:
    e = store.experiment(SPEC)
    assert (e.path, e.name) == ("imagenet/resnet50/v1", "v1")
    assert ULID_RE.match(e.id)
    got = rows(root, "SELECT id, path, name, parent_id, node_type FROM experiments ORDER BY path")
    assert [(r["path"], r["name"], r["node_type"]) for r in got] == [
        ("imagenet", "imagenet", "benchmark"),
        ("imagenet/resnet50", "resnet50", "model"),
        ("imagenet/resnet50/v1", "v1", "variant"),
    ]
    assert got[0]["parent_id"] is None
    assert got[1]["parent_id"] == got[0]["id"]
    assert got[2]["parent_id"] == got[1]["id"]
    assert got[2]["id"] == e.id
    # the same spec again is the same experiment, not a second row
    again = store.experiment(dict(SPEC))
    assert again.id == e.id and again == e
    assert len(rows(root, "SELECT * FROM experiments")) == 3


def test_partial_specs_stop_at_their_level(store: Store, root: Path) -> None:
    b = store.experiment({"benchmark": "imagenet"})
    m = store.experiment({"benchmark": "imagenet", "model": "vit"})
    assert (b.path, b.name) == ("imagenet", "imagenet")
    assert (m.path, m.name) == ("imagenet/vit", "vit")
    types = {r["path"]: r["node_type"] for r in rows(root, "SELECT * FROM experiments")}
    assert types == {"imagenet": "benchmark", "imagenet/vit": "model"}
    # a run may hang off a partial node
    with b.run(name="top") as r:
        r.log(x=1)
    assert [x["name"] for x in b.list_runs()] == ["top"]


@pytest.mark.parametrize(
    ("spec", "level"),
    [
        ({"benchmark": "a", "variant": "x"}, "'model'"),
        ({"model": "x"}, "'benchmark'"),
        ({"model": "x", "benchmark": "a"}, "'benchmark'"),
    ],
    ids=["skips-model", "starts-below-root", "out-of-order"],
)
def test_skipped_level_is_an_error_naming_the_level(
    store: Store, root: Path, spec: dict[str, str], level: str
) -> None:
    with pytest.raises(ValueError, match=level):
        store.experiment(spec)
    assert rows(root, "SELECT * FROM experiments") == []


def test_unknown_level_is_an_error_naming_it_and_the_levels(store: Store, root: Path) -> None:
    with pytest.raises(ValueError, match=r"'dataset'.*benchmark > model > variant"):
        store.experiment({"benchmark": "a", "dataset": "x"})
    assert rows(root, "SELECT * FROM experiments") == []


@pytest.mark.parametrize("value", ["", "  ", "a/b", "/", ".."])
def test_bad_level_values_are_refused(store: Store, root: Path, value: str) -> None:
    with pytest.raises(ValueError, match="model"):
        store.experiment({"benchmark": "ok", "model": value})
    assert rows(root, "SELECT * FROM experiments") == []


def test_experiment_needs_a_non_empty_dict(store: Store) -> None:
    with pytest.raises(ValueError, match="benchmark"):
        store.experiment({})


def test_list_experiments_with_prefix_includes_intermediate_nodes(store: Store) -> None:
    store.experiment({"benchmark": "imagenet", "model": "resnet50", "variant": "v1"})
    store.experiment({"benchmark": "imagenet", "model": "vit", "variant": "v1"})
    store.experiment({"benchmark": "cifar", "model": "resnet50"})
    store.experiment({"benchmark": "a_b"})
    store.experiment({"benchmark": "axb"})
    every = store.list_experiments()
    assert all(isinstance(e, Experiment) for e in every)
    assert [e.path for e in every] == [
        "a_b",
        "axb",
        "cifar",
        "cifar/resnet50",
        "imagenet",
        "imagenet/resnet50",
        "imagenet/resnet50/v1",
        "imagenet/vit",
        "imagenet/vit/v1",
    ]
    assert [e.path for e in store.list_experiments("imagenet/")] == [
        "imagenet/resnet50",
        "imagenet/resnet50/v1",
        "imagenet/vit",
        "imagenet/vit/v1",
    ]
    assert [e.path for e in store.list_experiments("imagenet/resnet50")] == [
        "imagenet/resnet50",
        "imagenet/resnet50/v1",
    ]
    assert store.list_experiments("nothing") == []
    # the prefix is text, not a LIKE pattern: '_' matches only itself
    assert [e.path for e in store.list_experiments("a_")] == ["a_b"]
    leaf = store.list_experiments("imagenet/vit/")[0]
    assert (leaf.name, leaf.id) == ("v1", store.experiment({**SPEC, "model": "vit"}).id)


def test_todos_ordered_by_priority_desc_then_created_at(store: Store) -> None:
    store.todo("low")
    store.todo("high, older", priority=2)
    store.todo("mid", priority=1)
    store.todo("high, newer", priority=2)
    todos = store.list_todos()
    assert [t["content"] for t in todos] == ["high, older", "high, newer", "mid", "low"]
    assert [t["priority"] for t in todos] == [2, 2, 1, 0]
    for t in todos:
        assert set(SEED_TODO_COLUMNS) <= set(t)
        assert (t["scope_type"], t["scope_id"], bool(t["done"]), t["completed_at"]) == (
            "global",
            None,
            False,
            None,
        )
        assert ULID_RE.match(t["id"])
    assert [t["created_at"] for t in todos[:2]] == sorted(t["created_at"] for t in todos[:2])


def test_run_todos_are_scoped_to_their_run(exp: Experiment, store: Store) -> None:
    store.todo("global one", priority=2)
    run = exp.run()
    run.todo("later", priority=0)
    run.todo("first", priority=1)
    live = store.list_todos("run", run.id)
    assert [t["content"] for t in live] == ["first", "later"]
    run.finish()
    sealed = store.list_todos(scope_type="run", scope_id=run.id)
    assert [(t["content"], t["scope_type"], t["scope_id"]) for t in sealed] == [
        ("first", "run", run.id),
        ("later", "run", run.id),
    ]
    assert [t["content"] for t in store.list_todos()] == ["global one"]
    other = exp.run()
    other.finish()
    assert store.list_todos("run", other.id) == []


@pytest.mark.parametrize(
    ("scope_type", "scope_id", "match"),
    [
        ("project", None, "scope_type"),
        ("global", "01J0000000000000000000000", "None for global"),
        ("run", None, "required"),
        ("experiment", None, "required"),
    ],
)
def test_list_todos_scope_is_validated(
    store: Store, scope_type: str, scope_id: str | None, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        store.list_todos(scope_type, scope_id)


@pytest.mark.parametrize(
    ("content", "priority", "error"),
    [("x", 3, ValueError), ("x", -1, ValueError), ("x", True, ValueError), ("", 0, TypeError)],
)
def test_todo_priority_and_content_are_validated(
    store: Store, content: str, priority: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        store.todo(content, priority=priority)
    assert store.list_todos() == []


def test_close_is_idempotent_and_the_store_reopens(root: Path) -> None:
    s = Store(root)
    s.experiment(SPEC)
    s.close()
    s.close()
    with Store(root) as s2:
        assert [e.path for e in s2.list_experiments()][-1] == "imagenet/resnet50/v1"


CALLS_AFTER_CLOSE: dict[str, Callable[[Store, Experiment], object]] = {
    "experiment": lambda s, e: s.experiment(SPEC),
    "list_experiments": lambda s, e: s.list_experiments(),
    "todo": lambda s, e: s.todo("x"),
    "list_todos": lambda s, e: s.list_todos(),
    "list_runs": lambda s, e: e.list_runs(),
    "run": lambda s, e: e.run(name="ghost"),
}


@pytest.mark.parametrize("call", list(CALLS_AFTER_CLOSE.values()), ids=list(CALLS_AFTER_CLOSE))
def test_calls_after_close_raise_runtime_error_and_change_nothing(
    root: Path, call: Callable[[Store, Experiment], object]
) -> None:
    s = Store(root)
    e = s.experiment(SPEC)
    s.close()
    with pytest.raises(RuntimeError, match="closed"):
        call(s, e)
    assert list((root / "journal").iterdir()) == []
    with Store(root) as s2:
        assert s2.list_todos() == []
        assert s2.experiment(SPEC).list_runs() == []


def test_a_run_finished_after_store_close_loses_nothing(root: Path) -> None:
    s = Store(root)
    run = s.experiment(SPEC).run(name="late")
    run.curve(0, loss=1.0)
    run.log(acc=0.5)
    s.close()
    with contextlib.suppress(Exception):  # finishing after close may raise; data must survive
        run.finish()
    with Store(root) as s2:
        [r] = s2.experiment(SPEC).list_runs()
        assert (r["id"], r["name"], r["status"]) == (run.id, "late", "completed")
        steps, values, _ = curve_arrays(s2._conn, run.id, "loss")
        assert (steps.tolist(), values.tolist()) == ([0], [1.0])
    assert rows(root, "SELECT name, value FROM scalar_metrics") == [{"name": "acc", "value": 0.5}]


# runs -------------------------------------------------------------------------------------


def test_run_as_context_manager_and_as_direct_call(exp: Experiment, root: Path) -> None:
    with exp.run(config={"lr": 0.001}, name="run-001", total_steps=10) as run:
        assert isinstance(run, Run)
        assert [(r["name"], r["status"]) for r in exp.list_runs()] == [("run-001", "running")]
        run.log(loss=1.0)
    row = run_row(root, run.id)
    assert (row["status"], row["total_steps"], json.loads(row["config"])) == (
        "completed",
        10,
        {"lr": 0.001},
    )
    assert row["ended_at"] is not None and row["ended_at"] >= row["started_at"]

    run2 = exp.run(config={"lr": 0.001}, name="run-002")
    run2.log(loss=1.0)
    assert run_row(root, run2.id)["status"] == "running"
    assert run_row(root, run2.id)["ended_at"] is None
    run2.finish()
    assert run_row(root, run2.id)["status"] == "completed"
    assert run_row(root, run2.id)["total_steps"] is None


def test_list_runs_are_dicts_ordered_by_started_at(exp: Experiment, store: Store) -> None:
    runs = [exp.run(config={"i": i}, name=f"r{i}") for i in range(3)]
    for started in reversed(runs):  # finishing order must not change the listing
        started.finish()
    other = store.experiment({"benchmark": "imagenet", "model": "vit"}).run(name="elsewhere")
    other.finish()
    listed = exp.list_runs()
    assert [r["name"] for r in listed] == ["r0", "r1", "r2"]
    assert [r["id"] for r in listed] == [started.id for started in runs]
    assert [r["started_at"] for r in listed] == sorted(r["started_at"] for r in listed)
    for i, r in enumerate(listed):
        assert isinstance(r, dict)
        assert set(SEED_RUN_COLUMNS) <= set(r), set(SEED_RUN_COLUMNS) - set(r)
        assert r["experiment_id"] == exp.id
        assert json.loads(r["config"]) == {"i": i}  # JSON text, as the reference schema stores it
        assert r["status"] == "completed"


def test_run_ids_are_ulids(exp: Experiment) -> None:
    before = int(time.time() * 1000)
    ids = []
    for _ in range(5):
        with exp.run() as r:
            ids.append(r.id)
    after = int(time.time() * 1000)
    assert all(ULID_RE.match(i) for i in ids), ids
    assert len(set(ids)) == 5
    assert ids == sorted(ids)  # time-ordered
    assert all(before <= ulid_time_ms(i) <= after for i in ids)


def test_hostname_is_captured(exp: Experiment, root: Path) -> None:
    with exp.run() as r:
        pass
    assert run_row(root, r.id)["hostname"] == socket.gethostname()
    assert sealed_record(root, r.id).host == socket.gethostname()


def test_git_sha_is_captured_from_head(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(code)]
    subprocess.run([*git, "init", "-q"], check=True)
    (code / "train.py").write_text("print('hi')\n")
    subprocess.run([*git, "add", "train.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    monkeypatch.chdir(code)
    with Store(root) as s, s.experiment(SPEC).run() as r:
        pass
    assert run_row(root, r.id)["git_sha"] == head


def test_exception_in_with_block_marks_run_failed_and_propagates(
    exp: Experiment, root: Path
) -> None:
    with pytest.raises(ZeroDivisionError), exp.run(name="boom") as run:
        run.curve(0, loss=2.0)
        run.log(acc=0.1)
        _ = 1 / 0
    row = run_row(root, run.id)
    assert row["status"] == "failed" and row["ended_at"] is not None
    assert sealed_record(root, run.id).status == "failed"
    # what was logged before the exception is kept
    assert rows(root, "SELECT name, value FROM scalar_metrics WHERE run_id=?", run.id) == [
        {"name": "acc", "value": 0.1}
    ]
    assert rows(root, "SELECT step, value FROM curve_points WHERE run_id=?", run.id) == [
        {"step": 0, "value": 2.0}
    ]
    with pytest.raises(RuntimeError):
        run.log(x=1)


# run.log -------------------------------------------------------------------------------


def test_log_numbers_are_headline_metrics_latest_wins(exp: Experiment, root: Path) -> None:
    run = exp.run()
    run.log(final_loss=0.3, final_accuracy=0.9, arch="resnet18")
    run.log(final_loss=0.28)
    run.flush()
    exp.list_runs()  # refreshes the index from the journal
    live = rows(root, "SELECT name, value FROM scalar_metrics WHERE run_id=? ORDER BY name", run.id)
    assert live == [{"name": "final_accuracy", "value": 0.9}, {"name": "final_loss", "value": 0.28}]
    run.finish()
    sealed = rows(root, "SELECT * FROM scalar_metrics WHERE run_id=? ORDER BY name", run.id)
    assert [(r["name"], r["value"]) for r in sealed] == [
        ("final_accuracy", 0.9),
        ("final_loss", 0.28),
    ]
    assert rows(root, "SELECT name, value FROM run_params WHERE run_id=?", run.id) == [
        {"name": "arch", "value": "resnet18"}
    ]
    assert sealed_record(root, run.id).metrics["final_loss"]["value"] == 0.28
    # headline values never become curve points
    assert rows(root, "SELECT * FROM curve_points WHERE run_id=?", run.id) == []


def test_log_strings_are_params_deduplicated_by_name(exp: Experiment, root: Path) -> None:
    with exp.run() as run:
        run.log(optimizer="sgd", arch="resnet50")
        run.log(optimizer="adam")
    got = rows(root, "SELECT name, value FROM run_params WHERE run_id=? ORDER BY name", run.id)
    assert got == [{"name": "arch", "value": "resnet50"}, {"name": "optimizer", "value": "adam"}]
    assert rows(root, "SELECT * FROM scalar_metrics WHERE run_id=?", run.id) == []
    assert dict(sealed_record(root, run.id).params) == {"arch": "resnet50", "optimizer": "adam"}


def test_log_with_step_raises_type_error_and_logs_nothing(exp: Experiment, root: Path) -> None:
    with exp.run() as run, pytest.raises(TypeError, match=r"curve"):
        run.log(loss=2.0, step=3)
    assert rows(root, "SELECT * FROM scalar_metrics WHERE run_id=?", run.id) == []


def test_log_records_wall_time_since_run_start(exp: Experiment, root: Path) -> None:
    t0 = time.time()
    with exp.run() as run:
        time.sleep(0.05)
        run.log(acc=0.5)
    elapsed = time.time() - t0
    [row] = rows(root, "SELECT wall_time FROM scalar_metrics WHERE run_id=?", run.id)
    assert 0.05 <= row["wall_time"] <= elapsed


def test_log_accepts_numpy_scalars(exp: Experiment, root: Path) -> None:
    with exp.run() as run:
        run.log(f32=np.float32(1.5), i64=np.int64(3), f64=np.float64(0.25), zero_d=np.array(2.5))  # type: ignore[arg-type]
    got = {
        r["name"]: r["value"]
        for r in rows(root, "SELECT name, value FROM scalar_metrics WHERE run_id=?", run.id)
    }
    assert got == {"f32": 1.5, "i64": 3.0, "f64": 0.25, "zero_d": 2.5}


@pytest.mark.parametrize("value", [None, [1.0], {"a": 1}, b"x"], ids=repr)
def test_log_rejects_values_that_are_not_numbers_or_strings(exp: Experiment, value: Any) -> None:
    with exp.run() as run, pytest.raises(TypeError):
        run.log(x=value)


# run.curve ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0.5", True, False, np.bool_(True), None], ids=repr)
def test_curve_takes_numbers_only(exp: Experiment, root: Path, value: Any) -> None:
    with exp.run() as run:
        with pytest.raises(TypeError):
            run.curve(0, good=1.0, bad=value)
        run.curve(1, good=2.0)
    # the refused call stored nothing, not even its good metric
    got = rows(root, "SELECT name, step FROM curve_points WHERE run_id=?", run.id)
    assert got == [{"name": "good", "step": 1}]


@pytest.mark.parametrize("step", [1.0, "1", True], ids=repr)
def test_curve_step_must_be_an_int(exp: Experiment, step: Any) -> None:
    with exp.run() as run, pytest.raises(TypeError, match="step"):
        run.curve(step, loss=1.0)


def test_curve_accepts_numpy_steps_and_values(exp: Experiment, root: Path) -> None:
    with exp.run() as run:
        run.curve(np.int64(3), loss=np.float32(0.5), n=np.int32(7))  # type: ignore[arg-type]
    got = rows(
        root, "SELECT name, step, value FROM curve_points WHERE run_id=? ORDER BY name", run.id
    )
    assert got == [
        {"name": "loss", "step": 3, "value": 0.5},
        {"name": "n", "step": 3, "value": 7.0},
    ]


def test_curve_keeps_nan_and_inf(exp: Experiment, root: Path) -> None:
    logged = [float("nan"), float("inf"), float("-inf"), 1.5, 0.0]
    with exp.run() as run:
        for step, v in enumerate(logged):
            run.curve(step, loss=v)

    def same(values: list[float]) -> bool:
        return all(
            (math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(values, logged, strict=True)
        )

    with Store(root) as s:
        steps, values, walls = curve_arrays(s._conn, run.id, "loss")
    assert steps.tolist() == [0, 1, 2, 3, 4]
    assert same(values.tolist()), values
    assert np.all(np.isfinite(walls)) and np.all(np.diff(walls) >= 0)

    record = sealed_record(root, run.id)
    curves = read_curves(Repository(root).objects, record.curves)
    s_steps, s_values, _ = curves["loss"]
    assert s_steps.tolist() == [0, 1, 2, 3, 4]
    assert same(s_values.tolist()), s_values

    # and a rebuilt index says the same
    idx = Indexer(Repository(root))
    try:
        idx.rebuild()
        _, r_values, _ = curve_arrays(idx.conn, run.id, "loss")
    finally:
        idx.close()
    assert same(r_values.tolist()), r_values


def test_curve_points_never_reach_headline_metrics(exp: Experiment, root: Path) -> None:
    with exp.run() as run:
        for step in range(20):
            run.curve(step, train_loss=1.0 / (step + 1), train_acc=step / 20)
        run.log(final_acc=0.95)
    assert rows(root, "SELECT name FROM scalar_metrics WHERE run_id=?", run.id) == [
        {"name": "final_acc"}
    ]
    assert rows(root, "SELECT COUNT(*) AS n FROM curve_points WHERE run_id=?", run.id) == [
        {"n": 40}
    ]
    assert sorted(sealed_record(root, run.id).metrics) == ["final_acc"]


def test_curve_same_step_twice_keeps_the_latest(exp: Experiment, root: Path) -> None:
    with exp.run() as run:
        run.curve(0, loss=1.0)
        run.curve(1, loss=0.9)
        run.curve(0, loss=0.5)
    got = rows(root, "SELECT step, value FROM curve_points WHERE run_id=? ORDER BY step", run.id)
    assert got == [{"step": 0, "value": 0.5}, {"step": 1, "value": 0.9}]


# buffering: what reaches the journal, and when ---------------------------------------------


def test_curve_points_reach_the_journal_at_10_steps(exp: Experiment) -> None:
    run = exp.run()
    try:
        assert journal_tags(run) == ["run"]
        for step in range(9):
            run.curve(step, loss=float(step), acc=0.1)
        assert journal_tags(run) == ["run"], "fewer than 10 steps must stay buffered"
        run.curve(9, loss=9.0, acc=0.1)
        [batch] = curve_batches(run)
        assert [p[0] for p in batch] == list(range(10))
        run.curve(10, loss=10.0)
        assert len(curve_batches(run)) == 1
    finally:
        run.finish()


def test_log_entries_reach_the_journal_at_100(exp: Experiment) -> None:
    run = exp.run()
    try:
        run.log(**{f"m{i}": float(i) for i in range(60)})
        run.log(**{f"p{i}": str(i) for i in range(39)})
        assert journal_tags(run) == ["run"], "99 entries must stay buffered"
        run.log(last=1.0)
        [batch] = journal_payloads(run, "l")
        assert len(batch) == 100
        assert batch[-1][:2] == ["last", 1.0]
    finally:
        run.finish()


def test_background_flusher_writes_a_lone_point_after_about_2s(exp: Experiment) -> None:
    run = exp.run()
    try:
        t0 = time.monotonic()
        run.curve(0, loss=1.0)
        run.log(acc=0.5)
        time.sleep(1.0)
        assert journal_tags(run) == ["run"], "flushed long before 2 s"
        while not curve_batches(run) and time.monotonic() - t0 < 6.0:
            time.sleep(0.05)  # no SDK call: only the background thread can write
        waited = time.monotonic() - t0
        assert curve_batches(run) == [[(0, {"loss": 1.0})]]
        assert [p[0][:2] for p in journal_payloads(run, "l")] == [["acc", 0.5]]
        assert 1.9 <= waited <= 4.5, waited
    finally:
        run.finish()


# artifacts --------------------------------------------------------------------------------


def test_log_table_stores_a_lazily_sliceable_array(exp: Experiment, root: Path) -> None:
    data = np.arange(700 * 500, dtype=np.float64).reshape(700, 500)
    with exp.run() as run:
        run.log_table("activations", data, axes={"rows": "task", "cols": "step"})
    [a] = rows(root, "SELECT * FROM artifacts WHERE run_id=?", run.id)
    assert ULID_RE.match(a["id"])
    assert (a["name"], a["kind"], a["step"], a["dtype"]) == ("activations", "matrix", None, "<f8")
    assert json.loads(a["shape"]) == [700, 500]
    assert json.loads(a["metadata"]) == {"axes": {"rows": "task", "cols": "step"}}
    assert a["rel_path"] is None  # no file holds its bytes; object_id names them
    reader = ArrayReader(Repository(root).objects, from_hex(a["object_id"]))
    assert reader.shape == (700, 500) and reader.dtype == np.float64
    total_chunks = len(reader.meta.chunks)
    assert total_chunks > 1, "the test needs an array of several chunks"
    np.testing.assert_array_equal(reader[10:12, 3:7], data[10:12, 3:7])
    assert reader.chunks_read == 1, "a small slice must read one chunk, not the whole array"
    np.testing.assert_array_equal(reader.read(), data)
    # the sealed run record lists it too
    [art] = sealed_record(root, run.id).artifacts
    assert art["name"] == "activations" and art["kind"] == "matrix"


def test_log_table_step_and_bad_input(exp: Experiment, root: Path) -> None:
    with exp.run() as run:
        run.log_table("cm", np.eye(3, dtype=np.int32), step=5)
        run.log_table("cm", np.eye(3, dtype=np.int32) * 2, step=6)
        with pytest.raises(TypeError):
            run.log_table("cm", [[1, 2], [3, 4]])  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            run.log_table("cm", np.eye(2), step=1.5)  # type: ignore[arg-type]
    got = rows(
        root, "SELECT step, dtype, metadata FROM artifacts WHERE run_id=? ORDER BY step", run.id
    )
    assert got == [
        {"step": 5, "dtype": "<i4", "metadata": None},
        {"step": 6, "dtype": "<i4", "metadata": None},
    ]


def test_log_text_stores_markdown(exp: Experiment, root: Path) -> None:
    text = "## Observations\nConverges stably. é ✓\n"
    with exp.run() as run:
        run.log_text("notes", text)
    [a] = rows(root, "SELECT * FROM artifacts WHERE run_id=?", run.id)
    assert (a["name"], a["kind"], a["shape"], a["step"]) == ("notes", "text", None, None)
    content = chunking.read_bytes(Repository(root).objects, from_hex(a["object_id"]))
    assert content.decode("utf-8") == text


# tags and notes -------------------------------------------------------------------------


def test_tags_append_without_duplicates(exp: Experiment, root: Path) -> None:
    run = exp.run()
    run.tag("sweep", "baseline")
    run.tag("baseline", "prod", "sweep")
    run.tag("x", "x")
    exp.list_runs()  # refresh from the journal while live
    assert json.loads(run_row(root, run.id)["tags"]) == ["sweep", "baseline", "prod", "x"]
    run.finish()
    assert json.loads(run_row(root, run.id)["tags"]) == ["sweep", "baseline", "prod", "x"]
    assert list(sealed_record(root, run.id).tags) == ["sweep", "baseline", "prod", "x"]
    assert json.loads(exp.list_runs()[0]["tags"]) == ["sweep", "baseline", "prod", "x"]


def test_notes_append_newline_separated(exp: Experiment, root: Path) -> None:
    with exp.run() as run:
        run.note("Best learning rate in sweep")
        run.note("second thought\nover two lines")
    assert run_row(root, run.id)["notes"] == (
        "Best learning rate in sweep\nsecond thought\nover two lines"
    )


# models ----------------------------------------------------------------------------------


def test_register_model_stores_the_same_bytes_once(
    exp: Experiment, root: Path, tmp_path: Path
) -> None:
    model = tmp_path / "model.pt"
    model.write_bytes(np.random.default_rng(0).bytes(3_000_000))
    with exp.run() as run:
        before = object_files(root)
        run.register_model("resnet", "v1", str(model))
        after_v1 = object_files(root)
        run.register_model("resnet", "v2", model, metadata={"acc": 0.9}, framework="jax")
        after_v2 = object_files(root)
    assert after_v1 - before > 1, "a 3 MB file takes several chunk objects"
    assert after_v2 - after_v1 == 1, "the second version adds its version record, no content"
    got = rows(root, "SELECT * FROM models ORDER BY version")
    assert [(m["name"], m["version"], m["run_id"]) for m in got] == [
        ("resnet", "v1", run.id),
        ("resnet", "v2", run.id),
    ]
    assert got[0]["content_id"] == got[1]["content_id"]
    assert got[0]["id"] == model_id("resnet", "v1")
    assert (got[0]["framework"], got[1]["framework"]) == ("pytorch", "jax")
    assert json.loads(got[1]["metadata"]) == {"acc": 0.9}
    assert all(os.path.isabs(m["artifact_path"]) for m in got)
    odb = Repository(root).objects
    assert chunking.read_bytes(odb, from_hex(got[0]["content_id"])) == model.read_bytes()
    assert len(sealed_record(root, run.id).models) == 2


def test_register_model_directory(exp: Experiment, root: Path, tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    (ckpt / "sub").mkdir(parents=True)
    (ckpt / "weights.bin").write_bytes(b"\x01" * 1000)
    (ckpt / "config.json").write_text('{"layers": 3}')
    (ckpt / "sub" / "tok.txt").write_text("hello")
    with exp.run() as run:
        run.register_model("dirmodel", "1", ckpt)
    [m] = rows(root, "SELECT * FROM models")
    assert m["size"] == 1000 + len('{"layers": 3}') + 5
    odb = Repository(root).objects
    tree = cast(odb.get(from_hex(m["content_id"])), Tree)
    assert sorted(tree.entries) == ["config.json", "sub", "weights.bin"]
    assert chunking.read_bytes(odb, tree.entries["weights.bin"]) == b"\x01" * 1000
    sub = cast(odb.get(tree.entries["sub"]), Tree)
    assert chunking.read_bytes(odb, sub.entries["tok.txt"]) == b"hello"


def test_register_model_duplicate_name_version_raises_and_changes_nothing(
    exp: Experiment, root: Path, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    a.write_bytes(b"first model")
    b.write_bytes(b"another model")
    with exp.run() as run:
        run.register_model("m", "v1", a)
        before = rows(root, "SELECT * FROM models")
        with pytest.raises(ValueError, match="m@v1"):
            run.register_model("m", "v1", b)
        with pytest.raises(ValueError, match="m@v1"):
            run.register_model("m", "v1", a)  # same bytes, still the same name@version
        assert rows(root, "SELECT * FROM models") == before
        assert len(journal_payloads(run, "model")) == 1
    assert len(sealed_record(root, run.id).models) == 1
    # and from another run, later
    with pytest.raises(ValueError, match="m@v1"), exp.run() as run2:
        run2.register_model("m", "v1", b)
    [m] = rows(root, "SELECT run_id, object_id FROM models")
    assert m == {"run_id": run.id, "object_id": before[0]["object_id"]}
    assert sealed_record(root, run2.id).models == ()


def test_register_model_duplicate_writes_no_objects(
    exp: Experiment, root: Path, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    a.write_bytes(b"first model")
    b.write_bytes(b"another model, other bytes")
    with exp.run() as run:
        run.register_model("m", "v1", a)
        before = object_files(root)
        with pytest.raises(ValueError):
            run.register_model("m", "v1", b)
        assert object_files(root) == before


def test_register_model_missing_path_raises(exp: Experiment, root: Path, tmp_path: Path) -> None:
    with exp.run() as run, pytest.raises(FileNotFoundError, match=r"nope\.pt"):
        run.register_model("m", "v1", str(tmp_path / "nope.pt"))
    assert rows(root, "SELECT * FROM models") == []


# lineage ----------------------------------------------------------------------------------


def lineage(root: Path) -> list[tuple[str, str, str, str, str]]:
    return [
        (r["parent_type"], r["parent_id"], r["child_type"], r["child_id"], r["relation"])
        for r in rows(root, "SELECT * FROM lineage ORDER BY id")
    ]


def test_derived_from_run(exp: Experiment, root: Path) -> None:
    with exp.run() as parent:
        pass
    with exp.run() as child:
        child.derived_from(run=parent.id)
    assert lineage(root) == [("run", parent.id, "run", child.id, "derived_from")]
    [edge] = sealed_record(root, child.id).lineage
    assert (edge["type"], edge["id"], edge["relation"]) == ("run", parent.id, "derived_from")


def test_derived_from_model_by_name_and_version_or_by_id(
    exp: Experiment, root: Path, tmp_path: Path
) -> None:
    (tmp_path / "m.pt").write_bytes(b"weights")
    with exp.run() as first:
        first.register_model("base", "v0.9", tmp_path / "m.pt")
    [m] = rows(root, "SELECT id FROM models")
    with exp.run() as child:
        child.derived_from(model="base", version="v0.9")
        child.derived_from(model=m["id"])  # the same model by id: the same edge
    assert lineage(root) == [("model", m["id"], "run", child.id, "derived_from")]
    # a model not (yet) in this store is named the same way, so the edge survives a merge
    with exp.run() as other:
        other.derived_from(model="baseline-imagenet", version="v0.9")
    assert lineage(root)[-1] == (
        "model",
        model_id("baseline-imagenet", "v0.9"),
        "run",
        other.id,
        "derived_from",
    )


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"run": "R", "model": "M"}, {"version": "v1"}, {"run": "R", "model": "M", "version": "1"}],
    ids=["none", "both", "version-only", "all"],
)
def test_derived_from_takes_exactly_one_target(
    exp: Experiment, root: Path, kwargs: dict[str, str]
) -> None:
    with exp.run() as run, pytest.raises(ValueError, match="exactly one"):
        run.derived_from(**kwargs)
    assert lineage(root) == []


def test_branched_from_experiment_or_run(exp: Experiment, store: Store, root: Path) -> None:
    base = store.experiment({"benchmark": "imagenet", "model": "resnet50"})
    with exp.run() as first:
        pass
    with exp.run() as run:
        run.branched_from(experiment=base.id)
        run.branched_from(run=first.id)
        with pytest.raises(ValueError, match="exactly one"):
            run.branched_from()
        with pytest.raises(ValueError, match="exactly one"):
            run.branched_from(experiment=base.id, run=first.id)
    assert lineage(root) == [
        ("experiment", base.id, "run", run.id, "branched_from"),
        ("run", first.id, "run", run.id, "branched_from"),
    ]


# finish ------------------------------------------------------------------------------------


def test_finish_is_idempotent(exp: Experiment, root: Path) -> None:
    run = exp.run()
    run.log(x=1)
    run.finish("failed")
    first = run_row(root, run.id)
    run.finish()
    run.finish("completed")
    again = run_row(root, run.id)
    assert (again["status"], again["ended_at"], again["object_id"]) == (
        "failed",
        first["ended_at"],
        first["object_id"],
    )
    assert len(rows(root, "SELECT * FROM runs")) == 1
    assert not run.journal_path.exists()


def test_finish_with_a_bad_status_raises_and_leaves_the_run_live(
    exp: Experiment, root: Path
) -> None:
    run = exp.run()
    with pytest.raises(ValueError, match="completed"):
        run.finish("done")
    assert run_row(root, run.id)["status"] == "running"
    run.log(x=2)  # still open
    run.finish()
    assert run_row(root, run.id)["status"] == "completed"


MUTATIONS: dict[str, Callable[[Run, Path], object]] = {
    "log": lambda r, p: r.log(x=1),
    "log-str": lambda r, p: r.log(arch="a"),
    "curve": lambda r, p: r.curve(0, loss=1.0),
    "log_table": lambda r, p: r.log_table("t", np.zeros(3)),
    "log_text": lambda r, p: r.log_text("t", "x"),
    "tag": lambda r, p: r.tag("t"),
    "note": lambda r, p: r.note("n"),
    "todo": lambda r, p: r.todo("t"),
    "register_model": lambda r, p: r.register_model("m", "v1", p),
    "derived_from": lambda r, p: r.derived_from(run="01J00000000000000000000000"),
    "branched_from": lambda r, p: r.branched_from(run="01J00000000000000000000000"),
}


@pytest.mark.parametrize("call", list(MUTATIONS.values()), ids=list(MUTATIONS))
def test_every_mutation_after_finish_raises_runtime_error(
    exp: Experiment, root: Path, tmp_path: Path, call: Callable[[Run, Path], object]
) -> None:
    model = tmp_path / "m.pt"
    model.write_bytes(b"w")
    run = exp.run()
    run.finish()
    record = run_row(root, run.id)
    objects = object_files(root)
    with pytest.raises(RuntimeError, match="finish"):
        call(run, model)
    assert run_row(root, run.id) == record
    assert object_files(root) == objects
    for table in ("scalar_metrics", "run_params", "artifacts", "models", "lineage", "todos"):
        assert rows(root, f"SELECT * FROM {table}") == [], table
    assert rows(root, "SELECT * FROM curve_points") == []


# the index ----------------------------------------------------------------------------------


def test_index_has_the_seed_tables_and_columns(exp: Experiment, root: Path) -> None:
    with exp.run() as run:
        run.log(x=1)
    conn = sqlite3.connect(root / "index.db")
    try:
        for table, seed_columns in SEED_SCHEMA.items():
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            assert columns, f"index.db has no table {table}"
            missing = [c for c in seed_columns if c not in columns]
            assert not missing, f"{table} lacks the seed's columns {missing}"
        assert str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"
        levels = conn.execute("SELECT level_order, level_name FROM hierarchy ORDER BY 1").fetchall()
        assert levels == [(0, "benchmark"), (1, "model"), (2, "variant")]
    finally:
        conn.close()


# live runs and crashes -----------------------------------------------------------------------


def test_second_store_sees_a_live_run_and_its_flushed_points(exp: Experiment, root: Path) -> None:
    run = exp.run(name="live", total_steps=100)
    try:
        for step in range(10):  # one full buffer: reaches the journal
            run.curve(step, loss=1.0 / (step + 1))
        run.curve(10, loss=0.0)  # still buffered
        with Store(root) as other:
            assert other.recovered == [], "a live run must not be recovered"
            [r] = other.experiment(SPEC).list_runs()
            assert (r["id"], r["name"], r["status"], r["total_steps"]) == (
                run.id,
                "live",
                "running",
                100,
            )
        idx = refreshed_indexer(root)
        try:
            steps, values, _ = curve_arrays(idx.conn, run.id, "loss")
        finally:
            idx.close()
        assert steps.tolist() == list(range(10))
        assert values.tolist() == [1.0 / (s + 1) for s in range(10)]
    finally:
        run.finish()
    idx = refreshed_indexer(root)
    try:
        steps, _, _ = curve_arrays(idx.conn, run.id, "loss")
        assert steps.tolist() == list(range(11))
        assert read.get_run(idx.conn, run.id).run.status == "completed"
    finally:
        idx.close()


CRASH_SCRIPT = """
import sys, time
from extract import Store
store = Store(sys.argv[1])
exp = store.experiment({"benchmark": "imagenet", "model": "resnet50", "variant": "v1"})
run = exp.run(config={"lr": 0.1}, name="doomed", total_steps=100)
for step in range(25):
    run.curve(step, loss=1.0 / (step + 1), acc=step / 100)
run.log(best_acc=0.24, optimizer="adam")
run.tag("crash-test")
run.todo("look at this", priority=2)
run.flush()
print("ready", run.id, flush=True)
time.sleep(120)
"""


def test_sigkilled_run_is_recovered_as_failed_with_every_flushed_point(root: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        assert line[:1] == ["ready"], proc.stderr.read() if proc.stderr else ""
        run_id = line[1]
        # while it lives, another process sees it running with its flushed points
        with Store(root) as reader:
            assert reader.recovered == []
            [r] = reader.experiment(SPEC).list_runs()
            assert (r["id"], r["status"]) == (run_id, "running")
            steps, _, _ = curve_arrays(reader._conn, run_id, "loss")
            assert steps.tolist() == list(range(25))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    with Store(root) as s:
        assert s.recovered == [run_id]
        [r] = s.experiment(SPEC).list_runs()
        assert (r["status"], r["name"], json.loads(r["config"]), json.loads(r["tags"])) == (
            "failed",
            "doomed",
            {"lr": 0.1},
            ["crash-test"],
        )
        assert r["ended_at"] is not None and r["object_id"]
        steps, values, _ = curve_arrays(s._conn, run_id, "loss")
        assert steps.tolist() == list(range(25))
        assert values.tolist() == [1.0 / (i + 1) for i in range(25)]
        assert [t["content"] for t in s.list_todos("run", run_id)] == ["look at this"]
    assert sealed_record(root, run_id).status == "failed"
    assert rows(root, "SELECT name, value FROM scalar_metrics") == [
        {"name": "best_acc", "value": 0.24}
    ]
    assert rows(root, "SELECT name, value FROM run_params") == [
        {"name": "optimizer", "value": "adam"}
    ]
    assert list((root / "journal").glob("*.journal")) == []

    # opening again recovers nothing and duplicates nothing
    with Store(root) as s2:
        assert s2.recovered == []
        assert len(s2.experiment(SPEC).list_runs()) == 1
    assert rows(root, "SELECT COUNT(*) AS n FROM curve_points") == [{"n": 50}]
    assert rows(root, "SELECT COUNT(*) AS n FROM todos") == [{"n": 1}]
