"""The MCP tools as plain functions (``extract.mcp.tools``) over a store built through the SDK.

``build_fixture_store`` is shared with test_mcp_server.py, which drives the same
store through real MCP sessions (JSON-RPC in memory and over stdio).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from extract import Store
from extract.errors import ExtractError
from extract.index import read
from extract.index.read import _curves as curve_reader
from extract.mcp import tools
from extract.mcp.encode import jsonable, num
from extract.mcp.view import StoreView
from extract.sdk import Run
from extract.store.history import commit_staged
from extract.store.repo import Repository

HIERARCHY = ("benchmark", "model", "variant")
#: Over CurveSet.INLINE_MAX (32,768 float64 values): the sealed columns become linked arrays.
LONG_STEPS = 40_000

RUN_ITEM_FIELDS = {
    "id",
    "label",
    "experiment_id",
    "experiment_path",
    "name",
    "status",
    "started_at",
    "ended_at",
    "tags",
    "git_sha",
    "hostname",
    "config_summary",
}
GET_RUN_SEED_FIELDS = {
    "id",
    "experiment_id",
    "experiment_path",
    "name",
    "label",
    "status",
    "started_at",
    "ended_at",
    "hostname",
    "git_sha",
    "tags",
    "notes",
    "config",
    "metrics_final",
    "metrics_available",
    "run_params",
    "artifacts",
    "todos",
}
EXPERIMENT_FIELDS = {"id", "path", "name", "node_type", "parent_id", "n_runs"}
MODEL_FIELDS = {
    "id",
    "name",
    "version",
    "run_id",
    "framework",
    "artifact_path",
    "metadata",
    "created_at",
}


@dataclass
class Fixture:
    """A store with every kind of record the tools report, and the ids to ask about."""

    root: Path
    store: Store
    live: Run
    r1: str  # imagenet/resnet50/lr-sweep#resnet50-lr1e3: the seed's example run
    r2: str  # same experiment, NaN headline, derived from r1's model
    r3: str  # imagenet/vit/base, failed, +-Inf headlines, derived from r1, branched from exp A
    r4: str  # cifar/resnet18/v1, a 5,000-step curve
    r5: str  # derived from r2 and r3: a diamond over r1
    deleted: str
    exp_a: str
    exp_b: str
    global_done: str
    stamp: str


def build_fixture_store(base: Path) -> Fixture:
    """Call with the current directory outside any git repository (provenance)."""
    root = base / ".extract"
    Repository.init(root, HIERARCHY)
    with (root / "config.toml").open("a") as f:
        f.write('\n[metrics]\nminimize = ["bleu_drop"]\nmaximize = ["custom_loss"]\n')
    store = Store(root)
    exp_a = store.experiment({"benchmark": "imagenet", "model": "resnet50", "variant": "lr-sweep"})
    exp_b = store.experiment({"benchmark": "imagenet", "model": "vit", "variant": "base"})
    exp_c = store.experiment({"benchmark": "cifar", "model": "resnet18", "variant": "v1"})
    model_file = base / "model.pt"
    model_file.write_bytes(os.urandom(2048))

    config1 = {"lr": 0.001, "bs": 32, "epochs": 50, "method": {"name": "lora", "lora_r": 8}}
    with exp_a.run(config=config1, name="resnet50-lr1e3", total_steps=50) as run:
        for step in range(50):
            run.curve(step, train_loss=2.3 - step * 0.04, train_acc=step * 0.018)
        run.log(final_acc=0.92, final_loss=0.3, bleu_drop=0.1, custom_loss=5.0)
        run.log(arch="resnet50", optimizer="sgd")
        run.log_table("confusion_matrix", np.eye(4), axes={"rows": "true", "cols": "predicted"})
        run.log_text("notes", "## Observations\nconverges")
        run.tag("sweep", "production-candidate")
        run.note("Best learning rate in sweep")
        run.todo("Try lr=0.005 next", priority=1)
        run.register_model("resnet50-imagenet", "v1.0", model_file, metadata={"acc": 0.92})
        r1 = run.id

    config2 = {"lr": 0.005, "bs": 32, "epochs": 50, "method": {"name": "lora", "lora_r": 16}}
    with exp_a.run(config=config2, name="resnet50-lr5e3") as run:
        for step in range(10):
            bad = float("nan") if step == 3 else float("inf") if step == 4 else 1.0 / (step + 1)
            run.curve(step, train_loss=bad)
        run.log(final_acc=0.88, final_loss=float("nan"), bleu_drop=0.05, custom_loss=7.0)
        run.tag("sweep")
        run.derived_from(model="resnet50-imagenet", version="v1.0")
        r2 = run.id

    config3 = {"lr": 0.01, "bs": 64, "method": {"name": "full"}, "extra": float("nan")}
    try:
        with exp_b.run(config=config3, name="vit-NaN-hunt") as run:
            run.curve(0, train_loss=float("-inf"))
            run.log(final_acc=float("-inf"), grad_norm=float("inf"))
            run.derived_from(run=r1)
            run.branched_from(experiment=exp_a.id)
            r3 = run.id
            raise RuntimeError("diverged")
    except RuntimeError:
        pass

    with exp_c.run(config={"lr": 0.1}, name="cifar-long", total_steps=LONG_STEPS) as run:
        for step in range(LONG_STEPS):
            run.curve(step, val_loss=1.0 / (step + 1))
        run.log(final_acc=0.5)
        run.note("a long one; rerun with warmup")
        r4 = run.id

    with exp_c.run(config={"lr": 0.1}, name="merge-of-two") as run:
        run.derived_from(run=r2)
        run.derived_from(run=r3)
        r5 = run.id

    with exp_c.run(config={"lr": 0.2}, name="to-delete") as run:
        run.log(final_acc=0.1)
        deleted = run.id
    store._event("delete", f"run:{deleted}", {})

    store.todo("Write up results for paper", priority=2)
    store.todo("Low priority cleanup", priority=0)
    done_id = store._event(
        "todo",
        "global",
        {"content": "Already done", "priority": 1, "scope_type": "global", "scope_id": None},
    )
    store._event("todo_done", f"todo:{done_id}", {})
    exp_a.todo("Compare with vit", priority=2)
    stamp = "a" * 40
    store._event("stamp", f"run:{r1}", {"sha": stamp})
    commit_staged(Repository(root), "fixture runs")

    live = exp_a.run(config={"lr": 0.02, "warmup": {"steps": 5}}, name="live-one", total_steps=100)
    for step in range(25):
        live.curve(step, train_loss=1.0 - step * 0.01)
    live.log(running_acc=0.4)
    live.flush()
    return Fixture(
        root=root,
        store=store,
        live=live,
        r1=r1,
        r2=r2,
        r3=r3,
        r4=r4,
        r5=r5,
        deleted=deleted,
        exp_a=exp_a.id,
        exp_b=exp_b.id,
        global_done=done_id,
        stamp=stamp,
    )


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    base = tmp_path_factory.mktemp("mcp-tools")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)  # provenance capture must not read this repository
        f = build_fixture_store(base)
        yield f
        f.live.finish()
        f.store.close()


@pytest.fixture(scope="module")
def view(fx: Fixture) -> Iterator[StoreView]:
    v = StoreView(fx.root)
    yield v
    v.close()


def fails(fn: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ExtractError) as e:
        fn(*args, **kwargs)
    return str(e.value)


# encoding ----------------------------------------------------------------------------


def test_non_finite_numbers_are_named() -> None:
    assert num(float("nan")) == "NaN"
    assert num(float("inf")) == "Infinity"
    assert num(float("-inf")) == "-Infinity"
    assert num(1.5) == 1.5
    assert jsonable({"a": [float("nan"), (1, b"\x01")], 2: None}) == {
        "a": ["NaN", [1, "01"]],
        "2": None,
    }


# list_experiments ----------------------------------------------------------------------


def test_list_experiments_items_and_counts(fx: Fixture, view: StoreView) -> None:
    out = tools.list_experiments(view)
    paths = [e.path for e in out.items]
    assert paths == sorted(paths)
    assert "imagenet/resnet50/lr-sweep" in paths and "imagenet" in paths
    assert out.total == len(out.items) == 8 and not out.truncated and not out.limit_clamped
    a = next(e for e in out.items if e.id == fx.exp_a)
    assert set(a.model_dump()) >= EXPERIMENT_FIELDS
    assert (a.name, a.node_type, a.n_runs) == ("lr-sweep", "variant", 3)  # r1, r2, live
    top = next(e for e in out.items if e.path == "imagenet")
    assert (top.node_type, top.parent_id, top.n_runs, top.n_runs_total) == ("benchmark", None, 0, 4)
    assert a.parent_id == next(e.id for e in out.items if e.path == "imagenet/resnet50")


def test_list_experiments_prefix_limit_and_clamp(view: StoreView) -> None:
    out = tools.list_experiments(view, prefix="imagenet/")
    assert {e.path for e in out.items} == {
        "imagenet/resnet50",
        "imagenet/resnet50/lr-sweep",
        "imagenet/vit",
        "imagenet/vit/base",
    }
    page = tools.list_experiments(view, limit=2)
    assert (len(page.items), page.total, page.truncated, page.limit) == (2, 8, True, 2)
    huge = tools.list_experiments(view, limit=10**30)
    assert (huge.limit, huge.limit_clamped, huge.truncated) == (500, True, False)
    none = tools.list_experiments(view, limit=0)
    assert (none.items, none.total, none.truncated) == ([], 8, True)
    assert tools.list_experiments(view, prefix="%").items == []  # LIKE wildcards are literal
    assert tools.list_experiments(view, prefix="_").items == []
    assert fails(tools.list_experiments, view, limit=-1) == "limit must be 0 or more (got -1)"


# list_runs and search --------------------------------------------------------------------


def test_list_runs_newest_first_with_seed_fields(fx: Fixture, view: StoreView) -> None:
    out = tools.list_runs(view)
    ids = [r.id for r in out.items]
    assert ids == [fx.live.id, fx.r5, fx.r4, fx.r3, fx.r2, fx.r1]  # deleted run left out
    starts = [r.started_at or "" for r in out.items]
    assert starts == sorted(starts, reverse=True)
    first = out.items[-1]
    assert set(first.model_dump()) == RUN_ITEM_FIELDS
    assert first.label == "imagenet/resnet50/lr-sweep#resnet50-lr1e3"
    assert first.tags == ["sweep", "production-candidate"]
    assert first.status == "completed" and first.ended_at is not None
    assert first.config_summary.n_keys == 5  # lr, bs, epochs, method.name, method.lora_r
    assert first.config_summary.top_level_keys == ["bs", "epochs", "lr", "method"]  # stored sorted
    assert out.items[0].status == "running" and out.items[0].ended_at is None
    assert next(r for r in out.items if r.id == fx.r3).status == "failed"


def test_list_runs_scoped_to_an_experiment_subtree(fx: Fixture, view: StoreView) -> None:
    assert [r.id for r in tools.list_runs(view, fx.exp_a).items] == [fx.live.id, fx.r2, fx.r1]
    top = tools.list_experiments(view, prefix="imagenet", limit=1).items[0]
    assert {r.id for r in tools.list_runs(view, top.id).items} == {fx.live.id, fx.r1, fx.r2, fx.r3}
    assert [r.id for r in tools.list_runs(view, "imagenet/vit/base").items] == [fx.r3]
    page = tools.list_runs(view, limit=1)
    assert (len(page.items), page.total, page.truncated) == (1, 6, True)
    assert fails(tools.list_runs, view, "../x") == "Experiment not found: '../x'"


def test_search_text_is_case_insensitive_over_name_tags_notes(fx: Fixture, view: StoreView) -> None:
    def ids(**kw: Any) -> set[str]:
        return {r.id for r in tools.search(view, **kw).items}

    assert ids(query="VIT-nan") == {fx.r3}  # name
    assert ids(query="PRODUCTION") == {fx.r1}  # tag
    assert ids(query="warmup") == {fx.r4}  # notes
    assert ids(query="") == ids()
    assert len(ids()) == 6
    assert ids(query="no such thing") == set()


def test_search_filters_and_combined(fx: Fixture, view: StoreView) -> None:
    def ids(query: str = "", **filters: Any) -> set[str]:
        return {r.id for r in tools.search(view, query, filters).items}

    assert ids(tag="sweep") == {fx.r1, fx.r2}
    assert ids(status="failed") == {fx.r3}
    assert ids(status="running") == {fx.live.id}
    assert ids(experiment_prefix="cifar") == {fx.r4, fx.r5}
    assert ids(tag="sweep", experiment_prefix="cifar") == set()
    assert ids("resnet50", tag="sweep", status="completed") == {fx.r1, fx.r2}
    r4_start = next(r.started_at for r in tools.list_runs(view).items if r.id == fx.r4)
    assert r4_start is not None
    assert ids(started_after=r4_start) == {fx.r5, fx.live.id}
    assert ids(started_before=r4_start) == {fx.r1, fx.r2, fx.r3}
    assert ids(started_after="2000-01-01", started_before="2999-01-01T00:00:00+02:00") == ids()
    assert ids(started_after="2999-01-01") == set()


def test_search_bad_filters_name_what_is_allowed(view: StoreView) -> None:
    assert fails(tools.search, view, "", {"owner": "me"}) == (
        "Unknown filter: 'owner'. Valid filters: tag, status, experiment_prefix, "
        "started_after, started_before"
    )
    assert fails(tools.search, view, "", {"status": "done"}) == (
        "Invalid status: 'done'. Valid statuses: running, completed, failed"
    )
    assert "not an ISO 8601 date or time" in fails(
        tools.search, view, "", {"started_after": "yesterday"}
    )
    assert fails(tools.search, view, "", {"tag": 3}) == (
        "Invalid value for filter 'tag': expected a string, got 3"
    )
    out = tools.search(view, limit=10**9)
    assert (out.limit, out.limit_clamped) == (500, True)


# get_run -------------------------------------------------------------------------------


def test_get_run_has_every_seed_field_and_more(fx: Fixture, view: StoreView) -> None:
    d = tools.get_run(view, fx.r1)
    dumped = d.model_dump()
    assert set(dumped) >= GET_RUN_SEED_FIELDS
    assert d.label == "imagenet/resnet50/lr-sweep#resnet50-lr1e3"
    assert d.config == {
        "lr": 0.001,
        "bs": 32,
        "epochs": 50,
        "method": {"name": "lora", "lora_r": 8},
    }
    assert d.metrics_final == {
        "bleu_drop": 0.1,
        "custom_loss": 5.0,
        "final_acc": 0.92,
        "final_loss": 0.3,
    }
    assert d.metrics_available == ["train_acc", "train_loss"]
    assert d.run_params == {"arch": "resnet50", "optimizer": "sgd"}
    assert d.notes == "Best learning rate in sweep"
    assert d.tags == ["sweep", "production-candidate"]
    assert [(a.name, a.kind) for a in d.artifacts] == [
        ("confusion_matrix", "matrix"),
        ("notes", "text"),
    ]
    table = d.artifacts[0]
    assert table.shape == [4, 4] and table.metadata == {
        "axes": {"rows": "true", "cols": "predicted"}
    }
    assert table.object_id is not None and len(table.object_id) == 64
    assert [t.content for t in d.todos] == ["Try lr=0.005 next"]
    assert [(m.name, m.version) for m in d.models] == [("resnet50-imagenet", "v1.0")]
    # content ids and code provenance beyond the seed
    assert d.object_id is not None and len(d.object_id) == 64
    assert d.commit_id is not None and len(d.commit_id) == 64
    assert d.git_stamp == fx.stamp
    assert {"git_branch", "git_dirty", "git_tree", "git_diff_id", "total_steps"} <= set(dumped)
    assert d.total_steps == 50 and d.live is False and d.deleted is False
    assert d.curves["train_loss"].points == 50
    assert d.curves["train_loss"].last_step == 49


def test_get_run_encodes_nan_and_infinity(fx: Fixture, view: StoreView) -> None:
    d2 = tools.get_run(view, fx.r2)
    assert d2.metrics_final["final_loss"] == "NaN"
    stats = d2.curves["train_loss"]
    assert (stats.nan, stats.max, stats.points) == (1, "Infinity", 10)
    d3 = tools.get_run(view, fx.r3)
    assert d3.metrics_final == {"final_acc": "-Infinity", "grad_norm": "Infinity"}
    assert d3.config is not None and d3.config["extra"] == "NaN"
    assert d3.curves["train_loss"].last_value == "-Infinity"
    assert d3.status == "failed"


def test_get_run_shows_a_live_run_with_its_current_points(fx: Fixture, view: StoreView) -> None:
    d = tools.get_run(view, fx.live.id)
    assert (d.status, d.live, d.object_id, d.ended_at) == ("running", True, None, None)
    assert d.curves["train_loss"].points == 25
    assert d.metrics_final == {"running_acc": 0.4}
    for step in range(25, 40):
        fx.live.curve(step, train_loss=0.5)
    fx.live.flush()
    assert tools.get_run(view, fx.live.id).curves["train_loss"].points == 40


def test_get_run_takes_what_every_front_end_takes(fx: Fixture, view: StoreView) -> None:
    """The one run resolver: the id in any case, a unique prefix, a unique name."""
    assert tools.get_run(view, fx.r1.lower()).id == fx.r1
    assert tools.get_run(view, fx.r1[:14]).id == fx.r1
    name = tools.get_run(view, fx.r1).name
    assert name and tools.get_run(view, name).id == fx.r1
    for bad in ("X", "../x", "../../etc/passwd", "/etc/passwd", "%", "_", "", "ZZZZZZZZZZ"):
        assert fails(tools.get_run, view, bad) == f"Run not found: {bad!r}"


# compare_runs ------------------------------------------------------------------------------


def test_compare_runs_counts_and_duplicates(fx: Fixture, view: StoreView) -> None:
    assert fails(tools.compare_runs, view, [fx.r1]) == (
        "compare_runs requires at least 2 run_ids (got 1)"
    )
    assert fails(tools.compare_runs, view, []) == "compare_runs requires at least 2 run_ids (got 0)"
    assert fails(tools.compare_runs, view, [fx.r1] * 11) == (
        "compare_runs accepts at most 10 run_ids (got 11)"
    )
    assert fails(tools.compare_runs, view, [fx.r1, fx.r1]) == (
        f"compare_runs got the same run_id twice: {fx.r1!r}"
    )
    assert fails(tools.compare_runs, view, [fx.r1, "../x"]) == "Run not found: '../x'"


def test_compare_runs_metrics_direction_ranking(fx: Fixture, view: StoreView) -> None:
    c = tools.compare_runs(view, [fx.r1, fx.r2, fx.r3])
    assert [r.id for r in c.runs] == [fx.r1, fx.r2, fx.r3]
    assert c.curves is None and "curves" not in c.model_dump()
    acc = c.metrics["final_acc"]
    assert acc.direction == "max"
    assert acc.values == {fx.r1: 0.92, fx.r2: 0.88, fx.r3: "-Infinity"}
    assert acc.ranking == [fx.r1, fx.r2, fx.r3]
    loss = c.metrics["final_loss"]
    assert loss.direction == "min"  # name heuristic
    assert loss.values == {fx.r1: 0.3, fx.r2: "NaN", fx.r3: None}
    assert loss.ranking == [fx.r1, fx.r2]  # NaN last, absent left out
    assert c.metrics["bleu_drop"].direction == "min"  # config.toml minimize
    assert c.metrics["bleu_drop"].ranking == [fx.r2, fx.r1]
    assert c.metrics["custom_loss"].direction == "max"  # config.toml beats the heuristic
    assert c.metrics["custom_loss"].ranking == [fx.r2, fx.r1]
    assert c.metrics["grad_norm"].values == {fx.r1: None, fx.r2: None, fx.r3: "Infinity"}


def test_compare_runs_config_diffs_are_flat_and_only_differences(
    fx: Fixture, view: StoreView
) -> None:
    c = tools.compare_runs(view, [fx.r1, fx.r2])
    assert c.config_diffs == {
        "lr": {fx.r1: 0.001, fx.r2: 0.005},
        "method.lora_r": {fx.r1: 8, fx.r2: 16},
    }
    c3 = tools.compare_runs(view, [fx.r1, fx.r3])
    assert c3.config_diffs["method.name"] == {fx.r1: "lora", fx.r3: "full"}
    assert c3.config_diffs["method.lora_r"] == {fx.r1: 8, fx.r3: None}
    assert c3.config_diffs["extra"] == {fx.r1: None, fx.r3: "NaN"}
    assert "epochs" in c3.config_diffs and "bs" in c3.config_diffs


def test_compare_runs_curves_downsampled_and_encoded(fx: Fixture, view: StoreView) -> None:
    c = tools.compare_runs(view, [fx.r1, fx.r2, fx.r4], include_curves=True, max_points=100)
    assert c.curves is not None and c.curves_info is not None
    assert set(c.curves) == {"train_loss", "train_acc", "val_loss"}
    assert set(c.curves["train_loss"]) == {fx.r1, fx.r2}
    r1 = c.curves["train_loss"][fx.r1]
    assert len(r1) == 50 and r1[0] == (0, 2.3) and r1[-1][0] == 49
    assert [v for _, v in c.curves["train_loss"][fx.r2]][3:5] == ["NaN", "Infinity"]
    long = c.curves["val_loss"][fx.r4]
    steps = [s for s, _ in long]
    assert len(long) <= 100 and steps[0] == 0 and steps[-1] == LONG_STEPS - 1
    assert steps == sorted(set(steps))
    assert max(b - a for a, b in itertools.pairwise(steps)) <= 2 * LONG_STEPS / 99
    assert c.curves_info["val_loss"][fx.r4].points == LONG_STEPS
    assert c.curves_info["val_loss"][fx.r4].returned == len(long)
    only = tools.compare_runs(view, [fx.r1, fx.r4], include_curves=True, curve_names=["val_loss"])
    assert only.curves is not None and set(only.curves) == {"val_loss"}
    assert len(only.curves["val_loss"][fx.r4]) == 200  # the default bound
    assert fails(tools.compare_runs, view, [fx.r1, fx.r2], True, None, 1) == (
        "max_points must be between 2 and 5000 (got 1)"
    )
    assert "between 2 and 5000" in fails(
        tools.compare_runs, view, [fx.r1, fx.r2], True, None, 10**9
    )


def test_downsample_keeps_first_and_last_and_is_even(fx: Fixture, view: StoreView) -> None:
    with view.reading() as conn:
        for bound in (2, 3, 7, 1000, LONG_STEPS, LONG_STEPS + 1):
            c = read.curve(conn, fx.r4, "val_loss", max_points=bound)
            assert c.total == LONG_STEPS
            assert len(c.steps) == min(bound, LONG_STEPS)
            assert c.steps[0] == 0 and c.steps[-1] == LONG_STEPS - 1
            assert all(
                math.isclose(v, 1.0 / (s + 1)) for s, v in zip(c.steps, c.values, strict=True)
            )


# list_todos ----------------------------------------------------------------------------------


def test_list_todos_scopes_and_done(fx: Fixture, view: StoreView) -> None:
    g = tools.list_todos(view)
    assert [t.content for t in g.items] == ["Write up results for paper", "Low priority cleanup"]
    assert [t.priority for t in g.items] == [2, 0]
    assert set(g.items[0].model_dump()) == {
        "id",
        "scope_type",
        "scope_id",
        "content",
        "done",
        "priority",
        "created_at",
        "completed_at",
    }
    every = tools.list_todos(view, include_done=True)
    done = next(t for t in every.items if t.id == fx.global_done)
    assert done.done and done.completed_at is not None and every.total == 3
    run = tools.list_todos(view, "run", fx.r1)
    assert [t.content for t in run.items] == ["Try lr=0.005 next"]
    assert run.items[0].scope_id == fx.r1
    exp = tools.list_todos(view, "experiment", fx.exp_a)
    assert [t.content for t in exp.items] == ["Compare with vit"]
    assert tools.list_todos(view, "experiment", "imagenet/resnet50/lr-sweep").items == exp.items
    page = tools.list_todos(view, limit=1)
    assert (len(page.items), page.total, page.truncated) == (1, 2, True)


def test_list_todos_bad_scopes(fx: Fixture, view: StoreView) -> None:
    assert fails(tools.list_todos, view, "team") == (
        "Invalid scope_type: 'team'. Valid scope types: global, experiment, run"
    )
    assert fails(tools.list_todos, view, "run") == "scope_id is required for scope_type 'run'"
    assert fails(tools.list_todos, view, "experiment") == (
        "scope_id is required for scope_type 'experiment'"
    )
    assert fails(tools.list_todos, view, "global", fx.r1) == (
        f"scope_id must be None for scope_type 'global' (got {fx.r1!r})"
    )
    assert fails(tools.list_todos, view, "run", "../x") == "Run not found: '../x'"
    assert fails(tools.list_todos, view, "experiment", "nope") == "Experiment not found: 'nope'"


# get_lineage ------------------------------------------------------------------------------------


def test_lineage_of_a_run_walks_models_and_runs(fx: Fixture, view: StoreView) -> None:
    g = tools.get_lineage(view, "run", fx.r2, "ancestors", 2)
    assert g.root.id == fx.r2 and g.root.side == "root" and g.root.distance == 0
    labels = {n.id: n.label for n in g.nodes}
    model = next(n for n in g.nodes if n.type == "model")
    assert model.label == "resnet50-imagenet@v1.0" and model.distance == 1
    assert labels[fx.r1] == "imagenet/resnet50/lr-sweep#resnet50-lr1e3"
    assert {(e.parent, e.child, e.relation) for e in g.edges} == {
        (model.id, fx.r2, "derived_from"),
        (fx.r1, model.id, "registered"),
    }
    one = tools.get_lineage(view, "run", fx.r2, "ancestors", 1)
    assert {n.id for n in one.nodes} == {fx.r2, model.id}


def test_lineage_diamond_is_flat(fx: Fixture, view: StoreView) -> None:
    g = tools.get_lineage(view, "run", fx.r5, "ancestors", 5)
    ids = [n.id for n in g.nodes]
    assert len(ids) == len(set(ids))
    assert ids.count(fx.r1) == 1
    r1 = next(n for n in g.nodes if n.id == fx.r1)
    assert r1.distance == 2 and r1.side == "ancestor"  # via r3, the shorter way
    down = tools.get_lineage(view, "run", fx.r1, "descendants", 5)
    assert {fx.r2, fx.r3, fx.r5} <= {n.id for n in down.nodes}
    assert next(n for n in down.nodes if n.id == fx.r5).distance == 2
    both = tools.get_lineage(view, "run", fx.r3)
    assert (both.direction, both.depth) == ("both", 2)
    sides = {n.id: n.side for n in both.nodes}
    assert sides[fx.r1] == "ancestor" and sides[fx.r5] == "descendant"
    assert sides[fx.exp_a] == "ancestor"


def test_lineage_of_experiments_and_models(fx: Fixture, view: StoreView) -> None:
    g = tools.get_lineage(view, "experiment", fx.exp_a, "descendants", 1)
    assert g.root.label == "imagenet/resnet50/lr-sweep"
    assert [(e.parent, e.child, e.relation) for e in g.edges] == [
        (fx.exp_a, fx.r3, "branched_from")
    ]
    by_path = tools.get_lineage(view, "experiment", "imagenet/resnet50/lr-sweep")
    assert by_path.root.id == fx.exp_a
    m = tools.get_lineage(view, "model", "resnet50-imagenet@v1.0", "both", 1)
    assert m.root.label == "resnet50-imagenet@v1.0"
    assert {n.id for n in m.nodes} == {m.root.id, fx.r1, fx.r2}
    assert tools.get_lineage(view, "model", m.root.id).root.id == m.root.id


def test_lineage_bad_arguments(fx: Fixture, view: StoreView) -> None:
    assert fails(tools.get_lineage, view, "dataset", fx.r1) == (
        "Invalid node_type: 'dataset'. Valid node types: experiment, run, model"
    )
    assert fails(tools.get_lineage, view, "../run", fx.r1) == (
        "Invalid node_type: '../run'. Valid node types: experiment, run, model"
    )
    assert fails(tools.get_lineage, view, "run", fx.r1, "sideways") == (
        "Invalid direction: 'sideways'. Valid directions: ancestors, descendants, both"
    )
    for depth in (0, -1, 6, 10**30):
        assert fails(tools.get_lineage, view, "run", fx.r1, "both", depth) == (
            f"depth must be between 1 and 5 (got {depth})"
        )
    assert fails(tools.get_lineage, view, "run", "../x") == "Run not found: '../x'"
    assert fails(tools.get_lineage, view, "experiment", "../x") == "Experiment not found: '../x'"
    assert fails(tools.get_lineage, view, "model", "nope@v1") == "Model not found: 'nope@v1'"


# list_models -------------------------------------------------------------------------------------


def test_list_models(fx: Fixture, view: StoreView) -> None:
    out = tools.list_models(view)
    assert out.total == 1
    m = out.items[0]
    assert set(m.model_dump()) >= MODEL_FIELDS
    assert (m.name, m.version, m.run_id, m.framework) == (
        "resnet50-imagenet",
        "v1.0",
        fx.r1,
        "pytorch",
    )
    assert m.metadata == {"acc": 0.92}
    assert m.artifact_path is not None and m.artifact_path.endswith("model.pt")
    assert m.content_id is not None and m.size == 2048
    assert tools.list_models(view, "resnet").total == 1
    assert tools.list_models(view, "vit").items == []
    clamped = tools.list_models(view, limit=501)
    assert (clamped.limit, clamped.limit_clamped) == (500, True)


# sql ---------------------------------------------------------------------------------------------


def test_sql_reads(fx: Fixture, view: StoreView) -> None:
    out = tools.sql(
        view,
        "SELECT r.name, m.value FROM runs r JOIN scalar_metrics m ON m.run_id = r.id "
        "WHERE m.name = 'final_acc' ORDER BY r.started_at",
    )
    assert out.columns == ["name", "value"]
    assert out.rows[0] == ["resnet50-lr1e3", 0.92]
    assert ["vit-NaN-hunt", "-Infinity"] in out.rows  # -inf named; NaN is NULL in SQLite
    page = tools.sql(view, "SELECT step FROM curve_points ORDER BY step", limit=3)
    assert (page.rows, page.truncated) == ([[0], [0], [0]], True)
    big = tools.sql(view, "SELECT 1", limit=10**6)
    assert (big.limit, big.limit_clamped, big.truncated) == (500, True, False)
    assert tools.sql(view, "SELECT x'00ff'").rows == [["00ff"]]
    assert tools.sql(view, "SELECT COUNT(*) FROM catalog WHERE benchmark = 'cifar'").rows == [[2]]


@pytest.mark.parametrize(
    "query",
    [
        "DELETE FROM runs",
        "UPDATE runs SET name = 'x'",
        "INSERT INTO todos(id) VALUES ('x')",
        "DROP TABLE runs",
        "CREATE TABLE t(x)",
        "ATTACH DATABASE 'evil.db' AS evil",
        "ATTACH DATABASE ':memory:' AS evil",
        "VACUUM INTO 'copy.db'",
        "PRAGMA writable_schema = 1",
        "PRAGMA query_only = 0",
        "SELECT 1; DROP TABLE runs",
        "REINDEX",
        "ANALYZE",
    ],
)
def test_sql_refuses_anything_but_reading(
    fx: Fixture, view: StoreView, query: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = tools.sql(view, "SELECT COUNT(*) FROM runs").rows
    msg = fails(tools.sql, view, query)
    assert msg.startswith("only read-only queries are allowed") or msg.startswith("SQL error: ")
    assert list(tmp_path.iterdir()) == []  # nothing created outside the store
    assert tools.sql(view, "SELECT COUNT(*) FROM runs").rows == before


def test_sql_is_bounded_in_time_and_size(view: StoreView, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "SQL_SECONDS", 0.2)
    endless = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) FROM n"
    )
    assert fails(tools.sql, view, endless).startswith("SQL query stopped after 0.2 s")
    assert "too big" in fails(tools.sql, view, "SELECT zeroblob(1000000000)")
    assert fails(tools.sql, view, "   ") == (
        "query is empty: give one SELECT (or WITH ... SELECT) statement"
    )
    assert fails(tools.sql, view, "SELEC 1").startswith("SQL error: ")
    assert tools.sql(view, "SELECT 1").rows == [[1]]  # the connection is still usable


# robustness -------------------------------------------------------------------------------------


def test_sealed_and_index_curve_summaries_agree(fx: Fixture, view: StoreView) -> None:
    with view.reading() as conn:
        for rid in (fx.r1, fx.r2, fx.r3, fx.r4):
            from_objects = curve_reader.curve_stats(conn, rid, odb=view.repo.objects)
            from_index = curve_reader.curve_stats(conn, rid)
            assert from_objects == from_index, rid
    assert tools.get_run(view, fx.r4).curves["val_loss"].points == LONG_STEPS


def test_long_live_curves_skip_the_full_scan(
    fx: Fixture, view: StoreView, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(curve_reader, "STATS_SCAN_LIMIT", 10)
    stats = tools.get_run(view, fx.live.id).curves["train_loss"]
    assert stats.points >= 25 and (stats.min, stats.max, stats.nan) == (None, None, None)
    assert stats.last_step == stats.points - 1


def test_answers_when_the_index_cannot_be_refreshed(
    fx: Fixture, view: StoreView, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    def locked() -> None:
        raise sqlite3.OperationalError("database is locked")

    assert view._index.indexer is not None
    monkeypatch.setattr(view._index.indexer, "refresh", locked)
    assert tools.get_run(view, fx.r1).id == fx.r1


def test_huge_arguments_are_not_echoed_whole(fx: Fixture, view: StoreView) -> None:
    huge = "x" * 1_000_000
    msg = fails(tools.get_run, view, huge)
    assert msg.startswith("Run not found: 'xxxx") and len(msg) < 300
    assert "1,000,002 characters" in msg
    assert len(fails(tools.search, view, "", {huge: 1})) < 400
    assert fails(tools.get_lineage, view, "run", fx.r1, "both", -(10**5000)) == (
        "depth must be between 1 and 5 (got an integer too long to show)"
    )
    assert fails(tools.list_runs, view, None, -(10**5000)) == (
        "limit must be 0 or more (got an integer too long to show)"
    )
    assert tools.list_runs(view, None, 10**5000).limit_clamped
    assert fails(tools.compare_runs, view, [f"r{i}" for i in range(100_000)]) == (
        "compare_runs accepts at most 10 run_ids (got 100000)"
    )
    assert tools.search(view, huge).total == 0
    assert fails(tools.sql, view, "SELECT '" + "x" * 2_000_000 + "'").startswith("SQL error: ")


def test_config_toml_edits_apply_without_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / ".extract"
    Repository.init(root, HIERARCHY)
    with Store(root) as store:
        exp = store.experiment({"benchmark": "b", "model": "m", "variant": "v"})
        ids = []
        for score in (1.0, 2.0):
            with exp.run(name=f"s{score}") as run:
                run.log(score=score)
                ids.append(run.id)
    view = StoreView(root)
    try:
        first = tools.compare_runs(view, ids).metrics["score"]
        assert (first.direction, first.ranking) == ("max", [ids[1], ids[0]])
        with (root / "config.toml").open("a") as f:
            f.write('\n[metrics]\nminimize = ["score"]\n')
        then = tools.compare_runs(view, ids).metrics["score"]
        assert (then.direction, then.ranking) == ("min", [ids[0], ids[1]])
    finally:
        view.close()
