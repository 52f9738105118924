"""The read layer's answers for a runs table's column picker, and artifacts by run."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from extract import Store
from extract.errors import ExperimentNotFound
from extract.index import read
from extract.index.access import open_index
from extract.index.build import Indexer
from extract.index.models import Column
from extract.store.repo import Repository
from extract.tracking.events import record_event


@pytest.fixture
def conn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sqlite3.Connection]:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / ".extract"
    Repository.create(root)
    (root / "config.toml").write_text('[store]\nhierarchy = "bench > model"\n')
    with Store(root) as store:
        a = store.experiment({"bench": "a", "model": "m"})
        cfg = {
            "lr": 0.1,
            "opt": {"name": "adam", "betas": [0.9, 0.99], "extra": {}},
            "a.b": 1,
            "é": 2,
            "aug": [{"p": 1}],
        }
        with a.run(config=cfg, name="one") as run:
            run.log(acc=0.5, status=1.0, arch="resnet")
            run.log_table("t", np.array([[1.0, 2.0]]))
            run.log_text("notes", "hello")
        with a.run(config={"lr": 0.2, "seed": 3}, name="two") as run:
            run.log(acc=0.6)
        b = store.experiment({"bench": "b", "model": "m"})
        with b.run(config={"warmup": 5}, name="three") as run:
            run.log(loss=0.1, width="wide")
        with b.run(config={"hidden": 1}, name="gone") as run:
            gone = run.id
    indexer = Indexer(Repository(root))
    record_event(indexer, "delete", f"run:{gone}", {})  # a deleted run's keys are not offered
    indexer.close()
    index = open_index(Repository(root))
    yield index.reader()
    index.close()


def _config_keys(conn: sqlite3.Connection, scope: str = "") -> list[str]:
    return [c.name[7:] for c in read.table_columns(conn, scope) if c.kind == "config"]


def test_config_keys_are_the_flattened_leaves(conn: sqlite3.Connection) -> None:
    # lists are values, an empty dict is a leaf, a dotted or non-ASCII key stays whole
    assert _config_keys(conn, "a") == sorted(
        ["a.b", "aug", "lr", "opt.betas", "opt.extra", "opt.name", "seed", "é"]
    )
    assert _config_keys(conn, "b/m") == _config_keys(conn, "b") == ["warmup"]
    assert set(_config_keys(conn)) == {*_config_keys(conn, "a"), "warmup"}
    assert [c.name[6:] for c in read.table_columns(conn) if c.kind == "param"] == ["arch", "width"]


def test_table_columns_name_what_runs_table_takes(conn: sqlite3.Connection) -> None:
    cols = read.table_columns(conn, "a")
    names = [c.name for c in cols]
    assert names[:7] == ["name", "status", "experiment", "started", "ended", "steps", "id"]
    assert Column("metric", "acc") in cols
    assert Column("metric", "metric.status") in cols  # a metric named like a run field
    assert Column("config", "config.opt.name") in cols and Column("param", "param.arch") in cols
    assert "loss" not in names and "param.width" not in names  # only experiment b has them
    for c in cols:  # every column is one runs_table can sort by
        assert read.column(c.name) == c
        read.runs_table(conn, "a", [c.name], sort=c.name)
    with pytest.raises(ExperimentNotFound):
        read.table_columns(conn, "nowhere")


def test_artifacts_by_run_and_kind(conn: sqlite3.Connection) -> None:
    runs = read.list_runs(conn, "a").items
    ids = [r.id for r in runs]
    every = read.artifacts(conn, ids)
    one = next(r.id for r in runs if r.name == "one")
    two = next(r.id for r in runs if r.name == "two")
    assert [a.kind for a in every[one]] == ["text", "matrix"]  # by name: notes, t
    assert every[two] == ()
    tables = read.artifacts(conn, ids, kind="matrix")
    assert [a.name for a in tables[one]] == ["t"] and tables[one][0].shape == (1, 2)
    assert read.get_run(conn, one).artifacts == every[one]
