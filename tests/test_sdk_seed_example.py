"""The seed's "Full Usage Example" (examples/seed_usage.py) runs unchanged, and fills every table.

The script runs as a user would run it, in a subprocess, against a store made by
``extract init --hierarchy ...`` or by the script itself; then index.db is read
table by table, and once more after the index is rebuilt from the objects.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from extract import Store
from extract.index.build import Indexer
from extract.index.ids import experiment_id, model_id
from extract.index.schema import SURROGATE_COLUMNS, TABLES
from extract.objects import Array, RunRecord, from_hex
from extract.objects.kinds import cast
from extract.store.repo import Repository
from tests.cli import extract
from tests.stores import table_rows

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "examples" / "seed_usage.py"
EXP_PATH = "imagenet/resnet50/lr-sweep"


def run_script(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("EXTRACT_STORE", None)
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def rows(root: Path, sql: str, *args: Any) -> list[dict[str, Any]]:
    conn = sqlite3.connect(f"file:{root / 'index.db'}?mode=ro", uri=True)
    try:
        cur = conn.execute(sql, args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        conn.close()


def make_store(tmp_path: Path, how: str) -> Path:
    """Run the example once: as documented (init, then cwd), or given a bare directory."""
    project = tmp_path / "project"
    project.mkdir()
    if how == "extract-init-then-cwd":
        init = extract("init", "--hierarchy", "benchmark > model > variant", cwd=project)
        assert init.returncode == 0, init.stdout + init.stderr
        r = run_script(project)
    else:
        r = run_script(tmp_path, str(project))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "logged 2 runs" in r.stdout
    return project / ".extract"


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    return make_store(tmp_path, "extract-init-then-cwd")


def check_tables(root: Path) -> None:
    # hierarchy: the three levels of config.toml, in order
    assert rows(root, "SELECT level_order, level_name FROM hierarchy ORDER BY level_order") == [
        {"level_order": 0, "level_name": "benchmark"},
        {"level_order": 1, "level_name": "model"},
        {"level_order": 2, "level_name": "variant"},
    ]

    # experiments: one node per level, chained by parent_id
    exps = rows(root, "SELECT * FROM experiments ORDER BY path")
    assert [(e["path"], e["name"], e["node_type"]) for e in exps] == [
        ("imagenet", "imagenet", "benchmark"),
        ("imagenet/resnet50", "resnet50", "model"),
        (EXP_PATH, "lr-sweep", "variant"),
    ]
    assert [e["parent_id"] for e in exps] == [None, exps[0]["id"], exps[1]["id"]]
    assert all(e["status"] == "created" and e["created_at"] for e in exps)
    leaf = experiment_id(EXP_PATH)
    assert exps[2]["id"] == leaf

    # runs: two, both completed, in start order
    runs = rows(root, "SELECT * FROM runs ORDER BY started_at")
    assert [
        (r["name"], r["status"], r["experiment_id"], r["total_steps"], r["deleted"]) for r in runs
    ] == [
        ("resnet50-lr1e3", "completed", leaf, 50, 0),
        ("resnet50-lr5e3", "completed", leaf, None, 0),
    ]
    first, second = runs[0]["id"], runs[1]["id"]
    assert json.loads(runs[0]["config"]) == {"lr": 0.001, "bs": 32, "epochs": 50}
    assert json.loads(runs[1]["config"]) == {"lr": 0.005}
    assert json.loads(runs[0]["tags"]) == ["sweep", "production-candidate"]
    assert json.loads(runs[1]["tags"]) == ["sweep"]
    assert runs[0]["notes"] == "Best learning rate in sweep"
    assert not runs[1]["notes"]
    for r in runs:
        assert r["hostname"] and r["started_at"] <= r["ended_at"]
        assert r["object_id"], "every run is sealed into objects"

    # scalar_metrics: headline values only, one row per name
    assert rows(root, "SELECT run_id, name, value FROM scalar_metrics ORDER BY run_id") == [
        {"run_id": first, "name": "final_acc", "value": 0.92},
        {"run_id": second, "name": "loss", "value": 2.1},
    ]

    # run_params: the string values of run.log()
    assert rows(root, "SELECT run_id, name, value FROM run_params ORDER BY name") == [
        {"run_id": first, "name": "arch", "value": "resnet50"},
        {"run_id": first, "name": "optimizer", "value": "sgd"},
    ]

    # curve_points: 50 steps x 2 metrics, exactly the values logged
    points = rows(root, "SELECT run_id, name, step, value FROM curve_points ORDER BY name, step")
    assert len(points) == 100
    assert {p["run_id"] for p in points} == {first}
    expected = {
        "train_acc": [s * 0.018 for s in range(50)],
        "train_loss": [2.3 - s * 0.04 for s in range(50)],
    }
    for name, values in expected.items():
        mine = [p for p in points if p["name"] == name]
        assert [p["step"] for p in mine] == list(range(50))
        assert [p["value"] for p in mine] == values

    # artifacts: the 1000x1000 matrix with its axes, and the markdown text
    arts = rows(root, "SELECT * FROM artifacts ORDER BY name")
    assert [(a["run_id"], a["name"], a["kind"], a["step"]) for a in arts] == [
        (first, "confusion_matrix", "matrix", None),
        (first, "notes", "text", None),
    ]
    matrix, text = arts
    assert json.loads(matrix["shape"]) == [1000, 1000]
    assert matrix["dtype"] == "<f8"
    assert json.loads(matrix["metadata"]) == {"axes": {"rows": "true", "cols": "predicted"}}
    array = cast(Repository(root).objects.get(from_hex(matrix["object_id"])), Array)
    assert array.shape == (1000, 1000)
    assert text["shape"] is None

    # models: one version, registered by the first run, content stored in the store
    [model] = rows(root, "SELECT * FROM models")
    assert (model["name"], model["version"], model["run_id"], model["framework"]) == (
        "resnet50-imagenet",
        "v1.0",
        first,
        "pytorch",
    )
    assert model["id"] == model_id("resnet50-imagenet", "v1.0")
    assert model["size"] == 16_384 * 4 and model["content_id"]

    # lineage: the first run derives from baseline-imagenet@v0.9
    assert rows(
        root, "SELECT parent_type, parent_id, child_type, child_id, relation FROM lineage"
    ) == [
        {
            "parent_type": "model",
            "parent_id": model_id("baseline-imagenet", "v0.9"),
            "child_type": "run",
            "child_id": first,
            "relation": "derived_from",
        }
    ]

    # todos: the run's (priority 1) and the global one (priority 2)
    assert rows(
        root, "SELECT scope_type, scope_id, content, priority, done FROM todos ORDER BY priority"
    ) == [
        {
            "scope_type": "run",
            "scope_id": first,
            "content": "Try lr=0.005 next",
            "priority": 1,
            "done": 0,
        },
        {
            "scope_type": "global",
            "scope_id": None,
            "content": "Write up results for paper",
            "priority": 2,
            "done": 0,
        },
    ]

    # the sealed run record carries the same facts as the index
    record = cast(Repository(root).objects.get(from_hex(runs[0]["object_id"])), RunRecord)
    assert (record.id, record.experiment, record.status, record.total_steps) == (
        first,
        EXP_PATH,
        "completed",
        50,
    )


@pytest.mark.parametrize("how", ["extract-init-then-cwd", "script-creates-store-from-argv"])
def test_seed_example_fills_every_table(tmp_path: Path, how: str) -> None:
    check_tables(make_store(tmp_path, how))


def test_seed_example_index_rebuilds_identically(store_root: Path) -> None:
    conn = sqlite3.connect(store_root / "index.db")
    try:
        before = {t: table_rows(conn, t, tuple(SURROGATE_COLUMNS.get(t, ()))) for t in TABLES}
    finally:
        conn.close()
    (store_root / "index.db").unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{store_root / 'index.db'}{suffix}").unlink(missing_ok=True)
    idx = Indexer(Repository(store_root))
    try:
        idx.rebuild()  # what `extract reindex` does
        after = {t: table_rows(idx.conn, t, tuple(SURROGATE_COLUMNS.get(t, ()))) for t in TABLES}
    finally:
        idx.close()
    for t in TABLES:
        assert after[t] == before[t], t
    check_tables(store_root)


def test_a_store_whose_index_was_deleted_answers_the_same(store_root: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store_root / 'index.db'}{suffix}").unlink(missing_ok=True)
    with Store(store_root) as s:
        assert [e.path for e in s.list_experiments()] == [
            "imagenet",
            "imagenet/resnet50",
            EXP_PATH,
        ]
    check_tables(store_root)


def test_second_run_of_the_example_fails_at_the_duplicate_model(store_root: Path) -> None:
    r = run_script(store_root.parent)
    assert r.returncode != 0
    assert "ValueError" in r.stderr and "resnet50-imagenet@v1.0" in r.stderr
    runs = rows(root=store_root, sql="SELECT name, status FROM runs ORDER BY started_at")
    assert runs == [
        {"name": "resnet50-lr1e3", "status": "completed"},
        {"name": "resnet50-lr5e3", "status": "completed"},
        {"name": "resnet50-lr1e3", "status": "failed"},
    ]
    assert len(rows(store_root, "SELECT * FROM models")) == 1
