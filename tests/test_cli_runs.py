"""``extract runs``: the runs table, sorted and filtered by metrics, config keys and params."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from extract.sdk import Store
from extract.store.repo import Repository
from tests.cli import extract

#: name -> (config, headline metrics)
RUNS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "a": ({"lr": 0.1, "opt": {"name": "adam"}, "layers": 2}, {"acc": 0.70, "loss": 0.9}),
    "b": ({"lr": 0.01, "opt": {"name": "sgd"}, "layers": 4}, {"acc": 0.90, "loss": 0.4}),
    "c": ({"lr": 0.001, "opt": {"name": "adam"}, "layers": 8}, {"acc": 0.80, "loss": 0.5}),
    "d": ({"lr": 1.0, "opt": {"name": "sgd"}, "layers": 1}, {"acc": math.nan, "loss": 3.0}),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    top = tmp_path_factory.mktemp("runs")
    Repository.init(top / ".extract", ("bench", "model"))
    with Store(top / ".extract") as store:
        for i, (name, (config, metrics)) in enumerate(RUNS.items()):
            exp = store.experiment({"bench": "img", "model": "mlp" if i < 3 else "cnn"})
            with exp.run(config=config, name=name) as run:
                run.log(**metrics, arch=f"arch-{name}")
    yield top


def table(project: Path, *args: str) -> dict[str, Any]:
    r = extract("runs", *args, "--json", cwd=project)
    assert r.returncode == 0, r.stderr
    out: dict[str, Any] = json.loads(r.stdout)
    return out


def names(t: dict[str, Any]) -> list[str]:
    return [r["label"].rsplit("#", 1)[1] for r in t["runs"]]


def test_a_metric_sorts_best_first_and_nan_last(project: Path) -> None:
    t = table(project, "-c", "acc,loss", "-s", "acc")
    assert names(t) == ["b", "c", "a", "d"]  # acc: higher is better; NaN last
    assert t["best"]["acc"] == t["runs"][0]["id"]
    t = table(project, "-c", "acc,loss", "-s", "loss")
    assert names(t) == ["b", "c", "a", "d"]  # loss: lower is better
    t = table(project, "-c", "loss", "-s", "loss", "--order", "desc")
    assert names(t) == ["d", "a", "c", "b"]


def test_config_keys_and_params_are_columns(project: Path) -> None:
    t = table(project, "-c", "config.lr,config.opt.name,param.arch", "-s", "config.lr")
    assert names(t) == ["c", "b", "a", "d"]
    assert t["runs"][0]["values"] == {
        "config.lr": 0.001,
        "config.opt.name": "adam",
        "param.arch": "arch-c",
    }


def test_filters_all_apply(project: Path) -> None:
    t = table(project, "-c", "acc", "-F", "config.opt.name=adam", "-F", "acc>0.75")
    assert names(t) == ["c"]
    assert names(table(project, "-F", "config.layers>=4", "-s", "config.layers")) == ["b", "c"]
    assert set(names(table(project, "-F", "name~A"))) == {"a"}  # contains, any case
    assert names(table(project, "img/cnn")) == ["d"]  # an experiment's subtree


def test_default_columns_are_the_headline_metrics(project: Path) -> None:
    t = table(project)
    assert t["columns"] == ["acc", "loss"] and t["total"] == 4
    r = extract("runs", "-s", "acc", cwd=project)
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["run", "status", "acc"]
    assert "img/mlp#b" in lines[2] and "*" in lines[2]  # the best value, starred


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-F", "acc"], 2, "bad filter 'acc': write COLUMN OP VALUE"),
        (["--order", "up"], 2, "--order must be asc or desc"),
        (["--limit", "-1"], 2, "--limit must be 0 or more"),
        (["nowhere"], 3, "Experiment not found: 'nowhere'"),
    ],
)
def test_bad_input_is_one_line(project: Path, args: list[str], code: int, message: str) -> None:
    r = extract("runs", *args, cwd=project)
    assert r.returncode == code
    assert r.stderr.startswith(f"error: {message}") and r.stderr.count("\n") == 1, r.stderr
