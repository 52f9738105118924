"""Answers the reference API got wrong: a table logged without a step, a model parent
this store has never seen, a run shown by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from extract import Store
from extract.store.repo import Repository
from tests.cli import extract


@pytest.fixture
def store(tmp_path: Path) -> Store:
    Repository.init(tmp_path / ".extract", ("bench",))
    return Store(tmp_path / ".extract")


def test_a_table_without_a_step_is_the_one_logged_without_one(store: Store) -> None:
    run = store.experiment({"bench": "b"}).run(name="t")
    run.log_table("m", np.zeros((2, 2)))
    run.log_table("m", np.ones((2, 2)), step=3)
    run.finish()
    loaded = store.load_run(run.id)
    assert np.array_equal(loaded.table("m")[:], np.zeros((2, 2)))
    assert np.array_equal(loaded.table("m", step=3)[:], np.ones((2, 2)))
    only_stepped = store.experiment({"bench": "b"}).run(name="s")
    only_stepped.log_table("k", np.ones((1, 1)), step=1)
    only_stepped.log_table("k", np.full((1, 1), 2.0), step=2)
    only_stepped.finish()
    assert store.load_run(only_stepped.id).table("k")[:][0, 0] == 2.0  # the latest step
    with pytest.raises(LookupError, match="at step 9"):
        store.load_run(only_stepped.id).table("k", step=9)
    store.close()


def test_show_takes_a_run_name_and_suggests_close_ones(store: Store, tmp_path: Path) -> None:
    run = store.experiment({"bench": "b"}).run(name="alpha")
    run.finish()
    store.close()
    r = extract("show", "alpha", "--json", cwd=tmp_path)
    assert r.returncode == 0 and run.id in r.stdout
    r = extract("show", "alpah", cwd=tmp_path)
    assert r.returncode == 3
    assert r.stderr == "error: Run not found: 'alpah'; did you mean 'alpha'?\n"
